"""`/health` and `/metrics` of `uhnw serve api`: the alert feed's consumer and its lag, PostgreSQL, the open sockets.

Reads from `app.state` (set by `uhnw.serve.app.create_app`): `feed`, `pool`, `hub` and `metrics`.
"""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["router"]

router = APIRouter()


@router.get("/health")
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


@router.get("/metrics")
async def metrics(request: Request):
    "Prometheus metrics of the alert service."
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
