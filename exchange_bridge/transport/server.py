"""`/exchange/v1`: the aiohttp application behind mutual TLS, on its own port.

`POST /exchange/v1/packages` takes one message (a package or a receipt): the body is
the CMS bytes, `Changtong-*` headers route it. The TLS client certificate must be one
of our registered peers (the neighbour that hands it over, not necessarily its
signer). Answers `{"status": accepted | relayed | receipt | duplicate | quarantined,
"reason"?}`; errors as `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

from aiohttp import web
from cryptography import x509

from hub.errors import BadRequest, Forbidden, HubError, TooLarge
from hub.http import json_response
from hub.i18n import negotiate, translate

from ..pki import fingerprint
from . import store
from .package import Header, PackageError
from .service import Exchange

__all__ = ["exchange_app"]


def exchange_app(exchange: Exchange) -> web.Application:
    app = web.Application(client_max_size=exchange.max_package_bytes + 1, middlewares=[_errors])

    async def post_package(request: web.Request) -> web.Response:
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der is None:
            raise Forbidden("error.exchange_not_a_peer")
        async with exchange.db.connect() as conn:
            peer = await store.peer_by_fingerprint(conn, fingerprint(x509.load_der_x509_certificate(der)))
        if peer is None:
            raise Forbidden("error.exchange_not_a_peer")
        try:
            header = Header.from_http(request.headers)
        except PackageError as exc:
            raise BadRequest("error.exchange_bad_package", detail=exc.detail) from exc
        if request.content_length is not None and request.content_length > exchange.max_package_bytes:
            raise TooLarge("error.too_large")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge as exc:
            raise TooLarge("error.too_large") from exc
        return json_response(await exchange.receive(header, body, peer["name"]))

    app.router.add_post("/exchange/v1/packages", post_package)
    return app


@web.middleware
async def _errors(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except HubError as exc:
        locale = negotiate(request.headers.get("Accept-Language"))
        return json_response(
            {"error": {"code": exc.code, "message": translate(exc.key, locale, **exc.params)}}, status=exc.http_status
        )
