"""The RM surface of `uhnw serve api`: the alert WebSocket `/ws` and `GET /alerts`.

Authentication (RM tokens, `uhnw.auth`): the WebSocket takes the token in the `Sec-WebSocket-Protocol` header as the
pair `uhnw.bearer, <token>` (what a browser can send: `new WebSocket(url, ["uhnw.bearer", token])`; the server
answers with the `uhnw.bearer` subprotocol) or in an `Authorization: Bearer <token>` header (other clients). Tokens
are never taken from the query string, which ends up in access logs. `GET /alerts` takes `Authorization: Bearer`.

WebSocket `/ws?last_alert_id=N`: frames are JSON text (`uhnw.alerts`): `hello`, the replayed `alert`s with id > N
that the RM may see, one `live` marker, then live `alert`s. Without `last_alert_id` only live alerts are sent.
A browser page authenticates with its session cookie (same origin only: a socket whose `Origin` is not this server's
is closed with 4403 before anything is read). Close codes: 4401 missing/invalid/expired token (also when the token
expires while connected), 4403 cross-origin, 4400 bad query
parameter, 1013 the alert store is unavailable (retry later), 1011 unexpected server error.

The `ticks` channel (filled by the market-data source): the client sends `{"type": "subscribe", "channel": "ticks"}`
and gets `{"type": "subscribed", "channel": "ticks", "instruments": [...]}` (the instruments its readable clients
hold), then `{"type": "tick", "instrument_id", "price", "currency", "at", "change_pct"}` frames
(`uhnw.workstation.tick_frame`): first the latest price held of each, then at most `uhnw.market.FRAMES_PER_SECOND`
frames a second per instrument, the latest price winning (`uhnw.serve.ticks`; `change_pct` against the synced close).
When the book changes while subscribed (a coverage change), a new `subscribed` frame says what it carries now.

A `last_alert_id` (or `GET /alerts?after=`) above the newest stored alert id is refused, not clamped
(`uhnw.alerts.cursor_problem`): the socket closes with 4400 and a reason naming the newest id ("last_alert_id N is
past the newest alert (M): send at most that, or none (live only)"), `GET /alerts` answers 400 with it. Such a cursor
would otherwise match nothing until new ids catch up with it, and the RM would see a healthy, silent session.

Reads from `app.state` (set by `uhnw.serve.app.create_app`): `verifier`, `hub`, `pool` and `metrics`.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import psycopg
from fastapi import APIRouter, Query, Request, WebSocket
from fastapi.responses import JSONResponse

from uhnw.access import AccessError, audited_read, load_user, visible_clients
from uhnw.alerts import MAX_ALERT_ID, cursor_problem, hello_frame, latest_alert_id
from uhnw.auth import AuthError, Principal, TokenVerifier
from uhnw.serve.alerts import audited_frames, stream_alerts
from uhnw.serve.session import COOKIE, same_origin
from uhnw.serve.ticks import TickHub, previous_closes
from uhnw.workstation import book_instruments, subscribed_frame

__all__ = ["SUBPROTOCOL", "CLOSE_UNAUTHORIZED", "CLOSE_FORBIDDEN", "CLOSE_BAD_REQUEST", "CLOSE_TRY_LATER", "CLOSE_ERROR", "router"]

log = logging.getLogger("uhnw.serve.alerts_api")
router = APIRouter()
SUBPROTOCOL = "uhnw.bearer"
CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN, CLOSE_BAD_REQUEST, CLOSE_TRY_LATER, CLOSE_ERROR = 4401, 4403, 4400, 1013, 1011


def _bearer(header: str | None) -> str:
    scheme, _, token = (header or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _ws_token(ws: WebSocket) -> tuple[str, str | None]:
    "The token a socket presented (subprotocol pair, bearer header, else the session cookie), and the subprotocol to answer with."
    offered = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    if SUBPROTOCOL in offered:
        i = offered.index(SUBPROTOCOL)
        return (offered[i + 1] if i + 1 < len(offered) else ""), SUBPROTOCOL
    return _bearer(ws.headers.get("authorization")) or ws.cookies.get(COOKIE, ""), None


async def _verify(verifier: TokenVerifier, token: str) -> Principal:
    if not token: raise AuthError("missing token")
    return await asyncio.to_thread(verifier.verify_token, token)  # a JWKS fetch is blocking I/O


@router.websocket("/ws")
async def alert_socket(ws: WebSocket):
    "The RM's alert feed: replay after `last_alert_id`, then live alerts, until the token expires."
    st = ws.app.state
    token, subprotocol = _ws_token(ws)
    await ws.accept(subprotocol=subprotocol)  # accept first: a close code and reason can only be sent on an open socket
    if not same_origin(ws.headers, ws.url.scheme):  # a cross-site page must not ride the RM's cookie
        await ws.close(CLOSE_FORBIDDEN, "cross-origin WebSocket refused"); return
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
    if after is not None:
        try:
            problem = cursor_problem(after, MAX_ALERT_ID) or cursor_problem(after, await st.pool.run(latest_alert_id))
        except psycopg.OperationalError as e:
            log.error("alert session of %s not started: %s", principal.rm_id, e)
            await _close(ws, CLOSE_TRY_LATER, "alert store unavailable, reconnect with last_alert_id"); return
        if problem:
            log.warning("alert session of %s refused: %s", principal.rm_id, problem)
            await ws.close(CLOSE_BAD_REQUEST, problem); return
    try:
        user = await st.pool.run(load_user, principal.rm_id)
    except AccessError as e:
        await ws.close(CLOSE_UNAUTHORIZED, str(e)[:120]); return
    except psycopg.OperationalError:
        await _close(ws, CLOSE_TRY_LATER, "alert store unavailable, reconnect with last_alert_id"); return
    st.metrics.sockets.inc()
    try:
        await ws.send_text(json.dumps(hello_frame(principal.rm_id, principal.expires_at, after)))
        pump = asyncio.create_task(stream_alerts(ws.send_text, principal.rm_id, after, st.hub, st.pool, st.metrics,
                                                 user.reads_every_client, st.audits, user))
        reader = asyncio.create_task(_client_frames(ws, principal.rm_id, st.pool, getattr(st, "ticks", None),
                                                    getattr(st, "tick_book_refresh_seconds", BOOK_REFRESH_SECONDS)))
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


@router.get("/alerts", responses={400: {"description": "a cursor past the newest alert"},
                                   401: {"description": "missing, invalid or expired bearer token"}})
async def list_alerts(request: Request, after: int = Query(0, ge=0, le=MAX_ALERT_ID, description="return alerts with alert_id > after"),
                      limit: int = Query(100, ge=1, le=1000)):
    "The caller's alerts (clients they cover) after a cursor, oldest first."
    st = request.app.state
    try:
        principal = await _verify(st.verifier, _bearer(request.headers.get("authorization")))
    except AuthError as e:
        return JSONResponse({"detail": str(e)}, status_code=401,
                            headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{e}"'})
    try:
        user = await st.pool.run(load_user, principal.rm_id)
    except AccessError as e:
        return JSONResponse({"detail": str(e)}, status_code=401)
    frames = await st.pool.run(audited_frames, principal.rm_id, after, limit, user.reads_every_client)
    if not frames and after and (problem := cursor_problem(after, await st.pool.run(latest_alert_id))):
        return JSONResponse({"detail": problem.replace("last_alert_id", "after", 1)}, status_code=400)
    return {"rm_id": principal.rm_id, "alerts": frames, "last_alert_id": frames[-1]["alert_id"] if frames else after}


BOOK_REFRESH_SECONDS = 10.0  # how often a ticks subscription checks whether the RM's book changed (CRM coverage, a sync)


async def _client_frames(ws: WebSocket, rm_id: str, pool, ticks: TickHub | None = None,
                         refresh_seconds: float = BOOK_REFRESH_SECONDS) -> None:
    """Read client frames until the client goes away: `{"type": "subscribe", "channel": "ticks"}` is answered with the
    instruments of the caller's book (`uhnw.workstation.subscribed_frame`), then their conflated `tick` frames
    (`uhnw.serve.ticks`; a new subscription replaces the previous one); anything else gets an `error` frame. While
    subscribed, the book is re-checked every `refresh_seconds`: a client gained or lost (a CRM coverage change) sends a
    new `subscribed` frame and moves the subscription to the book's instruments now."""
    sub, follower = _TickSubscription(ws, rm_id, pool, ticks), None
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect": return
            try: frame = json.loads(message.get("text") or "")
            except ValueError: frame = None
            if isinstance(frame, dict) and frame.get("type") == "subscribe" and frame.get("channel") == "ticks":
                await sub.renew()
                if follower is None and ticks is not None: follower = asyncio.create_task(sub.follow(refresh_seconds))
            else:
                await ws.send_text(json.dumps({"type": "error", "reason": 'unknown frame: send {"type": "subscribe", "channel": "ticks"}'}))
    finally:
        if follower is not None:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
        await sub.stop()


