"""The workstation's GraphQL surface, `/graphql` of `uhnw serve api` (Strawberry): `me`, the caller's book (`clients`),
`client(id)` with nested metrics, history, positions and alerts, a page of alerts, and the `alertFeedback` mutation.

The same authorization model as REST (`uhnw.access`): every resolver that hands out a client goes through one
per-request visibility loader backed by `visible_clients`, so a client outside the caller's book is `null` plus the
error "no client X in your book" at whatever depth it is asked for (`client(id)`, `alerts { client }`). Reads are
batched by per-request dataloaders over `uhnw.workstation`, so a book of 100 clients with their metrics and alerts costs
the same few SQL statements as a book of 10. One `audit_log` row per request that read client data (surface
`graphql`, the operation's name) is written after execution and before the response; if it cannot be written the
answer is an error, never the data. Depth, alias, token and cost limits refuse a deep or wide query during validation,
before any resolver runs; introspection is off on the `aws` profile.
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
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
)
from strawberry.dataloader import DataLoader
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.fastapi import BaseContext, GraphQLRouter

from uhnw.access import audit_read, visible_clients
from uhnw.config import Settings
from uhnw.workstation import (
    METRIC_COLUMNS,
    POSITION_COLUMNS,
    alert_client,
    alerts_by_client,
    alerts_page,
    clients_by_id,
    latest_date,
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

        async def newest(keys):
            day = await run(latest_date)
            return [day for _ in keys]

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

    @classmethod
    def of(cls, ctx: WorkstationContext, row: dict, day: Date | None) -> Client:
        "Only `_cleared_client` and `clients` build a Client: holding one means the caller may read it."
        ctx.returned.add(row["client_id"])
        return cls(**{**row, "aliases": row["aliases"] or [], "organizations": row["organizations"] or []}, book_date=day)

    @strawberry.field(description="That date's metrics (default: the book's date, else the newest synced date).")
    async def metrics(self, info: strawberry.Info, date: Date | None = None) -> Metrics | None:
        loaders = _ctx(info).loaders
        day = date or self.book_date
        day_iso = day.isoformat() if day else await loaders.newest.load(None)
        row = await loaders.metrics.load((self.client_id, day_iso)) if day_iso else None
        return Metrics.of(row) if row else None

    @strawberry.field(description="Daily metrics between two dates (inclusive, either open), oldest first.")
    async def metrics_history(self, info: strawberry.Info, date_from: Annotated[Date | None, strawberry.argument(name="from")] = None,
                              date_to: Annotated[Date | None, strawberry.argument(name="to")] = None) -> list[Metrics]:
        _check_range(date_from, date_to)
        rows = await _ctx(info).loaders.history.load((self.client_id, date_from and date_from.isoformat(), date_to and date_to.isoformat()))
        return [Metrics.of(r) for r in rows]

    @strawberry.field(description="Positions of a date (default: the newest synced date), largest market value first.")
    async def positions(self, info: strawberry.Info, date: Date | None = None) -> list[Position]:
        loaders = _ctx(info).loaders
        day_iso = date.isoformat() if date else await loaders.newest.load(None)
        return [Position.of(r) for r in await loaders.positions.load((self.client_id, day_iso))] if day_iso else []

    @strawberry.field(description=f"The client's newest alerts (limit 1..{CLIENT_ALERTS_MAX}).")
    async def alerts(self, info: strawberry.Info, limit: int = CLIENT_ALERTS_DEFAULT, event_type: str | None = None) -> list[Alert]:
        _check_limit(limit, CLIENT_ALERTS_MAX)
        event_type = _event_type(event_type)
        ctx = _ctx(info)
        return [Alert.of(ctx, r) for r in await ctx.loaders.alerts.load((self.client_id, limit, event_type))]


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
        ids = await ctx.loaders.book.load(None)
        rows = await ctx.loaders.master.load_many(ids)
        return [Client.of(ctx, row, date) for row in rows if row is not None]

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


def build_schema(introspection: bool = True) -> strawberry.Schema:
    "The workstation's schema with its limits; `introspection=False` adds graphql-core's NoSchemaIntrospectionCustomRule."
    rules = [CostLimit] + ([] if introspection else [NoSchemaIntrospectionCustomRule])
    extensions = [
        partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
        partial(QueryDepthLimiter, max_depth=MAX_DEPTH),
        partial(MaxAliasesLimiter, max_alias_count=MAX_ALIASES),
        partial(AddValidationRules, rules),
        AuditReads,
        partial(MaskErrors, should_mask_error=_unexpected, error_message="internal error (logged on the server)"),
    ]
    return WorkstationSchema(query=Query, mutation=Mutation, extensions=extensions)


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

