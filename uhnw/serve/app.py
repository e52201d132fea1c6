"""The one app of `uhnw serve api`: its lifespan opens what the surfaces share on `app.state`, and it mounts one
router per surface: the session (`uhnw.serve.session`: `POST /auth/login`, `/auth/logout`), the workstation's REST API
(`uhnw.serve.rest_api`: `/api/*`), GraphQL (`uhnw.serve.graphql_api`: `/graphql`), the RM alerts
(`uhnw.serve.alerts_api`: WebSocket `/ws`, `GET /alerts`), the news webhook (`uhnw.serve.webhook`:
`POST /webhooks/news`), the service's `/health` and `/metrics` (`uhnw.serve.health`) and the page (`uhnw.serve.page`:
`/`). Every HTTP response carries the security headers (`SecurityHeaders`) and request bodies are bounded (`BodyLimit`).
"""
from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import os
from contextlib import asynccontextmanager

from fastapi import FastAPI

from uhnw.auth import TokenVerifier, verifier_from_env
from uhnw.config import Settings, resolve_secret
from uhnw.ingest.news import NO_SECRETS, parse_webhook_secrets
from uhnw.serve import alerts_api, health, rest_api, session, webhook
from uhnw.serve.alerts import AlertFeed, AlertMetrics, AuditBatch, DbPool, Hub, alert_group
from uhnw.serve.ticks import TickFeed, TickHub, tick_group
from uhnw.workstation import BookCache

__all__ = ["create_app"]

log = logging.getLogger("uhnw.serve.app")


def create_app(settings: Settings,
               verifier: TokenVerifier | None = None,  # default: `uhnw.auth.verifier_from_env(settings)`
               port: int | None = None,  # the port served, to name this replica's consumer group
               group: str | None = None,  # default: `alert_group(settings, port)`
               start_feed: bool = True) -> FastAPI:
    "The FastAPI app of `uhnw serve api`."

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        st = app.state
        st.settings, st.verifier = settings, verifier or verifier_from_env(settings)
        st.metrics, st.hub, st.pool, st.books = AlertMetrics(), Hub(), DbPool(settings, size=8), BookCache()
        st.audits = AuditBatch(st.pool)  # the live frames' audit rows, one commit per run pushed
        st.feed = AlertFeed(settings, st.hub, asyncio.get_running_loop(), st.metrics, group or alert_group(settings, port))
        st.ticks = TickHub()  # live prices for the socket's `ticks` channel (uhnw.serve.ticks)
        st.tick_feed = TickFeed(settings, st.ticks, asyncio.get_running_loop(), tick_group(settings, port))
        # the providers' shared secrets, or on aws a `secretsmanager:` reference to them (resolved once, here)
        st.webhook_secrets = parse_webhook_secrets(resolve_secret(os.environ.get("UHNW_WEBHOOK_SECRETS", ""), settings.region))
        if not st.webhook_secrets:
            log.warning("%s: POST /webhooks/news answers 503 to every provider until it is set", NO_SECRETS)
        st.news_producer = webhook.AckingProducer(settings)
        st.webhook_backlog = webhook.BacklogMonitor(settings).start()  # admission: 429/503 past the hot path's backlog
        if start_feed:
            st.feed.start()
            st.tick_feed.start()
        # What the service imported and built at start-up lives as long as the process: moved out of the collector's
        # reach, so a full collection walks only what requests allocate (it walked every module and object graph and
        # stalled requests for tens of milliseconds, the tail of `uhnw bench api`).
        importlib.import_module("uhnw.portfolio_health")  # pandas and plotly, for /api/book/health: imported before the freeze
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if start_feed: await asyncio.gather(asyncio.to_thread(st.feed.stop), asyncio.to_thread(st.tick_feed.stop))
            st.pool.close()
            await st.news_producer.aclose()
            await asyncio.to_thread(st.webhook_backlog.stop)

    app = FastAPI(title="uhnw API", version="1", lifespan=lifespan,
                  description="The RM workstation: REST, GraphQL and WebSocket over one authorization model (uhnw.access).")
    surfaces = [session, rest_api, alerts_api, webhook, health]
    for optional in ("graphql_api", "page"):  # built alongside; mounted when present
        try: surfaces.append(importlib.import_module(f"uhnw.serve.{optional}"))
        except ModuleNotFoundError as e:
            if e.name != f"uhnw.serve.{optional}": raise
    for surface in surfaces:
        mount = getattr(surface, "mount", None)
        if mount: mount(app, settings)
        else: app.include_router(surface.router)
    app.add_middleware(session.BodyLimit)
    app.add_middleware(session.SecurityHeaders)
    return app
