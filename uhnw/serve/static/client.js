// The Client view (#/client/<id>): master data, metrics history, positions of a date and the client's alerts.
// A client outside the caller's book answers 404, shown as "not in your book" with nothing else.
import {alertCard, placeCard} from "./alerts.js";
import {api, ApiError} from "./api.js";
import {plot} from "./charts.js";
import {$, h, money, show, signed, toneOf} from "./dom.js";
import {dataTable} from "./table.js";
import {LIVE_COLUMNS, markLiveCells, showTick} from "./ticks.js";

const positionColumns = (reporting) => [
  {key: "account_id", label: "Account", kind: "text"}, {key: "instrument_id", label: "Instrument", kind: "text"},
  {key: "currency", label: "Ccy", kind: "text"}, {key: "quantity", label: "Quantity", kind: "num"},
  {key: "close", label: "Close", kind: "num"}, ...LIVE_COLUMNS, {key: "market_value", label: "Market value (base)", kind: "money"},
  {key: "pnl", label: "P&L (base)", kind: "signed"}, {key: "market_value_reporting", label: `Market value (${reporting})`, kind: "money"},
  {key: "pnl_reporting", label: `P&L (${reporting})`, kind: "signed"}, {key: "unpriced_reason", label: "Why unpriced", kind: "text"}];

function tile(label, value, note, tone = "") {
  return h("div", {class: "kpi"}, h("div", {class: "kpi-label"}, label), h("div", {class: `kpi-value ${tone}`}, value),
           note ? h("div", {class: "kpi-note"}, note) : null);
}

// Market value as a line and daily P&L as bars on a second axis, both in the client's base currency, on a date axis.
function historyFigure(history, ccy) {
  const x = history.map((m) => m.date);
  return {
    data: [
      {type: "scatter", mode: "lines+markers", name: `Market value (${ccy})`, x, y: history.map((m) => m.market_value),
       line: {color: "#1d4ed8", width: 2}, hovertemplate: `%{x|%d %b %Y}: %{y:,.0f} ${ccy}<extra>Market value</extra>`},
      {type: "bar", name: `Daily P&L (${ccy})`, x, width: 86400000 * 0.6, y: history.map((m) => m.daily_pnl), yaxis: "y2", opacity: 0.55,
       marker: {color: history.map((m) => (m.daily_pnl || 0) < 0 ? "#b42318" : "#067647")},
       hovertemplate: `%{x|%d %b %Y}: %{y:,.0f} ${ccy}<extra>Daily P&L</extra>`}],
    layout: {height: 300, showlegend: true, legend: {orientation: "h", y: 1.12, x: 0}, hovermode: "x unified",
             xaxis: {type: "date", tickformat: "%d %b", dtick: history.length > 14 ? undefined : 86400000},
             yaxis: {title: {text: `Market value (${ccy})`}, tickformat: ",.0f", rangemode: "tozero"},
             yaxis2: {title: {text: `Daily P&L (${ccy})`}, overlaying: "y", side: "right", tickformat: ",.0f", showgrid: false, zeroline: false}},
  };
}

export class ClientView {
  constructor(session) {
    this.session = session;
    this.clientId = null;
    $("client-picker").addEventListener("change", (event) => {
      if (event.target.value) location.hash = `#/client/${encodeURIComponent(event.target.value)}`;
    });
    $("client-positions-date").addEventListener("change", (event) => {
      if (this.clientId && event.target.value) this.loadPositions(this.clientId, event.target.value);
    });
    session.prices.listen((frame) => {
      const table = $("table-positions").querySelector("table");
      if (table) showTick(table, frame);
    });
  }

  fillPicker() {
    const picker = $("client-picker");
    const options = [...this.session.names].sort((a, b) => a[1].localeCompare(b[1]))
      .map(([id, name]) => h("option", {value: id}, `${name} (${id})`));
    picker.replaceChildren(picker.options[0], ...options);
  }

