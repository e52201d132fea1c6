"""The one app of `uhnw serve api`: its lifespan opens what the surfaces share on `app.state`, and it mounts one
router per surface: the RM alerts (`uhnw.serve.alerts_api`: WebSocket `/ws`, `GET /alerts`), the news webhook
(`uhnw.serve.webhook`: `POST /webhooks/news`) and the service's `/health` and `/metrics` (`uhnw.serve.health`).
"""
from __future__ import annotations

import asyncio
import logging
import os
from contextlib import asynccontextmanager

from fastapi import FastAPI

from uhnw.auth import TokenVerifier, verifier_from_env
from uhnw.config import Settings
from uhnw.ingest.news import NO_SECRETS, parse_webhook_secrets
from uhnw.serve import alerts_api, health, webhook
from uhnw.serve.alerts import AlertFeed, AlertMetrics, DbPool, Hub, alert_group

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
        st.metrics, st.hub, st.pool = AlertMetrics(), Hub(), DbPool(settings)
        st.feed = AlertFeed(settings, st.hub, asyncio.get_running_loop(), st.metrics, group or alert_group(settings, port))
        st.webhook_secrets = parse_webhook_secrets(os.environ.get("UHNW_WEBHOOK_SECRETS", ""))
        if not st.webhook_secrets:
            log.warning("%s: POST /webhooks/news answers 503 to every provider until it is set", NO_SECRETS)
        st.news_producer = webhook.AckingProducer(settings)
        if start_feed: st.feed.start()
        try:
            yield
        finally:
            if start_feed: await asyncio.to_thread(st.feed.stop)
            st.pool.close()
            await st.news_producer.aclose()

    app = FastAPI(title="uhnw API", lifespan=lifespan)
    for surface in (alerts_api, webhook, health):
        app.include_router(surface.router)
    return app
