"""`uhnw eval precision` and `uhnw enrich`: what a realistic client book raises on real text about nobody.

Real web pages (trafilatura's test cache, vendored as `tests/data/web_articles/articles.jsonl`) are about none of the
clients of a generated book (`uhnw.synth.client_book`), so every match on them is false: a *namesake* when the client's
full name (or a multi-word alias) is written there verbatim — ambiguous without context — and *avoidable* otherwise.
The same articles go through the whole enrichment (resolution, relevance, summary: `uhnw.enrich.enrich`) to count the
false alerts an RM would have received. Rates are per 1,000 articles, with exact Poisson 95% intervals: with about 55
articles in a split, one false match is already 18 per 1,000.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

TARGETS = {"avoidable_matches_per_1000": 5.0, "false_alerts_per_1000": 1.0}  # the targets, per 1,000 articles
SPLITS = ("dev", "eval")


def extract_page(path: Path) -> dict | None:
    "One HTML page as an article {id, headline, body, url, lang} (trafilatura's main text), or None if it has no text."
    import trafilatura

    from uhnw.language import detect_language
    got = trafilatura.extract(path.read_bytes(), output_format="json", with_metadata=True)
    doc = json.loads(got) if got else {}
    body = (doc.get("text") or "").strip()
    if not body:
        return None
    headline = (doc.get("title") or "").strip()
    return {"id": path.name.removesuffix(".html"), "headline": headline, "body": body, "url": doc.get("source") or None,
            "lang": detect_language(headline + "\n" + body, 1000)}


def assign_splits(articles: list[dict]) -> None:
    "Set `split` to dev/eval: alternate within each language in SHA-1 order of the ids; odd leftovers balance the totals."
    by_lang = defaultdict(list)
    for a in articles:
        by_lang[a["lang"]].append(a)
    total = {"dev": 0, "eval": 0}
    for lang in sorted(by_lang):
        group = sorted(by_lang[lang], key=lambda a: hashlib.sha1(a["id"].encode()).hexdigest())
        first = "dev" if len(group) % 2 == 0 or total["dev"] <= total["eval"] else "eval"
        second = "eval" if first == "dev" else "dev"
        for i, a in enumerate(group):
            a["split"] = first if i % 2 == 0 else second
            total[a["split"]] += 1


def read_articles(path: Path) -> tuple[list[dict], list[str]]:
    """Articles about nobody: a JSON-lines file ({id, headline, body, lang?, split?}) or a folder of .html pages (or one
    with a `pages/` folder), extracted and split here; also the names of pages without text."""
    path = Path(path)
    if path.is_file():
        arts = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if arts and "split" not in arts[0]:
            assign_splits(arts)
        return arts, []
    html = path / "pages" if (path / "pages").is_dir() else path
    pages = sorted(html.glob("*.html"))
    if not pages:
        raise ValueError(f"{path}: neither a JSON-lines file nor a folder of .html pages")
    arts, empty = [], []
    for p in pages:
        a = extract_page(p)
        (arts.append(a) if a else empty.append(p.name))
    assign_splits(arts)
    return sorted(arts, key=lambda a: a["id"]), empty


def poisson_interval(k: int, n: int, per: int = 1000) -> tuple[float, float]:
    "Exact (Garwood) 95% interval of a rate of `k` events in `n` articles, per `per` articles."
    from scipy.stats import chi2
    if n == 0:
        return (0.0, float("inf"))
    lo = chi2.ppf(0.025, 2 * k) / 2 if k else 0.0
    hi = chi2.ppf(0.975, 2 * k + 2) / 2
    return (round(lo / n * per, 1), round(hi / n * per, 1))


def _rate(k: int, n: int) -> dict:
    lo, hi = poisson_interval(k, n)
    return {"count": k, "per_1000": round(k / n * 1000, 1) if n else None, "ci95": [lo, hi]}


def _spelled_names(book) -> dict[str, list[str]]:
    "Per client, the lower-case full name and multi-word aliases, whose verbatim presence makes a match a namesake."
    out = {}
    for cid, name, aliases in zip(book["client_id"], book["full_name"], book["aliases"], strict=True):
        forms = [name] + [a for a in str(aliases).split("|") if len(a.split()) > 1]
        out[cid] = [re.sub(r"\s+", " ", f.strip().lower()) for f in forms if f.strip()]
    return out


def seed_model():
    "The relevance model trained on the repository's seed labels (package data): the same on every machine and run."
    from uhnw.bench.relevance_eval import train_on
    return replace(train_on(("seed",)), version="seed")


def relevance_model(version: str = "seed", settings=None):
    """The relevance model named `version`: 'seed' (`seed_model`), 'trained' (trained here on every training set, as the
    train job would), a lake version, or 'latest' (the promoted one, of `settings`' lake)."""
    if version == "seed":
        return seed_model()
    if version == "trained":
        from uhnw.bench.relevance_eval import train_on
        return train_on()
    from uhnw.lake import lake_for
    from uhnw.relevance import load_model
    return load_model(lake_for(settings), version)


def news_event(a: dict, source: str = "file") -> dict:
    "A NewsEvent-shaped record of a JSON-lines article, for `uhnw.enrich.enrich`."
    return {"article_id": str(a["id"]), "headline": a.get("headline") or "", "body": a.get("body") or "",
            "source": a.get("source") or source, "url": a.get("url"), "published_at": a.get("published_at")}


def measure(gazetteer, book, articles: list[dict], model, summarizer, threshold: float = 0.8) -> dict:
    "Every match and alert on articles about nobody, classified namesake or avoidable, with counts per split and language."
    from uhnw.enrich import client_directory, enrich
    spelled, directory = _spelled_names(book), client_directory(book)
    found, t_resolve = [], 0.0
    for a in articles:  # a first pass fills the token cache and reads the languages' word lists: throughput is the second's
        gazetteer.resolve(a.get("headline") or "", a.get("body") or "")
    for a in articles:
        text = re.sub(r"\s+", " ", f"{a.get('headline') or ''}\n{a.get('body') or ''}".lower())
        t0 = time.perf_counter()
        matches = gazetteer.resolve(a.get("headline") or "", a.get("body") or "")
        t_resolve += time.perf_counter() - t0
        alerts = {x["client_id"] for x in enrich(news_event(a), gazetteer, model, summarizer, threshold, directory, matches=matches)}
        for m in matches:
            found.append({"article": a["id"], "lang": a.get("lang", ""), "split": a.get("split", ""), "client_id": m.client_id,
                          "mention": m.mention, "score": m.score, "reasons": list(m.reasons), "alert": m.client_id in alerts,
                          "namesake": any(f in text for f in spelled[m.client_id])})
    groups = {"all": articles, **{s: [a for a in articles if a.get("split") == s] for s in SPLITS}}
    for lang in sorted({a.get("lang", "") for a in articles}):
        groups[f"lang={lang}"] = [a for a in articles if a.get("lang", "") == lang]
    out = {}
    for name, arts in groups.items():
        ids = {a["id"] for a in arts}
        fs = [f for f in found if f["article"] in ids]
        n = len(arts)
        out[name] = {"articles": n,
                     "namesake_matches": _rate(sum(f["namesake"] for f in fs), n),
                     "avoidable_matches": _rate(sum(not f["namesake"] for f in fs), n),
                     "false_alerts": _rate(sum(f["alert"] for f in fs), n),
                     "avoidable_alerts": _rate(sum(f["alert"] and not f["namesake"] for f in fs), n)}
    return {"groups": out, "matches": found, "resolve_articles_per_s": round(len(articles) / t_resolve, 1) if t_resolve else None,
            "avg_article_chars": round(sum(len(a.get("body") or "") + len(a.get("headline") or "")
                                                         for a in articles) / max(1, len(articles)))}


def _labelled(g, book, d: Path, out=print) -> dict:
    """Precision and recall of a labelled set resolved against the whole book, per category. A predicted client that is
    not the labelled one but bears the same name (folded) or whose name the article writes verbatim is a *namesake*:
    the text cannot tell them apart, so precision is given both counting and not counting them. Names are compared
    folded (`uhnw.language.fold_word`): `Fatima Al-Suwaidi` and `Fatima Al Suwaidi` are one name."""
    from uhnw.language import fold_word
    arts = [json.loads(x) for x in (d / "articles.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    gold = {j["id"]: set(j["client_ids"]) for j in map(json.loads, (d / "gold.jsonl").read_text(encoding="utf-8").splitlines())}
    names = dict(zip(book["client_id"], book["full_name"], strict=True))
    counts: dict = {}
    for a in arts:
        text = f"{a.get('headline') or ''} {a.get('body') or ''}".lower()
        pred = {m.client_id for m in g.resolve(a.get("headline") or "", a.get("body") or "")}
        truth = gold.get(a["id"], set())
        gold_keys = {fold_word(names[c]) for c in truth}
        wrong = pred - truth
        same = {c for c in wrong if fold_word(names[c]) in gold_keys or names[c].lower() in text}
        for k in ("all", a.get("category", "")):
            c = counts.setdefault(k, dict(tp=0, fp=0, namesake_fp=0, fn=0))
            c["tp"] += len(pred & truth); c["fp"] += len(wrong - same); c["namesake_fp"] += len(same); c["fn"] += len(truth - pred)
    out(f"labelled set {d} resolved against the same {len(book):,}-client book (namesake: another client of the same name):")
    out(f"{'category':<14}{'tp':>5}{'fp':>5}{'namesake':>9}{'fn':>5}{'precision':>11}{'(all fp)':>9}{'recall':>8}")
    res = {}
    for k in sorted(counts, key=lambda k: (k == "all", k)):
        c = counts[k]
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else None
        p_all = c["tp"] / (c["tp"] + c["fp"] + c["namesake_fp"]) if c["tp"] + c["fp"] + c["namesake_fp"] else None
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else None
        res[k] = {**c, "precision": None if p is None else round(p, 4),
                  "precision_with_namesakes": None if p_all is None else round(p_all, 4),
                  "recall": None if r is None else round(r, 4)}
        show = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
        out(f"{k:<14}{c['tp']:>5}{c['fp']:>5}{c['namesake_fp']:>9}{c['fn']:>5}{show(p):>11}{show(p_all):>9}{show(r):>8}")
    return res


def _fmt(r: dict) -> str:
    return f"{r['count']:>5} {r['per_1000']:>7} [{r['ci95'][0]:>5}, {r['ci95'][1]:>6}]"


def eval_precision(clients: int, pages: Path, model_version: str = "seed", seed: int = 0, labelled: Path | None = None,
                   threshold: float = 0.8, settings=None, out=print) -> dict:
    """Generate a book of `clients`, resolve and enrich the articles of `pages`, print where false matches and alerts come
    from (per split and language) and one JSON line; with `labelled` (a folder of clients.csv, articles.jsonl, gold.jsonl)
    its clients join the book and its precision and recall are measured at that book size too."""
    from uhnw.resolve import Gazetteer, load_clients
    from uhnw.summarize import ExtractiveSummarizer
    from uhnw.synth import client_book
    extra = load_clients(Path(labelled) / "clients.csv") if labelled else None
    t0 = time.perf_counter()
    book = client_book(clients, seed=seed, extra=extra)
    t_book = time.perf_counter() - t0
    t0 = time.perf_counter()
    g = Gazetteer.from_clients(book)
    t_build = time.perf_counter() - t0
    articles, empty = read_articles(pages)
    model = relevance_model(model_version, settings)
    res = measure(g, book, articles, model, ExtractiveSummarizer(), threshold)
    groups = res["groups"]
    out(f"false matches and alerts on {len(articles)} real articles about nobody; book of {len(book):,} clients "
        f"(seed {seed}, built in {t_book:.1f} s, gazetteer {t_build:.1f} s); relevance model {model.version}; "
        f"rates per 1,000 articles [exact Poisson 95% interval]" + (f"; {len(empty)} page(s) without text" if empty else ""))
    out(f"{'group':<10}{'articles':>9}  {'namesake matches':<29}{'avoidable matches':<29}{'false alerts':<29}")
    for name, r in groups.items():
        cells = "".join(f"{_fmt(r[k]):<29}" for k in ("namesake_matches", "avoidable_matches", "false_alerts"))
        out(f"{name:<10}{r['articles']:>9}  {cells}")
    for f in res["matches"]:
        kind = "namesake" if f["namesake"] else "AVOIDABLE"
        out(f"  {kind:<9} {f['split']:<4} {f['lang']:<3} {f['article'][:34]:<34} {f['mention']!r} -> {f['client_id']} "
            f"score {f['score']}{' ALERT' if f['alert'] else ''}  {'; '.join(f['reasons'])}")
    ev = groups["eval"] if groups["eval"]["articles"] else groups["all"]
    figures = {"clients": len(book), "articles": len(articles), "model": model.version,
               "resolve_articles_per_s": res["resolve_articles_per_s"], "avg_article_chars": res["avg_article_chars"],
               **{k: {g_: groups[g_][k] for g_ in groups} for k in ("namesake_matches", "avoidable_matches", "false_alerts")},
               "targets": TARGETS,
               "eval_avoidable_per_1000": ev["avoidable_matches"]["per_1000"], "eval_false_alerts_per_1000": ev["false_alerts"]["per_1000"],
               "targets_met": bool(ev["avoidable_matches"]["per_1000"] <= TARGETS["avoidable_matches_per_1000"]
                                   and ev["false_alerts"]["per_1000"] <= TARGETS["false_alerts_per_1000"])}
    if labelled:
        figures["labelled"] = _labelled(g, book, Path(labelled), out)
    out(json.dumps(figures))
    return figures
