"""The analyst's workspace end to end: every notebook of `jobs/` and `dashboards/` runs under nbval (`--nbval-lax`), in
dependency order, on one demo-sized lake, and the test asserts on what they produced: rows in the lake and PostgreSQL,
Plotly figures with traces, standalone HTML pages that render in headless Chromium (screenshots in
`.test-home/screenshots/`), and a P&L attribution that sums back to the daily P&L to the cent.

The lake is the one `uhnw demo` built in tests/test_demo.py when that test ran first in this session (its stack is
started again on its ports); run alone, this module builds its own with `uhnw demo --once --keep-running`.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
from conftest import CATALOG_KEYS, DEMO_RUN, REPO, TEST_HOME, _free_port, _uhnw_cmd

# every notebook of jobs/ and dashboards/, in the order their inputs exist: EOD files → silver → gold → PostgreSQL; the
# news stream into silver; web pages → articles; labels → model; then the dashboards over all of it
ORDER = ["jobs/positions_etl", "jobs/daily_pnl", "jobs/rds_sync", "jobs/news_stream_to_silver", "jobs/web_etl",
         "jobs/train_relevance", "dashboards/portfolio_health", "dashboards/client_book", "dashboards/alert_effectiveness",
         "dashboards/news_coverage"]
ANALYSES = ("client_book", "alert_effectiveness", "news_coverage")
SCREENSHOTS = TEST_HOME / "screenshots"
PLOTLY = "application/vnd.plotly.v1+json"


def test_the_order_names_every_job_and_dashboard_notebook_once():
    found = sorted(str(p.relative_to(REPO).with_suffix("")) for d in ("jobs", "dashboards") for p in (REPO / d).glob("*.ipynb"))
    assert sorted(ORDER) == found, "a notebook in jobs/ or dashboards/ would not run under nbval: add it to ORDER"


def catalog_env() -> dict[str, str]:
    """The Iceberg catalog and namespaces of a test function's processes (tests/conftest.py's warm_namespaces); none in a
    module fixture, whose processes use a home's defaults (its own PostgreSQL, namespaces silver and gold)."""
    return {k: os.environ[k] for k in CATALOG_KEYS if k in os.environ}


def _home_env(run: dict) -> dict[str, str]:
    return {**os.environ, **run["env"], "PYTHONUNBUFFERED": "1"}


def _cli(run: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*_uhnw_cmd(), *args], env=_home_env(run), cwd=REPO, text=True, capture_output=True, timeout=timeout)


@pytest.fixture(scope="module")
def demo_lake(request):
    "The demo's home with its stack running: test_demo's when it ran first, else a fresh `uhnw demo --once`."
    if DEMO_RUN:
        request.getfixturevalue("stack")  # the session's PostgreSQL holds the Iceberg catalog of test_demo's lake
        run = dict(DEMO_RUN)
    else:
        model_home = request.getfixturevalue("model_home")
        home = TEST_HOME / "workspace-home"
        shutil.rmtree(home, ignore_errors=True)
        shutil.copytree(model_home / "lake" / "models", home / "lake" / "models")  # a promoted model: no training here
        ports = {"UHNW_KAFKA_PORT": _free_port(), "UHNW_KAFKA_CONTROLLER_PORT": _free_port(), "UHNW_POSTGRES_PORT": _free_port(),
                 "UHNW_SPARK_CONNECT_PORT": _free_port()}
        run = {"home": home, "env": {"UHNW_HOME": str(home), **{k: str(v) for k, v in ports.items()}, **catalog_env()}}
    # whatever happens next, the stack this fixture starts stops and the home goes (a failed start leaves no process behind)
    request.addfinalizer(lambda: (_cli(run, "stack", "down"), shutil.rmtree(run["home"], ignore_errors=True)))
    if DEMO_RUN:
        up = _cli(run, "stack", "up")
        assert up.returncode == 0, up.stdout + up.stderr
    else:
        demo = _cli(run, "demo", "--once", "--keep-running", timeout=900)
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    return run


def _record_feedback(settings) -> dict[str, int]:
    "RM verdicts on the demo's alerts, as RMs leave them on the workstation: two in three judged, a mix of the three verdicts."
    from uhnw.ops.db import connect
    from uhnw.workstation import record_feedback
    verdicts: dict[str, int] = {}
    with connect(settings) as conn:
        alerts = conn.execute("select alert_id, rm_id from alerts order by alert_id").fetchall()
        for i, (alert_id, rm_id) in enumerate(alerts):
            if i % 3 == 2: continue
            verdict = "not_useful" if i % 5 == 0 else "wrong_person" if i % 7 == 0 else "useful"
            record_feedback(conn, alert_id, rm_id, verdict)
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
    return verdicts


