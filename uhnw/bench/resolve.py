"""`uhnw bench resolve`: resolution throughput on one core, synthetic client book, ~3 KB synthetic articles, after a warm-up."""
from __future__ import annotations

import json
import random
import resource
import time

_FIRST = ("Amit Priya Rohan Ananya Vikram Kavita Arjun Meera Rajesh Sunita Layla Omar Khalid Fatima Rashid Noura Yousef Mariam Tariq "
          "Huda Wei Jun Mei Xiaoming Hui Jian Ying Hao Lan Jean Sophie Hans Giulia Lars Charlotte Alessandro Elena Pieter Isabel "
          "Robert Margaret William Catherine Michael Jonathan Edward Patricia Oluwaseun Chukwuemeka Kwame Thandiwe Alejandro Mehmet "
          "Yossi Ingrid Nikolaus Siobhan Francois Soren Takeshi Min Deepak Neha Imran Harpreet Anil Sanjay Lakshmi Farah Zainab").split()
_SYL = ("ka ra mi to shi an del mor ven lo sa ri no ber gan tal hu wen zar ol ste fan dre ko mal tis qua ren bor lin ash "
        "ev gor hal jun lek mun nor pel sor tam ul vak yor zen").split()
_WORDS = ("the company said on tuesday that revenue rose as investors bet on lower rates while bankers expected demand for private "
          "assets to remain strong despite volatility in emerging markets and analysts said the valuation looked full but defensible "
          "given growth in earnings regulators are examining the deal which is subject to approval and expected to close next quarter "
          "shares in the sector have risen this year led by banks and energy stocks").split()


def _synthetic_clients(n: int, rng: random.Random):
    import pandas as pd
    rows = []
    for i in range(n):
        last = "".join(rng.choice(_SYL) for _ in range(rng.choice((2, 3, 3)))).capitalize()
        first = rng.choice(_FIRST)
        mid = " " + rng.choice(_FIRST) if rng.random() < 0.15 else ""
        city = rng.choice(("London", "Dubai", "Mumbai", "Zurich"))
        rows.append((f"C{i:07d}", f"{first}{mid} {last}", "", f"{last} Holdings", city, "GB"))
    return pd.DataFrame(rows, columns=["client_id", "full_name", "aliases", "organizations", "city", "country"])


def _synthetic_article(names: list[str], rng: random.Random, size: int = 3000) -> tuple[str, str]:
    body = []
    while sum(map(len, body)) < size:
        s = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(12, 24)))
        if rng.random() < 0.15: s = f"{rng.choice(names)} {s}"
        elif rng.random() < 0.1: s = f"{rng.choice(_FIRST)} {''.join(rng.choice(_SYL) for _ in range(2)).capitalize()} {s}"
        body.append(s[0].upper() + s[1:] + ".")
    return f"{rng.choice(names)} in talks over stake sale", " ".join(body)


WARM_UP = 300  # articles resolved before the clock starts (token cache, language lists), not counted


def bench_resolve(clients: int = 100_000,  # size of the synthetic client book
                  articles: int = 3000,  # synthetic articles (~3 KB each) to resolve
                  seed: int = 7, out=print) -> dict:
    "Build a synthetic gazetteer, resolve synthetic articles on one core, print a table and one JSON line."
    from uhnw.resolve import Gazetteer
    rng = random.Random(seed)
    df = _synthetic_clients(clients, rng)
    t0 = time.perf_counter()
    g = Gazetteer.from_clients(df)
    build = time.perf_counter() - t0
    names = df.full_name.sample(min(len(df), 2000), random_state=seed).tolist()
    docs = [_synthetic_article(names, rng) for _ in range(articles)]
    for h, b in (_synthetic_article(names, rng) for _ in range(WARM_UP)): g.resolve(h, b)  # steady state: caches filled
    t0 = time.perf_counter()
    found = sum(len(g.resolve(h, b)) for h, b in docs)
    secs = time.perf_counter() - t0
    figures = {"clients": clients, "patterns": len(g.patterns), "build_s": round(build, 2), "articles": articles,
           "avg_article_bytes": round(sum(len(h) + len(b) for h, b in docs) / max(1, articles)),
           "articles_per_s": round(articles / secs, 1), "matches": found,
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    out(f"{'clients':<22}{figures['clients']:>12,}\n{'patterns':<22}{figures['patterns']:>12,}\n{'build s':<22}{figures['build_s']:>12}\n"
        f"{'articles':<22}{figures['articles']:>12,}\n{'avg article bytes':<22}{figures['avg_article_bytes']:>12,}\n"
        f"{'articles/s (1 core)':<22}{figures['articles_per_s']:>12,}\n{'matches':<22}{figures['matches']:>12,}\n"
        f"{'peak RSS MB':<22}{figures['peak_rss_mb']:>12}")
    out(json.dumps(figures))
    return figures
