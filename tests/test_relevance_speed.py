"""The featurizer's fast paths give exactly what their definitions give, on every text of every training set.

`LexiconMatcher.hits` must count what `event_hits` (one case-insensitive alternation per family, `findall`) counts, and
`HashedNgrams` must give the columns scikit-learn's `HashingVectorizer` gives: a model is trained and served on these
features, so "nearly the same" would be a silent change of model. The notebook checks hand-made edge cases; this checks
real training text at scale (the evaluation set's text too: reading it checks code, it tunes nothing).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from uhnw.config import resource_path
from uhnw.relevance import (
    EVENT_LEXICON,
    TRAINING_SETS,
    FeatureSpec,
    Featurizer,
    LexiconMatcher,
    event_hits,
    lexicon_patterns,
    pair_from_row,
    read_seed,
    training_labels,
)


def _texts() -> list[str]:
    "Every distinct article (headline + body) of every training set (one fill of each hand-written text) and of the evaluation set."
    arts = set()
    for name in TRAINING_SETS:
        labels, _ = read_seed(resource_path(*TRAINING_SETS[name]), source=name)
        labels = labels[~labels["article_id"].str.contains("#") | labels["article_id"].str.endswith("#1")]
        arts |= {(h, b) for h, b in zip(labels["headline"], labels["body"].fillna(""), strict=True)}
    from pathlib import Path
    for line in (Path(__file__).parent / "data" / "relevance_eval" / "pairs.jsonl").read_text(encoding="utf-8").splitlines():
        p = json.loads(line); arts.add((p["headline"], p["body"]))
    out = set()
    for h, b in arts:
        out.add(f"{h}\n{b}")
    return sorted(out)


def test_lexicon_matcher_counts_what_event_hits_counts():
    texts = _texts()
    assert len(texts) > 7_000  # a real corpus, not a handful
    matcher, patterns = LexiconMatcher(EVENT_LEXICON), lexicon_patterns(EVENT_LEXICON)
    differ = [t for t in texts if matcher.hits(t) != event_hits(t, patterns)]
    assert not differ, f"{len(differ)} texts differ, e.g. {differ[:3]}"
    assert sum(sum(matcher.hits(t).values()) for t in texts[:2000]) > 500  # the check saw hits, not only zeros


@pytest.mark.parametrize("spec", [FeatureSpec(), FeatureSpec(char_ngrams=False, n_hash=2 ** 10)])
def test_featurizer_rows_are_the_vectorizers_rows(spec):
    labels, _ = training_labels(("seed",))
    pairs = [pair_from_row(r) for r in labels.to_dict("records")]
    fz = Featurizer(spec)
    rows = [fz._dense(p) for p in pairs]
    reference = sp.hstack([sp.csr_matrix(np.array([r[0] for r in rows])), *(v.transform([r[3] for r in rows]) for v in fz.vectorizers)],
                          format="csr")
    X, _ = fz.matrix(pairs)
    assert X.shape == reference.shape and X.nnz == reference.nnz > 20 * len(pairs)
    assert abs(X - reference).max() == 0