def _prepare(dest: Path, parameters: dict[str, dict]) -> list[Path]:
    "The notebooks of ORDER with their parameters injected as papermill injects them (not executed), numbered in order."
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook
    out = []
    for i, name in enumerate(ORDER, 1):
        nb = load_notebook_node(str(REPO / f"{name}.ipynb"))
        nb = parameterize_notebook(nb, parameters.get(Path(name).name, {}), kernel_name="python3")
        path = dest / f"{i:02d}_{Path(name).name}.ipynb"
        nbformat.write(nb, path)
        out.append(path)
    return out


@pytest.fixture(scope="module")
def workspace_run(demo_lake, tmp_path_factory):
    "nbval over the prepared notebooks in one pytest process of its own; the outputs of every cell, per notebook."
    from uhnw.config import load_settings
    from uhnw.lake import lake_for
    from uhnw.relevance import land_seed, read_seed
    from uhnw.resolve import Gazetteer
    settings = load_settings(env=demo_lake["env"])
    manifest = json.loads((settings.home / "inbox" / "demo" / "manifest.json").read_text())
    *_, day1, day2 = manifest["dates"]  # the last night and the one before it (its P&L is against that one)
    land_seed(lake_for(settings), "2026-05-01", Gazetteer.from_clients(read_seed()[1]))  # the training job's labels
    verdicts = _record_feedback(settings)
    web_dates = sorted(p.name.removeprefix("date=") for p in (settings.home / "lake" / "bronze" / "web").glob("date=*"))
    assert web_dates, "the demo scraped no page"
    work = tmp_path_factory.mktemp("nbval")
    notebooks = _prepare(work, {
        "positions_etl": {"run_date": day2}, "daily_pnl": {"run_date": day2}, "rds_sync": {"run_date": day2},
        "web_etl": {"run_date": web_dates[-1]}, "train_relevance": {"run_date": "2026-05-02", "promote": True},
        "portfolio_health": {"run_date": day2}, "client_book": {"run_date": day2, "security_master": manifest["security_master"]},
    })
    (work / "pytest.ini").write_text("[pytest]\n")
    outputs = work / "outputs.jsonl"
    env = {**_home_env(demo_lake), "NBVAL_OUTPUTS": str(outputs), "PYTHONPATH": str(REPO / "tests"), "SPARK_LOCAL_IP": "127.0.0.1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-cell-timeout", "600", "-p", "nbval_outputs",
                           "-p", "no:cacheprovider", "--durations=12", "-c", str(work / "pytest.ini"), "--rootdir", str(work), "-q", "-x",
                           *map(str, notebooks)], cwd=work, env=env, text=True, capture_output=True, timeout=1500)
    cells = [json.loads(line) for line in outputs.read_text().splitlines()] if outputs.exists() else []
    return {"proc": proc, "cells": cells, "settings": settings, "dates": (day1, day2), "verdicts": verdicts,
            "web_date": web_dates[-1], "manifest": manifest}


def _texts(cells: list[dict], notebook: str) -> str:
    "Everything a notebook printed or displayed as text."
    out = []
    for c in cells:
        if c["notebook"].split("_", 1)[1] != notebook: continue
        for o in c["outputs"]:
            out.append(o.get("text", "") if o["output_type"] == "stream" else o.get("data", {}).get("text/plain", ""))
    return "\n".join(out)


def _figures(cells: list[dict], notebook: str) -> list[dict]:
    return [o["data"][PLOTLY] for c in cells if c["notebook"].split("_", 1)[1] == notebook
            for o in c["outputs"] if PLOTLY in o.get("data", {})]


def _values(v) -> list:
    "A trace's values as plain numbers: Plotly 6 sends numeric arrays as base64 typed arrays (`{dtype, bdata}`)."
    if isinstance(v, dict) and "bdata" in v:
        import base64

        import numpy as np
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)


