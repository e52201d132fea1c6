"""The one app of `uhnw serve api`: the RM alert WebSocket `/ws`, `GET /alerts`, `/health`, `/metrics`, and the news webhook.

Authentication (RM tokens, `uhnw.auth`): the WebSocket takes the token in the `Sec-WebSocket-Protocol` header as the
pair `uhnw.bearer, <token>` (what a browser can send: `new WebSocket(url, ["uhnw.bearer", token])`; the server
answers with the `uhnw.bearer` subprotocol) or in an `Authorization: Bearer <token>` header (other clients). Tokens
are never taken from the query string, which ends up in access logs. `GET /alerts` takes `Authorization: Bearer`.

WebSocket `/ws?last_alert_id=N`: frames are JSON text (`uhnw.alerts`): `hello`, the replayed `alert`s with id > N
that the RM may see, one `live` marker, then live `alert`s. Without `last_alert_id` only live alerts are sent.
Close codes: 4401 missing/invalid/expired token (also when the token expires while connected), 4400 bad query
parameter, 1013 the alert store is unavailable (retry later), 1011 unexpected server error.
"""
from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI, Query, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from uhnw.alerts import alerts_for_rm, hello_frame
from uhnw.auth import AuthError, Principal, TokenVerifier, verifier_from_env
from uhnw.config import Settings
from uhnw.serve.alerts import AlertFeed, AlertMetrics, DbPool, Hub, alert_group, stream_alerts

__all__ = ["SUBPROTOCOL", "CLOSE_UNAUTHORIZED", "CLOSE_BAD_REQUEST", "create_app"]

log = logging.getLogger("uhnw.serve.app")
SUBPROTOCOL = "uhnw.bearer"
CLOSE_UNAUTHORIZED, CLOSE_BAD_REQUEST, CLOSE_TRY_LATER, CLOSE_ERROR = 4401, 4400, 1013, 1011


def _optional(module: str):
    "A sibling module that may not exist yet (the webhook is built in parallel)."
    try: return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and module.startswith(e.name): return None
        raise


