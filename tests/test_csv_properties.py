"""Property-based tests of the bronze CSV reader and the positions rules (hypothesis, bounded examples): whatever bytes
arrive, a file is either rejected whole with a reason (`FileRejected`) or every one of its data rows comes out either
valid or quarantined with a reason — never another exception, never a row lost."""
from __future__ import annotations

import math

import pyarrow.compute as pc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uhnw.validate import FileRejected, read_csv_text, validate_positions

HEADER = b"as_of_date,account_id,client_id,instrument_id,quantity\n"
DATE = "2025-01-02"
CLIENTS = ["C1", "C2"]
BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# field text without quotes or line breaks, so each generated line is exactly one CSV row
plain = st.text(st.characters(blacklist_characters='"\r\n', blacklist_categories=("Cs",)), max_size=12)
field = st.one_of(plain, st.sampled_from(["2025-01-02", "2025-01-03", "02/01/2025", "C1", "C2", "C9", "A1", "XS1", "1", "-3.5",
                                          "1e400", "nan", "inf", "", " 7 ", "１２", "0x10"]))
row = st.lists(field, min_size=0, max_size=7).map(lambda fs: ",".join(fs))


def _check_every_row_accounted_for(data: bytes, lines: int | None):
    try:
        table = read_csv_text(data, "positions", source_file="prop.csv")
    except FileRejected as e:
        assert str(e) and "prop.csv" in str(e)
        return
    if lines is not None:
        assert table.num_rows == lines, "a data row was lost or invented by the reader"
    out = validate_positions(table, DATE, CLIENTS)
    assert out.read == table.num_rows  # every row is either valid or quarantined
    if out.rejected.num_rows:
        assert pc.min(pc.utf8_length(out.rejected["reason"])).as_py() > 0  # each with a reason a person can read
    for q in out.valid["quantity"].to_pylist():
        assert q is not None and math.isfinite(q)
    assert set(out.valid["client_id"].to_pylist()) <= set(CLIENTS)


@BOUNDED
@given(st.lists(row, min_size=1, max_size=25))
def test_every_data_row_is_kept_or_quarantined_with_a_reason(rows):
    lines = [r for r in rows]
    data = HEADER + "".join(r + "\n" for r in lines).encode("utf-8")
    _check_every_row_accounted_for(data, len(lines))


@BOUNDED
@given(st.lists(row, min_size=1, max_size=10), st.binary(max_size=40), st.integers(0, 9))
def test_stray_bytes_in_a_row_quarantine_that_row_only(rows, junk, where):
    lines = [r.encode("utf-8") for r in rows]
    i = where % len(lines)
    lines[i] = lines[i] + junk.replace(b"\n", b" ").replace(b"\r", b" ").replace(b'"', b"'")
    _check_every_row_accounted_for(HEADER + b"".join(line + b"\n" for line in lines), len(lines))


@BOUNDED
@given(st.binary(max_size=300))
def test_arbitrary_bytes_are_rejected_whole_with_a_reason_or_read_row_by_row(body):
    _check_every_row_accounted_for(body, None)
    _check_every_row_accounted_for(HEADER + body, None)
