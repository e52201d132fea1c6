"""A pytest plugin for the nbval run of tests/test_workspace.py: after each notebook cell nbval ran, append the cell's
outputs (as nbval received them from the kernel) to the JSON-lines file named by NBVAL_OUTPUTS, so the test can assert
on what the notebooks produced; nbval's lax mode itself only checks that nothing raised."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.when != "call" or not hasattr(item, "test_outputs"): return
    with open(os.environ["NBVAL_OUTPUTS"], "a", encoding="utf-8") as f:
        f.write(json.dumps({"notebook": Path(str(item.fspath)).stem, "cell": item.cell_num, "outcome": report.outcome,
                            "outputs": item.test_outputs or []}, default=str) + "\n")