def _bearer(header: str | None) -> str:
    scheme, _, token = (header or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _ws_token(ws: WebSocket) -> tuple[str, str | None]:
    "The token a socket presented, and the subprotocol to answer with."
    offered = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    if SUBPROTOCOL in offered:
        i = offered.index(SUBPROTOCOL)
        return (offered[i + 1] if i + 1 < len(offered) else ""), SUBPROTOCOL
    return _bearer(ws.headers.get("authorization")), None


async def _verify(verifier: TokenVerifier, token: str) -> Principal:
    if not token: raise AuthError("missing token")
    return await asyncio.to_thread(verifier.verify_token, token)  # a JWKS fetch is blocking I/O


def create_app(settings: Settings,
               verifier: TokenVerifier | None = None,  # default: `uhnw.auth.verifier_from_env(settings)`
               port: int | None = None,  # the port served, to name this replica's consumer group
               group: str | None = None,  # default: `alert_group(settings, port)`
               start_feed: bool = True) -> FastAPI:
    "The FastAPI app of `uhnw serve api`."
    webhook = _optional("uhnw.serve.webhook")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        st = app.state
        st.settings, st.verifier = settings, verifier or verifier_from_env(settings)
        st.metrics, st.hub, st.pool = AlertMetrics(), Hub(), DbPool(settings)
        st.feed = AlertFeed(settings, st.hub, asyncio.get_running_loop(), st.metrics, group or alert_group(settings, port))
        if webhook is not None:
            news = _optional("uhnw.ingest.news")
            parse = getattr(news, "parse_webhook_secrets", None)
            st.webhook_secrets = parse(os.environ.get("UHNW_WEBHOOK_SECRETS", "")) if parse else {}
            st.news_producer = webhook.AckingProducer(settings)
        if start_feed: st.feed.start()
        try:
            yield
        finally:
            await asyncio.to_thread(st.feed.stop)
            st.pool.close()
            if getattr(st, "news_producer", None) is not None: await st.news_producer.aclose()

    app = FastAPI(title="uhnw API", lifespan=lifespan)
    if webhook is not None: app.include_router(webhook.router)

    @app.websocket("/ws")
    async def alert_socket(ws: WebSocket):
        "The RM's alert feed: replay after `last_alert_id`, then live alerts, until the token expires."
        st = ws.app.state
        token, subprotocol = _ws_token(ws)
        await ws.accept(subprotocol=subprotocol)  # accept first: a close code and reason can only be sent on an open socket
        try:
            principal = await _verify(st.verifier, token)
        except AuthError as e:
            await ws.close(CLOSE_UNAUTHORIZED, str(e)[:120]); return
        raw = ws.query_params.get("last_alert_id")
        try:
            after = None if raw in (None, "") else int(raw)
            if after is not None and after < 0: raise ValueError
        except ValueError:
            await ws.close(CLOSE_BAD_REQUEST, "last_alert_id must be a non-negative integer"); return
        st.metrics.sockets.inc()
        try:
            await ws.send_text(json.dumps(hello_frame(principal.rm_id, principal.expires_at, after)))
            pump = asyncio.create_task(stream_alerts(lambda f: ws.send_text(json.dumps(f)), principal.rm_id, after,
                                                     st.hub, st.pool, st.metrics))
            reader = asyncio.create_task(_until_disconnect(ws))
            done, _ = await asyncio.wait({pump, reader}, timeout=max(principal.seconds_left(), 0),
                                         return_when=asyncio.FIRST_COMPLETED)
            pump.cancel(); reader.cancel()
            await asyncio.gather(pump, reader, return_exceptions=True)
            if not done:
                await _close(ws, CLOSE_UNAUTHORIZED, "token expired")
            elif pump in done and pump.exception() is not None:
                e = pump.exception()
                log.error("alert session of %s failed: %s: %s", principal.rm_id, type(e).__name__, e)
                if isinstance(e, psycopg.OperationalError):
                    await _close(ws, CLOSE_TRY_LATER, "alert store unavailable, reconnect with last_alert_id")
                else:
                    await _close(ws, CLOSE_ERROR, "server error")
        finally:
            st.metrics.sockets.dec()

    @app.get("/alerts")
    async def list_alerts(request: Request, after: int = Query(0, ge=0, description="return alerts with alert_id > after"),
                          limit: int = Query(100, ge=1, le=1000)):
        "The caller's alerts (clients they cover) after a cursor, oldest first."
        st = request.app.state
        try:
            principal = await _verify(st.verifier, _bearer(request.headers.get("authorization")))
        except AuthError as e:
            return JSONResponse({"detail": str(e)}, status_code=401,
                                headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{e}"'})
        frames = await st.pool.run(alerts_for_rm, principal.rm_id, after, limit)
        return {"rm_id": principal.rm_id, "alerts": frames, "last_alert_id": frames[-1]["alert_id"] if frames else after}

    @app.get("/health")
    async def health(request: Request):
        "Consumer alive and its lag per partition, PostgreSQL reachable, sockets open; 503 when degraded."
        st = request.app.state
        try:
            await asyncio.wait_for(st.pool.run(lambda c: c.execute("select 1").fetchone()), 3)
            dbh = {"reachable": True}
        except Exception as e:
            dbh = {"reachable": False, "error": f"{type(e).__name__}: {e}"}
        consumer = st.feed.health()
        ok = consumer["alive"] and dbh["reachable"]
        body = {"status": "ok" if ok else "degraded", "consumer": consumer, "db": dbh, "sockets": st.hub.open_sessions()}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics")
    async def metrics(request: Request):
        "Prometheus metrics of the alert service."
        return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


async def _until_disconnect(ws: WebSocket) -> None:
    "Read (and ignore) client frames until the client goes away."
    while (await ws.receive())["type"] != "websocket.disconnect": pass


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception): await ws.close(code, reason)
