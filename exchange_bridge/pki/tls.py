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


def client_context(cert: Path, key: Path, trust: Path) -> ssl.SSLContext:
    """The outbox's client: presents our certificate, checks the server's chain and name."""
    ctx = _base(ssl.Purpose.SERVER_AUTH, cert, key, trust)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
