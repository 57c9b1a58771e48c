"""The demo's document exchange, working out of the box (`changtong serve --demo`).

A demo CA in `<data_dir>/pki/ca` issues this hub its unit certificate as 东营市人民政府
(`dy-zf`) and one for 垦利区 (`klq`), whose exchange node runs in the same process beside
the city, with its own database and files in `<data_dir>/demo-peer/klq`. So a clerk's
first 发文 to 垦利区 arrives somewhere, is delivered, and a few seconds later is signed
for by 垦利区's (automatic) 收发员: the tracking card moves from 已送达 to 已签收. On the
first start 垦利区 also sends the city a 请示, so 收文 holds a card to sign for. 朱艳
(`zhuyan`, 市政府办公室) is the demo's clerk.

None of it runs without `--demo`, nor when the hub already has an exchange identity of
its own (a real deployment is never touched by the demo).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from hub.auth import Principal
from hub.config import CONFIG, Config
from hub.db import DATABASE, Database, upgrade
from hub.directory import parse_roles, update_user, user_by_username
from hub.effects import Effects

from .model import Document
from .pki import init_ca, issue_unit, load_cert, server_context
from .pki.node import NodePki
from .transport import Exchange, Outbox, exchange_app
from .transport.service import RECEIPT_EFFECT
from .xml_codec import dump_xml

__all__ = ["CITY", "CLERK", "DEMO_EXCHANGE", "PEER", "DemoExchange", "seed"]

log = logging.getLogger(__name__)

CITY, CITY_NAME = "dy-zf", "东营市人民政府"
PEER, PEER_NAME = "klq", "垦利区人民政府"
CLERK = "zhuyan"
PEER_CLERK = "刘敏"  # 垦利区's 收发员, automatic in the demo
SIGN_AFTER_SECONDS = 3.0
BITS = 2048  # demo keys: made in a second or two on first start


def peer_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "demo-peer" / PEER


def prepare(data_dir: Path) -> bool:
    """Make the demo CA and both nodes' certificates where missing, and the peer's
    database (blocking: run in a thread). False when this hub has an identity the demo
    did not make: then there is no demo exchange."""
    city, peer = NodePki.of(data_dir), NodePki.of(peer_dir(data_dir))
    if city.has_identity() and not peer.has_identity():
        return False
    if not city.ca.key.exists():
        init_ca(city.ca.cert.parent, name="畅通演示根CA", bits=BITS)
    for pki, unit, name in ((city, CITY, CITY_NAME), (peer, PEER, PEER_NAME)):
        if not pki.has_identity():
            pair = issue_unit(city.ca, unit, city.issued_dir, unit_name=name, hosts=["127.0.0.1", "localhost"], bits=BITS)
            pki.install_identity(pair.cert, pair.key)
            pki.add_trust(city.ca.cert)
    upgrade(Config(data_dir=peer_dir(data_dir)))
    return True


def _bound() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def node_site(exchange: Exchange, sock: socket.socket) -> AsyncIterator[str]:
    """The node's `/exchange/v1` on `sock` behind mutual TLS; yields its URL."""
    pki = exchange.pki
    runner = web.AppRunner(exchange_app(exchange), access_log=None, shutdown_timeout=2)
    await runner.setup()
    await web.SockSite(runner, sock, ssl_context=server_context(pki.identity.cert, pki.identity.key, pki.trust_file)).start()
    try:
        yield f"https://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()


