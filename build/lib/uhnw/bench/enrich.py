"""`uhnw bench enrich`: entity resolution + relevance + summary per article on one core, over the seed set (cycled)."""
from __future__ import annotations

import json
import resource
import time

import numpy as np

from uhnw.config import Settings
from uhnw.enrich import client_directory, enrich
from uhnw.summarize import summarizer_for


def bench_enrich(settings: Settings, n_articles: int = 2000, use_promoted: bool = False, out=print) -> dict:
    "Time `enrich` over `n_articles` seed articles; print a table and a final JSON line; return the numbers."
    from uhnw.relevance import read_seed, resolve_labels, train
    from uhnw.resolve import Gazetteer
    raw, clients = read_seed()
    gaz = Gazetteer.from_clients(clients)
    if use_promoted:
        from uhnw.lake import lake_for
        from uhnw.relevance import load_model
        model = load_model(lake_for(settings))
    else:
        model, _ = train(resolve_labels(raw, gaz)[0])
    summarizer, directory = summarizer_for(settings), client_directory(clients)
    arts = raw.drop_duplicates("article_id").to_dict("records")
    times, alerts = np.empty(n_articles), 0
    t_all = time.perf_counter()
    for i in range(n_articles):
        a = arts[i % len(arts)]
        ev = {"article_id": f"{a['article_id']}-{i}", "source": "bench", "headline": a["headline"], "body": a["body"]}
        t0 = time.perf_counter()
        alerts += len(enrich(ev, gaz, model, summarizer, clients=directory))
        times[i] = time.perf_counter() - t0
    wall = time.perf_counter() - t_all
    res = {"bench": "enrich", "articles": n_articles, "clients": len(clients), "alerts": alerts,
           "articles_per_s": round(n_articles / wall, 1), "p50_ms": round(float(np.percentile(times, 50)) * 1e3, 3),
           "p99_ms": round(float(np.percentile(times, 99)) * 1e3, 3),
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
           "model_version": model.version, "summarizer": summarizer.name}
    out(f"{'articles':>10} {'clients':>8} {'alerts':>7} {'articles/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'peak RSS MB':>12}")
    out(f"{res['articles']:>10} {res['clients']:>8} {res['alerts']:>7} {res['articles_per_s']:>11} "
        f"{res['p50_ms']:>8} {res['p99_ms']:>8} {res['peak_rss_mb']:>12}")
    out(json.dumps(res))
    return res