class _TickSubscription:
    "One socket's `ticks` subscription: renewed on request, and whenever the RM's cleared clients change."

    def __init__(self, ws: WebSocket, rm_id: str, pool, ticks: TickHub | None):
        self.ws, self.rm_id, self.pool, self.ticks = ws, rm_id, pool, ticks
        self.session, self.pump, self.cleared = None, None, None
        self.lock = asyncio.Lock()  # the reader and the follower never renew at once

    async def renew(self) -> None:
        async with self.lock:
            instruments, self.cleared = await self.pool.run(_book_instruments, self.rm_id)
            await self.ws.send_text(json.dumps(subscribed_frame("ticks", instruments)))
            if self.ticks is None: return
            closes = await self.pool.run(previous_closes, instruments)
            await self.stop()
            self.session = self.ticks.subscribe(instruments, closes)
            self.pump = asyncio.create_task(self.session.pump(lambda f: self.ws.send_text(json.dumps(f))))

    async def follow(self, every: float) -> None:
        "Renew when the cleared clients differ from the subscription's (a read of ids only; the renewal is audited)."
        while True:
            await asyncio.sleep(every)
            try:
                if await self.pool.run(_cleared_ids, self.rm_id) != self.cleared: await self.renew()
            except psycopg.OperationalError as e:  # the store is away: keep the prices flowing, look again next time
                log.warning("ticks subscription of %s: book not re-checked: %s", self.rm_id, e)

    async def stop(self) -> None:
        if self.pump is None: return
        self.ticks.unsubscribe(self.session)
        self.pump.cancel()
        await asyncio.gather(self.pump, return_exceptions=True)
        self.session, self.pump = None, None


def _cleared_ids(conn, user_id: str) -> frozenset[str]:
    return frozenset(visible_clients(conn, load_user(conn, user_id)))


def _book_instruments(conn, user_id: str) -> tuple[list[str], frozenset[str]]:
    "The instruments of the caller's book and the cleared client ids, with the read's audit row (the list says what the book holds)."
    user = load_user(conn, user_id)

    def read(c):
        ids = visible_clients(c, user)
        return (book_instruments(c, ids), frozenset(ids)), ids
    return audited_read(conn, user, "socket", "subscribe ticks", read)


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception): await ws.close(code, reason)
