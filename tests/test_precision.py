"""`uhnw enrich` and `uhnw eval precision`: the whole enrichment on a file, and precision on real text at a realistic book size."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from uhnw.bench.precision import assign_splits, poisson_interval, read_articles

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"


def run_cli(*args: str, stdin: str = "", timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    exe = REPO / ".venv" / "bin" / "uhnw"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "uhnw"]
    return subprocess.run([*cmd, *args], input=stdin, capture_output=True, text=True, cwd=REPO, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_poisson_interval_is_the_exact_garwood_interval():
    assert poisson_interval(0, 55) == (0.0, 67.1)  # 3.689 / 55 articles, per 1,000
    lo, hi = poisson_interval(1, 55)
    assert (lo, hi) == (0.5, 101.3)
    assert poisson_interval(10, 1000) == (4.8, 18.4)


def test_splits_alternate_within_a_language_and_balance_the_totals():
    arts = [{"id": f"p{i}", "lang": "de" if i < 7 else "en"} for i in range(12)]
    assign_splits(arts)
    by = {(a["lang"], a["split"]) for a in arts}
    assert by == {("de", "dev"), ("de", "eval"), ("en", "dev"), ("en", "eval")}
    assert abs(sum(a["split"] == "dev" for a in arts) - 6) <= 1
    again = [{"id": a["id"], "lang": a["lang"]} for a in arts]
    assign_splits(again)
    assert [a["split"] for a in again] == [a["split"] for a in arts]


def test_html_pages_are_extracted_with_their_language(tmp_path):
    para = ("Die Bundesregierung hat am Montag angekündigt, dass die Steuer im nächsten Jahr sinken soll. Die Opposition "
            "kritisierte den Plan als zu spät und zu klein, und Verbände forderten eine grundlegende Reform. ") * 4
    (tmp_path / "a.html").write_text(f"<html><head><title>Steuern sinken</title></head><body><article><h1>Steuern sinken</h1>"
                                     f"<p>{para}</p><p>{para}</p></article></body></html>", encoding="utf-8")
    (tmp_path / "empty.html").write_text("", encoding="utf-8")
    arts, empty = read_articles(tmp_path)
    assert empty == ["empty.html"]
    [a] = arts
    assert a["id"] == "a" and a["lang"] == "de" and "Bundesregierung" in a["body"] and a["split"] in ("dev", "eval")


def test_enrich_cli_prints_alerts_with_their_reasons_then_a_summary():
    event = {"id": "e1", "headline": "Amit Saxena sells $1.2bn stake in Meridian Ports",
             "body": "Amit Saxena has agreed to sell a 14 per cent stake in Meridian Ports to a consortium of sovereign funds, "
                     "according to people familiar with the matter. Mr Saxena declined to comment."}
    nobody = {"id": "n1", "headline": "Am Land", "body": "Die letzte Etappe der Salzburger Radtour führt entlang des Almkanals."}
    stdin = "\n".join([json.dumps(event), "{broken", json.dumps(nobody)]) + "\n"
    p = run_cli("enrich", "--clients", str(DATA / "resolve" / "clients.csv"), "--model", "seed", stdin=stdin)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    alerts, summary = lines[:-1], lines[-1]
    assert [(a["article_id"], a["client_id"], a["rm_id"]) for a in alerts] == [("e1", "UHNW-102", "RM-07")]
    assert alerts[0]["relevance"] > 0.8 and alerts[0]["model_version"].startswith("seed+")
    assert any("meridian ports" in r for r in alerts[0]["match_reasons"])
    assert summary["summary"] is True and (summary["articles"], summary["skipped"], summary["alerts"]) == (2, 1, 1)
    assert "line 2: skipped" in p.stderr


def test_enrich_cli_without_a_promoted_model_says_how_to_go_on(tmp_path):
    p = run_cli("enrich", "--clients", str(DATA / "resolve" / "clients.csv"), stdin="", env={"UHNW_HOME": str(tmp_path)})
    assert p.returncode == 1 and "--model seed" in p.stderr and "Traceback" not in p.stderr


@pytest.fixture(scope="module")
def precision_run():
    "One `uhnw eval precision` on a 20,000-client book with the labelled set (the 100,000-client figures are in BENCHMARKS.md)."
    p = run_cli("eval", "precision", "--clients", "20000", "--pages", str(DATA / "web_articles" / "articles.jsonl"),
                "--labelled", str(DATA / "resolve"))
    assert p.returncode == 0, p.stderr
    return p.stdout, json.loads(p.stdout.splitlines()[-1])


def test_eval_precision_meets_the_targets_on_real_pages(precision_run):
    out, fig = precision_run
    assert fig["clients"] == 20000 and fig["articles"] == 110
    assert fig["avoidable_matches"]["eval"]["count"] == 0 and fig["avoidable_matches"]["dev"]["count"] == 0
    assert fig["false_alerts"]["all"]["per_1000"] <= 1.0 and fig["targets_met"] is True
    assert fig["avoidable_matches"]["eval"]["ci95"][1] > 0  # an interval, not a point: 0 of 55 is not "never"
    assert {"lang=de", "lang=en"} <= set(fig["avoidable_matches"])
    assert "namesake matches" in out and "avoidable matches" in out


def test_eval_precision_keeps_the_labelled_set_at_the_realistic_book_size(precision_run):
    _, fig = precision_run
    lab = fig["labelled"]
    for cat in ("exact", "variant", "multi-client"):
        assert lab[cat]["precision"] >= 0.98 and lab[cat]["recall"] >= 0.95, (cat, lab[cat])
    assert lab["no-client"]["fp"] == 0 and lab["near-miss"]["fp"] <= 1
