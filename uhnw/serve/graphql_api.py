"""The workstation's GraphQL surface, `/graphql` of `uhnw serve api` (Strawberry): `me`, the caller's book (`clients`),
`client(id)` with nested metrics, history, positions and alerts, a page of alerts, and the `alertFeedback` mutation.

The same authorization model as REST (`uhnw.access`): every resolver that hands out a client goes through one
per-request visibility loader backed by `visible_clients` (`clients` calls it directly), so a client outside the
caller's book is `null` plus the error "no client X in your book" at whatever depth it is asked for (`client(id)`,
`alerts { client }`). Reads are batched by per-request dataloaders over `uhnw.workstation`, so a book of 100 clients
with their metrics and alerts costs the same few SQL statements as a book of 10. One `audit_log` row per request that
read client data (surface `graphql`, the operation's name) is written after execution and before the response; if it
cannot be written the answer is an error, never the data. Depth, alias, token and cost limits refuse a deep or wide
query during validation, before any resolver runs; introspection is off on the `aws` profile.

The book query (`clients { clientId fullName metrics { marketValue dailyPnl } }`, 200 clients) is the hot path, kept
cheap in three ways: `clients` looks ahead at its selection and reads the book's master data and metrics in one
statement, so nothing below it awaits; `ShortPathExecution` answers fields that only read an attribute without
graphql-core's per-field machinery; and parsed and validated documents are cached (no extension hooks every field).
"""
from __future__ import annotations

import enum
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import date as Date
from functools import partial
from typing import Annotated, Any

import strawberry
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.routing import APIWebSocketRoute
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    Undefined,
    ValidationContext,
    ValidationRule,
    get_named_type,
)
from graphql.pyutils import Path
from strawberry.dataloader import DataLoader
from strawberry.extensions import AddValidationRules, MaskErrors, MaxTokensLimiter, ParserCache, SchemaExtension, ValidationCache
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.fastapi import BaseContext, GraphQLRouter
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from uhnw.access import audit_read, visible_clients
from uhnw.config import Settings
from uhnw.workstation import (
    CLIENT_COLUMNS,
    METRIC_COLUMNS,
    POSITION_COLUMNS,
    alert_client,
    alerts_by_client,
    alerts_page,
    clients_by_id,
    latest_date,
    latest_dates,
    metrics_history,
    metrics_on,
    positions_on,
    record_feedback,
)

from .session import Caller, caller, require_csrf

__all__ = ["schema", "build_schema", "mount", "client_data_fields", "MAX_DEPTH", "MAX_COST", "COST_ESTIMATES"]

MAX_DEPTH = 6  # `clients { alerts { client { metrics { marketValue } } } }` is 4; anything deeper is a crawl
MAX_ALIASES = 30
MAX_TOKENS = 2000  # the standard introspection query is about 500 tokens
MAX_COST = 25_000  # objects a query may resolve, estimated before execution (see COST_ESTIMATES)
CLIENT_ALERTS_DEFAULT, CLIENT_ALERTS_MAX = 10, 100
ALERTS_DEFAULT, ALERTS_MAX = 50, 500

# How many objects a field resolves per parent, for the cost estimate: (argument giving the size, default, most).
# A list whose size no argument bounds is costed at a typical size: an RM's book, a client's positions, a year of history.
COST_ESTIMATES: dict[tuple[str, str], tuple[str | None, int, int]] = {
    ("Query", "clients"): (None, 200, 200),
    ("Query", "alerts"): ("limit", ALERTS_DEFAULT, ALERTS_MAX),
    ("Client", "alerts"): ("limit", CLIENT_ALERTS_DEFAULT, CLIENT_ALERTS_MAX),
    ("Client", "positions"): (None, 50, 50),
    ("Client", "metricsHistory"): (None, 366, 366),
}


class BadInput(GraphQLError):
    "An argument the server refuses (a REST 4xx): labelled `BAD_USER_INPUT` as Apollo servers do, so clients and fuzzers can tell."

    def __init__(self, message: str):
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})


class NotInBook(BadInput):
    "A client (or alert) the caller may not read: the same message whether it exists or not (REST answers 404)."


class Forbidden(GraphQLError):
    "A request the caller may not make at all (CSRF check failed, not an RM)."

    def __init__(self, message: str):
        super().__init__(message, extensions={"code": "FORBIDDEN"})