class DemoExchange:
    """垦利区's node, in this process: its exchange, its effects worker (receipts are
    signed there after the commit, as on any node), its outbox, and a 收发员 that signs
    for what arrives."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.peer: Exchange | None = None
        self._signing: set[asyncio.Task[None]] = set()

    async def lifetime(self, app: web.Application) -> AsyncIterator[None]:
        """cleanup_ctx of `serve --demo`."""
        config = app[CONFIG]
        from .wiring import EXCHANGE

        city = app[EXCHANGE]
        if not await asyncio.to_thread(prepare, config.data_dir):
            log.info("demo exchange: this hub has an exchange identity of its own; no demo peer")
            yield
            return
        home = peer_dir(config.data_dir)
        db = Database(Config(data_dir=home).effective_database_url)
        peer = Exchange(db, home, config.exchange.max_package_bytes)
        effects = Effects(db, Config(data_dir=home))
        effects.register(RECEIPT_EFFECT, peer.sign_receipt)
        peer.on_arrival.append(self._sign_later)
        settings = config.exchange
        peer_outbox = Outbox(peer, base=settings.retry_base_seconds, cap=settings.retry_max_seconds, poll=settings.poll_seconds)
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(db.close)  # last: the outbox and the effects still write while they stop
            await stack.enter_async_context(contextlib.asynccontextmanager(effects.lifetime)(app))
            peer_url = await stack.enter_async_context(node_site(peer, _bound()))
            if settings.port:  # the city's own node runs already (wiring._exchange_node)
                city_url = f"https://127.0.0.1:{settings.port}"
            else:
                city_url = await stack.enter_async_context(node_site(city, _bound()))
                city_outbox = Outbox(city, base=settings.retry_base_seconds, cap=settings.retry_max_seconds, poll=settings.poll_seconds)
                await city_outbox.start()
                stack.push_async_callback(city_outbox.stop)
            await city.add_peer(PEER, peer_url, load_cert(peer.pki.identity.cert))
            await peer.add_peer(CITY, city_url, load_cert(city.pki.identity.cert))
            await peer_outbox.start()
            stack.push_async_callback(peer_outbox.stop)
            self.peer = peer
            log.info("demo exchange: %s at %s, %s at %s", CITY, city_url, PEER, peer_url)
            try:
                yield
            finally:
                self.peer = None
                for task in list(self._signing):
                    task.cancel()

    async def _sign_later(self, arrival: Any) -> None:
        async def sign() -> None:
            await asyncio.sleep(SIGN_AFTER_SECONDS)
            if self.peer is not None:
                await self.peer.sign_for(arrival.package_id, by=PEER_CLERK)

        task = asyncio.create_task(sign())
        self._signing.add(task)
        task.add_done_callback(self._signing.discard)

    async def send_welcome(self) -> None:
        """垦利区's 请示 to the city, once (the demo's first start)."""
        if self.peer is None:
            return
        doc = Document(
            kind="请示", direction="上行文", issuer="垦利区人民政府文件", number="垦政发〔2026〕21号", signer=["王立新"],
            title="垦利区人民政府关于申请拨付冬季清洁取暖补助资金的请示", to=["东营市人民政府"],
            body=[
                {"type": "paragraph", "text": "东营市人民政府："},
                {"type": "paragraph", "text": "为保障今冬群众温暖过冬，我区拟对3200户农村家庭实施清洁取暖改造，现申请市级补助资金480万元。"},
                {"type": "paragraph", "text": "妥否，请批示。"},
            ],
            signed_by=["垦利区人民政府"], date="2026年12月1日",
        )
        await self.peer.send_document(title=doc.title or "", document=dump_xml(doc), recipients=[CITY])


DEMO_EXCHANGE: Final = web.AppKey("demo_exchange", DemoExchange)


async def seed(app: web.Application, admin: Principal) -> list[tuple[str, str, str]]:
    """Feature.demo (the first start): 朱艳 becomes the city's clerk, and 垦利区 sends its 请示."""
    async with app[DATABASE].begin() as conn:
        row = await user_by_username(conn, CLERK)
        if row is None:
            return []
        await update_user(conn, row.id, roles=[*parse_roles(row.roles or ""), "clerk"])
    demo = app.get(DEMO_EXCHANGE)
    if demo is not None:
        await demo.send_welcome()
    return [(CLERK, row.display_name, "公文收发员")]
