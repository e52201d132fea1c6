"""What a managed service runs: one job notebook, executed in this very process, its executed copy written to S3.

EMR Serverless and Glue start a Python driver with the job's Spark session already configured for the cluster; a
papermill kernel would be a second process that starts a `local[*]` Spark of its own. So the notebook is executed here,
cell by cell, in IPython's shell (the parameters cell injected by papermill's own `parameterize_notebook`), and
`get_spark` inside it finds the service's session (`SparkSession.getActiveSession()`). A Spark job refuses to run on a
local master here unless told to (`--allow-local-spark`, for tests): a job that silently computed on the driver alone
would look like it ran on EMR.

The arguments are what the launcher (`uhnw.ops.aws_jobs`) and the schedule's Step Functions tasks send:
- EMR Serverless: `NAME RUN_DATE [--param K V]... [--output URI]` as the entry point's arguments;
- Glue: `--uhnw_job NAME --run_date D [--K V]... [--uhnw_output URI]` among Glue's own (`--JOB_ID`, `--TempDir`, ...),
  which are ignored: only parameters the notebook declares are passed to it; `--UHNW_<SETTING> value` arguments become
  the environment `load_settings` reads (a Glue job has no environment of its own to set).
"""
from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

SPARK_JOBS = ("daily_pnl", "news_stream_to_silver")  # the notebooks that compute on Spark (the rest use Arrow/DuckDB)


def parse_entry_args(argv: list[str]) -> tuple[str, str, dict[str, str], str, bool]:
    """(job name, run date, `--key value` pairs as text, output URI or '', allow local Spark) from either calling form.
    Glue's own arguments come back among the pairs; `main` passes on only what the notebook declares."""
    positional, pairs, allow_local, i = [], {}, False, 0
    while i < len(argv):
        token = argv[i]
        if token == "--allow-local-spark": allow_local, i = True, i + 1
        elif token == "--param" and i + 2 < len(argv): pairs[argv[i + 1]], i = argv[i + 2], i + 3
        elif token.startswith("--"): pairs[token[2:]], i = (argv[i + 1] if i + 1 < len(argv) else ""), i + 2
        else: positional.append(token); i += 1
    name = pairs.pop("uhnw_job", positional[0] if positional else "")
    run_date = pairs.pop("run_date", positional[1] if len(positional) > 1 else "")
    output = pairs.pop("uhnw_output", pairs.pop("output", ""))
    if not name or not run_date: raise SystemExit("usage: NAME RUN_DATE [--param K V]... | --uhnw_job NAME --run_date D [--K V]...")
    return name, run_date, pairs, output, allow_local


def execute_in_process(notebook: Path, output: str, parameters: dict) -> None:
    """Execute `notebook` in this process's IPython shell with `parameters` injected as papermill does, and write the
    executed notebook to `output` (a path or `s3://` URI, through papermill's I/O). A failing cell raises `JobError`
    naming it, after the notebook with its error is written."""
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from papermill.iorw import load_notebook_node, write_ipynb
    from papermill.parameterize import parameterize_notebook

    from uhnw.ops.jobs import JobError
    nb = parameterize_notebook(load_notebook_node(str(notebook)), parameters, kernel_name="python3", language="python")
    shell = InteractiveShell.instance()
    # a cell's value becomes its execute_result below, as in a kernel; the terminal shell would also print it
    shell.displayhook.write_output_prompt = lambda: None
    shell.displayhook.write_format_data = lambda format_dict, md_dict=None: None
    failed = None
    for count, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), 1):
        with capture_output() as cap:
            result = shell.run_cell(cell.source, store_history=False, silent=False)
        outputs = []
        if cap.stdout: outputs.append(nbformat.v4.new_output("stream", name="stdout", text=cap.stdout))
        if cap.stderr: outputs.append(nbformat.v4.new_output("stream", name="stderr", text=cap.stderr))
        outputs += [nbformat.v4.new_output("display_data", data=o.data, metadata=o.metadata) for o in cap.outputs]
        error = result.error_before_exec or result.error_in_exec
        if error is None and result.result is not None:
            data, metadata = shell.display_formatter.format(result.result)
            outputs.append(nbformat.v4.new_output("execute_result", data=data, metadata=metadata, execution_count=count))
        if error is not None:
            outputs.append(nbformat.v4.new_output("error", ename=type(error).__name__, evalue=str(error), traceback=[]))
        cell.outputs, cell.execution_count = outputs, count
        if error is not None:
            failed = JobError(f"job notebook {notebook.name} failed in cell {count}: {type(error).__name__}: {error} "
                              f"(executed notebook: {output})")
            break
    nb.metadata.setdefault("uhnw", {})["executed_in_process_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    write_ipynb(nb, output)
    if failed is not None: raise failed


def cluster_spark(name: str, allow_local: bool):
    "The service's Spark session for a Spark job (created from the service's configuration if none is active yet)."
    from pyspark.sql import SparkSession
    spark = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
    master = spark.conf.get("spark.master", "")
    if master.startswith("local") and not allow_local:
        raise SystemExit(f"{name}: spark.master is {master!r} here; a managed service runs it on its cluster "
                         "(--allow-local-spark for a test)")
    return spark


def main(argv: list[str] | None = None) -> None:
    from uhnw.config import load_settings
    from uhnw.ops.aws_jobs import run_output_uri
    from uhnw.ops.jobs import check_parameters, job_notebook, notebook_parameters
    name, run_date, raw, output, allow_local = parse_entry_args(sys.argv[1:] if argv is None else argv)
    for key in [k for k in raw if k.startswith("UHNW_")]:  # Glue passes settings as job arguments, not as environment
        os.environ[key] = raw.pop(key)
    settings = load_settings()
    path = job_notebook(name)
    declared = notebook_parameters(path)
    params = {"run_date": run_date, **check_parameters(name, {k: v for k, v in raw.items() if k in declared and k != "run_date"},
                                                       declared)}
    if name in SPARK_JOBS: cluster_spark(name, allow_local)
    output = output or run_output_uri(settings, name, run_date)
    print(f"{name} for {run_date}: executing in process; executed notebook -> {output}", flush=True)
    execute_in_process(path, output, params)
    print(f"{name} for {run_date} done: {output}", flush=True)


if __name__ == "__main__":
    main()
