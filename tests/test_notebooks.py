"""The notebooks in nbs/ are the source of the package: their inline tests run here.

Cells flagged with one of pyproject's `tst_flags` (`#| kafka`, `#| spark`, `#| postgres`, `#| aws`) need a service,
so they run in a second pass with every flag at once, against the session stack (the `stack` fixture exports its
UHNW_* settings) and a moto server standing in for AWS. A flag that no cell carries, or a cell flag that is not
declared, fails here: a new flag is never silently skipped.
"""
import json
import os
import re
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NBDEV_TEST = Path(sys.executable).parent / "nbdev-test"
SERVICE_FLAGS = [f for f in tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["nbdev"]["tst_flags"].split() if f != "notest"]
# nbdev's own directives: anything else written as `#| word` alone is a test flag
NBDEV_DIRECTIVES = {"export", "exports", "exporti", "exportn", "exportd", "hide", "default_exp", "eval:", "echo:", "output:", "code-fold:",
                    "include:", "hide_input", "hide_output", "skip_exec", "skip_showdoc", "export_out", "notest", "collapse_output",
                    "filter_stream", "python"}


def cell_flags(by_notebook: dict | None = None) -> Counter:
    """How many code cells of nbs/*.ipynb carry each `#| word` directive that is not one of nbdev's own (and, into
    `by_notebook` when given, the same count per notebook file name)."""
    found: Counter = Counter()
    for nb in sorted((REPO / "nbs").glob("*.ipynb")):
        before = sum(found.values())
        cells = json.loads(nb.read_text())["cells"]
        if any("#| skip_exec" in "".join(c["source"]) for c in cells): continue  # nbdev-test runs none of its cells
        for cell in cells:
            if cell["cell_type"] != "code": continue
            for line in "".join(cell["source"]).splitlines():
                m = re.match(r"#\|\s*(\S+)\s*$", line)
                if not m: break
                if m.group(1) not in NBDEV_DIRECTIVES: found[m.group(1)] += 1
        if by_notebook is not None and sum(found.values()) > before: by_notebook[nb.name] = sum(found.values()) - before
    return found


def start_nbdev_test(*flags: str, env: dict | None = None, only: list[str] | None = None) -> subprocess.Popen:
    args = [str(NBDEV_TEST), "--n-workers", "1"]
    if flags:
        args += ["--flags", " ".join(flags)]
    if only:  # these notebook files only
        args += ["--file-re", "^(" + "|".join(re.escape(name) for name in only) + ")$"]
    return subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def finished(proc: subprocess.Popen, timeout: float = 1200) -> subprocess.CompletedProcess:
    try: out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill(); out, err = proc.communicate(); err += f"\n(timed out after {timeout:g} s)"
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_nbdev_test(*flags: str, env: dict | None = None, only: list[str] | None = None) -> subprocess.CompletedProcess:
    return finished(start_nbdev_test(*flags, env=env, only=only))


@pytest.fixture(scope="module")
def without_services():
    """The pass without services, started in the background as soon as a test asks for it: it runs beside the pass
    with services (each pass is one kernel at a time, the machine has two cores), a minute and a half of make test."""
    proc = start_nbdev_test()
    yield proc
    if proc.poll() is None: proc.kill(); proc.communicate()


def test_every_declared_flag_is_carried_by_cells_and_every_cell_flag_is_declared():
    flags = cell_flags()
    assert set(SERVICE_FLAGS) >= {"kafka", "spark", "postgres", "aws"}
    undeclared, unused = set(flags) - set(SERVICE_FLAGS), [f for f in SERVICE_FLAGS if not flags[f]]
    assert not undeclared, f"cells flagged with undeclared flags (add them to tst_flags): {undeclared}"
    assert not unused, f"declared flags no cell carries: {unused} (cells per flag: {dict(flags)})"


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.spark
@pytest.mark.aws
def test_notebook_cells_flagged_for_services_pass_against_the_stack_and_moto(stack, moto_endpoint, without_services):
    by_notebook: dict[str, int] = {}
    flags = cell_flags(by_notebook)
    executed = sum(flags[f] for f in SERVICE_FLAGS)
    assert executed > 0 and all(flags[f] > 0 for f in SERVICE_FLAGS)  # this run executes every one of them
    # only the notebooks that carry a flagged cell: the others ran whole, unchanged, in the run without services
    assert by_notebook and sum(by_notebook.values()) == sum(flags.values())
    env = {"UHNW_S3_ENDPOINT_URL": moto_endpoint, "AWS_ENDPOINT_URL": moto_endpoint}
    result = run_nbdev_test(*SERVICE_FLAGS, env=env, only=sorted(by_notebook))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_notebook_inline_tests_pass_without_services(without_services):
    result = finished(without_services)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
