"""HTTP edges shared by every package: the error shape, request ids, the caller's
locale, authentication of REST calls, and JSON body parsing."""

from __future__ import annotations

import contextvars
import logging
import secrets
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from .auth import AUTH, Principal
from .errors import BadRequest, FieldErrors, Forbidden, HubError, TooLarge, Unauthorized
from .i18n import negotiate, translate
from .jsoncodec import dumps, loads
from .client_address import Networks, client_address
from .metrics import METRICS
from .session_cookie import CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE, csrf_ok

__all__ = ["REQUEST_ID", "error_body", "forwarded_for", "json_body", "principal", "read_body", "request_locale", "middlewares", "session_token"]

log = logging.getLogger("changtong.http")
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
M = TypeVar("M", bound=BaseModel)
PRINCIPAL = web.RequestKey("principal", Principal)
MAX_JSON_BYTES = 1024 * 1024


def json_response(data: Any, *, status: int = 200, headers: Any = None) -> web.Response:
    """A JSON response written by hub/jsoncodec.py (UTF-8, not `\\uXXXX`): the one way
    every REST handler answers."""
    return web.json_response(data, status=status, headers=headers, dumps=dumps)


def request_locale(request: web.Request) -> str:
    return negotiate(request.headers.get("Accept-Language"))


def error_body(exc: HubError, locale: str) -> dict[str, Any]:
    """`{"error": {code, message}}`, the shape of every refusal (REST and Socket.IO acks),
    with `errors: [{field, message}]` when a form's fields were refused one by one."""
    if not isinstance(exc, FieldErrors):
        return {"error": {"code": exc.code, "message": translate(exc.key, locale, **exc.params)}}
    errors = [{"field": f, "message": translate(k, locale, **p)} for f, k, p in exc.problems]
    # the message alone says what to fix too (a card's refusal shows only it)
    said = translate("form.separator", locale).join(translate("form.problem", locale, field=e["field"], message=e["message"]) for e in errors[:3])
    return {"error": {"code": exc.code, "message": translate(exc.key, locale, problems=said, **exc.params), "errors": errors}}


@web.middleware
async def request_context(request: web.Request, handler: Any) -> web.StreamResponse:
    rid = request.headers.get("X-Request-Id", "")[:64] or secrets.token_hex(8)
    REQUEST_ID.set(rid)
    status = 500
    try:
        response = await handler(request)
        status = response.status
    except HubError as exc:
        status = exc.http_status
        response = json_response(error_body(exc, request_locale(request)), status=exc.http_status)
    except web.HTTPException as exc:
        status = exc.status
        if exc.status in (404, 405) or exc.status >= 400:
            code = {404: "not_found", 405: "bad_request", 413: "too_large"}.get(exc.status, "bad_request")
            key = {404: "error.not_found", 413: "error.too_large"}.get(exc.status, "error.bad_request")
            # keep what the status needs said (405: Allow, RFC 9110), not aiohttp's text body
            kept = {h: exc.headers[h] for h in ("Allow", "Retry-After") if h in exc.headers}
            response = json_response(
                {"error": {"code": code, "message": translate(key, request_locale(request))}}, status=exc.status, headers=kept
            )
        else:
            raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        response = json_response(error_body(HubError(), request_locale(request)), status=500)
    if not response.prepared:
        response.headers["X-Request-Id"] = rid
    if not request.path.startswith("/socket.io"):
        request.app[METRICS].http_requests.labels(request.method, str(status)).inc()
    return response


def forwarded_for(networks: Networks) -> Any:
    """Middleware: `request.remote` becomes the client's address where the peer is a
    trusted proxy (hub/client_address.py), so login limits and logs see people, not nginx."""

    @web.middleware
    async def client_remote(request: web.Request, handler: Any) -> web.StreamResponse:
        if networks and "X-Forwarded-For" in request.headers:
            address = client_address(request.remote, request.headers.getall("X-Forwarded-For"), networks)
            if address != request.remote:
                request = request.clone(remote=address)
        return await handler(request)

    return client_remote


middlewares = [request_context]


def session_token(request: web.Request) -> str | None:
    """The caller's token: `Authorization: Bearer <token>`, else the browser's session
    cookie, which needs the CSRF header on anything but a safe method."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    token = request.cookies.get(SESSION_COOKIE)
    if token and request.method not in SAFE_METHODS and not csrf_ok(token, request.headers.get(CSRF_HEADER)):
        raise Forbidden("error.csrf")
    return token


async def principal(request: web.Request) -> Principal:
    """The caller of a REST endpoint (bearer token or session cookie)."""
    cached = request.get(PRINCIPAL)
    if cached is not None:
        return cached
    token = session_token(request)
    if not token:
        raise Unauthorized("error.unauthorized")
    who = await request.app[AUTH].principal(token)
    request[PRINCIPAL] = who
    return who


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole request body, refused with `too_large` past `limit` bytes. (One
    `content.read(n)` returns only what has arrived so far: a body sent in several
    segments would be cut short.)"""
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge("error.too_large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise TooLarge("error.too_large")
        chunks.append(chunk)
    return b"".join(chunks)


async def json_body(request: web.Request, model: type[M], limit: int = MAX_JSON_BYTES) -> M:
    """Parse and validate a JSON body (at most `limit` bytes) against a pydantic model."""
    raw = await read_body(request, limit)
    try:
        data = loads(raw or b"{}")
        return model.model_validate(data)
    except (ValueError, ValidationError) as exc:
        raise BadRequest("error.bad_request") from exc