# --- per-request context and dataloaders --------------------------------------------------------------------------

class WorkstationContext(BaseContext):
    "One GraphQL request: the caller, the pool, its dataloaders, and which clients the response carries (for the audit row)."

    def __init__(self, who: Caller, pool, reporting_currency: str, csrf_refusal: str | None):
        super().__init__()
        self.who, self.pool, self.reporting_currency, self.csrf_refusal = who, pool, reporting_currency, csrf_refusal
        self.read_client_data = False
        self.returned: set[str] = set()
        self.refused: set[str] = set()
        self.loaders = Loaders(self)

    def run(self, fn: Callable, *args) -> Awaitable[Any]:
        "`fn(conn, *args)` on the pool, in a worker thread."
        return self.pool.run(fn, *args)


class Loaders:
    "The request's dataloaders: each batch of keys is one SQL statement, whatever the number of clients."

    def __init__(self, ctx: WorkstationContext):
        user, run = ctx.who.user, ctx.run

        async def book(keys):  # the only key is None: the caller's whole book
            ids = await run(visible_clients, user)
            return [ids for _ in keys]

        async def visible(ids):
            cleared = set(await run(visible_clients, user, ids))
            return [c in cleared for c in ids]

        async def newest(ids):  # each client's own newest synced date, as REST's one-client reads default to
            days = await run(latest_dates, ids)
            return [days.get(c) for c in ids]

        async def master(ids):
            got = await run(clients_by_id, ids)
            return [got.get(c) for c in ids]

        self.book, self.visible, self.newest = DataLoader(book), DataLoader(visible), DataLoader(newest)
        self.master = DataLoader(master)
        self.metrics = DataLoader(partial(_grouped, run, metrics_on))  # keys (client_id, date)
        self.history = DataLoader(partial(_grouped, run, metrics_history))  # keys (client_id, from, to)
        self.positions = DataLoader(partial(_grouped, run, positions_on))  # keys (client_id, date)
        self.alerts = DataLoader(partial(_grouped, run, alerts_by_client))  # keys (client_id, limit, event_type)


async def _grouped(run, read: Callable[..., dict[str, Any]], keys: list[tuple]) -> list[Any]:
    "Load keys `(client_id, *params)` with one `read(conn, ids, *params)` per distinct params (one per request in practice)."
    by_params: dict[tuple, list[str]] = defaultdict(list)
    for client_id, *params in keys: by_params[tuple(params)].append(client_id)

    def read_all(conn):
        return {params: read(conn, ids, *params) for params, ids in by_params.items()}
    got = await run(read_all)
    return [got[tuple(params)][client_id] for client_id, *params in keys]


def _ctx(info: strawberry.Info) -> WorkstationContext:
    return info.context


async def _cleared_client(info: strawberry.Info, client_id: str, day: Date | None = None) -> Client:
    "The client if the caller may read it (else NotInBook): the one gate every resolver that hands out a client uses."
    ctx = _ctx(info)
    ctx.read_client_data = True
    row = await ctx.loaders.master.load(client_id) if await ctx.loaders.visible.load(client_id) else None
    if row is None:
        ctx.refused.add(client_id)
        raise NotInBook(f"no client {client_id} in your book")
    return Client.of(ctx, row, day)


# --- types ----------------------------------------------------------------------------------------------------------

@strawberry.type(description="One day's figures of a client: base currency and the reporting currency.")
class Metrics:
    date: Date
    base_currency: str | None
    market_value: float | None
    daily_pnl: float | None
    positions_count: int | None
    unpriced_positions: int | None
    reporting_currency: str | None
    market_value_reporting: float | None
    daily_pnl_reporting: float | None

    @classmethod
    def of(cls, row: dict) -> Metrics:
        return cls(**{k: row[k] for k in METRIC_COLUMNS if k != "date"}, date=Date.fromisoformat(row["date"]))


NOT_PREFETCHED = object()  # a Client whose metrics `clients` did not read ahead: its `metrics` field uses the dataloader


@strawberry.type(description="One position's market value and daily P&L on a date.")
class Position:
    date: Date
    account_id: str
    instrument_id: str
    currency: str | None
    quantity: float | None
    close: float | None
    fx_to_base: float | None
    base_currency: str | None
    market_value: float | None
    pnl: float | None
    reporting_currency: str | None
    market_value_reporting: float | None
    pnl_reporting: float | None
    unpriced_reason: str | None

    @classmethod
    def of(cls, row: dict) -> Position:
        return cls(**{k: row[k] for k in POSITION_COLUMNS if k != "date"}, date=Date.fromisoformat(row["date"]))


