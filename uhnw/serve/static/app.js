// The RM workstation page: login, then three views behind hash routes (#/alerts, #/book, #/client/<id>), a live alert
// socket shown in the header. No framework: a few ES modules over the REST API (/api/*) and the WebSocket (/ws).
import {AlertSocket, AlertsView, alertCard, placeCard, setSocketState} from "./alerts.js";
import {api, ApiError, setCsrf} from "./api.js";
import {BookView} from "./book.js";
import {ClientView} from "./client.js";
import {$, show, toast} from "./dom.js";
import {LivePrices} from "./ticks.js";

const VIEWS = ["login", "alerts", "book", "client"];

const session = {
  me: null,
  names: new Map(),  // client id -> full name, for live frames (which carry ids only)
  view: null,
  date: null,  // the date the RM is looking at (the Book's date picker)
  lastClient: null,  // the Client tab reopens the last client shown
  prices: new LivePrices(),  // the socket's tick frames, latest per instrument
  onLiveAlert(alert) {
    if (this.view === "client" && client.clientId === alert.client_id) {
      placeCard($("client-alerts"), alertCard(alert, {names: this.names, canGiveFeedback: this.me.role === "rm", live: true, prefix: "c"}));
      show($("client-alerts-empty"), false);
    }
  },
};
const alerts = new AlertsView(session);
const book = new BookView(session);
const client = new ClientView(session);
let socket = null;

function showView(name, {focus = false} = {}) {
  session.view = name;
  for (const view of VIEWS) show($(`view-${view}`), view === name);
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  const titles = {login: "Sign in", alerts: "Alerts", book: "Book", client: "Client"};
  document.title = `${titles[name]} · UHNW Workstation`;
  if (focus) $(`view-${name}`).querySelector("h1").focus({preventScroll: false});
}

// #/alerts, #/book, #/client, #/client/<id>
function parseRoute() {
  const [, view = "alerts", ...rest] = location.hash.replace(/^#/, "").split("/");
  const id = rest.length ? decodeURIComponent(rest.join("/")) : null;
  return {view: VIEWS.includes(view) && view !== "login" ? view : "alerts", id};
}

async function route({focus = true} = {}) {
  if (!session.me) return;
  const {view, id} = parseRoute();
  showView(view, {focus});
  try {
    if (view === "alerts") alerts.setUnseen(0);
    if (view === "book" && book.shownDate !== ($("book-date").value || session.me.latest_date)) await book.load();
    if (view === "client") await client.load(id || session.lastClient);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) toast(`Could not load ${view}: ${e.message}`);
  }
}

function showLogin(message = "") {
  session.me = null;
  session.lastClient = null;
  session.prices.clear();
  book.forget();
  if (socket) socket.stop();
  socket = null;
  setCsrf(null);
  show($("nav"), false);
  show($("session"), false);
  $("alert-list").replaceChildren();
  const error = $("login-error");
  error.textContent = message;
  show(error, Boolean(message));
  showView("login");
  $("login-user").focus();
}

async function startSession(me) {
  session.me = me;
  setCsrf(me.csrf_token);
  $("user-name").textContent = me.display_name;
  $("user-role").textContent = me.role === "rm" ? `RM · ${me.book_size} clients` : `Compliance · ${me.book_size} clients`;
  show($("nav"));
  show($("session"));
  if (!$("book-date").value && me.latest_date) $("book-date").value = me.latest_date;
  session.date = $("book-date").value || null;
  const clients = await api("/api/clients", {params: {date: me.latest_date}});
  session.names = new Map(clients.clients.map((c) => [c.client_id, c.full_name]));
  client.fillPicker();
  const lastId = await alerts.load();
  socket = new AlertSocket({lastId, onAlert: (frame) => alerts.add(frame, true), onUnauthorized: stillSignedIn,
                            onTick: (frame) => session.prices.update(frame)});
  socket.start();
  await route({focus: false});
}

async function stillSignedIn() {
  try {
    const me = await api("/api/me");
    setCsrf(me.csrf_token);
    return true;
  } catch {
    return false;
  }
}

async function login(event) {
  event.preventDefault();
  const userId = $("login-user").value.trim();
  const password = $("login-password").value;
  const error = $("login-error");
  if (!userId || !password) {
    error.textContent = "Enter your user ID and password.";
    show(error);
    return;
  }
  $("login-submit").disabled = true;
  try {
    const answer = await api("/auth/login", {method: "POST", body: {user_id: userId, password}});
    setCsrf(answer.csrf_token);
    $("login-password").value = "";
    show(error, false);
    await startSession(await api("/api/me"));
  } catch (e) {
    error.textContent = e instanceof ApiError && e.status === 401 ? "Unknown user or wrong password." : `Sign-in failed: ${e.message}`;
    show(error);
  } finally {
    $("login-submit").disabled = false;
  }
}

async function logout() {
  try { await api("/auth/logout", {method: "POST"}); } catch { /* the cookie expires on its own */ }
  showLogin();
}

async function boot() {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  window.addEventListener("hashchange", () => route());
  window.addEventListener("session-expired", () => { if (session.me) showLogin("Your session has ended. Please sign in again."); });
  setSocketState("offline", "Offline");
  let me;
  try {
    me = await api("/api/me");
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) { showLogin(); return; }
    showLogin(`The workstation is unavailable: ${e.message}`);
    return;
  }
  await startSession(me);
}

boot();
