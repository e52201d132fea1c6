# ruff: noqa: E501  (an experiment script)
"""Issue 11's calibration experiment (BENCHMARKS.md): how should "0.8" be fitted so that it holds on text by a new hand?

Development protocol, never the evaluation set: the nine hands of jobs/seeds/relevance_v3 in three groups of three
(a d g | b e h | c f i). Each group in turn is held out: a model is trained on every other pair (the seed, the generated
v2 set and the six other hands) and scores the held-out hands' pairs; the figures pool the three groups. Calibrations:

- `text-sigmoid`: what the package did (CalibratedClassifierCV, sigmoid, 3 folds keeping a text's fills together);
- `hand-sigmoid` / `hand-isotonic`: one base model on all the training pairs, its calibrator fitted on out-of-hand scores
  (inner folds: the six training hands in three pairs; each pair scored by a model that never read it).

    python tests/data/relevance_calibration_dev.py [--C 2] [--methods text-sigmoid,hand-sigmoid,hand-isotonic]
"""
import argparse
import json
import time

import numpy as np
from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from uhnw.relevance import FeatureSpec, Featurizer, _folds, label_group, pair_from_row, training_labels

ap = argparse.ArgumentParser()
ap.add_argument("--C", type=float, default=2.0)
ap.add_argument("--methods", default="text-sigmoid,hand-sigmoid,hand-isotonic")
ap.add_argument("--spec", default="{}", help='FeatureSpec fields as JSON, e.g. {"lead": true}')
ap.add_argument("--cue", action="append", default=[], help="an extra cue NAME=REGEX")
ap.add_argument("--inner", default="pairs", help="inner author folds: 'pairs' (the six training hands in three pairs) or 'loho' (one hand each)")
ap.add_argument("--orgs", action="store_true", help="count mentions of the client's organisations as mentions of the client")
a = ap.parse_args()

t0 = time.time()
labels, _ = training_labels()
spec = FeatureSpec(**json.loads(a.spec))
if a.cue: spec = FeatureSpec(**{**json.loads(a.spec), "cues": {**spec.cues, **dict(c.split("=", 1) for c in a.cue)}})
pairs = [pair_from_row(r) for r in labels.to_dict("records")]
if a.orgs:
    import dataclasses
    import re

    from uhnw.config import resource_path
    from uhnw.relevance import TRAINING_SETS, read_seed
    orgs = {}
    for name in TRAINING_SETS:
        _, cl = read_seed(resource_path(*TRAINING_SETS[name]), source=name)
        orgs.update({c: [o.strip() for o in os.split("|") if o.strip()] for c, os in zip(cl.client_id, cl.organizations, strict=True)})
    def with_orgs(p, cid):
        extra = set()
        for o in orgs.get(cid, []):
            rx = re.compile(r"\b" + re.escape(o) + r"\b", re.I)
            for f, text in (("headline", p.headline), ("body", p.body)):
                extra |= {(f, m.start(), m.end()) for m in rx.finditer(text)}
        keep = {s for s in extra if not any(s[0] == t[0] and not (s[2] <= t[1] or s[1] >= t[2]) for t in p.spans)}
        return dataclasses.replace(p, spans=tuple(sorted(set(p.spans) | keep)))
    pairs = [with_orgs(p, c) for p, c in zip(pairs, labels["client_id"], strict=True)]
    print("pairs with an org mention:", sum(len(q.spans) > len(p.spans) for q, p in zip(pairs, [pair_from_row(r) for r in labels.to_dict("records")], strict=True)), flush=True)
X, _ = Featurizer(spec).matrix(pairs)
y = labels["label"].astype(int).to_numpy()
fam = labels["event_type"].to_numpy().astype(str)
groups = labels["article_id"].map(label_group).to_numpy()
hand = np.array([g[1] if g[:1] == "h" and g[2:3] == "-" else "" for g in groups])
print(f"{len(y)} pairs featurized in {time.time() - t0:.0f} s; hands {sorted(set(hand) - {''})}", flush=True)
OUTER = ["adg", "beh", "cfi"]

def lr(): return LogisticRegression(C=a.C, class_weight="balanced", max_iter=5000)

def out_of_hand_scores(train_idx):
    "Decision values of the training hands' pairs, each from a model that never read that pair's hand."
    hs = sorted(set(hand[train_idx]) - {""}); pairs_of_hands = [hs[i::3] for i in range(3)] if a.inner == "pairs" else [[h] for h in hs]
    idx, d = [], []
    for held in pairs_of_hands:
        fit_idx = train_idx[~np.isin(hand[train_idx], held)]
        sc_idx = train_idx[np.isin(hand[train_idx], held)]
        m = lr().fit(X[fit_idx], y[fit_idx]); idx.append(sc_idx); d.append(m.decision_function(X[sc_idx]))
    return np.concatenate(idx), np.concatenate(d)

def scores(method, tr, te):
    if method == "text-sigmoid":
        cal = CalibratedClassifierCV(lr(), method="sigmoid", cv=_folds(y[tr], groups[tr], 3, 0)).fit(X[tr], y[tr])
        return cal.predict_proba(X[te])[:, 1]
    base = lr().fit(X[tr], y[tr]); d_te = base.decision_function(X[te])
    oi, od = out_of_hand_scores(tr)
    if method == "hand-sigmoid":
        s = _SigmoidCalibration().fit(od, y[oi]); return s.predict(d_te)
    if method == "hand-isotonic":
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(od, y[oi]); return iso.predict(d_te)
    raise ValueError(method)

def report(tag, yy, p, ff):
    sel = p > 0.8; tp = int((sel & (yy == 1)).sum())
    order = np.argsort(-p, kind="stable"); cum = np.cumsum(yy[order]); prec_k = cum / np.arange(1, len(yy) + 1)
    ok = np.where(prec_k >= 0.9)[0]; r90 = cum[ok.max()] / yy.sum() if len(ok) else 0
    fr = {f: round(float(sel[(yy == 1) & (ff == f)].mean()), 3) for f in sorted(set(ff[yy == 1]))}
    rel = []
    for lo in (0.4, 0.6, 0.8, 0.9):
        b = (p > lo) & (p <= lo + (0.2 if lo < 0.8 else 0.1) + (1e-9 if lo == 0.9 else 0))
        rel.append(f"{lo:.1f}+: n {int(b.sum())} rel {yy[b].mean():.2f}" if b.any() else f"{lo:.1f}+: n 0")
    out = {"method": tag, "auc": round(roc_auc_score(yy, p), 4), "P@.8": round(tp / max(1, sel.sum()), 4), "R@.8": round(tp / yy.sum(), 4),
           "R@P.9": round(float(r90), 4), "min_family": min(fr.items(), key=lambda kv: kv[1]), "families": fr, "bins": rel}
    print(json.dumps(out), flush=True)

for method in a.methods.split(","):
    t1 = time.time(); P = np.zeros(len(y)); held_all = []
    for g in OUTER:
        te = np.where(np.isin(hand, list(g)))[0]; tr = np.where(~np.isin(hand, list(g)))[0]
        P[te] = scores(method, tr, te); held_all.append(te)
    te = np.concatenate(held_all)
    report(f"{method} C={a.C} spec={a.spec} cues={[c.split('=')[0] for c in a.cue]} orgs={a.orgs} inner={a.inner} ({time.time() - t1:.0f} s)", y[te], P[te], fam[te])