@strawberry.enum(description="An RM's verdict on an alert: relevance labels (useful, not_useful) or a resolution label.")
class Verdict(enum.Enum):
    useful = "useful"
    not_useful = "not_useful"
    wrong_person = "wrong_person"


@strawberry.type(description="A news alert about a client: why it fired and the RM's latest verdict.")
class Alert:
    alert_id: strawberry.ID
    client_id: strawberry.ID
    full_name: str | None
    article_id: str
    headline: str | None
    summary: str | None
    event_type: str | None
    relevance: float | None
    resolution_score: float | None
    mention: str | None
    matched_name: str | None
    match_reasons: str | None
    source: str | None
    url: str | None
    published_at: str | None
    processed_at: str | None
    created_at: str | None
    verdict: Verdict | None

    @classmethod
    def of(cls, ctx: WorkstationContext, row: dict) -> Alert:
        ctx.returned.add(row["client_id"])
        return cls(**{**row, "alert_id": strawberry.ID(str(row["alert_id"])), "verdict": row["verdict"] and Verdict(row["verdict"])})

    @strawberry.field(description="The client the alert is about (null plus an error if it is not in your book).")
    async def client(self, info: strawberry.Info) -> Client | None:
        return await _cleared_client(info, self.client_id)


@strawberry.type(description="A page of alerts, newest first.")
class AlertPage:
    alerts: list[Alert]
    next_cursor: strawberry.ID | None = strawberry.field(description="pass as `cursor` for the next (older) page; null on the last page")


_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # as REST's path parameter
_EVENT_TYPE = re.compile(r"[a-z_]{1,40}")
_ALERT_ID = re.compile(r"[0-9]{1,19}")


def _client_id(value: Any) -> str:
    text = str(value)
    if not _CLIENT_ID.fullmatch(text): raise BadInput("a client id is 1 to 64 letters, digits or . _ : -")
    return text


def _event_type(value: str | None) -> str | None:
    if value is not None and not _EVENT_TYPE.fullmatch(value): raise BadInput("eventType is 1 to 40 lowercase letters or _")
    return value


def _alert_id(value: Any, name: str) -> int:
    text = str(value)
    if not _ALERT_ID.fullmatch(text) or not 1 <= int(text) <= 2**63 - 1: raise BadInput(f"{name} must be a positive alert id")
    return int(text)


def _check_limit(limit: int, most: int) -> None:
    if not 1 <= limit <= most: raise BadInput(f"limit must be between 1 and {most}, not {limit}")


def _check_range(first: Date | None, last: Date | None) -> None:
    if first and last and first > last: raise BadInput("`from` is after `to`")


