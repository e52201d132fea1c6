"""The warm kernel pool of the job runner (`uhnw.ops.jobs.kernel_pool`): each job still runs in a kernel process of
its own, started in the notebook's folder, with its stderr in the run's log and its cells counted from 1; the next
job's kernel is the spare warmed while the previous job ran; nothing is left running at the end."""
import json
import os
import signal
import time

import nbformat
import pytest

from uhnw.config import load_settings
from uhnw.ops import jobs


def _notebook(path, marker: str):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('run_date: str = "2025-01-01"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "import json, os, sys\n"
        f"os.write(2, b'{marker} stderr of ' + str(os.getpid()).encode() + b'\\n')\n"
        "print(json.dumps({'pid': os.getpid(), 'cwd': os.getcwd(), 'preloaded': 'uhnw.pnl' in sys.modules,\n"
        "                  'names': sorted(globals()),\n"
        "                  'changed': os.environ.get('UHNW_TEST_CHANGED')}))")]
    nbformat.write(nb, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_each_job_runs_in_its_own_warmed_kernel_and_the_pool_leaves_nothing(tmp_path, monkeypatch):
    folders = {"a": tmp_path / "jobs", "b": tmp_path / "dashboards"}
    for name, folder in folders.items():
        folder.mkdir()
        _notebook(folder / f"{name}.ipynb", f"job-{name}")
    monkeypatch.setattr(jobs, "job_notebook", lambda name, root=None: folders[name] / f"{name}.ipynb")
    settings = load_settings(home=tmp_path / "home")
    seen = []
    with jobs.kernel_pool(settings, warm_now=True) as pool:
        for name in ("a", "a", "b"):  # the last one is in another folder: the spare moves there
            run = jobs.run_job(settings, name, "2025-01-01")
            nb = json.loads(run.output.read_text())
            cell = nb["cells"][-1]
            out = json.loads("".join(cell["outputs"][0]["text"]))
            counts = [c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code"]
            assert counts == list(range(1, len(counts) + 1)), "the warm-up's imports are not counted: cells count from 1"
            assert out["cwd"] == str(folders[name]), "the kernel works in the notebook's folder, as papermill's cwd= sets it"
            assert f"job-{name} stderr of {out['pid']}" in run.output.with_suffix(".log").read_text()
            seen.append(out)
        assert pool.used == 3, "every job took the kernel warmed ahead of it"
        assert all(o["preloaded"] for o in seen)
    # the warm-up's imports are not names in the job's namespace: a notebook that forgets an import fails as it would
    # in a fresh kernel (IPython's own names aside)
    names = {n for o in seen for n in o["names"]}
    assert not {"pandas", "pyarrow", "pyspark", "plotly", "uhnw", "duckdb", "_uhnw_preload"} & names, names
    assert len({o["pid"] for o in seen}) == 3, "a kernel process of its own per job"
    deadline = time.monotonic() + 30
    while any(_alive(o["pid"]) for o in seen) and time.monotonic() < deadline: time.sleep(0.2)
    assert not any(_alive(o["pid"]) for o in seen), "the jobs' kernels are shut down"
    assert pool.started == 3 + pool.ahead  # those warmed after the last job are shut down when they are up
    jobs._join_starting_spares()  # what the process does at exit: spares still starting shut themselves down when up
    assert not list((settings.home / "runs" / ".kernels").glob("*.log")), "the unused spares were shut down, their logs removed"


@pytest.fixture
def one_job(tmp_path, monkeypatch):
    "Settings of a fresh home, and job `a` (a notebook in a jobs folder of its own)."
    folder = tmp_path / "jobs"
    folder.mkdir()
    _notebook(folder / "a.ipynb", "job-a")
    monkeypatch.setattr(jobs, "job_notebook", lambda name, root=None: folder / f"{name}.ipynb")
    return load_settings(home=tmp_path / "home")


def test_a_spare_started_under_another_environment_is_not_used(one_job, monkeypatch):
    settings = one_job
    with jobs.kernel_pool(settings, warm_now=True) as pool:
        monkeypatch.setenv("UHNW_TEST_CHANGED", "1")  # e.g. another profile or credentials: the spare would not see it
        run = jobs.run_job(settings, "a", "2025-01-01")
        assert pool.used == 0  # the job started its own kernel, which sees the variable
        assert json.loads("".join(json.loads(run.output.read_text())["cells"][-1]["outputs"][0]["text"]))["changed"] == "1"


def test_a_spare_that_died_is_not_used(one_job):
    settings = one_job
    with jobs.kernel_pool(settings, warm_now=True) as pool:
        thread, box = pool._spares[0]
        thread.join()
        os.kill(box[0][0].provisioner.pid, signal.SIGKILL)  # e.g. the OOM killer, between nights
        run = jobs.run_job(settings, "a", "2025-01-01")
        assert pool.used == 0 and run.output.exists()
