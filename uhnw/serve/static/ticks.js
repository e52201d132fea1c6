// Live prices: the socket's `tick` frames (conflated by the server to a few a second per instrument), the latest one
// per instrument kept for whichever view shows it. The Client view's positions table shows them in two columns.
import {number, toneOf, when} from "./dom.js";

export class LivePrices {
  constructor() {
    this.latest = new Map();  // instrument id -> its latest tick frame
    this.listeners = new Set();
  }

  update(frame) {
    this.latest.set(frame.instrument_id, frame);
    for (const listener of this.listeners) listener(frame);
  }

  listen(listener) {
    this.listeners.add(listener);
  }

  clear() {
    this.latest.clear();
  }
}

export const LIVE_COLUMNS = [
  {key: "live_price", label: "Live price", kind: "num"},
  {key: "live_change_pct", label: "Change", kind: "pct"}];

// Mark the rows of a positions `table` with their instrument and the live cells with their role, then show what is known.
export function markLiveCells(table, positions, columns, prices) {
  const [priceAt, changeAt] = LIVE_COLUMNS.map((live) => columns.findIndex((c) => c.key === live.key));
  table.querySelectorAll("tbody tr").forEach((row, i) => {
    row.dataset.instrumentId = positions[i].instrument_id;
    row.children[priceAt].classList.add("live-price");
    row.children[changeAt].classList.add("live-change");
  });
  for (const frame of prices.latest.values()) showTick(table, frame, false);
}

// Fill the live cells of every row of `table` holding the frame's instrument (briefly highlighted when `flash`).
export function showTick(table, frame, flash = true) {
  for (const row of table.querySelectorAll("tbody tr[data-instrument-id]")) {
    if (row.dataset.instrumentId !== frame.instrument_id) continue;
    const price = row.querySelector("td.live-price");
    const change = row.querySelector("td.live-change");
    price.textContent = number(frame.price);
    price.title = `${frame.currency} · ${when(frame.at)}`;
    const pct = frame.change_pct;
    change.textContent = pct === null || pct === undefined ? "—" : `${pct > 0 ? "+" : ""}${Number(pct).toFixed(2)}%`;
    change.title = "Against the last synced close";
    change.className = `num live-change ${toneOf(pct)}`;
    if (flash) {
      row.classList.remove("tick-flash");
      void row.offsetWidth;  // restart the animation
      row.classList.add("tick-flash");
    }
  }
}