@strawberry.type(description="A client of the caller's book: master data and, nested, its figures and alerts.")
class Client:
    client_id: strawberry.ID
    full_name: str
    aliases: list[str]
    organizations: list[str]
    city: str | None
    country: str | None
    rm_id: str | None
    base_currency: str | None
    book_date: strawberry.Private[Date | None]  # the date `clients(date:)` asked for: the default of `metrics`
    book_metrics: strawberry.Private[Any] = NOT_PREFETCHED  # `metrics` without a date, when `clients` read it ahead

    @classmethod
    def of(cls, ctx: WorkstationContext, row: dict, day: Date | None) -> Client:
        "Only `_cleared_client` and `clients` build a Client: holding one means the caller may read it."
        ctx.returned.add(row["client_id"])
        return cls(**{**row, "aliases": row["aliases"] or [], "organizations": row["organizations"] or []}, book_date=day)

    @strawberry.field(description="That date's metrics (default: the book's date, else the client's newest synced date).")
    def metrics(self, info: strawberry.Info, date: Date | None = strawberry.UNSET) -> Metrics | None:
        # Sync on purpose: in a book read ahead by `clients` this is an attribute read; otherwise it hands graphql-core
        # the dataloader's coroutine, which graphql-core awaits like an async resolver's. UNSET rather than a null
        # default: graphql-core then passes no argument, and strawberry converts none, on each of the book's clients.
        if not date and self.book_metrics is not NOT_PREFETCHED: return self.book_metrics
        return _load_metrics(info, self.client_id, date or self.book_date)

    @strawberry.field(description="Daily metrics between two dates (inclusive, either open), oldest first.")
    async def metrics_history(self, info: strawberry.Info, date_from: Annotated[Date | None, strawberry.argument(name="from")] = None,
                              date_to: Annotated[Date | None, strawberry.argument(name="to")] = None) -> list[Metrics]:
        _check_range(date_from, date_to)
        rows = await _ctx(info).loaders.history.load((self.client_id, date_from and date_from.isoformat(), date_to and date_to.isoformat()))
        return [Metrics.of(r) for r in rows]

    @strawberry.field(description="Positions of a date (default: the client's newest synced date), largest market value first.")
    async def positions(self, info: strawberry.Info, date: Date | None = None) -> list[Position]:
        loaders = _ctx(info).loaders
        day_iso = date.isoformat() if date else await loaders.newest.load(self.client_id)
        return [Position.of(r) for r in await loaders.positions.load((self.client_id, day_iso))] if day_iso else []

    @strawberry.field(description=f"The client's newest alerts (limit 1..{CLIENT_ALERTS_MAX}).")
    async def alerts(self, info: strawberry.Info, limit: int = CLIENT_ALERTS_DEFAULT, event_type: str | None = None) -> list[Alert]:
        _check_limit(limit, CLIENT_ALERTS_MAX)
        event_type = _event_type(event_type)
        ctx = _ctx(info)
        return [Alert.of(ctx, r) for r in await ctx.loaders.alerts.load((self.client_id, limit, event_type))]


async def _load_metrics(info: strawberry.Info, client_id: str, day: Date | None) -> Metrics | None:
    loaders = _ctx(info).loaders
    day_iso = day.isoformat() if day else await loaders.newest.load(client_id)
    row = await loaders.metrics.load((client_id, day_iso)) if day_iso else None
    return Metrics.of(row) if row else None


# The book in one statement: master data and, when the selection asks for `metrics` without a date, that day's metrics
# (the asked date, else the book's newest synced date, as REST's /api/clients), numerics cast to float8 by PostgreSQL.
_BOOK_MASTER = f"select {', '.join('c.' + c for c in CLIENT_COLUMNS)} from clients c"
_BOOK_WITH_METRICS = f"""select {', '.join('c.' + c for c in CLIENT_COLUMNS)}, m.client_id is not null, m.date, m.base_currency,
        m.market_value::float8, m.daily_pnl::float8, m.positions_count, m.unpriced_positions, m.reporting_currency,
        m.market_value_reporting::float8, m.daily_pnl_reporting::float8
    from clients c left join client_metrics m
      on m.client_id = c.client_id and m.date = %(day)s::date"""


def _read_book(conn, user, day: str | None, with_metrics: bool) -> tuple[list[str], list[tuple]]:
    "The caller's book (the one coverage check, `visible_clients`) and its rows: master data, plus metrics when asked."
    ids = visible_clients(conn, user)
    if not ids: return ids, []
    sql = _BOOK_WITH_METRICS if with_metrics else _BOOK_MASTER
    if with_metrics and day is None: day = latest_date(conn, ids)
    return ids, conn.execute(sql + " where c.client_id = any(%(ids)s) order by c.client_id", {"ids": ids, "day": day}).fetchall()


def _asks_book_metrics(selections: list[Selection]) -> bool:
    "Whether a `clients` selection asks for `metrics` without a `date` (through fragments too): what `clients` reads ahead."
    for node in selections:
        if isinstance(node, SelectedField):
            if node.name == "metrics" and node.arguments.get("date") is None: return True
        elif isinstance(node, FragmentSpread | InlineFragment) and _asks_book_metrics(node.selections):
            return True
    return False


_N_CLIENT = len(CLIENT_COLUMNS)