def _has_points(trace: dict) -> bool:
    return any(isinstance(trace.get(k), (list, dict)) and len(trace[k]) > 0 for k in ("x", "y", "z"))


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.spark
def test_every_job_and_dashboard_notebook_runs_under_nbval_in_dependency_order(workspace_run):
    proc, cells = workspace_run["proc"], workspace_run["cells"]
    assert proc.returncode == 0, f"nbval failed\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    print(proc.stdout[-2500:])  # the slowest cells (pytest -s shows them)
    ran = [c["notebook"] for c in cells]
    assert [n.split("_", 1)[1] for n in dict.fromkeys(ran)] == [Path(n).name for n in ORDER], "not every notebook ran, in order"
    assert all(c["outcome"] == "passed" for c in cells)
    for name in ORDER:
        figures = _figures(cells, Path(name).name)
        assert figures and all(f["data"] for f in figures), f"{name} showed no Plotly figure with traces"
        assert any(_has_points(t) for f in figures for t in f["data"]), f"{name}'s figures have no data points"


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.spark
def test_the_jobs_wrote_what_their_notebooks_report(workspace_run):
    from uhnw.lake import lake_for
    from uhnw.ops.db import connect
    cells, settings = workspace_run["cells"], workspace_run["settings"]
    day1, day2 = workspace_run["dates"]
    lake = lake_for(settings)
    gold = lake.read_partition("gold", "client_metrics", day2).to_pandas()
    assert len(gold) == workspace_run["manifest"]["clients"] and gold.daily_pnl.notna().sum() > 0
    with connect(settings) as conn:
        assert conn.execute("select count(*) from client_metrics where date = %s", (day2,)).fetchone()[0] == len(gold)
    assert f"{len(gold)} clients loaded for {day2}" in _texts(cells, "rds_sync")
    assert "no Kafka record twice in silver" in _texts(cells, "news_stream_to_silver")
    web = lake.read_partition("silver", "web_articles", workspace_run["web_date"]).to_pandas()
    assert len(web) >= 1 and web.text.str.len().gt(0).all()
    assert "model relevance-2026-05-02 written to" in _texts(cells, "train_relevance")  # its artifact: the next test
    for name, date in (("portfolio_health", day2), ("client_book", day2)):
        assert f"{settings.home / 'reports'}" in _texts(cells, name), f"{name} printed no report path"
        assert (settings.home / "reports" / f"{name}_{date}.html").stat().st_size > 1_000_000


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.spark
def test_the_training_job_wrote_a_versioned_model_that_loads_scores_and_stays_immutable(workspace_run):
    "train_relevance's run (on the seed set landed by the fixture, promoted): the artifact, its metrics, its scores."
    import io
    import tarfile

    from uhnw.lake import lake_for
    from uhnw.relevance import latest_version, load_model, model_key, pair_from_match, predict, read_seed, save_model, score
    from uhnw.resolve import Gazetteer
    lake = lake_for(workspace_run["settings"])
    assert latest_version(lake) == "relevance-2026-05-02"
    with tarfile.open(fileobj=io.BytesIO(lake.read_bytes("models", model_key("relevance-2026-05-02"))), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["event_classifier.skops", "feature_spec.json", "metrics.json", "model.skops"]
        metrics = json.loads(tar.extractfile("metrics.json").read())
    assert metrics["auc"] >= 0.85 and metrics["version"] == "relevance-2026-05-02" and len(metrics["reliability"]) == 10
    model = load_model(lake)
    assert model.version == "relevance-2026-05-02"
    gazetteer = Gazetteer.from_clients(read_seed()[1])
    headline = "Helena Vogt sued by former partners over Vogt Pharma deal"
    body = ("Two former partners filed a lawsuit against Helena Vogt in the High Court, alleging breach of fiduciary duty. "
            "The claim seeks damages of $600 million.")
    passing = "Stocks edged lower. Guests at the dinner included Helena Vogt and several ministers."
    hot = [m for m in gazetteer.resolve(headline, body) if m.client_id == "UHNW-103"][0]
    cold = [m for m in gazetteer.resolve("Markets close lower", passing) if m.client_id == "UHNW-103"][0]
    p_hot = score(model, model.featurizer.features(pair_from_match(headline, body, hot)))
    p_cold = score(model, model.featurizer.features(pair_from_match("Markets close lower", passing, cold)))
    assert p_hot > 0.8 > p_cold, (p_hot, p_cold)
    probs, families = predict(model, [pair_from_match(headline, body, hot)])
    assert families == ["legal_regulatory"] and probs[0] == p_hot  # the saved event classifier names the family
    with pytest.raises(Exception, match="immutable"):  # versions are immutable, and LATEST stays put
        save_model(model, metrics, lake, "relevance-2026-05-02")
    assert latest_version(lake) == "relevance-2026-05-02"


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.spark
def test_the_attribution_sums_to_the_served_daily_pnl_to_the_cent(workspace_run):
    "client_book's price and FX effects, per client, against PostgreSQL's client_metrics (what rds_sync served), in cents."
    from uhnw.analysis import ASSET_CLASSES, attribution_summary, pnl_attribution, read_security_master
    from uhnw.lake import lake_for
    from uhnw.ops.db import connect
    cells, settings = workspace_run["cells"], workspace_run["settings"]
    day2 = workspace_run["dates"][1]
    lake = lake_for(settings)
    attribution = pnl_attribution(lake.read_partition("gold", "position_pnl", day2).to_pandas(),
                                  lake.read_partition("silver", "fx", day2).to_pandas(), settings.reporting_currency,
                                  read_security_master(settings, workspace_run["manifest"]["security_master"]))
    with connect(settings) as conn:
        served = dict(conn.execute("select client_id, daily_pnl from client_metrics where date = %s and daily_pnl is not null",
                                   (day2,)).fetchall())
    cents = lambda x: Decimal(str(x)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    per_client = attribution.groupby("client_id")[["price_effect", "fx_effect"]].sum()
    assert len(served) > 10 and set(per_client.index) == set(served)
    for client_id, row in per_client.iterrows():
        assert abs(cents(row.price_effect + row.fx_effect) - cents(served[client_id])) <= Decimal("0.01"), client_id
    assert (per_client.fx_effect.abs() > 0).any() and (per_client.price_effect.abs() > 0).any(), "both effects are there"
    # what the split must do beyond adding up: no FX effect where the instrument is in the client's base currency, one
    # where a foreign instrument's rate moved (the exact values of the split are pinned in nbs/46_analysis)
    same_ccy = attribution[attribution.currency == attribution.base_currency]
    assert len(same_ccy) > 100 and (same_ccy.fx_effect == 0).all()
    other = attribution[attribution.currency != attribution.base_currency]
    assert len(other) > 100 and (other.fx_effect != 0).mean() > 0.9
    summary = attribution_summary(attribution)
    assert set(summary.asset_class) <= set(ASSET_CLASSES) and len(set(summary.asset_class)) >= 3, "the security master classified the book"
    assert f"price + FX effects equal gold's daily P&L for {len(per_client)} clients" in _texts(cells, "client_book")


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.spark
def test_alert_effectiveness_counts_the_rm_verdicts(workspace_run):
    cells, verdicts = workspace_run["cells"], workspace_run["verdicts"]
    judged = sum(verdicts.values())
    assert verdicts.get("useful", 0) > 0 and verdicts.get("not_useful", 0) > 0, verdicts
    assert f"{judged} judged by an RM" in _texts(cells, "alert_effectiveness")
    precision = next(f for f in _figures(cells, "alert_effectiveness") if "RM feedback" in json.dumps(f["layout"]))
    bars = {t["name"]: t for t in precision["data"]}
    shown = [t.split("/") for t in bars["precision (useful / judged)"]["text"]]
    assert sum(int(u) for u, _ in shown) == verdicts["useful"] and sum(int(j) for _, j in shown) == judged
    precisions = [p for p in _values(bars["precision (useful / judged)"]["y"]) if p is not None and p == p]  # NaN: none judged
    assert precisions and any(p < 1 for p in precisions), "a not-useful verdict lowers precision"


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.spark
def test_news_coverage_counts_the_alerts_the_lake_holds(workspace_run):
    import re
    cells = workspace_run["cells"]
    covered = re.search(r"(\d+) articles, (\d+) alerts for (\d+) clients", _texts(cells, "news_coverage"))
    in_lake = re.search(r"(\d+) alerts in silver\.alerts", _texts(cells, "alert_effectiveness"))
    assert covered and in_lake, "news_coverage or alert_effectiveness printed no counts"
    articles, alerts, clients = map(int, covered.groups())
    assert articles > 0 and alerts > 0 and clients > 0
    assert alerts == int(in_lake.group(1)), "two notebooks, one silver.alerts: the same count over the same window"
    bars = [t for f in _figures(cells, "news_coverage") for t in f["data"] if t.get("type") == "bar"]
    assert bars and sum(sum(_values(t["y"])) for t in bars) <= alerts


@pytest.mark.browser
@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.spark
def test_analysis_pages_render_their_figures_offline_in_chromium(workspace_run):
    "The three analysis notebooks' HTML (plotly.js inlined), opened from disk in headless Chromium with no network: screenshots."
    chromium = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if chromium is None:
        if os.environ.get("CI") == "true": pytest.fail("chromium is missing: CI must run the browser tests (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    reports = workspace_run["settings"].home / "reports"
    pages = {name: next(reports.glob(f"{name}_*.html")) for name in ANALYSES}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"], headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
        context.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:") else route.continue_())
        for name, path in pages.items():
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            page.goto(path.as_uri())
            shown = len(_figures(workspace_run["cells"], name))  # what the notebook displayed is what the page holds
            page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {shown}", timeout=30_000)
            assert page.evaluate("document.querySelectorAll('.js-plotly-plot').length") == shown
            drawn = page.evaluate("document.querySelectorAll('.js-plotly-plot g.trace, .js-plotly-plot .hm, .js-plotly-plot image').length")
            assert drawn > 0 and not errors, (name, drawn, errors)
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
            assert (SCREENSHOTS / f"{name}.png").stat().st_size > 20_000
        browser.close()
