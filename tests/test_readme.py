"""The README is a walk-through a newcomer can follow: every block it marks runnable runs as written, in order.

A runnable block is a fenced block opened with ```` ```bash runnable ````. The blocks run one after the other, each
as its own `bash` with `set -euo pipefail`, from the repo root, in a fresh `UHNW_HOME` whose `stack/` is the
session's stack (so `uhnw stack up` finds it running) and with a topic prefix of its own (its topics and consumer
groups meet no other test's).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import uuid

import pytest
from conftest import REPO

README = REPO / "README.md"
RUNNABLE = re.compile(r"^```bash runnable[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
BLOCK_TIMEOUT = 900  # seconds; the cold-path walk-through takes ~2.5 min on 2 cores


def runnable_blocks(text: str) -> list[str]:
    "The bodies of the README's runnable blocks, in order."
    return RUNNABLE.findall(text)


def run_block(block: str, env: dict[str, str], timeout: float = BLOCK_TIMEOUT) -> subprocess.CompletedProcess:
    "Run one block with bash (`set -euo pipefail`) from the repo root; on a time-out its whole process group is killed."
    p = subprocess.Popen(["bash", "-c", "set -euo pipefail\n" + block], cwd=REPO, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # background services of the block too
        out, err = p.communicate()
        err += f"\n(timed out after {timeout:g} s)"
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def test_readme_marks_the_walk_throughs_runnable():
    blocks = runnable_blocks(README.read_text(encoding="utf-8"))
    assert any("job run daily_pnl" in b and "synth cold" in b for b in blocks), "the cold-path walk-through is not runnable"
    assert any("serve hotpath" in b and "serve api" in b and "/alerts" in b for b in blocks), \
        "the hot-path walk-through is not runnable"
    assert all("make demo" not in b and "stack down" not in b for b in blocks), "a runnable block would stop the stack"


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.spark
def test_readme_runnable_blocks_run_in_order_from_a_fresh_home(stack, model_home, tmp_path_factory):
    home = tmp_path_factory.mktemp("readme-home")
    (home / "stack").symlink_to(stack.stack_dir)  # the session's Kafka and PostgreSQL, passfile included
    # the session's promoted model, as `make demo` leaves one: the hot-path block keeps it instead of training (the
    # training command itself runs in tests/test_relevance.py, a minute of make test saved here)
    shutil.copytree(model_home / "lake" / "models", home / "lake" / "models")
    env = {**os.environ, "UHNW_HOME": str(home), "UHNW_TOPIC_PREFIX": f"readme{uuid.uuid4().hex[:8]}.",
           "PYTHONUNBUFFERED": "1"}
    blocks = runnable_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) > 0
    ran, outputs = 0, []
    for i, block in enumerate(blocks, 1):
        t0 = time.monotonic()
        r = run_block(block, env)
        first = next(line for line in block.splitlines() if line.strip() and not line.startswith("U="))
        assert r.returncode == 0, (f"README runnable block {i}/{len(blocks)} ({first.strip()[:80]!r}) failed with exit "
                                   f"{r.returncode} after {time.monotonic() - t0:.0f} s\n--- stdout\n{_tail(r.stdout)}\n"
                                   f"--- stderr\n{_tail(r.stderr)}")
        ran += 1
        outputs.append((block, r.stdout))
    assert ran == len(blocks)

    cold = next(out for block, out in outputs if "job run daily_pnl" in block)
    for name in ("portfolio_health_2025-01-02.html", "portfolio_health_2025-01-02_RM-01.html"):
        report = home / "reports" / name
        assert f"report: {report}" in cold, f"the cold path did not print the path of {name}"
        assert report.stat().st_size > 0
    hot = next(out for block, out in outputs if "serve hotpath" in block)
    assert '"type": "alert"' in hot and '"client_id": "UHNW-102"' in hot, f"the hot path showed no alert:\n{_tail(hot)}"
    assert "relevance-hotpath-test" in hot, "the hot path serves the promoted model it found (no training when one exists)"