def _book_client(row: tuple, day: Date | None, with_metrics: bool) -> Client:
    "A Client of `_read_book`'s row, with its metrics read ahead when asked: the book query's per-client Python work."
    client_id, full_name, aliases, organizations, city, country, rm_id, base_currency = row[:_N_CLIENT]
    client = Client(client_id=client_id, full_name=full_name, aliases=aliases or [], organizations=organizations or [], city=city,
                    country=country, rm_id=rm_id, base_currency=base_currency, book_date=day)
    if with_metrics:
        has, day_of, base, mv, pnl, n_positions, n_unpriced, reporting, mv_reporting, pnl_reporting = row[_N_CLIENT:]
        client.book_metrics = Metrics(date=day_of, base_currency=base, market_value=mv, daily_pnl=pnl, positions_count=n_positions,
                                      unpriced_positions=n_unpriced, reporting_currency=reporting, market_value_reporting=mv_reporting,
                                      daily_pnl_reporting=pnl_reporting) if has else None
    return client


@strawberry.type(description="The caller: who they are and the clients they cover (every client for compliance).")
class Me:
    user_id: str
    display_name: str
    role: str
    reporting_currency: str

    @strawberry.field
    async def book_size(self, info: strawberry.Info) -> int:
        return len(await _book(info))

    @strawberry.field
    async def coverage(self, info: strawberry.Info) -> list[strawberry.ID]:
        return [strawberry.ID(c) for c in await _book(info)]


async def _book(info: strawberry.Info) -> list[str]:
    ctx = _ctx(info)
    ctx.read_client_data = True
    ids = await ctx.loaders.book.load(None)
    ctx.returned.update(ids)
    return ids


@strawberry.type
class Query:
    @strawberry.field(description="The caller's profile.")
    def me(self, info: strawberry.Info) -> Me:
        ctx = _ctx(info)
        user = ctx.who.user
        return Me(user_id=user.user_id, display_name=user.display_name or user.user_id, role=user.role,
                  reporting_currency=ctx.reporting_currency)

    @strawberry.field(description="The caller's book: every client they may read (metrics default to `date`).")
    async def clients(self, info: strawberry.Info, date: Date | None = None) -> list[Client]:
        ctx = _ctx(info)
        ctx.read_client_data = True
        with_metrics = any(_asks_book_metrics(f.selections) for f in info.selected_fields if isinstance(f, SelectedField))
        ids, rows = await ctx.run(_read_book, ctx.who.user, date and date.isoformat(), with_metrics)
        ctx.loaders.book.prime(None, ids)  # `me { coverage bookSize }` in the same request asks no second time
        clients = [_book_client(row, date, with_metrics) for row in rows]
        ctx.returned.update(c.client_id for c in clients)
        return clients

    @strawberry.field(description="One client of the caller's book (null plus an error otherwise).")
    async def client(self, info: strawberry.Info, id: strawberry.ID) -> Client | None:  # noqa: A002 - GraphQL's own name
        return await _cleared_client(info, _client_id(id))

    @strawberry.field(description=f"The caller's alerts, newest first, a page at a time (limit 1..{ALERTS_MAX}).")
    async def alerts(self, info: strawberry.Info, client_id: strawberry.ID | None = None,
                     date_from: Annotated[Date | None, strawberry.argument(name="from")] = None,
                     date_to: Annotated[Date | None, strawberry.argument(name="to")] = None,
                     event_type: str | None = None, cursor: strawberry.ID | None = None, limit: int = ALERTS_DEFAULT) -> AlertPage:
        _check_limit(limit, ALERTS_MAX)
        _check_range(date_from, date_to)
        event_type = _event_type(event_type)
        before = _alert_id(cursor, "cursor") if cursor is not None else None
        ctx = _ctx(info)
        ctx.read_client_data = True
        if client_id is None: ids = await ctx.loaders.book.load(None)
        else: ids = await ctx.run(visible_clients, ctx.who.user, [_client_id(client_id)])
        rows = await ctx.run(alerts_page, ids, before, limit + 1, date_from and date_from.isoformat(),
                             date_to and date_to.isoformat(), event_type) if ids else []
        page = [Alert.of(ctx, r) for r in rows[:limit]]
        return AlertPage(alerts=page, next_cursor=page[-1].alert_id if len(rows) > limit else None)


@strawberry.type(description="An RM's stored verdict on an alert.")
class Feedback:
    alert_id: strawberry.ID
    rm_id: str
    verdict: Verdict
    useful: bool | None
    note: str | None
    created_at: str
    updated_at: str


