"""`uhnw eval names`: our name matcher against OpenSanctions' logic_v2 on nomenklatura's name_bench, thresholds by k-fold CV.

`bench_names` runs the whole comparison: our score for every pair, out-of-fold predictions for the Person pairs and
for all pairs (each with its own cross-validated threshold), and, beside them, logic_v2's frozen predictions at 0.70
for the same pairs (joined on group, schema and names). Rows are the `name_bench` columns; `reference` is
`logicv2-frozen.csv`, optional.
"""
from __future__ import annotations

import pandas as pd

from uhnw.names import cv_threshold, name_similarity, prf


def bench_names(cases: pd.DataFrame, reference: pd.DataFrame | None = None, folds: int = 5) -> dict:
    "Our matcher and logic_v2 on name_bench: {'person', 'all', 'groups': {case_group: ...}} with 'ours' and 'logic_v2' metrics."
    cases = cases.reset_index(drop=True)
    scores = [name_similarity(a, b) for a, b in zip(cases.name1.astype(str), cases.name2.astype(str), strict=True)]
    truth = [str(v).strip().lower() == "true" for v in cases.is_match]
    ref = None
    if reference is not None:
        keys = ["case_group", "schema", "name1", "name2"]
        r = reference.drop_duplicates(keys).set_index(keys)["predicted_match"].astype(str).str.lower().eq("true")
        ref = [r.get(tuple(row)) for row in cases[keys].itertuples(index=False)]
    out = {}
    for part, idx in (("person", [i for i in range(len(cases)) if cases.schema[i] == "Person"]), ("all", list(range(len(cases))))):
        t, pred = cv_threshold([scores[i] for i in idx], [truth[i] for i in idx], folds)
        out[part] = {"ours": {**prf([truth[i] for i in idx], pred), "threshold": t}, "_pred": dict(zip(idx, pred, strict=True))}
        if ref is not None:
            have = [i for i in idx if ref[i] is not None]
            out[part]["logic_v2"] = {**prf([truth[i] for i in have], [ref[i] for i in have]), "threshold": 0.7}
    allpred = out["all"].pop("_pred"); out["person"].pop("_pred")
    out["groups"] = {}
    for grp in sorted(cases.case_group.unique()):
        idx = [i for i in range(len(cases)) if cases.case_group[i] == grp]
        row = {"ours": prf([truth[i] for i in idx], [allpred[i] for i in idx])}
        if ref is not None:
            have = [i for i in idx if ref[i] is not None]
            row["logic_v2"] = prf([truth[i] for i in have], [ref[i] for i in have])
        out["groups"][grp] = row
    return out
