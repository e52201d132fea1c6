// Dense, sortable-looking but static tables: a column spec says how each value reads (amounts carry their currency:
// the base currency of the row's client, or the book's reporting currency for `*_reporting` columns).
import {h, humanize, money, number, signed, toneOf} from "./dom.js";

const LABELS = {full_name: "Client", client_id: "Client ID", base_currency: "Base ccy", market_value: "Market value",
                daily_pnl: "Daily P&L", market_value_reporting: "Market value", daily_pnl_reporting: "Daily P&L",
                pnl: "P&L", pnl_reporting: "P&L", positions_count: "Positions", unpriced_positions: "Unpriced",
                move_pct: "Move", prev_mv: "Previous value", prev_market_value: "Previous value", account_id: "Account",
                instrument_id: "Instrument", currency: "Ccy", quantity: "Quantity", close: "Close", fx_to_base: "FX to base",
                unpriced_reason: "Why unpriced", rm_id: "RM", date: "Date"};
const SIGNED = /(^|_)(daily_pnl|pnl|move)(_|$)/;
const MONEY = /(market_value|pnl|prev_mv|value)/;
const HIDDEN = new Set(["reporting_currency"]);

// How a column reads, from its name: amounts, signed amounts, percentages, counts, text.
export function kindOf(key) {
  if (key === "full_name") return "client";
  if (key.endsWith("_pct") || key === "pct") return "pct";
  if (MONEY.test(key)) return SIGNED.test(key) ? "signed" : "money";
  if (/(_count|positions|unpriced_positions|clients)$/.test(key)) return "int";
  if (["quantity", "close", "fx_to_base"].includes(key)) return "num";
  return "text";
}

// Columns of `rows` in their order, each base-currency amount followed by its reporting-currency twin.
export function autoColumns(rows, reporting) {
  const keys = [];
  for (const row of rows) for (const key of Object.keys(row)) if (!keys.includes(key)) keys.push(key);
  const hasName = keys.includes("full_name");
  const ordered = [];
  for (const key of keys) {
    if (HIDDEN.has(key) || (hasName && key === "client_id") || ordered.includes(key)) continue;
    if (key.endsWith("_reporting") && keys.includes(key.replace(/_reporting$/, ""))) continue;  // placed beside its twin
    ordered.push(key);
    if (keys.includes(`${key}_reporting`)) ordered.push(`${key}_reporting`);
  }
  return ordered.map((key) => ({key, kind: kindOf(key), label: columnLabel(key, reporting)}));
}

export function columnLabel(key, reporting) {
  const base = LABELS[key] || humanize(key.replace(/_reporting$/, ""));
  if (key.endsWith("_reporting")) return `${LABELS[key] || base} (${reporting || "reporting"})`;
  if (MONEY.test(key)) return `${base} (base)`;
  return base;
}

function cell(row, column, reporting) {
  const value = row[column.key];
  const currency = column.key.endsWith("_reporting") ? (row.reporting_currency || reporting) : (row.base_currency || row.currency);
  switch (column.kind) {
    case "client":
      return h("td", {class: "name"},
        row.client_id ? h("a", {href: `#/client/${encodeURIComponent(row.client_id)}`, class: "client-link"}, value || row.client_id)
                      : value);
    case "money": return h("td", {class: "num"}, money(value, currency));
    case "signed": return h("td", {class: `num ${toneOf(value)}`}, signed(value, currency));
    case "pct":
      return h("td", {class: `num ${toneOf(value)}`},
        value === null || value === undefined ? "—" : `${value > 0 ? "+" : ""}${Number(value).toFixed(2)}%`);
    case "int": return h("td", {class: "num"}, value === null || value === undefined ? "—" : String(value));
    case "num": return h("td", {class: "num"}, number(value));
    default: return h("td", {}, value === null || value === undefined || value === "" ? "—" : String(value));
  }
}

// A table of `rows` (or a quiet "nothing to show" line). Rows with a client_id open that client when clicked.
export function dataTable(rows, {columns, reporting, caption, empty = "Nothing to show."} = {}) {
  if (!rows || rows.length === 0) return h("p", {class: "muted empty"}, empty);
  const cols = columns || autoColumns(rows, reporting);
  const body = rows.map((row) => {
    const tr = h("tr", {dataset: row.client_id ? {clientId: row.client_id} : {}}, cols.map((c) => cell(row, c, reporting)));
    if (row.client_id && cols.some((c) => c.kind === "client")) {
      tr.classList.add("clickable");
      tr.addEventListener("click", (event) => {
        if (event.target.closest("a")) return;  // the link itself navigates
        location.hash = `#/client/${encodeURIComponent(row.client_id)}`;
      });
    }
    return tr;
  });
  return h("table", {class: "data"},
    caption ? h("caption", {class: "visually-hidden"}, caption) : null,
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", {scope: "col", class: ["money", "signed", "pct", "int", "num"].includes(c.kind) ? "num" : ""},
                                                  c.label)))),
    h("tbody", {}, body));
}