@strawberry.type
class Mutation:
    @strawberry.mutation(description="An RM's verdict on one of their alerts (cookie sessions must send X-CSRF-Token).")
    async def alert_feedback(self, info: strawberry.Info, alert_id: strawberry.ID, verdict: Verdict,
                             note: str | None = None) -> Feedback | None:
        ctx = _ctx(info)
        if ctx.csrf_refusal: raise Forbidden(ctx.csrf_refusal)
        if ctx.who.user.role != "rm": raise Forbidden("only the client's relationship manager gives feedback")
        if note is not None and (len(note) > 2000 or "\x00" in note): raise BadInput("a note is at most 2000 characters, none of them NUL")
        alert = _alert_id(alert_id, "alertId")
        ctx.read_client_data = True
        client = await ctx.run(alert_client, alert)
        if client is None or not await ctx.loaders.visible.load(client):
            raise NotInBook(f"no alert {alert} among your clients")
        row = await ctx.run(record_feedback, alert, ctx.who.user.user_id, verdict.value, note)
        ctx.returned.add(client)
        return Feedback(**{**row, "alert_id": strawberry.ID(str(row["alert_id"])), "verdict": Verdict(row["verdict"])})


# --- audit, limits, schema --------------------------------------------------------------------------------------------

class AuditReads(SchemaExtension):
    "After execution, before the response: one audit row naming every client the response carries; no row, no data."

    async def on_execute(self) -> Any:
        yield
        ec = self.execution_context
        ctx = ec.context
        if not isinstance(ctx, WorkstationContext) or not ctx.read_client_data: return
        operation = ec.operation_name or f"anonymous {ec.operation_type.value}"
        detail = {"refused": sorted(ctx.refused)} if ctx.refused else None
        try:
            await ctx.run(audit_read, ctx.who.user, "graphql", operation, ctx.returned, detail)
        except Exception as e:  # the read must not be answered without its audit row
            raise GraphQLError("the read could not be audited, so nothing is returned: try again",
                               extensions={"code": "INTERNAL_SERVER_ERROR"}) from e


def _size(parent: str, field: FieldNode) -> int:
    "How many objects `field` resolves per parent object (literal arguments; a variable counts as its maximum)."
    arg, default, most = COST_ESTIMATES.get((parent, field.name.value), (None, 1, 1))
    args = {a.name.value: a.value for a in field.arguments or ()}
    if (parent, field.name.value) == ("Client", "metricsHistory"):
        first, last = args.get("from"), args.get("to")
        if isinstance(first, StringValueNode) and isinstance(last, StringValueNode):
            try: return max(1, min(most, (Date.fromisoformat(last.value) - Date.fromisoformat(first.value)).days + 1))
            except ValueError: return most  # a bad date is reported by the type check
    if arg is None or arg not in args: return default
    value = args[arg]
    return max(1, min(most, int(value.value))) if isinstance(value, IntValueNode) else most


def _cost(context: ValidationContext, selections: SelectionSetNode | None, parent: GraphQLNamedType | None,
          fragments: dict[str, FragmentDefinitionNode], seen: frozenset[str] = frozenset()) -> int:
    "Objects a selection resolves per parent object: each field costs its size times (1 + its own selection's cost)."
    if selections is None or not isinstance(parent, GraphQLObjectType): return 0
    total = 0
    for node in selections.selections:
        if isinstance(node, FieldNode):
            field = parent.fields.get(node.name.value)
            if field is None or node.name.value.startswith("__"): continue  # unknown fields are refused by the type check
            inner = _cost(context, node.selection_set, get_named_type(field.type), fragments, seen)
            total += _size(parent.name, node) * (1 + inner) if node.selection_set else 0
        elif isinstance(node, InlineFragmentNode):
            on = context.schema.get_type(node.type_condition.name.value) if node.type_condition else parent
            total += _cost(context, node.selection_set, on, fragments, seen)
        elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen and node.name.value in fragments:
            frag = fragments[node.name.value]
            total += _cost(context, frag.selection_set, context.schema.get_type(frag.type_condition.name.value), fragments,
                           seen | {node.name.value})
    return total


