// plotly.js (served from the plotly package by this app) draws the figures the server built; the page only adds its
// own calm look (font, transparent background) and never changes what a figure says.
import {h} from "./dom.js";

const LOOK = {font: {family: "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: 12, color: "#1f2a37"},
              paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)"};
const CONFIG = {displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"]};

// plotly.py may send an array as a typed-array spec ({dtype, bdata}) instead of a list.
const filled = (v) => Boolean(v && (Array.isArray(v) ? v.length : v.bdata));

export function hasData(fig) {
  return Boolean(fig && Array.isArray(fig.data) && fig.data.some((t) => filled(t.x) || filled(t.y) || filled(t.values)));
}

export function plot(el, fig, emptyText = "No data for this date.") {
  if (window.Plotly) window.Plotly.purge(el);
  if (!hasData(fig)) {
    el.replaceChildren(h("p", {class: "muted empty chart-empty"}, emptyText));
    return false;
  }
  el.replaceChildren();
  const layout = {...fig.layout, ...LOOK, font: {...(fig.layout && fig.layout.font), ...LOOK.font},
                  margin: {l: 8, r: 16, t: fig.layout && fig.layout.title ? 40 : 12, b: 8, pad: 4, ...(fig.layout && fig.layout.margin)},
                  autosize: true};
  for (const axis of ["xaxis", "yaxis", ...Object.keys(layout).filter((k) => /^[xy]axis\d+$/.test(k))]) {
    layout[axis] = {automargin: true, ...layout[axis]};  // long client names and second axes are never clipped
  }
  window.Plotly.newPlot(el, fig.data, layout, CONFIG);
  return true;
}
