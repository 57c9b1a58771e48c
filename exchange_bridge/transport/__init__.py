"""Transport of the document exchange: packages, the outbox, arrivals, receipts, relay,
and the `/exchange/v1` application behind mutual TLS."""

from .outbox import Outbox, backoff
from .package import Content, Header, PackageError, Receipt, build_content, new_id, parse_content
from .server import exchange_app
from .service import Arrival, Exchange, NoRoute, QuarantineEvent, ReceiptEvent, route

__all__ = [
    "Arrival", "Content", "Exchange", "Header", "NoRoute", "Outbox", "PackageError", "QuarantineEvent", "Receipt",
    "ReceiptEvent", "backoff", "build_content", "exchange_app", "new_id", "parse_content", "route",
]