  clear() {
    for (const id of ["client-kpis", "chart-client-history", "table-positions", "client-alerts"]) {
      const el = $(id);
      if (window.Plotly && el.classList.contains("js-plotly-plot")) window.Plotly.purge(el);
      el.replaceChildren();
    }
    $("client-subtitle").textContent = "";
    $("client-ccy").textContent = "";
    show($("client-body"), false);
    show($("client-message"), false);
  }

  async load(clientId) {
    this.clear();
    this.clientId = clientId;
    $("client-picker").value = clientId && this.session.names.has(clientId) ? clientId : "";
    if (!clientId) {
      $("client-title").textContent = "Client";
      $("client-subtitle").textContent = "Choose a client from your book, or open one from the Book or an alert.";
      return;
    }
    let client;
    try {
      client = await api(`/api/clients/${encodeURIComponent(clientId)}`);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
      if (this.clientId !== clientId) return;
      $("client-title").textContent = "Client";
      $("client-message").textContent = `Client ${clientId} is not in your book. Ask its relationship manager, or compliance.`;
      show($("client-message"));
      return;
    }
    if (this.clientId !== clientId) return;  // the user moved on while this loaded
    this.session.lastClient = clientId;
    const ccy = client.base_currency || "";
    const reporting = this.session.me.reporting_currency;
    $("client-title").textContent = client.full_name;
    $("client-subtitle").textContent = [client.client_id, [client.city, client.country].filter(Boolean).join(", "),
                                        ccy && `base ${ccy}`, client.rm_id && `RM ${client.rm_id}`].filter(Boolean).join(" · ");
    $("client-ccy").textContent = ccy ? `(${ccy})` : "";
    const m = client.metrics || {};
    $("client-kpis").replaceChildren(
      tile("Market value", money(m.market_value, ccy), m.market_value_reporting != null ? money(m.market_value_reporting, reporting) : ""),
      tile("Daily P&L", signed(m.daily_pnl, ccy), m.daily_pnl_reporting != null ? signed(m.daily_pnl_reporting, reporting) : "",
           toneOf(m.daily_pnl)),
      tile("Positions", m.positions_count ?? "—", m.date ? `on ${m.date}` : "no metrics synced"),
      tile("Unpriced", m.unpriced_positions ?? "—", "", m.unpriced_positions ? "warn" : ""));
    show($("client-body"));
    const [history, alerts] = await Promise.all([
      api(`/api/clients/${encodeURIComponent(clientId)}/metrics`),
      api("/api/alerts", {params: {client_id: clientId, limit: 20}})]);
    if (this.clientId !== clientId) return;
    plot($("chart-client-history"), historyFigure(history.metrics, ccy), "No metrics history yet.");
    const days = history.metrics.map((r) => r.date);
    const wanted = this.session.date && days.includes(this.session.date) ? this.session.date : days[days.length - 1];
    $("client-positions-date").value = wanted || "";
    const list = $("client-alerts");
    const ctx = {names: this.session.names, canGiveFeedback: this.session.me.role === "rm", prefix: "c"};
    for (const alert of alerts.alerts) placeCard(list, alertCard(alert, ctx));
    show($("client-alerts-empty"), alerts.alerts.length === 0);
    await this.loadPositions(clientId, wanted);
  }

  async loadPositions(clientId, date) {
    const got = await api(`/api/clients/${encodeURIComponent(clientId)}/positions`, {params: {date}});
    if (this.clientId !== clientId) return;
    const columns = positionColumns(this.session.me.reporting_currency);
    $("table-positions").replaceChildren(dataTable(got.positions, {columns, caption: "Positions", reporting: this.session.me.reporting_currency,
                                                                   empty: `No positions on ${got.date || "any synced date"}.`}));
    const table = $("table-positions").querySelector("table");
    if (table) markLiveCells(table, got.positions, columns, this.session.prices);
  }
}
