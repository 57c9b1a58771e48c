"""How the exchange bridge plugs into the app.

`setup(app)` makes the node's `Exchange` (app[EXCHANGE]) available to the rest of the
hub: `send_document(...)`, `sign_for`, `mark_read`, `return_package`, `open_arrival`,
and the hooks `on_arrival`, `on_receipt`, `on_quarantine`. When `[exchange] port` is set
and the node has a unit certificate (`changtong exchange identity`), it also serves
`/exchange/v1` behind mutual TLS on that port and runs the outbox worker.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Final

from aiohttp import web

from hub.config import CONFIG, DEMO
from hub.db import DATABASE
from hub.effects import EFFECTS

from . import desk_api
from .desk import Desk
from .desk import register as register_desk
from .flow_steps import register as register_flow_steps
from .pki import server_context
from .transport import Exchange, Outbox, exchange_app
from .transport.service import RECEIPT_EFFECT

__all__ = ["DESK", "EXCHANGE", "Desk", "Exchange", "setup"]

log = logging.getLogger(__name__)

EXCHANGE: Final = web.AppKey("exchange", Exchange)
DESK: Final = web.AppKey("desk", Desk)


def setup(app: web.Application) -> None:
    config = app[CONFIG]
    app[EXCHANGE] = Exchange(app[DATABASE], config.data_dir, config.exchange.max_package_bytes)
    app[EFFECTS].register(RECEIPT_EFFECT, app[EXCHANGE].sign_receipt)  # receipts are signed after the commit
    if app[DEMO]:  # before the node: it makes the demo's certificates
        from .demo import DEMO_EXCHANGE, DemoExchange

        app[DEMO_EXCHANGE] = DemoExchange(app)
        app.cleanup_ctx.append(app[DEMO_EXCHANGE].lifetime)
    app.cleanup_ctx.append(_exchange_node)
    # The 收发 desk: arrivals, receipts and quarantine as cards; the REST edge for clerks.
    desk = Desk(app, app[EXCHANGE])
    app[DESK] = desk
    register_desk(app, desk)
    register_flow_steps(app, desk)  # 分发 in 发文; 签收 starts 收文
    app.add_routes(desk_api.routes(desk))


async def _exchange_node(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the mTLS site and the outbox worker, when this process is a node."""
    config, exchange = app[CONFIG], app[EXCHANGE]
    if not config.exchange.port:
        yield
        return
    pki = exchange.pki
    if not pki.has_identity():
        log.warning("[exchange] port is set but this node has no unit certificate: run `changtong exchange identity`")
        yield
        return
    runner = web.AppRunner(exchange_app(exchange), access_log=None, shutdown_timeout=2)
    await runner.setup()
    ctx = server_context(pki.identity.cert, pki.identity.key, pki.trust_file)
    site = web.TCPSite(runner, config.exchange.host, config.exchange.port, ssl_context=ctx)
    await site.start()
    outbox = Outbox(
        exchange, base=config.exchange.retry_base_seconds, cap=config.exchange.retry_max_seconds,
        poll=config.exchange.poll_seconds,
    )
    await outbox.start()
    log.info("exchange node %s on https://%s:%d/exchange/v1", exchange.identity.unit, config.exchange.host, config.exchange.port)
    try:
        yield
    finally:
        await outbox.stop()
        await runner.cleanup()
