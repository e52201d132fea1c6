"""The demo's other three sources and the stream into the lake, run while the workstation is serving (`uhnw.ops.demo`).

- CRM: a Salesforce CDC change to a demo client (an alias added; the book's second RM assigned through a `Coverage__c`
  record), published to `crm-cdc-events` and applied by the CRM applier until the topic is idle;
- market data: synthetic ticks for the book's instruments, which the API's tick consumer pushes to the page's client view
  (kept flowing in the background while the demo serves, see `LiveTicks`);
- niche scrapers: two saved real pages served from loopback, scraped into bronze and run through the web ETL;
- the Spark stream: its job notebook, `raw-news-events` and `enriched-alerts` into `silver.news` / `silver.alerts`
  until caught up.

Wiring only: every step calls the package; each returns counts for the demo's JSON line.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from uhnw.config import Settings

__all__ = ["run_sources_demo", "LiveTicks", "DEMO_TICK_SECONDS"]

DEMO_TICK_SECONDS = 5.0  # ticks published in one pass (`--once`)


def _say(msg: str) -> None:
    print(f"    {msg}", flush=True)


def crm_demo(settings: Settings, client_id: str, other_rm: str) -> dict[str, Any]:
    "Add an alias to `client_id` and assign `other_rm` to it through CDC, then apply the stream until idle."
    from uhnw.ingest.crm import demo_changes
    from uhnw.ops.db import connect
    from uhnw.serve.crm import serve_crm
    with connect(settings) as conn:
        name = conn.execute("select full_name from clients where client_id = %s", (client_id,)).fetchone()[0]
    alias = f"{name.split()[0][0]}. {name.split()[-1]}"  # the initial and surname form a bank's CRM often carries
    events = demo_changes(settings, client_id, add_alias=alias, cover_rm=other_rm)
    stats, actions = serve_crm(settings, until_idle=True, idle_seconds=1.0)
    with connect(settings) as conn:
        aliases = conn.execute("select aliases from clients where client_id = %s", (client_id,)).fetchone()[0]
        covered = [r[0] for r in conn.execute("select rm_id from rm_coverage where client_id = %s order by rm_id", (client_id,))]
    _say(f"crm: {len(events)} CDC event(s) for {client_id} ({name}) applied: aliases now {aliases}; covered by {', '.join(covered)}")
    return {"crm_events_published": len(events), "crm_events_applied": sum(actions.values()), "crm_client": client_id,
            "crm_client_covered_by": covered}


def ticks_demo(settings: Settings, seconds: float = DEMO_TICK_SECONDS) -> dict[str, Any]:
    "Publish synthetic ticks for the book's instruments for `seconds`."
    from uhnw.ingest.market import demo_ticks
    got = demo_ticks(settings, seconds)
    _say(f"market: {got['published']} ticks published for the book's instruments ({got.get('by_kind', {})})")
    return {"ticks_published": got["published"]}


def web_demo(settings: Settings) -> dict[str, Any]:
    "Scrape two saved real pages from loopback into bronze and run the web ETL into `silver.web_articles`."
    from uhnw.ops.web_demo import run_web_demo
    got = run_web_demo(settings, log=_say)
    return {"web_pages_scraped": len(got["scraped"]), "web_articles": got["articles"], "web_rejected": got["rejected"]}


def stream_demo(settings: Settings) -> dict[str, Any]:
    """Run the stream's job notebook (`jobs/news_stream_to_silver.ipynb`, as the scheduler runs it) until caught up, then
    count `silver.news` / `silver.alerts` the way an analyst would (SQL)."""
    from datetime import UTC, datetime

    from uhnw.ops.jobs import run_job
    from uhnw.query import run_query
    job = run_job(settings, "news_stream_to_silver", datetime.now(UTC).date().isoformat())
    counts = {t: int(run_query(settings, f"select count(*) from {t}").rows[0][0]) for t in ("silver.news", "silver.alerts")}
    _say(f"stream: jobs/news_stream_to_silver.ipynb caught up in {job.seconds:.1f} s ({job.output}); "
         f"silver.news {counts['silver.news']} rows, silver.alerts {counts['silver.alerts']} rows (uhnw sql)")
    return {"stream_job_seconds": round(job.seconds, 1), "silver_news_rows": counts["silver.news"],
            "silver_alerts_rows": counts["silver.alerts"]}


def run_sources_demo(settings: Settings, stage: Callable[[str], Any], client_id: str, other_rm: str) -> dict[str, Any]:
    "The four steps, each timed by `stage(name)` (a context manager); returns their figures."
    figures: dict[str, Any] = {}
    with stage("crm_cdc"): figures |= crm_demo(settings, client_id, other_rm)
    with stage("market_ticks"): figures |= ticks_demo(settings)
    with stage("web_scrape_etl"): figures |= web_demo(settings)
    with stage("news_stream"): figures |= stream_demo(settings)
    return figures


class LiveTicks:
    "Synthetic ticks in a background thread while the demo serves, until `stop()`."

    def __init__(self, settings: Settings, seconds: float = 24 * 3600):
        from uhnw.ingest.market import demo_ticks
        self._stop = threading.Event()
        self.result: dict | None = None
        self.error: BaseException | None = None

        def run():
            try: self.result = demo_ticks(settings, seconds, stop=self._stop)
            except BaseException as e:  # reported by stop(); the demo goes on without live prices
                self.error = e
        self._thread = threading.Thread(target=run, name="demo-ticks", daemon=True)

    def start(self) -> LiveTicks:
        self._thread.start()
        return self

    def stop(self) -> int:
        "Stop publishing; the number of ticks published."
        self._stop.set()
        self._thread.join(timeout=10)
        if self.error is not None: _say(f"market: live ticks stopped by {self.error!r}")
        return (self.result or {}).get("published", 0)
