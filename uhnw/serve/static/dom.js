// Small DOM and formatting helpers. Every value from the API goes in as text (textContent), never as HTML.

export const $ = (id) => document.getElementById(id);

// h("a", {href: "#", class: "x", onclick: fn}, "text", child) -> element
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function show(el, visible = true) { el.hidden = !visible; }

const amount = new Intl.NumberFormat("en-GB", {maximumFractionDigits: 0});
const precise = new Intl.NumberFormat("en-GB", {maximumFractionDigits: 4});
const compact = new Intl.NumberFormat("en-GB", {notation: "compact", maximumFractionDigits: 2});

export function money(value, currency) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return `${amount.format(value)}${currency ? " " + currency : ""}`;
}

export function moneyCompact(value, currency) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return `${compact.format(value)}${currency ? " " + currency : ""}`;
}

export function signed(value, currency) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return `${value > 0 ? "+" : ""}${money(value, currency)}`;
}

export function number(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return precise.format(value);
}

export function percent(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return `${Math.round(value * 100)}%`;
}

// "2031-03-04T09:00:00Z" -> "4 Mar 2031, 09:00 UTC" (the desk reads UTC: news times are UTC everywhere in the platform)
export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString("en-GB", {day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
                                    timeZone: "UTC"}) + " UTC";
}

export function toneOf(value) {
  if (value === null || value === undefined || value === 0) return "";
  return value > 0 ? "pos" : "neg";
}

export function humanize(key) {
  const label = key.replace(/_/g, " ");
  return label.charAt(0).toUpperCase() + label.slice(1);
}

let toastTimer;
export function toast(message) {
  const el = $("toast");
  el.textContent = message;
  show(el);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => show(el, false), 4000);
}
