"""The browser's session: the login token in an HttpOnly cookie, beside the bearer token.

Page scripts never see the token (`ct_session` is HttpOnly). Cross-site requests are
refused in two ways: both cookies are `SameSite=Strict`, and every cookie-authenticated
request that changes something must carry `X-CSRF-Token`, a value derived from the
session token that a page on another site cannot read or compute (double submit: the
same value sits in the readable `ct_csrf` cookie for the page's own scripts). Socket.IO
connections that authenticate by cookie must come from the hub's own origin.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Mapping
from urllib.parse import urlsplit

from aiohttp import web

SESSION_COOKIE = "ct_session"
CSRF_COOKIE = "ct_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token(session_token: str) -> str:
    """The CSRF value of a session: a one-way function of its secret token."""
    return hashlib.sha256(b"changtong-csrf:" + session_token.encode()).hexdigest()[:40]


def csrf_ok(session_token: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(csrf_token(session_token), presented or "")


def _is_https(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def set_session(response: web.StreamResponse, request: web.Request, token: str, max_age: int) -> None:
    """Put the session into its two cookies."""
    secure = _is_https(request)
    common = {"path": "/", "max_age": max_age, "samesite": "Strict", "secure": secure}
    response.set_cookie(SESSION_COOKIE, token, httponly=True, **common)
    response.set_cookie(CSRF_COOKIE, csrf_token(token), httponly=False, **common)


def clear_session(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(CSRF_COOKIE, path="/")


def same_origin(headers: Mapping[str, str]) -> bool:
    """True when the browser says the request comes from a page of this very host."""
    origin = headers.get("Origin")
    host = headers.get("Host")
    if not origin or not host:
        return False
    return urlsplit(origin).netloc.lower() == host.strip().lower()
