"""`uhnw eval relevance`: the relevance gate end to end on a labelled set of (article, client) pairs.

Each pair goes through what the hot path does: entity resolution finds the client in the article (a pair whose client
is not found can raise no alert), the relevance model scores the match, and an alert needs a score above the gate
(0.8). Reported: precision, recall and F1 at the gate; recall per event family and per writing style; the share of
each kind of hard negative that would alert; the reliability table (is "0.8" 80%?); event-type accuracy on the
relevant pairs. The families are the taxonomy of `nbs/32_relevance.ipynb` (`uhnw.relevance.EVENT_TYPES`), which the
evaluation set's README states too.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path


def read_pairs(path: Path) -> list[dict]:
    "The labelled pairs of a JSON-lines file: {id, client_id, headline, body, label, event_type, negative_kind?, style?}."
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip(): continue
        try:
            p = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: line {n}: not JSON ({e.msg})") from None
        missing = [k for k in ("id", "client_id", "headline", "body", "label") if k not in p]
        if missing: raise ValueError(f"{path}: line {n}: missing {', '.join(missing)}")
        out.append(p)
    if not out: raise ValueError(f"{path}: no pairs")
    return out


LEXICON_ONLY = {"text_window": -1, "char_ngrams": False, "cues": False, "n_hash": 2 ** 12}  # the features before issue 11


def train_on(names: tuple[str, ...] | None = None, features: str = "full"):
    """A model trained in memory on the named training sets (default: all of `uhnw.relevance.TRAINING_SETS`), with the full
    features or, for a comparison, the lexicon and bag of words of before (`features='lexicon'`)."""
    from dataclasses import replace

    from uhnw.relevance import TRAINING_SETS, train, training_labels
    if features not in ("full", "lexicon"): raise ValueError(f"features is 'full' or 'lexicon', not {features!r}")
    names = tuple(names or TRAINING_SETS)
    labels, _ = training_labels(names)
    model, _ = train(labels, LEXICON_ONLY if features == "lexicon" else None)
    return replace(model, version=f"trained:{'+'.join(names)}:{features}")


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    f = 2 * p * r / (p + r) if p and r else None
    rnd = lambda x: None if x is None else round(x, 4)  # noqa: E731
    return {"tp": tp, "fp": fp, "fn": fn, "precision": rnd(p), "recall": rnd(r), "f1": rnd(f)}


def score_pairs(pairs: list[dict], gazetteer, model) -> list[dict]:
    "Each pair with `resolved`, `score` (None when the client is not found) and the model's `predicted_family`."
    from uhnw.relevance import EVENT_TYPES, pair_from_match, predict
    found, rows = [], []
    for p in pairs:
        ms = [m for m in gazetteer.resolve(p["headline"], p["body"]) if m.client_id == p["client_id"]]
        rows.append({**p, "resolved": bool(ms), "score": None, "predicted_family": None})
        if ms: found.append((len(rows) - 1, pair_from_match(p["headline"], p["body"], ms[0])))
    if found:
        probs, types = predict(model, [x for _, x in found])
        for (i, _), prob, t in zip(found, probs, types, strict=True):
            rows[i]["score"], rows[i]["predicted_family"] = float(prob), t if t in EVENT_TYPES else None
    return rows


def measure(rows: list[dict], threshold: float = 0.8) -> dict:
    "The figures of `uhnw eval relevance` from scored pairs."
    import numpy as np

    from uhnw.relevance import reliability_table
    alert = [r["score"] is not None and r["score"] > threshold for r in rows]
    y = [int(r["label"]) for r in rows]
    tp = sum(a and t for a, t in zip(alert, y, strict=True)); fp = sum(a and not t for a, t in zip(alert, y, strict=True))
    fn = sum(t and not a for a, t in zip(alert, y, strict=True))
    fam, kind, style = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
    for r, a in zip(rows, alert, strict=True):
        if r["label"]:
            fam[r.get("event_type", "")][0] += a; fam[r.get("event_type", "")][1] += 1
            style[r.get("style", "")][0] += a; style[r.get("style", "")][1] += 1
        else:
            kind[r.get("negative_kind", "") or "-"][0] += a; kind[r.get("negative_kind", "") or "-"][1] += 1
    scored = [r for r in rows if r["score"] is not None]
    pos = [r for r in scored if r["label"]]
    return {"pairs": len(rows), "positives": sum(y), "threshold": threshold,
            "resolved": sum(r["resolved"] for r in rows), "at_gate": _prf(tp, fp, fn),
            "recall_by_family": {k: {"alerted": a, "of": n, "recall": round(a / n, 4)} for k, (a, n) in sorted(fam.items())},
            "recall_by_style": {k: {"alerted": a, "of": n, "recall": round(a / n, 4)} for k, (a, n) in sorted(style.items())},
            "alert_rate_by_negative_kind": {k: {"alerted": a, "of": n} for k, (a, n) in sorted(kind.items())},
            "event_type_accuracy": round(sum(r["predicted_family"] == r.get("event_type") for r in pos) / len(pos), 4) if pos else None,
            "reliability": reliability_table(np.array([int(r["label"]) for r in scored]), np.array([r["score"] for r in scored])),
            "by_predicted_family": _per_family(scored, threshold)}


def _per_family(scored: list[dict], threshold: float) -> dict:
    """Calibration per class: for each family the model names, its pairs, those above the gate and the share of them
    relevant, and a 5-bin reliability table."""
    import numpy as np

    from uhnw.relevance import reliability_table
    out = {}
    for fam in sorted({r["predicted_family"] or "other" for r in scored}):
        rs = [r for r in scored if (r["predicted_family"] or "other") == fam]
        y, p = np.array([int(r["label"]) for r in rs]), np.array([r["score"] for r in rs])
        above = p > threshold
        out[fam] = {"pairs": len(rs), "above_gate": int(above.sum()),
                    "relevant_above_gate": round(float(y[above].mean()), 4) if above.any() else None,
                    "mean_score_above_gate": round(float(p[above].mean()), 4) if above.any() else None,
                    "reliability": reliability_table(y, p, 5)}
    return out


def eval_relevance(pairs_path: Path, clients_path: Path, model=None, threshold: float = 0.8, out=print) -> dict:
    "Score the pairs with `model` (default: the seed model), print the tables and, last, one JSON line."
    from uhnw.bench.precision import seed_model
    from uhnw.resolve import Gazetteer, load_clients
    model = model or seed_model()
    rows = score_pairs(read_pairs(pairs_path), Gazetteer.from_clients(load_clients(clients_path)), model)
    m = measure(rows, threshold)
    g = m["at_gate"]
    show = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
    out(f"relevance at the {threshold} gate, end to end (resolution, then the model {model.version}) on {m['pairs']} pairs "
        f"({m['positives']} wealth events); client found in {m['resolved']}")
    out(f"precision {show(g['precision'])}  recall {show(g['recall'])}  F1 {show(g['f1'])}  (tp {g['tp']}, fp {g['fp']}, fn {g['fn']});"
        f" event-type accuracy on the events {show(m['event_type_accuracy'])}")
    out(f"{'event family':<22}{'alerted':>8}{'of':>5}{'recall':>8}")
    for k, v in m["recall_by_family"].items(): out(f"{k:<22}{v['alerted']:>8}{v['of']:>5}{v['recall']:>8.3f}")
    out(f"{'style (events)':<22}{'alerted':>8}{'of':>5}{'recall':>8}")
    for k, v in m["recall_by_style"].items(): out(f"{k:<22}{v['alerted']:>8}{v['of']:>5}{v['recall']:>8.3f}")
    out(f"{'hard negative kind':<22}{'alerted':>8}{'of':>5}")
    for k, v in m["alert_rate_by_negative_kind"].items(): out(f"{k:<22}{v['alerted']:>8}{v['of']:>5}")
    out(f"{'score bin':<14}{'pairs':>6}{'mean score':>12}{'relevant':>10}")
    for b in m["reliability"]:
        out(f"{b['bin']:<14}{b['n']:>6}{show(b['mean_predicted']):>12}{show(b['observed_rate']):>10}")
    out(f"{'predicted family':<22}{'pairs':>6}{'above gate':>11}{'relevant':>9}{'mean score':>11}")
    for k, v in m["by_predicted_family"].items():
        out(f"{k:<22}{v['pairs']:>6}{v['above_gate']:>11}{show(v['relevant_above_gate']):>9}{show(v['mean_score_above_gate']):>11}")
    out(json.dumps({"model": model.version, **m}))
    return m
