"""`uhnw eval relevance`: the relevance gate end to end on labelled pairs (the held-out set of tests/data/relevance_eval)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from uhnw.bench.relevance_eval import measure, read_pairs

REPO = Path(__file__).resolve().parents[1]
EVAL = REPO / "tests" / "data" / "relevance_eval"


def _row(label, score, family="liquidity", kind="", style="wire", predicted=None):
    return {"id": "x", "client_id": "c", "headline": "", "body": "", "label": label, "event_type": family if label else "none",
            "negative_kind": kind, "style": style, "resolved": score is not None, "score": score, "predicted_family": predicted}


def test_measure_counts_alerts_at_the_gate_per_family_and_negative_kind():
    rows = [_row(1, 0.95, predicted="liquidity"), _row(1, 0.5), _row(1, None, "m_and_a"), _row(0, 0.85, kind="history"),
            _row(0, 0.1, kind="guest_list")]
    m = measure(rows, 0.8)
    assert m["at_gate"] == {"tp": 1, "fp": 1, "fn": 2, "precision": 0.5, "recall": 0.3333, "f1": 0.4}
    assert m["recall_by_family"]["liquidity"] == {"alerted": 1, "of": 2, "recall": 0.5}
    assert m["recall_by_family"]["m_and_a"]["of"] == 1 and m["resolved"] == 4
    assert m["alert_rate_by_negative_kind"] == {"guest_list": {"alerted": 0, "of": 1}, "history": {"alerted": 1, "of": 1}}
    assert m["event_type_accuracy"] == 0.5  # of the two scored events, one predicted right


def test_read_pairs_names_the_bad_line(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text('{"id": "a", "client_id": "c", "headline": "h", "body": "b", "label": 1}\n{"id": "b"}\n')
    with pytest.raises(ValueError, match="line 2: missing client_id"):
        read_pairs(f)


def test_the_held_out_set_has_every_family_and_kind_it_promises():
    pairs = read_pairs(EVAL / "pairs.jsonl")
    fams = {p["event_type"] for p in pairs if p["label"]}
    assert len(fams) == 10 and all(sum(p["event_type"] == f for p in pairs) >= 20 for f in fams)
    assert len({p["negative_kind"] for p in pairs if not p["label"]}) == 9


def test_eval_relevance_cli_prints_the_tables_and_ends_with_json():
    exe = REPO / ".venv" / "bin" / "uhnw"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "uhnw"]
    p = subprocess.run([*cmd, "eval", "relevance", "--pairs", str(EVAL / "pairs.jsonl"), "--clients", str(EVAL / "clients.csv")],
                       capture_output=True, text=True, cwd=REPO, timeout=300)
    assert p.returncode == 0, p.stderr
    fig = json.loads(p.stdout.splitlines()[-1])
    assert fig["pairs"] == len(read_pairs(EVAL / "pairs.jsonl")) and fig["model"] == "seed" and len(fig["reliability"]) == 10
    assert set(fig["recall_by_family"]) >= {"liquidity", "family_succession", "residence_tax"} and "hard negative kind" in p.stdout


def test_train_on_compares_feature_sets_on_the_same_labels():
    "--train: a model trained in memory on named training sets, with today's features or the lexicon-only ones of before."
    from uhnw.bench.relevance_eval import score_pairs, train_on
    from uhnw.relevance import EVENT_TYPES, read_seed
    from uhnw.resolve import Gazetteer
    full, lexicon = train_on(("seed",)), train_on(("seed",), "lexicon")
    assert (full.version, lexicon.version) == ("trained:seed:full", "trained:seed:lexicon")
    assert full.spec.cues and full.spec.char_ngrams and not lexicon.spec.cues and lexicon.spec.text_window == -1
    _, clients = read_seed()
    g = Gazetteer.from_clients(clients)
    name = clients.full_name.iloc[0]
    pairs = [{"id": "x", "client_id": clients.client_id.iloc[0], "headline": f"{name} sells stake", "label": 1,
              "body": f"{name} has agreed to sell a 12% stake in the family company to a private equity fund, people familiar said."}]
    for model in (full, lexicon):
        (row,) = score_pairs(pairs, g, model)
        assert row["resolved"] and 0 <= row["score"] <= 1 and row["predicted_family"] in EVENT_TYPES
    with pytest.raises(ValueError, match="unknown training set"):
        train_on(("nope",))
