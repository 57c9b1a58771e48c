"""The hub's error tree. Every error a client can see is one of these codes::

    HubError (code, message key)
    ├── BadRequest      bad_request    malformed or invalid input
    │   └── FieldErrors                a form's values: a problem per field
    ├── Unauthorized    unauthorized   no, bad, expired or revoked credentials
    ├── Forbidden       forbidden      authenticated, but not allowed
    ├── NotFound        not_found      no such thing (or not visible to you)
    ├── Conflict        conflict       clashes with the current state
    ├── TooLarge        too_large      over a size limit
    ├── RateLimited     rate_limited   slow down
    └── Unavailable     unavailable    a dependency is down; retry later

Messages are i18n keys (see hub/i18n.py); `detail` values are interpolated.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BadRequest",
    "Conflict",
    "FieldErrors",
    "Forbidden",
    "HubError",
    "NotFound",
    "RateLimited",
    "TooLarge",
    "Unauthorized",
    "Unavailable",
    "CODES",
]


class HubError(Exception):
    code: ClassVar[str] = "unavailable"
    http_status: ClassVar[int] = 500
    default_key: ClassVar[str] = "error.unavailable"

    def __init__(self, key: str | None = None, **params: Any) -> None:
        self.key = key or self.default_key
        self.params = params
        super().__init__(self.key)


class BadRequest(HubError):
    code, http_status, default_key = "bad_request", 400, "error.bad_request"


class FieldErrors(BadRequest):
    """bad_request with a problem per field of a form, each (field, message key, params):
    answered as `errors: [{field, message}]` beside the message."""

    def __init__(self, key: str, problems: list[tuple[str, str, dict[str, Any]]], **params: Any) -> None:
        super().__init__(key, **params)
        self.problems = problems


class Unauthorized(HubError):
    code, http_status, default_key = "unauthorized", 401, "error.unauthorized"


class Forbidden(HubError):
    code, http_status, default_key = "forbidden", 403, "error.forbidden"


class NotFound(HubError):
    code, http_status, default_key = "not_found", 404, "error.not_found"


class Conflict(HubError):
    code, http_status, default_key = "conflict", 409, "error.conflict"


class TooLarge(HubError):
    code, http_status, default_key = "too_large", 413, "error.too_large"


class RateLimited(HubError):
    code, http_status, default_key = "rate_limited", 429, "error.rate_limited"


class Unavailable(HubError):
    code, http_status, default_key = "unavailable", 503, "error.unavailable"


CODES = tuple(c.code for c in (BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, RateLimited, Unavailable))
