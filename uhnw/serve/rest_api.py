"""The workstation's REST surface, `/api/*` of `uhnw serve api`: the caller's profile, book, clients, positions, alerts
and feedback verdicts, read from PostgreSQL (never the lake) through `uhnw.workstation`.

Every route that returns client data asks `uhnw.access.visible_clients` which of the clients it is about the caller
may read, and returns only those; a client outside the caller's book answers 404 with the same body whether it exists
or not. Every such read writes one `audit_log` row in its own transaction (`uhnw.serve.session.read_audited`).
Unknown query parameters, bad dates, out-of-range limits, unknown body fields and malformed JSON answer 4xx.
"""
from __future__ import annotations

import json
from datetime import date as Date
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from uhnw.access import can_read, visible_clients
from uhnw.workstation import (
    VERDICTS,
    BookCache,
    alert_client,
    alerts_page,
    clients_by_id,
    latest_date,
    metrics_history,
    metrics_on,
    positions_on,
    record_feedback,
)

from .session import Caller, caller, no_unknown_query, read_audited, require_csrf

__all__ = ["router", "CLIENT_ROUTES"]

BAD_INPUT = {400: {"description": "bad input: an unknown query parameter, `from` after `to`, a body that is not JSON"}}
router = APIRouter(prefix="/api", tags=["workstation"], dependencies=[Depends(no_unknown_query)], responses=BAD_INPUT)
ClientId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$", description="client master id")
NOT_IN_BOOK = {404: {"description": "no such client in the caller's book (the same answer whether it exists or not)"}}
UNAUTHORIZED = {401: {"description": "missing, invalid or expired token or session"}}


class Metrics(BaseModel):
    date: Date
    base_currency: str | None = None
    market_value: float | None = None
    daily_pnl: float | None = None
    positions_count: int | None = None
    unpriced_positions: int | None = None
    reporting_currency: str | None = None
    market_value_reporting: float | None = None
    daily_pnl_reporting: float | None = None


class Client(BaseModel):
    client_id: str
    full_name: str
    aliases: list[str] = []
    organizations: list[str] = []
    city: str | None = None
    country: str | None = None
    rm_id: str | None = None
    base_currency: str | None = None
    metrics: Metrics | None = None


class Me(BaseModel):
    user_id: str
    display_name: str
    role: Literal["rm", "compliance"]
    book_size: int
    coverage: list[str]
    reporting_currency: str
    latest_date: Date | None = Field(description="the newest date synced for the caller's book")
    csrf_token: str | None = Field(None, description="the session cookie's CSRF token (cookie sessions only)")


class Book(BaseModel):
    date: Date | None
    reporting_currency: str
    clients: list[Client]


class MetricsHistory(BaseModel):
    client_id: str
    metrics: list[Metrics]


class Position(BaseModel):
    date: Date
    account_id: str
    instrument_id: str
    currency: str | None = None
    quantity: float | None = None
    close: float | None = None
    fx_to_base: float | None = None
    base_currency: str | None = None
    market_value: float | None = None
    pnl: float | None = None
    reporting_currency: str | None = None
    market_value_reporting: float | None = None
    pnl_reporting: float | None = None
    unpriced_reason: str | None = None


class Positions(BaseModel):
    client_id: str
    date: Date | None
    positions: list[Position]


class Alert(BaseModel):
    alert_id: int
    client_id: str
    full_name: str | None = None
    article_id: str
    headline: str | None = None
    summary: str | None = None
    event_type: str | None = None
    relevance: float | None = None
    resolution_score: float | None = None
    mention: str | None = None
    matched_name: str | None = None
    match_reasons: str | None = None
    source: str | None = None
    url: str | None = None
    published_at: str | None = None
    processed_at: str | None = None
    created_at: str | None = None
    verdict: Literal["useful", "not_useful", "wrong_person"] | None = None


class AlertPage(BaseModel):
    alerts: list[Alert]
    next_cursor: int | None = Field(description="pass as `cursor` for the next (older) page; null on the last page")


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verdict: Literal["useful", "not_useful", "wrong_person"]
    note: str | None = Field(None, max_length=2000)


class FeedbackOut(BaseModel):
    alert_id: int
    client_id: str
    rm_id: str
    verdict: Literal["useful", "not_useful", "wrong_person"]
    useful: bool | None
    note: str | None = None
    created_at: str
    updated_at: str


def _reporting(request: Request) -> str:
    return getattr(request.app.state.settings, "reporting_currency", "USD")


