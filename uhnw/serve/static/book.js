// The Book view: portfolio health of the caller's book for a chosen date, in the reporting currency, with each
// client's base-currency figures beside it in the tables.
import {api} from "./api.js";
import {plot} from "./charts.js";
import {$, h, money, show, signed, toneOf} from "./dom.js";
import {dataTable} from "./table.js";

function tile(label, value, {tone = "", note = ""} = {}) {
  return h("div", {class: "kpi"}, h("div", {class: "kpi-label"}, label), h("div", {class: `kpi-value ${tone}`}, value),
           note ? h("div", {class: "kpi-note"}, note) : null);
}

export class BookView {
  forget() {
    this.shownDate = null;
    delete $("view-book").dataset.shownDate;
  }

  constructor(session) {
    this.session = session;
    this.shownDate = null;
    this.loads = 0;  // only the latest request paints: a slow answer for an earlier date is dropped
    $("book-date").addEventListener("change", (event) => { if (event.target.value) this.load(event.target.value); });
  }

  // Shows the book of `date` (default: the date picked, else the newest synced date).
  async load(date) {
    const day = date || $("book-date").value || this.session.me.latest_date;
    const message = $("book-message");
    if (!day) {
      message.textContent = "No metrics have been synced yet: run the cold path (positions and P&L) for a date first.";
      show(message);
      return;
    }
    $("book-date").value = day;
    this.session.date = day;
    const ticket = ++this.loads;
    const view = await api("/api/book/health", {params: {date: day}});
    if (ticket !== this.loads) return;
    this.shownDate = day;
    const ccy = view.reporting_currency;
    $("book-ccy").textContent = `Amounts in ${ccy} unless marked base`;
    const totals = view.totals || {};
    const none = !totals.clients;
    message.textContent = none ? `No metrics for ${day} in your book. Pick another date.` : "";
    show(message, none);
    $("book-kpis").replaceChildren(
      tile("Market value", money(totals.market_value, ccy)),
      tile("Daily P&L", signed(totals.daily_pnl, ccy), {tone: toneOf(totals.daily_pnl)}),
      tile("Clients", totals.clients ?? "—"),
      tile("Unpriced positions", totals.unpriced_positions ?? "—",
           {tone: totals.unpriced_positions ? "warn" : "", note: totals.positions ? `of ${totals.positions} positions` : ""}));
    const figures = view.figures || {};
    plot($("chart-market-value"), figures.market_value);
    plot($("chart-daily-pnl"), figures.daily_pnl, "No P&L history in this window.");
    const tables = view.tables || {};
    $("table-top-movers").replaceChildren(dataTable(tables.top_movers, {reporting: ccy, caption: "Top movers",
                                                                        empty: "No moves to report (no previous day to compare)."}));
    $("table-unpriced").replaceChildren(dataTable(tables.unpriced, {reporting: ccy, caption: "Unpriced positions",
                                                                    empty: "Every position is priced."}));
    $("table-clients").replaceChildren(dataTable(tables.clients, {reporting: ccy, caption: "Clients", empty: "No clients in your book."}));
    $("view-book").dataset.shownDate = day;  // what is on screen now (the date picker may be ahead of it while loading)
  }
}