class CostLimit(ValidationRule):
    "Refuses an operation whose estimated cost (objects resolved, lists at their `limit`) is above MAX_COST."

    def __init__(self, context: ValidationContext):
        super().__init__(context)
        doc = context.document
        fragments = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
        for op in doc.definitions:
            if not isinstance(op, OperationDefinitionNode): continue
            root = context.schema.get_root_type(op.operation)
            cost = _cost(context, op.selection_set, root, fragments)
            if cost > MAX_COST:
                name = op.name.value if op.name else "anonymous"
                context.report_error(GraphQLError(
                    f"operation {name!r} would resolve about {cost} objects, more than the limit of {MAX_COST}: "
                    "ask for fewer nested lists, a lower `limit`, or a narrower `from`/`to`", [op]))


def _unexpected(error: GraphQLError) -> bool:
    "Errors to mask: a resolver's unexpected exception (a database error, a bug), never a refusal or bad input."
    return error.path is not None and error.original_error is not None and not isinstance(error.original_error, GraphQLError)


class WorkstationSchema(strawberry.Schema):
    "Logs only unexpected errors: a refused client or a bad argument is the caller's answer, not a server fault."

    def process_errors(self, errors, execution_context=None) -> None:
        super().process_errors([e for e in errors if _unexpected(e)], execution_context)


# Fields whose resolver, called with no arguments, returns an attribute when it holds a value read ahead (not NOT_PREFETCHED).
PREFETCHED_FIELDS = {("Client", "metrics"): "book_metrics"}

ShortPath = tuple[str, GraphQLScalarType | None, GraphQLObjectType | None]  # attribute, and the scalar or object type it holds


def _short_paths(gql: GraphQLSchema) -> dict[GraphQLObjectType, dict[str, ShortPath]]:
    """Per object type, by field name: the fields that only read a scalar attribute (no resolver, no arguments), and the
    nullable PREFETCHED_FIELDS (object types with no `is_type_of`)."""
    out = {}
    for t in gql.type_map.values():
        if not isinstance(t, GraphQLObjectType) or t.name.startswith("__"): continue
        fields = {}
        for name, field in t.fields.items():
            definition = (field.extensions or {}).get("strawberry-definition")
            of = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
            if definition is not None and definition.is_basic_field and not field.args and isinstance(of, GraphQLScalarType):
                fields[name] = (definition.python_name, of, None)
            elif (attribute := PREFETCHED_FIELDS.get((t.name, name))) and isinstance(field.type, GraphQLObjectType):
                if field.type.is_type_of is None: fields[name] = (attribute, None, field.type)
        out[t] = fields
    return out


_SLOW = object()  # a field the short path leaves to graphql-core


