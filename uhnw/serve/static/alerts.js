// The alerts feed: the REST history (newest first), live frames from the WebSocket prepended as they arrive, and the
// RM's feedback. Each alert says why it fired: the mention in the article, the client name it matched, the
// resolution's evidence, the event type and the scores.
import {api} from "./api.js";
import {$, h, percent, show, toast, when} from "./dom.js";

const EVENT_LABELS = {m_and_a: "M&A", legal_regulatory: "Legal / regulatory", family_succession: "Family succession",
                      residence_tax: "Residence / tax", large_purchase: "Large purchase", business_distress: "Business distress",
                      leadership_change: "Leadership change", family_office_fund: "Family office / fund"};
export const VERDICTS = [["useful", "Useful"], ["not_useful", "Not useful"], ["wrong_person", "Wrong person"]];
const VERDICT_TEXT = Object.fromEntries(VERDICTS);

export function eventLabel(type) {
  if (!type) return "Unclassified";
  return EVENT_LABELS[type] || type.charAt(0).toUpperCase() + type.slice(1).replace(/_/g, " ");
}

function verdictLine(verdict) {
  return verdict ? `Your verdict: ${VERDICT_TEXT[verdict] || verdict}` : "No verdict yet";
}

async function sendFeedback(card, alertId, verdict) {
  const buttons = card.querySelectorAll("button[data-verdict]");
  const status = card.querySelector(".verdict");
  buttons.forEach((b) => { b.disabled = true; });
  status.textContent = "Saving…";
  try {
    const stored = await api(`/api/alerts/${alertId}/feedback`, {method: "POST", body: {verdict}});
    markVerdict(card, stored.verdict);
  } catch (e) {
    markVerdict(card, card.dataset.verdict || null);
    toast(`Feedback not saved: ${e.message}`);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

function markVerdict(card, verdict) {
  if (verdict) card.dataset.verdict = verdict; else delete card.dataset.verdict;
  card.querySelectorAll("button[data-verdict]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.verdict === verdict)));
  card.querySelector(".verdict").textContent = verdictLine(verdict);
}

// One alert as a list item. `ctx`: {names: Map client id -> name, canGiveFeedback, live}
export function alertCard(alert, ctx) {
  const name = alert.full_name || ctx.names.get(alert.client_id) || alert.client_id;
  const reasons = (alert.match_reasons || "").split(";").map((r) => r.trim()).filter(Boolean);
  const titleId = `alert-${ctx.prefix || "a"}-${alert.alert_id}`;
  const headline = alert.url
    ? h("a", {href: alert.url, target: "_blank", rel: "noopener noreferrer"}, alert.headline || "(no headline)")
    : alert.headline || "(no headline)";
  const card = h("li", {class: `alert${ctx.live ? " is-new" : ""}`, "aria-labelledby": titleId,
                        dataset: {alertId: alert.alert_id, clientId: alert.client_id, eventType: alert.event_type || ""}},
    h("div", {class: "alert-meta"},
      h("a", {class: "client-link", href: `#/client/${encodeURIComponent(alert.client_id)}`}, name),
      h("span", {class: "badge badge-event"}, eventLabel(alert.event_type)),
      h("span", {class: "score", title: "How material the article is for the client (relevance model)"},
        "Relevance ", h("strong", {}, percent(alert.relevance))),
      h("span", {class: "score", title: "How sure entity resolution is that the article is about this client"},
        "Match ", h("strong", {}, percent(alert.resolution_score))),
      ctx.live ? h("span", {class: "badge badge-live"}, "Live") : null,
      h("span", {class: "spacer"}),
      h("time", {datetime: alert.published_at || ""}, when(alert.published_at || alert.processed_at || alert.created_at)),
      h("span", {class: "source"}, alert.source || "unknown source")),
    h("h3", {class: "alert-headline", id: titleId}, headline),
    alert.summary ? h("p", {class: "alert-summary"}, alert.summary) : null,
    h("dl", {class: "why", "aria-label": "Why this alert fired"},
      h("div", {}, h("dt", {}, "Mentioned as"), h("dd", {class: "mention"}, alert.mention ? `“${alert.mention}”` : "—")),
      h("div", {}, h("dt", {}, "Matched client"), h("dd", {class: "matched-name"}, alert.matched_name || name)),
      h("div", {class: "why-wide"}, h("dt", {}, "Evidence"),
        h("dd", {class: "match-reasons"}, reasons.length ? reasons.map((r) => h("span", {class: "chip"}, r)) : "—"))),
    h("div", {class: "feedback", role: "group", "aria-label": `Feedback on: ${alert.headline || "this alert"}`},
      ctx.canGiveFeedback
        ? VERDICTS.map(([verdict, label]) => h("button", {type: "button", class: `btn btn-small verdict-${verdict}`,
                                                          dataset: {verdict}, "aria-pressed": "false"}, label))
        : null,
      h("span", {class: "verdict", role: "status"}, "")));
  markVerdict(card, alert.verdict || null);
  card.querySelectorAll("button[data-verdict]").forEach((b) =>
    b.addEventListener("click", () => sendFeedback(card, alert.alert_id, b.dataset.verdict)));
  return card;
}

// Insert keeping the list ordered by alert id, newest first; an id already shown is not repeated.
export function placeCard(list, card) {
  const id = Number(card.dataset.alertId);
  if (list.querySelector(`li[data-alert-id="${id}"]`)) return false;
  const after = [...list.children].find((li) => Number(li.dataset.alertId) < id);
  list.insertBefore(card, after || null);
  return true;
}

// The Alerts view: history page by page, live alerts on top, a client-side event type filter.
export class AlertsView {
  constructor(session) {
    this.session = session;
    this.list = $("alert-list");
    this.cursor = null;
    this.lastId = 0;
    this.unseen = 0;
    this.eventTypes = new Set();
    $("alerts-more").addEventListener("click", () => this.loadOlder());
    $("alerts-event").addEventListener("change", () => this.applyFilter());
  }

  ctx(live = false) {
    return {names: this.session.names, canGiveFeedback: this.session.me.role === "rm", live};
  }

  // The first page of history, after a sign-in: nothing of a previous session is kept.
  async load() {
    this.list.replaceChildren();
    this.cursor = null;
    this.lastId = 0;
    this.eventTypes.clear();
    const select = $("alerts-event");
    select.replaceChildren(select.options[0]);
    select.value = "";
    this.setUnseen(0);
    const page = await api("/api/alerts", {params: {limit: 50}});
    this.addPage(page);
    return this.lastId;
  }

  async loadOlder() {
    if (!this.cursor) return;
    this.addPage(await api("/api/alerts", {params: {limit: 50, cursor: this.cursor}}));
  }

  addPage(page) {
    for (const alert of page.alerts) this.add(alert, false);
    this.cursor = page.next_cursor;
    show($("alerts-more"), Boolean(this.cursor));
    this.refreshEmpty();
  }

  // A history row or a live frame; returns true when it was new to the page.
  add(alert, live) {
    this.lastId = Math.max(this.lastId, Number(alert.alert_id));
    const card = alertCard(alert, this.ctx(live));
    if (!placeCard(this.list, card)) return false;
    this.noteEventType(alert.event_type);
    card.hidden = !this.matchesFilter(card);
    if (live) {
      if (this.session.view !== "alerts") this.setUnseen(this.unseen + 1);
      this.session.onLiveAlert(alert);
    }
    this.refreshEmpty();
    return true;
  }

  setUnseen(n) {
    this.unseen = n;
    const badge = $("alert-count");
    badge.textContent = String(n);
    badge.title = `${n} new alert${n === 1 ? "" : "s"} since you last looked`;
    show(badge, n > 0);
  }

  // Adds an event type to the filter, in label order, without touching the current choice.
  noteEventType(type) {
    if (!type || this.eventTypes.has(type)) return;
    this.eventTypes.add(type);
    const select = $("alerts-event");
    const option = h("option", {value: type}, eventLabel(type));
    const next = [...select.options].slice(1).find((o) => o.textContent.localeCompare(option.textContent) > 0);
    select.insertBefore(option, next || null);
  }

  matchesFilter(card) {
    const wanted = $("alerts-event").value;
    return !wanted || card.dataset.eventType === wanted;
  }

  applyFilter() {
    for (const card of this.list.children) card.hidden = !this.matchesFilter(card);
    this.refreshEmpty();
  }

  refreshEmpty() {
    show($("alerts-empty"), ![...this.list.children].some((c) => !c.hidden));
  }
}

const BACKOFF_SECONDS = [1, 2, 4, 8];  // then every 8 s: a restarted server is back within a few seconds

// The live socket: cookie-authenticated, same origin. Replays what it missed after the highest alert id seen, and
// reconnects by itself with back-off. States: connecting, live, reconnecting, offline.
export class AlertSocket {
  constructor({lastId, onAlert, onUnauthorized, onTick = () => {}}) {
    this.lastId = lastId;
    this.onAlert = onAlert;
    this.onTick = onTick;
    this.onUnauthorized = onUnauthorized;
    this.failures = 0;
    this.stopped = false;
    this.ws = null;
    this.timer = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, "page closed the session");
    this.ws = null;
    setSocketState("offline", "Offline");
  }

  connect() {
    setSocketState("connecting", "Connecting…");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws?last_alert_id=${this.lastId}`);
    this.ws = ws;
    ws.addEventListener("message", (event) => this.receive(JSON.parse(event.data)));
    ws.addEventListener("close", (event) => { if (this.ws === ws) this.closed(event); });
  }

  receive(frame) {
    if (frame.type === "alert") {
      this.lastId = Math.max(this.lastId, Number(frame.alert_id));
      this.onAlert(frame);
    } else if (frame.type === "tick") {
      this.onTick(frame);
    } else if (frame.type === "live") {
      this.failures = 0;
      setSocketState("live", "Live");
      // live prices of the book's instruments, on every (re)connection
      if (this.ws) this.ws.send(JSON.stringify({type: "subscribe", channel: "ticks"}));
    }
  }

  async closed(event) {
    this.ws = null;
    if (this.stopped) return;
    if (event.code === 4403) { setSocketState("offline", "Refused (cross-origin)"); return; }
    if (event.code === 4401) {  // the socket's token expired; the cookie may have been renewed since
      if (!(await this.onUnauthorized())) { setSocketState("offline", "Signed out"); return; }
    }
    if (event.code === 4400) this.lastId = 0;  // our cursor is past the store's newest id (a reset store): replay all
    this.retry();
  }

  retry() {
    let seconds = BACKOFF_SECONDS[Math.min(this.failures, BACKOFF_SECONDS.length - 1)];
    this.failures += 1;
    const tick = () => {
      if (this.stopped) return;
      if (seconds <= 0) { this.connect(); return; }
      setSocketState("reconnecting", `Reconnecting in ${seconds}s`);
      seconds -= 1;
      this.timer = setTimeout(tick, 1000);
    };
    tick();
  }
}

export function setSocketState(state, text) {
  const el = $("socket-state");
  el.dataset.state = state;
  el.querySelector(".socket-text").textContent = text;
  el.title = {live: "Live alerts are streaming", connecting: "Opening the alert stream",
              reconnecting: "The alert stream dropped: alerts missed meanwhile are replayed on reconnect",
              offline: "No alert stream"}[state] || "";
}
