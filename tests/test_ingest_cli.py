"""`uhnw ingest …` and `uhnw synth cold` as a user runs them, on a throw-away UHNW_HOME."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from uhnw.cli.lake import ingest_app, synth_app
from uhnw.synth import CLIENTS_HEADER, synth_cold

REPO = Path(__file__).resolve().parent.parent
POS = b"as_of_date,account_id,client_id,instrument_id,quantity\n2025-01-03,A1,UHNW-101,X1,10\n"


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("UHNW_HOME", str(h))
    monkeypatch.setenv("UHNW_PROFILE", "local")
    return h


def ingest(*args):
    return CliRunner().invoke(ingest_app, list(args))


def bronze(home: Path) -> dict[str, str]:
    root = home / "lake" / "bronze"
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_ingest_lands_the_file_under_its_dataset_date_and_name_and_prints_the_uri(home, tmp_path):
    f = tmp_path / "eod_positions.csv"; f.write_bytes(POS)
    r = ingest("positions", str(f), "--date", "2025-01-03")
    assert r.exit_code == 0, r.output
    target = home / "lake" / "bronze" / "positions" / "date=2025-01-03" / "eod_positions.csv"
    assert r.output.strip() == str(target)
    assert target.read_bytes() == POS


def test_ingest_refuses_different_bytes_at_the_same_object_with_exit_1_and_bronze_unchanged(home, tmp_path):
    f = tmp_path / "eod.csv"; f.write_bytes(POS)
    assert ingest("positions", str(f), "--date", "2025-01-03").exit_code == 0
    before = bronze(home)
    f.write_bytes(POS + b"2025-01-03,A2,UHNW-101,X2,5\n")
    r = ingest("positions", str(f), "--date", "2025-01-03")
    assert r.exit_code == 1
    assert "positions/date=2025-01-03/eod.csv" in r.output and "refused" in r.output
    assert "land the corrected file under a new name with --supersedes eod.csv" in r.output, "the message names the correction flow"
    assert bronze(home) == before


def test_ingest_of_identical_bytes_again_says_already_landed_and_exits_0(home, tmp_path):
    f = tmp_path / "fx.csv"; f.write_bytes(b"rate_date,currency,usd_per_unit\n2025-01-03,EUR,1.08\n")
    assert ingest("fx", str(f), "--date", "2025-01-03").exit_code == 0
    r = ingest("fx", str(f), "--date", "2025-01-03")
    assert r.exit_code == 0 and "already landed" in r.output


@pytest.mark.parametrize("date", ["2025-13-01", "03/01/2025", "20250103"])
def test_ingest_with_a_bad_date_exits_2_and_lands_nothing(home, tmp_path, date):
    f = tmp_path / "p.csv"; f.write_bytes(POS)
    r = ingest("prices", str(f), "--date", date)
    assert r.exit_code == 2 and "--date" in r.output
    assert not (home / "lake" / "bronze").exists() or bronze(home) == {}


def test_ingest_of_a_missing_file_exits_2_naming_it(home, tmp_path):
    r = ingest("clients", str(tmp_path / "nope.csv"), "--date", "2025-01-03")
    assert r.exit_code == 2 and "nope.csv" in r.output


def test_ingest_as_a_subprocess_like_a_user(home, tmp_path):
    f = tmp_path / "clients.csv"; f.write_bytes(b"client_id,full_name,aliases,rm_id,base_currency\nUHNW-101,Amit Saxena,,RM-01,INR\n")
    cmd = [sys.executable, "-c", "from uhnw.cli.lake import ingest_app; ingest_app(prog_name='uhnw ingest')",
           "clients", str(f), "--date", "2025-01-02"]
    env = {**os.environ, "UHNW_HOME": str(home)}
    first = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith("bronze/clients/date=2025-01-02/clients.csv")
    f.write_bytes(f.read_bytes() + b"UHNW-102,Wei Zhang,,RM-02,HKD\n")
    second = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert second.returncode == 1 and "clients/date=2025-01-02/clients.csv" in second.stderr


# --- corrections and status

POS_FIXED = b"as_of_date,account_id,client_id,instrument_id,quantity\n2025-01-03,A1,UHNW-101,X1,12\n"
CLIENTS_CSV = b"client_id,full_name,aliases,rm_id,base_currency\nUHNW-101,Amit Saxena,,RM-01,INR\n"


def test_ingest_with_supersedes_lands_the_correction_beside_the_original_and_records_it(home, tmp_path):
    f = tmp_path / "eod.csv"; f.write_bytes(POS)
    assert ingest("positions", str(f), "--date", "2025-01-03").exit_code == 0
    g = tmp_path / "eod-v2.csv"; g.write_bytes(POS_FIXED)
    r = ingest("positions", str(g), "--date", "2025-01-03", "--supersedes", "eod.csv")
    assert r.exit_code == 0, r.output
    assert "supersedes: eod.csv" in r.output and "uses eod-v2.csv" in r.output
    b = bronze(home)
    assert b["positions/date=2025-01-03/eod.csv"] == hashlib.sha256(POS).hexdigest()
    assert b["positions/date=2025-01-03/eod-v2.csv"] == hashlib.sha256(POS_FIXED).hexdigest()
    rec = json.loads((home / "lake" / "bronze" / "_supersessions" / "positions" / "date=2025-01-03" / "eod-v2.csv.json").read_text())
    assert (rec["file"], rec["supersedes"]) == ("eod-v2.csv", ["eod.csv"])


@pytest.mark.parametrize("old, why", [("nope.csv", "no file 'nope.csv'"), ("eod-v2.csv", "cannot supersede itself")])
def test_ingest_supersedes_of_a_file_not_there_exits_1_and_lands_nothing(home, tmp_path, old, why):
    f = tmp_path / "eod.csv"; f.write_bytes(POS)
    assert ingest("positions", str(f), "--date", "2025-01-03").exit_code == 0
    before = bronze(home)
    g = tmp_path / "eod-v2.csv"; g.write_bytes(POS_FIXED)
    r = ingest("positions", str(g), "--date", "2025-01-03", "--supersedes", old)
    assert r.exit_code == 1 and why in r.output
    assert bronze(home) == before


def test_ingest_supersede_records_a_correction_the_sender_uploaded_directly(home, tmp_path):
    f = tmp_path / "eod.csv"; f.write_bytes(POS)
    assert ingest("positions", str(f), "--date", "2025-01-03").exit_code == 0
    (home / "lake" / "bronze" / "positions" / "date=2025-01-03" / "eod-v2.csv").write_bytes(POS_FIXED)  # put there by the sender
    r = ingest("supersede", "positions", "eod-v2.csv", "--date", "2025-01-03", "--supersedes", "eod.csv")
    assert r.exit_code == 0 and "recorded: positions 2025-01-03: eod-v2.csv supersedes eod.csv" in r.output
    again = ingest("supersede", "positions", "eod-v2.csv", "--date", "2025-01-03", "--supersedes", "eod.csv")
    assert again.exit_code == 0 and "already recorded" in again.output
    back = ingest("supersede", "positions", "eod.csv", "--date", "2025-01-03", "--supersedes", "eod-v2.csv")
    assert back.exit_code == 1 and "cannot supersede" in back.output


def test_ingest_withdraw_records_a_file_that_must_not_be_used_and_status_shows_it(home, tmp_path):
    f = tmp_path / "stray.csv"; f.write_bytes(b"price_date,instrument_id,close,currency\n")
    assert ingest("positions", str(f), "--date", "2025-01-03").exit_code == 0
    assert ingest("withdraw", "positions", "stray.csv", "--date", "2025-01-03").exit_code == 2, "a reason is required"
    r = ingest("withdraw", "positions", "stray.csv", "--date", "2025-01-03", "--reason", "a prices file")
    assert r.exit_code == 0 and "withdrawn: positions 2025-01-03: stray.csv (a prices file)" in r.output
    rows = [json.loads(x) for x in ingest("status", "--date", "2025-01-03", "--json").output.splitlines()]
    assert [(r["file"], r["status"], r["detail"]) for r in rows] == [("stray.csv", "withdrawn", "a prices file")]
    assert "prices    no file in bronze for 2025-01-03" in ingest("status", "--date", "2025-01-03").output


def test_ingest_status_shows_each_file_landed_used_superseded_or_rejected_and_why(home, tmp_path):
    from uhnw.config import load_settings
    from uhnw.validate import etl_date
    for name, data in (("clients.csv", CLIENTS_CSV),):
        (tmp_path / name).write_bytes(data)
        assert ingest("clients", str(tmp_path / name), "--date", "2025-01-02").exit_code == 0
    for name, data in (("eod.csv", POS), ("wrong.csv", b"date,qty\n2025-01-03,1\n")):
        (tmp_path / name).write_bytes(data)
        assert ingest("positions", str(tmp_path / name), "--date", "2025-01-03").exit_code == 0
    before = ingest("status", "--date", "2025-01-03")
    assert before.exit_code == 0 and "positions_etl has not run for 2025-01-03" in before.output
    assert not etl_date(load_settings(), "2025-01-03").ok
    (tmp_path / "eod-v2.csv").write_bytes(POS_FIXED)
    assert ingest("positions", str(tmp_path / "eod-v2.csv"), "--date", "2025-01-03", "--supersedes", "eod.csv").exit_code == 0
    rows = {r["file"]: r for r in map(json.loads, ingest("status", "--date", "2025-01-03", "--json").output.splitlines())}
    assert (rows["eod.csv"]["status"], rows["eod.csv"]["detail"]) == ("superseded",
                                                                      "by eod-v2.csv; the last run used it: re-run positions_etl")
    assert (rows["eod-v2.csv"]["status"], rows["eod-v2.csv"]["detail"]) == ("landed", "not in the last run of positions_etl: re-run it")
    assert rows["wrong.csv"]["status"] == "rejected" and "missing column(s) as_of_date" in rows["wrong.csv"]["detail"]
    assert (rows["clients.csv"]["status"], rows["clients.csv"]["bronze_date"]) == ("used", "2025-01-02")
    etl_date(load_settings(), "2025-01-03")
    text = ingest("status", "--date", "2025-01-03").output
    line = next(ln for ln in text.splitlines() if "eod-v2.csv" in ln and "landed 20" in ln)
    assert "used" in line and "1 rows in silver, 0 quarantined" in line


# --- synth

def test_synth_is_deterministic_given_the_seed(tmp_path):
    a = synth_cold(tmp_path / "a", days=2, clients=25, positions=500, seed=11, bad_rows=2)
    b = synth_cold(tmp_path / "b", days=2, clients=25, positions=500, seed=11, bad_rows=2)
    c = synth_cold(tmp_path / "c", days=2, clients=25, positions=500, seed=12, bad_rows=2)
    names = sorted(p.name for p in (tmp_path / "a").iterdir() if p.suffix == ".csv")
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir() if p.suffix == ".csv")
    for n in names:
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes()
    assert (tmp_path / "a" / "positions_2025-01-02.csv").read_bytes() != (tmp_path / "c" / "positions_2025-01-02.csv").read_bytes()
    assert a["dates"] == b["dates"] == c["dates"] == ["2025-01-01", "2025-01-02"]


def test_synth_shape_is_realistic(tmp_path):
    m = synth_cold(tmp_path, days=3, clients=120, positions=3000, seed=5)
    cl = pd.read_csv(m["clients_file"], dtype=str, keep_default_na=False)
    assert list(cl.columns) == list(CLIENTS_HEADER)
    assert cl.loc[cl.client_id == "UHNW-102", "full_name"].item() == "Amit Saxena"
    assert cl.client_id.str.fullmatch(r"UHNW-\d+").all() and cl.client_id.is_unique
    assert cl.rm_id.nunique() >= 3 and cl.rm_id.str.fullmatch(r"RM-\d\d").all()
    assert set(cl.base_currency) <= {"USD", "EUR", "GBP", "CHF", "SGD", "AED", "INR", "HKD"} and cl.base_currency.nunique() >= 6
    assert (cl.aliases != "").sum() > 20 and cl.aliases.str.contains("|", regex=False).any()
    days = [pd.read_csv(m["files"][d]["positions"], dtype={"quantity": float}) for d in m["dates"]]
    for p in days:
        assert len(p) == 3000 and not p.duplicated(["account_id", "instrument_id"]).any()
        assert p.instrument_id.str.fullmatch(r"[A-Z]{2}\d{10}").all()
    keys = [set(zip(p.account_id, p.instrument_id, strict=False)) for p in days]
    carried = len(keys[0] & keys[1]) / 3000
    assert 0.9 < carried < 1.0  # mostly carried, some closed and opened
    px = pd.read_csv(m["files"][m["dates"][1]]["prices"])
    assert px.currency.nunique() >= 6 and (px.close > 0).all()
    assert set(days[1].instrument_id) - set(px.instrument_id)  # some held instrument has no price that day
    fx = pd.read_csv(m["files"][m["dates"][1]]["fx"])
    assert "USD" not in set(fx.currency) and {"EUR", "GBP", "CHF", "SGD", "AED", "INR", "HKD"} <= set(fx.currency)


def test_synth_cold_cli_writes_and_ingests(home, tmp_path):
    out = tmp_path / "cold"
    r = CliRunner().invoke(synth_app, ["cold", "--days", "2", "--clients", "10", "--positions", "200", "--out", str(out),
                                       "--ingest", "--json"])
    assert r.exit_code == 0, r.output
    m = json.loads(r.output)
    assert len(m["landed"]) == 1 + 2 * 3
    assert sorted(bronze(home))[:3] == ["_landings/clients/date=2025-01-01/clients.csv.json",
                                        "_landings/fx/date=2025-01-01/fx_2025-01-01.csv.json",
                                        "_landings/fx/date=2025-01-02/fx_2025-01-02.csv.json"]
    assert (home / "lake" / "bronze" / "positions" / "date=2025-01-02" / "positions_2025-01-02.csv").read_bytes() == \
        (out / "positions_2025-01-02.csv").read_bytes()
    again = CliRunner().invoke(synth_app, ["cold", "--days", "2", "--clients", "10", "--positions", "200", "--out", str(out), "--ingest"])
    assert again.exit_code == 0, again.output  # same seed, same bytes: already landed


def test_synth_cold_cli_defaults_to_the_inbox(home):
    r = CliRunner().invoke(synth_app, ["cold", "--days", "1", "--clients", "3", "--positions", "20"])
    assert r.exit_code == 0, r.output
    assert (home / "inbox" / "cold" / "positions_2025-01-01.csv").exists() and str(home / "inbox" / "cold") in r.output
