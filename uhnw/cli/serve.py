"""`uhnw serve api` and `uhnw token issue`: wiring over `uhnw.serve.app` and `uhnw.auth`."""
from __future__ import annotations

import os

import typer

from uhnw.cli.common import current_settings, fail
from uhnw.cli.crm import serve_crm

serve_app = typer.Typer(help="Run the platform's services.", no_args_is_help=True)
token_app = typer.Typer(help="RM tokens of the local issuer (demo and tests).", no_args_is_help=True)
serve_app.command("crm")(serve_crm)  # the CDC applier: its options live with the crm commands


GIL_SWITCH_INTERVAL_S = 0.001
# A service thread that wakes from a blocking call (the alert feed after each PostgreSQL round trip, a delivery report)
# waits for the GIL until the running thread yields it: at the interpreter's default 5 ms, a batch of several round trips
# queued behind the busy event loop for tens of ms. At 1 ms the p99 at 200 articles/s was lower in 5 of 5 interleaved
# pairs of runs (BENCHMARKS.md, issue 17, session 5).


def _short_gil_switch() -> None:
    import sys
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


@serve_app.command("api")
def api(host: str = typer.Option("127.0.0.1", help="interface to listen on"),
        port: int = typer.Option(8080, help="port to listen on"),
        log_level: str = typer.Option("info", help="uvicorn log level")):
    "Serve the API: the RM alert WebSocket /ws, GET /alerts, /health, /metrics and the news webhook."
    import uvicorn

    from uhnw.serve.app import create_app
    settings = current_settings()
    _short_gil_switch()
    # no permessage-deflate: an alert frame is 1-2 KB, and compressing it once per socket cost the event loop more CPU
    # than the bytes it saved (uvloop and httptools are uvicorn's defaults when installed, as they are)
    uvicorn.run(create_app(settings, port=port), host=host, port=port, log_level=log_level, ws_per_message_deflate=False)


@token_app.command("issue")
def issue(rm: str = typer.Option(..., "--rm", help="the RM id (the token's sub), e.g. RM-01"),
          ttl: int = typer.Option(3600, "--ttl", help="seconds until the token expires")):
    "Print a token of the local issuer for an RM."
    from uhnw.auth import AuthError, issue_token, local_secret
    if ttl <= 0: fail(f"--ttl must be a positive number of seconds (got {ttl}): such a token would be expired when printed")
    if os.environ.get("UHNW_AUTH_JWKS_URL"):
        typer.echo("warning: UHNW_AUTH_JWKS_URL is set: the API validates identity-provider tokens and will refuse this one", err=True)
    try:
        typer.echo(issue_token(rm, local_secret(current_settings()), ttl=ttl))
    except (AuthError, ValueError) as e:
        fail(f"{e}")


@serve_app.command("hotpath")
def hotpath(instance: str = typer.Option(None, help="instance name: the transactional id is uhnw-hotpath-<instance> (default: host name)"),
            host: str = typer.Option("127.0.0.1", help="interface of the /health and /metrics server"),
            metrics_port: int = typer.Option(9108, help="port of the /health and /metrics server"),
            refresh_seconds: float = typer.Option(10.0, help="how often to check PostgreSQL `clients` for changes"),
            max_batch: int = typer.Option(200, help="most messages per transaction"),
            max_wait_ms: int = typer.Option(0, help="ms to wait for more after a batch's first message (0: take what is fetched)"),
            min_txn_interval_ms: float = typer.Option(0, help="shortest time between the starts of two transactions, in ms "
                                                      "(fewer, larger transactions: less broker CPU per article, more latency)"),
            model_version: str = typer.Option("latest", help="relevance model version (default: the promoted one)"),
            log_level: str = typer.Option("info", help="log level")):
    "The streaming enrichment service: raw-news-events → enrich → enriched-alerts, exactly once (Kafka transactions)."
    import logging

    from uhnw.serve.hotpath import HotpathError, serve_hotpath
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _short_gil_switch()
    try:
        code = serve_hotpath(current_settings(), instance, host, metrics_port, refresh_seconds, max_batch, max_wait_ms, model_version,
                             min_txn_interval_ms=min_txn_interval_ms)
    except HotpathError as e:
        fail(f"{e}")
    raise typer.Exit(code)