def _clients(conn, ids: list[str], day: str | None) -> list[dict]:
    master, metrics = clients_by_id(conn, ids), metrics_on(conn, ids, day)
    return [{**master[c], "metrics": metrics.get(c)} for c in ids if c in master]


def _not_in_book(client_id: str) -> HTTPException:
    return HTTPException(404, f"no client {client_id} in your book")


@router.get("/me", response_model=Me, responses=UNAUTHORIZED)
async def me(request: Request, who: Caller = Depends(caller)) -> Me:
    "The caller: profile, role, the clients they cover (every client for compliance) and the newest synced date."
    def read(conn):
        ids = visible_clients(conn, who.user)
        return (ids, latest_date(conn, ids)), ids
    ids, day = await read_audited(request, who, "GET /api/me", read)
    return Me(user_id=who.user.user_id, display_name=who.user.display_name or who.user.user_id, role=who.user.role,
              book_size=len(ids), coverage=ids, reporting_currency=_reporting(request), latest_date=day,
              csrf_token=who.principal.csrf if who.via_cookie else None)


@router.get("/clients", response_model=Book, responses=UNAUTHORIZED)
async def list_clients(request: Request, response: Response,
                       date: Date | None = Query(None, description="metrics of this date (default: the newest synced)"),
                       who: Caller = Depends(caller)) -> Response:
    "The caller's book: every client they may read with that date's metrics (base and reporting currency)."
    books: BookCache = request.app.state.books

    def read(conn):
        day, text, carried = books.book(conn, visible_clients(conn, who.user), date and date.isoformat())
        return (day, text), carried
    day, text = await read_audited(request, who, "GET /api/clients", read)
    # The book is built as JSON by PostgreSQL (`book_json`), kept until its data changes (`BookCache`), and sent as it
    # is, not parsed and re-validated per value.
    head = json.dumps({"date": day, "reporting_currency": _reporting(request)})[:-1]
    out = Response(f'{head}, "clients": {text}}}', media_type="application/json")
    out.headers.raw.extend(response.headers.raw)  # a Response returned as is drops what `caller` set (a renewed cookie)
    return out


@router.get("/clients/{client_id}", response_model=Client, responses={**NOT_IN_BOOK, **UNAUTHORIZED})
async def get_client(request: Request, client_id: str = ClientId, who: Caller = Depends(caller)) -> Client:
    "One client of the caller's book with its newest metrics."
    def read(conn):
        if not can_read(conn, who.user, client_id): return None, []
        rows = _clients(conn, [client_id], latest_date(conn, [client_id]))
        return (rows[0] if rows else None), [client_id] if rows else []
    row = await read_audited(request, who, "GET /api/clients/{client_id}", read, detail={"asked": client_id})
    if row is None: raise _not_in_book(client_id)
    return row


@router.get("/clients/{client_id}/metrics", response_model=MetricsHistory, responses={**NOT_IN_BOOK, **UNAUTHORIZED})
async def client_metrics(request: Request, client_id: str = ClientId,
                         date_from: Date | None = Query(None, alias="from", description="first date (inclusive)"),
                         date_to: Date | None = Query(None, alias="to", description="last date (inclusive)"),
                         who: Caller = Depends(caller)) -> MetricsHistory:
    "A client's daily metrics between two dates, oldest first."
    if date_from and date_to and date_from > date_to: raise HTTPException(400, "`from` is after `to`")
    def read(conn):
        if not can_read(conn, who.user, client_id): return None, []
        hist = metrics_history(conn, [client_id], date_from and date_from.isoformat(), date_to and date_to.isoformat())
        return hist[client_id], [client_id]
    rows = await read_audited(request, who, "GET /api/clients/{client_id}/metrics", read, detail={"asked": client_id})
    if rows is None: raise _not_in_book(client_id)
    return MetricsHistory(client_id=client_id, metrics=rows)


@router.get("/clients/{client_id}/positions", response_model=Positions, responses={**NOT_IN_BOOK, **UNAUTHORIZED})
async def client_positions(request: Request, client_id: str = ClientId,
                           date: Date | None = Query(None, description="positions of this date (default: the newest synced)"),
                           who: Caller = Depends(caller)) -> Positions:
    "A client's position-level market value and P&L for a date, largest first."
    def read(conn):
        if not can_read(conn, who.user, client_id): return None, []
        day = date.isoformat() if date else latest_date(conn, [client_id])
        return (day, positions_on(conn, [client_id], day)[client_id] if day else []), [client_id]
    got = await read_audited(request, who, "GET /api/clients/{client_id}/positions", read, detail={"asked": client_id})
    if got is None: raise _not_in_book(client_id)
    return Positions(client_id=client_id, date=got[0], positions=got[1])