class ShortPathExecution(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution with a short path for a field that only reads an attribute: a scalar (`clientId`,
    `marketValue`) is read and serialized, a prefetched object (a book client's `metrics`) has its selection executed,
    without the path, resolve info, argument coercion, resolver call and completion graphql-core builds for every field;
    an object whose selected fields all take it is answered in one loop. The book query is 200 clients of such fields,
    so they were most of its CPU. Anything else (a field with arguments, a value not read ahead, a null in a non-null
    field, a value the scalar refuses) takes graphql-core's own path, which resolves it or reports the error as it always
    does. `build_schema` subclasses it with its schema's `short_paths`."""

    short_paths: dict[GraphQLObjectType, dict[str, ShortPath]] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # An extension with a `resolve` hook (graphql-core middleware) must see every field: then there is no short path.
        self.short_paths_now = {} if getattr(self.middleware_manager, "middlewares", None) else self.short_paths
        self.plans: dict[int, tuple[dict, list | None]] = {}  # id of a selection (alive all execution long) -> its plan

    def _short(self, found: ShortPath, parent_type, source, field_nodes, path, response_name: str) -> Any:
        "The field's value by the short path, or _SLOW."
        attribute, scalar, object_type = found
        value = getattr(source, attribute, Undefined)
        if value is Undefined: return _SLOW  # no such attribute: graphql-core's path reports it
        if object_type is not None:
            if value is None: return None
            if value is NOT_PREFETCHED: return _SLOW
            return self.execute_fields(object_type, value, Path(path, response_name, parent_type.name),
                                       self.collect_subfields(object_type, field_nodes))
        if value is None:
            return _SLOW if isinstance(parent_type.fields[field_nodes[0].name.value].type, GraphQLNonNull) else None
        try:
            serialized = scalar.serialize(value)
        except Exception:  # noqa: BLE001 - graphql-core's path raises it again, as a located field error
            return _SLOW
        return _SLOW if serialized is None or serialized is Undefined else serialized

    def _plan(self, parent_type, fields: dict) -> list | None:
        "(response name, short path, field nodes) of each field of a selection, or None when one of them has no short path."
        short = self.short_paths_now.get(parent_type) or {}
        plan = []
        for response_name, field_nodes in fields.items():
            found = short.get(field_nodes[0].name.value)
            if found is None or field_nodes[0].arguments: return None
            plan.append((response_name, found, field_nodes))
        return plan

    def execute_fields(self, parent_type, source_value, path, fields):
        cached = self.plans.get(id(fields))
        if cached is None or cached[0] is not fields:
            cached = self.plans[id(fields)] = (fields, self._plan(parent_type, fields))
        if cached[1] is not None:
            results = {}
            for response_name, found, field_nodes in cached[1]:
                value = self._short(found, parent_type, source_value, field_nodes, path, response_name)
                if value is _SLOW or self.is_awaitable(value): break
                results[response_name] = value
            else:
                return results
        return super().execute_fields(parent_type, source_value, path, fields)

    def execute_field(self, parent_type, source, field_nodes, path):
        fields = self.short_paths_now.get(parent_type)
        found = fields.get(field_nodes[0].name.value) if fields else None
        if found is not None and not field_nodes[0].arguments:
            value = self._short(found, parent_type, source, field_nodes, path.prev, path.key)
            if value is not _SLOW: return value
        return super().execute_field(parent_type, source, field_nodes, path)


def build_schema(introspection: bool = True) -> strawberry.Schema:
    "The workstation's schema with its limits; `introspection=False` adds graphql-core's NoSchemaIntrospectionCustomRule."
    # The rule classes are made once here, not per request (as QueryDepthLimiter and MaxAliasesLimiter would), so the
    # validation cache, keyed by (schema, document, rules), answers a repeated query without validating it again.
    rules = [max_depth_rule(MAX_DEPTH, None, None), max_aliases_rule(MAX_ALIASES), CostLimit,
             *([] if introspection else [NoSchemaIntrospectionCustomRule])]
    extensions = [
        partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
        partial(AddValidationRules, rules),
        ParserCache,  # bounded LRUs (128 documents), keyed by the query text and its parse options (the token limit)
        ValidationCache,
        AuditReads,
        partial(MaskErrors, should_mask_error=_unexpected, error_message="internal error (logged on the server)"),
    ]
    built = WorkstationSchema(query=Query, mutation=Mutation, extensions=extensions)
    built.execution_context_class = type("WorkstationExecution", (ShortPathExecution,), {"short_paths": _short_paths(built._schema)})
    return built


schema = build_schema()  # the local profile's schema: for tests, schemathesis and the authorization matrix


def client_data_fields(of: strawberry.Schema = schema) -> list[tuple[str, str]]:
    "(type, field) of every field whose value carries client data, discovered from the schema (for the authorization matrix)."
    gql = of._schema
    carriers = {"Client", "Metrics", "Position", "Alert", "AlertPage", "Feedback"}
    found = []
    for type_name in ("Query", "Mutation", "Me", *sorted(carriers)):
        t = gql.get_type(type_name)
        for name, field in getattr(t, "fields", {}).items():
            if get_named_type(field.type).name in carriers or (type_name == "Me" and name in ("coverage", "bookSize")):
                found.append((type_name, name))
    return found


async def _context(request: Request, who: Caller = Depends(caller)) -> WorkstationContext:
    "FastAPI dependency: the request's context; the CSRF rule of REST's state-changing routes is checked here, enforced by mutations."
    try:
        await require_csrf(request, who)
        refusal = None
    except HTTPException as e:
        refusal = str(e.detail)
    st = request.app.state
    return WorkstationContext(who, st.pool, getattr(st.settings, "reporting_currency", "USD"), refusal)


def mount(app: FastAPI, settings: Settings) -> None:
    "Serve `/graphql` (POST only: no GraphiQL, whose scripts the CSP refuses; no subscriptions)."
    app.state.graphql_schema = build_schema(introspection=settings.profile != "aws")
    router = GraphQLRouter(app.state.graphql_schema, path="/graphql", context_getter=_context,
                           graphql_ide=None, allow_queries_via_get=False, subscription_protocols=())
    router.routes = [r for r in router.routes if not isinstance(r, APIWebSocketRoute)]
    app.include_router(router, tags=["graphql"])

