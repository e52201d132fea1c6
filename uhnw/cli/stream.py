"""`uhnw stream news`: the Spark stream of the news, alert, CRM and tick topics into bronze and silver.

Thin wiring over `uhnw.stream` (exported from `nbs/26_stream.ipynb`): the profile's Spark session, then `run_stream`
with the checkpoint, so a stopped or failed run resumes where it left off and writes nothing twice. Without
`--until-caught-up` or `--max-seconds` it runs until Ctrl-C, one micro-batch every `--trigger-seconds`.
"""
from __future__ import annotations

import typer

from uhnw.cli.common import current_settings, fail

app = typer.Typer(help="Spark Structured Streaming from Kafka into the lake (the seeds' EMR Spark Streaming → S3 Silver).",
                  no_args_is_help=True)


def summary(run) -> str:
    "One line for a person: what the run read and wrote, how it stopped."
    silver = ", ".join(f"silver.{t} +{n}" for t, n in sorted(run.silver.items())) or "silver unchanged"
    rejected = sum(run.rejected.values())
    return (f"{run.records} Kafka record(s) in {run.batches} micro-batch(es): {silver}"
            f"{f', {rejected} quarantined in silver.*_rejected' if rejected else ''}, bronze +{run.bronze_new}; "
            f"{run.stopped_by} after {run.seconds:.1f} s (checkpoint {run.checkpoint})")


@app.command("news")
def news(until_caught_up: bool = typer.Option(False, "--until-caught-up",
                                              help="stop once every record that exists at the start is in the lake"),
         max_seconds: float = typer.Option(None, "--max-seconds", min=1, help="stop after this many seconds, caught up or not"),
         checkpoint: str = typer.Option(None, "--checkpoint", help="checkpoint location (default: UHNW_HOME/checkpoints/news_stream)"),
         max_offsets_per_trigger: int = typer.Option(10_000, "--max-offsets-per-trigger", min=1,
                                                     help="Kafka records per micro-batch, all topics together"),
         trigger_seconds: float = typer.Option(5, "--trigger-seconds", min=0.1, help="micro-batch interval when running on"),
         master: str = typer.Option("local[*]", "--master", help="Spark master on the local profile"),
         profile: str = typer.Option(None, help="profile (default: UHNW_PROFILE, else local)")):
    "Stream raw-news-events and enriched-alerts into silver.news / silver.alerts, and the raw records into bronze."
    settings = current_settings(profile)
    from uhnw.stream import stream_until_caught_up
    try:
        run = stream_until_caught_up(settings, master=master, checkpoint=checkpoint, until_caught_up=until_caught_up,
                                     max_seconds=max_seconds, max_offsets_per_trigger=max_offsets_per_trigger,
                                     trigger_seconds=trigger_seconds)
    except KeyboardInterrupt:
        fail("stopped; the next run resumes from the checkpoint", 130)
    except Exception as e:  # a Spark or Kafka failure arrives as a Py4J/PySpark error: one line, the first of its message
        fail(f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]}")
    typer.echo(summary(run))
