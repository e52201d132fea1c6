"""Who is calling `uhnw serve api`, and the browser-facing guards every surface shares.

A request is authenticated by an `Authorization: Bearer` token (scripts, other services, the IdP's tokens in
production) or by the workstation's session cookie, set by `POST /auth/login` (local issuer only): an HttpOnly,
SameSite=Strict cookie holding a short-lived signed token whose `csrf` claim the page must echo in `X-CSRF-Token` on
every state-changing request (and, when the browser sends an `Origin`, it must be this server's). The token's subject
becomes a `uhnw.access.User` (role from the `users` table); what they may read is decided by
`uhnw.access.visible_clients` alone, and every read of client data goes through `read_audited`, which writes its
audit row in the read's transaction.

Also here: the security headers of every response (a Content-Security-Policy with scripts from this origin only)
and a request-body size limit, as pure ASGI middleware.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from uhnw.access import AccessError, User, audited_read, authenticate, load_user
from uhnw.auth import AuthError, LocalVerifier, Principal, issue_token

__all__ = ["COOKIE", "CSRF_HEADER", "SESSION_TTL", "CSP", "Caller", "caller", "require_csrf", "read_audited", "same_origin",
           "SecurityHeaders", "BodyLimit", "no_unknown_query", "router"]

log = logging.getLogger("uhnw.serve.session")
router = APIRouter(tags=["session"])

COOKIE = "uhnw_session"
CSRF_HEADER = "x-csrf-token"
SESSION_TTL = 3600.0  # seconds; a cookie with less than half of it left is renewed on the next request
USER_CACHE_SECONDS = 5.0  # a disabled user or a changed role takes effect within this
MAX_BODY_BYTES = 64 * 1024
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
# style-src allows inline styles because plotly.js sets element styles as it draws; no script is ever inline.


@dataclass(frozen=True)
class Caller:
    "An authenticated request: the user, their verified token, and whether it came in the session cookie."
    user: User
    principal: Principal
    via_cookie: bool


def _bearer(header: str | None) -> str:
    scheme, _, token = (header or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(401, reason, headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{reason}"'})


_users: dict[str, tuple[float, User | AccessError]] = {}


def _cached_user(user_id: str) -> User | None:
    "The user of a recent lookup (on the event loop: no thread hop), None when it must be read again."
    hit = _users.get(user_id)
    if not hit or time.monotonic() - hit[0] >= USER_CACHE_SECONDS: return None
    if isinstance(hit[1], AccessError): raise hit[1]
    return hit[1]


def _user_of(conn, user_id: str) -> User:
    try: got: User | AccessError = load_user(conn, user_id)
    except AccessError as e: got = e
    _users[user_id] = (time.monotonic(), got)
    if isinstance(got, AccessError): raise got
    return got


async def authenticate_request(request: Request, headers: Any | None = None) -> tuple[Principal, bool]:
    "The verified token of a request (bearer header first, else the session cookie) and whether it was the cookie."
    st = request.app.state
    headers = headers if headers is not None else request.headers
    token, via_cookie = _bearer(headers.get("authorization")), False
    if not token:
        token, via_cookie = request.cookies.get(COOKIE, ""), True
    if not token: raise AuthError("missing token: log in, or send Authorization: Bearer <token>")
    if isinstance(st.verifier, LocalVerifier): return st.verifier.verify_token(token), via_cookie  # an HMAC: no I/O
    principal = await asyncio.to_thread(st.verifier.verify_token, token)  # a JWKS fetch is blocking I/O
    return principal, via_cookie


async def caller(request: Request, response: Response) -> Caller:
    "FastAPI dependency: the authenticated caller, or 401. Renews a session cookie past half its life."
    try:
        principal, via_cookie = await authenticate_request(request)
        user = _cached_user(principal.rm_id) or await request.app.state.pool.run(_user_of, principal.rm_id)
    except (AuthError, AccessError) as e:
        raise _unauthorized(str(e)) from None
    if via_cookie and principal.csrf and principal.seconds_left() < SESSION_TTL / 2 and _local_secret(request):
        _set_session(request, response, user.user_id, principal.csrf)
    return Caller(user, principal, via_cookie)


def same_origin(request_headers, scheme: str) -> bool:
    "True when the request's `Origin` (if any) is this server's own origin."
    origin = request_headers.get("origin")
    if not origin: return True
    o, host = urlsplit(origin), request_headers.get("host", "")
    return o.scheme in ("http", "https") and o.netloc.lower() == host.lower() and (o.scheme == scheme or scheme in ("ws", "wss"))


async def require_csrf(request: Request, who: Caller = Depends(caller)) -> Caller:
    "FastAPI dependency of state-changing routes: a cookie-authenticated request must echo its CSRF token from the same origin."
    if who.via_cookie:
        sent = request.headers.get(CSRF_HEADER, "")
        if not who.principal.csrf or not sent or not hmac.compare_digest(sent, who.principal.csrf):
            raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header (the page reads it from /api/me)")
        if not same_origin(request.headers, request.url.scheme):
            raise HTTPException(403, "cross-origin request refused")
    return who


async def read_audited(request: Request, who: Caller, operation: str, read: Callable[[Any], tuple[Any, Any]],
                       surface: str = "rest", detail: dict | None = None) -> Any:
    "Run `read(conn) -> (result, client ids returned)` and its audit row in one transaction, off the event loop."
    return await request.app.state.pool.run(audited_read, who.user, surface, operation, read, detail)


def no_unknown_query(request: Request) -> None:
    "Router dependency: a query parameter the route does not declare is a 400, not silently ignored."
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None: return
    known = set()
    stack = [dependant]
    while stack:
        d = stack.pop()
        known |= {p.alias for p in d.query_params}
        stack.extend(d.dependencies)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        known_text = f"; known: {', '.join(sorted(known))}" if known else ""
        raise HTTPException(400, f"unknown query parameter(s): {', '.join(unknown)}{known_text}")


# --- login -------------------------------------------------------------------------------------------------------

def _local_secret(request: Request) -> bytes | None:
    v = request.app.state.verifier
    return v.secret if isinstance(v, LocalVerifier) else None


def _set_session(request: Request, response: Response, user_id: str, csrf: str) -> datetime:
    token = issue_token(user_id, _local_secret(request), ttl=SESSION_TTL, csrf=csrf)
    response.set_cookie(COOKIE, token, max_age=int(SESSION_TTL), httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")
    return datetime.fromtimestamp(time.time() + SESSION_TTL, UTC)


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class SessionOut(BaseModel):
    user_id: str
    display_name: str
    role: Literal["rm", "compliance"]
    csrf_token: str
    expires_at: datetime


def _audit_login(conn, user_id: str, ok: bool, client: str) -> None:
    from psycopg.types.json import Jsonb
    conn.execute("insert into audit_log (actor, action, surface, operation, detail) values (%s, %s, 'rest', 'POST /auth/login', %s)",
                 (user_id[:100], "login" if ok else "login_failed", Jsonb({"client": client})))


def _login(conn, user_id: str, password: str, client: str) -> User | None:
    user = authenticate(conn, user_id, password)
    _audit_login(conn, user_id, user is not None, client)
    return user


@router.post("/auth/login", response_model=SessionOut, responses={400: {"description": "a body that is not JSON"},
                                                                   401: {"description": "unknown user or wrong password"},
                                                                   403: {"description": "cross-origin login refused"},
                                                                   409: {"description": "local logins are off (identity provider)"}})
async def login(body: LoginIn, request: Request, response: Response) -> SessionOut:
    "Log in with a workstation user's password: sets the HttpOnly session cookie; answers the CSRF token the page must echo."
    if _local_secret(request) is None:
        raise HTTPException(409, "local logins are off on this deployment: sign in with the identity provider")
    if not same_origin(request.headers, request.url.scheme):
        raise HTTPException(403, "cross-origin login refused")
    user = await request.app.state.pool.run(_login, body.user_id, body.password, request.client.host if request.client else "")
    if user is None: raise HTTPException(401, "unknown user or wrong password")
    csrf = secrets.token_urlsafe(24)
    expires = _set_session(request, response, user.user_id, csrf)
    _users.pop(user.user_id, None)
    return SessionOut(user_id=user.user_id, display_name=user.display_name, role=user.role, csrf_token=csrf, expires_at=expires)


@router.post("/auth/logout", status_code=204, response_class=Response)
async def logout(request: Request, who: Caller = Depends(require_csrf)) -> Response:
    "End the browser session (clears the cookie; the token itself expires on its own)."
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


# --- ASGI middleware -----------------------------------------------------------------------------------------------

class SecurityHeaders:
    "Adds the Content-Security-Policy and the other security headers to every HTTP response."

    HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
               (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin")]

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http": return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []), *[(k, v) for k, v in self.HEADERS if k not in names]]}
            await send(message)
        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    "Refuses a request body above `limit` bytes with 413 (by Content-Length, or while it streams in)."

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http": return await self.app(scope, receive, send)
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await _json_error(send, 413, f"request body larger than {self.limit} bytes")
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit: raise _TooLarge()
            return message
        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await _json_error(send, 413, f"request body larger than {self.limit} bytes")


class _TooLarge(Exception):
    pass


async def _json_error(send, status: int, detail: str) -> None:
    import json
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