@router.get("/alerts", response_model=AlertPage, responses=UNAUTHORIZED)
async def list_alerts(request: Request,
                      client_id: str | None = Query(None, min_length=1, max_length=64, description="only this client's alerts"),
                      date_from: Date | None = Query(None, alias="from", description="published on or after this date (UTC)"),
                      date_to: Date | None = Query(None, alias="to", description="published on or before this date (UTC)"),
                      event_type: str | None = Query(None, min_length=1, max_length=40, pattern=r"^[a-z_]+$"),
                      cursor: int | None = Query(None, ge=1, le=2**63 - 1, description="the previous page's next_cursor"),
                      limit: int = Query(50, ge=1, le=500),
                      who: Caller = Depends(caller)) -> AlertPage:
    "The caller's alerts, newest first, a page at a time; a client outside the book gives an empty page."
    if date_from and date_to and date_from > date_to: raise HTTPException(400, "`from` is after `to`")
    def read(conn):
        ids = visible_clients(conn, who.user, None if client_id is None else [client_id])
        rows = alerts_page(conn, ids, cursor, limit + 1, date_from and date_from.isoformat(), date_to and date_to.isoformat(),
                           event_type) if ids else []
        page = rows[:limit]
        return (page, len(rows) > limit), {r["client_id"] for r in page}
    page, more = await read_audited(request, who, "GET /api/alerts", read)
    return AlertPage(alerts=page, next_cursor=page[-1]["alert_id"] if more else None)


@router.post("/alerts/{alert_id}/feedback", response_model=FeedbackOut,
             responses={404: {"description": "no such alert among the caller's clients"},
                        403: {"description": "CSRF check failed, or not an RM"}, **UNAUTHORIZED})
async def alert_feedback(request: Request, body: FeedbackIn, alert_id: int = Path(ge=1, le=2**63 - 1),
                         who: Caller = Depends(require_csrf)) -> FeedbackOut:
    "An RM's verdict on one of their alerts: useful, not useful (relevance labels) or wrong person (a resolution label)."
    if who.user.role != "rm": raise HTTPException(403, "only the client's relationship manager gives feedback")
    assert body.verdict in VERDICTS

    def write(conn):
        client = alert_client(conn, alert_id)
        if client is None or not can_read(conn, who.user, client): return None, []
        return {**record_feedback(conn, alert_id, who.user.user_id, body.verdict, body.note), "client_id": client}, [client]
    row = await read_audited(request, who, "POST /api/alerts/{alert_id}/feedback", write,
                             detail={"alert_id": alert_id, "verdict": body.verdict})
    if row is None: raise HTTPException(404, f"no alert {alert_id} among your clients")
    return row


@router.get("/book/health", response_model=dict[str, Any], responses=UNAUTHORIZED)
async def book_health(request: Request, date: Date | None = Query(None, description="the day shown (default: the newest synced)"),
                      days: int = Query(30, ge=1, le=366, description="history shown in the P&L chart"),
                      who: Caller = Depends(caller)) -> dict[str, Any]:
    """Portfolio health of the caller's book for a date, in the reporting currency: totals, plotly figures (market
    value, daily P&L) and tables (top movers, unpriced positions, every client), built by `uhnw.portfolio_health`."""
    import pandas as pd

    from uhnw.portfolio_health import book_health_view
    reporting = _reporting(request)

    def read(conn):
        ids = visible_clients(conn, who.user)
        day = date.isoformat() if date else latest_date(conn, ids)
        cur = conn.execute("""select m.*, c.full_name from client_metrics m join clients c using (client_id)
            where m.client_id = any(%s) and m.date <= %s::date and m.date > %s::date - %s order by m.date, m.client_id""",
                           (ids, day, day, days)) if day else None
        hist = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description]) if cur else pd.DataFrame()
        shown = sorted(set(hist["client_id"])) if len(hist) else []
        return (day, hist), shown
    day, hist = await read_audited(request, who, "GET /api/book/health", read)
    if day is None: return {"date": None, "reporting_currency": reporting, "totals": {}, "figures": {}, "tables": {}}
    return book_health_view(hist, day, reporting)


CLIENT_ROUTES = ("/api/me", "/api/clients", "/api/clients/{client_id}", "/api/clients/{client_id}/metrics",
                 "/api/clients/{client_id}/positions", "/api/alerts", "/api/book/health")
