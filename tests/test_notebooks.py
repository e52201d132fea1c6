"""The notebooks in nbs/ are the source of the package: their inline tests run here.

Cells flagged `#| kafka` or `#| spark` need the broker or a Spark session, so they run in a
second pass once the session stack is up (the `stack` fixture exports its UHNW_* settings).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NBDEV_TEST = Path(sys.executable).parent / "nbdev-test"


def run_nbdev_test(*flags: str) -> subprocess.CompletedProcess:
    args = [str(NBDEV_TEST), "--n-workers", "1"]
    if flags:
        args += ["--flags", " ".join(flags)]
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=900, env=os.environ.copy())


def test_notebook_inline_tests_pass_without_services():
    result = run_nbdev_test()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


@pytest.mark.kafka
@pytest.mark.spark
def test_notebook_cells_flagged_kafka_and_spark_pass_against_the_stack(stack):
    result = run_nbdev_test("kafka", "spark")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
