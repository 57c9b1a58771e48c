"""TLS contexts for the exchange port: mutual TLS, both sides presenting their unit
certificate and checking the other's chain against the node's trusted roots."""

from __future__ import annotations

import ssl
from pathlib import Path

__all__ = ["client_context", "server_context"]


def _base(purpose: ssl.Purpose, cert: Path, key: Path, trust: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(purpose, cafile=str(trust))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


def server_context(cert: Path, key: Path, trust: Path) -> ssl.SSLContext:
    """The exchange server: a client certificate chaining to `trust` is required."""
    ctx = _base(ssl.Purpose.CLIENT_AUTH, cert, key, trust)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(cert: Path, key: Path, trust: Path, pinned_pem: str | None = None) -> ssl.SSLContext:
    """The outbox's client: presents our certificate and checks the server's name and
    chain. With `pinned_pem` the only trust anchor is that one certificate (OpenSSL's
    partial-chain mode), so the server must present exactly the peer's registered
    certificate; its chain to our roots is checked when the peer is registered."""
    ctx = _base(ssl.Purpose.SERVER_AUTH, cert, key, trust)
    if pinned_pem is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(cert), str(key))
        ctx.load_verify_locations(cadata=pinned_pem)
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
