"""`uhnw bench ingest`: the four sources' throughput, one after the other on the running stack.

- `crm`: Salesforce CDC events applied to `clients` / `rm_coverage` per second, from the topic (`uhnw.bench.ingest_crm`);
- `ticks`: MarketTicks published per second, and ticks per second through the conflation step (`uhnw.bench.ingest_ticks`);
- `pages`: real web pages extracted and resolved per second by the web ETL (`uhnw.bench.ingest_pages`);
- `stream`: rows per second into silver by the Spark stream, session start-up excluded (`uhnw.bench.ingest_stream`).

Each source's measure function returns its figures (a dict with at least `rate_per_s` and `unit`); this module prints
one table row per source and, last, one JSON line with every figure and the load average before and after.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from importlib import import_module
from typing import Any

from uhnw.config import Settings

__all__ = ["SOURCES", "bench_ingest"]

# source -> (module, function, size option name)
SOURCES: dict[str, tuple[str, str]] = {
    "crm": ("uhnw.bench.ingest_crm", "measure_crm"),
    "ticks": ("uhnw.bench.ingest_ticks", "measure_ticks"),
    "pages": ("uhnw.bench.ingest_pages", "measure_pages"),
    "stream": ("uhnw.bench.ingest_stream", "measure_stream"),
}


def bench_ingest(settings: Settings, sizes: dict[str, int], out: Callable[[str], Any] = print) -> dict[str, Any]:
    "Run each source of `sizes` (source -> events) and print the table and the JSON line; returns the figures."
    unknown = sorted(set(sizes) - set(SOURCES))
    if unknown: raise ValueError(f"unknown source(s) {', '.join(unknown)}; known: {', '.join(SOURCES)}")
    figures: dict[str, Any] = {"bench": "ingest", "load_before": [round(x, 2) for x in os.getloadavg()], "sources": {}}
    out(f"{'source':<8} {'events':>9} {'seconds':>9} {'rate':>12}  unit")
    for source, n in sizes.items():
        module, function = SOURCES[source]
        measure = getattr(import_module(module), function)
        t0 = time.perf_counter()
        got = measure(settings, n)
        got.setdefault("wall_seconds", round(time.perf_counter() - t0, 2))
        figures["sources"][source] = got
        out(f"{source:<8} {n:>9,} {got.get('seconds', got['wall_seconds']):>9.2f} {got['rate_per_s']:>12,.0f}  {got['unit']}")
    figures["load_after"] = [round(x, 2) for x in os.getloadavg()]
    out(json.dumps(figures))
    return figures
