"""The exchange's storage and outbox on SQLite and PostgreSQL (the `hub` fixture), in
one process: node A is the hub under test, node B a second `Exchange` on its own SQLite
file; each serves `/exchange/v1` on a real mutual-TLS port, and the outbox is driven
step by step (`run_once`) so retries and their backoff can be seen."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from exchange_bridge.wiring import EXCHANGE
from exchange_bridge.pki import CertPair, NodePki, init_ca, issue_unit, load_cert, server_context
from exchange_bridge.transport import Exchange, Outbox, exchange_app
from exchange_bridge.transport.service import RECEIPT_EFFECT
from hub.config import Config
from hub.db import Database, upgrade
from hub.effects import Effects
from hub.errors import BadRequest, Conflict, NotFound

XML = "<公文><标题>关于召开全市安全生产会议的通知</标题></公文>".encode()


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[CertPair, dict[str, CertPair]]:
    d = tmp_path_factory.mktemp("ca")
    root = init_ca(d / "ca", bits=2048)
    return root, {u: issue_unit(root, u, d / "issued", bits=2048) for u in ("dy-city", "dy-hekou")}


class Site:
    """`/exchange/v1` of one Exchange on a TLS port that can go down and come back."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def up(self) -> None:
        pki = self.exchange.pki
        self.runner = web.AppRunner(exchange_app(self.exchange), access_log=None, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port, ssl_context=server_context(pki.identity.cert, pki.identity.key, pki.trust_file))
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def down(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


def _install(data: Path, ca: tuple[CertPair, dict[str, CertPair]], unit: str) -> None:
    pki = NodePki.of(data)
    pki.add_trust(ca[0].cert)
    pki.install_identity(ca[1][unit].cert, ca[1][unit].key)


async def _county(tmp_path: Path, ca: Any) -> tuple[Path, Any, Exchange]:
    """dy-hekou: a second node in this process, on a database of its own."""
    data = tmp_path / "hekou"
    _install(data, ca, "dy-hekou")
    await asyncio.to_thread(upgrade, Config(data_dir=data))
    db = Database(Config(data_dir=data).effective_database_url)
    return data, db, Exchange(db, data, 10 * 1024 * 1024)


async def _sent(ex: Exchange, pid: str) -> dict[str, tuple[str, str]]:
    return {r["unit"]: (r["status"], r["reason"]) for r in (await ex.state())["sent"] if r["package_id"] == pid}


async def test_outbox_backs_off_delivers_and_receipts_move_tracking_forward(hub: Any, tmp_path: Path, ca: Any) -> None:
    _install(hub.config.data_dir, ca, "dy-city")
    city: Exchange = hub.app[EXCHANGE]
    hekou_data, hekou_db, hekou = await _county(tmp_path, ca)
    hekou_effects = Effects(hekou_db, Config(data_dir=hekou_data))  # no worker loop: run by hand below
    hekou_effects.register(RECEIPT_EFFECT, hekou.sign_receipt)
    city_site, hekou_site = Site(city), Site(hekou)
    await city_site.up()
    await hekou_site.up()
    await hekou_site.down()  # 河口 is down; its port is known
    await city.add_peer("dy-hekou", hekou_site.url, load_cert(ca[1]["dy-hekou"].cert))
    await hekou.add_peer("dy-city", city_site.url, load_cert(ca[1]["dy-city"].cert))
    city_out = Outbox(city, base=600, cap=600, poll=0.1)
    hekou_out = Outbox(hekou, base=600, cap=600, poll=0.1)
    arrivals: list[Any] = []
    receipts: list[tuple[str, str]] = []
    hekou.on_arrival.append(lambda a: _append(arrivals, a))
    city.on_receipt.append(lambda r: _append(receipts, (r.unit, r.status)))
    try:
        with pytest.raises(NotFound) as no_route:
            await city.send_document(title="x", document=XML, recipients=["dy-lijin"])
        assert no_route.value.key == "error.exchange_no_route" and no_route.value.params == {"unit": "dy-lijin"}

        pid = await city.send_document(title="关于召开全市安全生产会议的通知", document=XML, recipients=["dy-hekou"],
                                       attachments={"会议议程.docx": b"PK\x03\x04 agenda"})
        assert await city_out.run_once() == 1  # refused: 河口 is down
        row = (await city.state())["outbox"][0]
        assert row["state"] == "pending" and row["attempts"] == 1 and row["last_error"]
        assert (row["next_attempt_at"] - row["created_at"]).total_seconds() > 400  # backoff: 600 s ± 20 %
        assert await city_out.run_once() == 0  # not due again before its backoff
        assert await _sent(city, pid) == {"dy-hekou": ("queued", "")}

        await hekou_site.up()
        assert await city.retry_now("dy-hekou") == 1  # the operator: `changtong exchange retry dy-hekou`
        assert await city_out.run_once() == 1
        assert await _sent(city, pid) == {"dy-hekou": ("sent", "")}
        assert [a.package_id for a in arrivals] == [pid] and arrivals[0].content.attachments == {"会议议程.docx": b"PK\x03\x04 agenda"}
        assert arrivals[0].title == "关于召开全市安全生产会议的通知" and arrivals[0].sender == "dy-city"

        assert await hekou_effects.run_until_idle() == 1  # the delivered receipt, signed after the commit
        assert await hekou_out.run_once() == 1  # and sent
        assert await _sent(city, pid) == {"dy-hekou": ("delivered", "")}
        await hekou.sign_for(pid)
        await hekou.mark_read(pid)
        assert await hekou_effects.run_until_idle() == 2
        assert await hekou_out.run_once() == 2  # both receipts at once, in either order
        assert await _sent(city, pid) == {"dy-hekou": ("read", "")}  # never back to "signed"
        signed_receipts = [status for unit, status in receipts if status in ("delivered", "signed", "read", "returned")]
        # "signed" after "read" moves nothing and is not announced; two receipts taken at
        # once may be announced in either order (listeners re-read the tracking state)
        assert signed_receipts[0] == "delivered" and sorted(signed_receipts[1:]) in (["read", "signed"], ["read"])

        with pytest.raises(Conflict):  # what was signed for and read cannot be returned
            await hekou.return_package(pid, "不属于本单位职责")
        with pytest.raises(BadRequest):
            await hekou.return_package(pid, "  ")
        with pytest.raises(NotFound):
            await hekou.sign_for("0" * 32)
        assert await hekou_effects.run_until_idle() == 0
        assert await hekou_out.run_once() == 0
    finally:
        await city_out.stop()
        await hekou_out.stop()
        await city_site.down()
        await hekou_site.down()
        await hekou_db.close()


async def test_a_node_without_a_unit_certificate_says_so(hub: Any) -> None:
    with pytest.raises(NotFound) as exc:
        await hub.app[EXCHANGE].send_document(title="x", document=XML, recipients=["dy-city"])
    assert exc.value.key == "error.exchange_no_identity"


async def _append(items: list[Any], item: Any) -> None:
    items.append(item)


def test_a_relay_may_report_only_quarantine_or_refusal_for_another_unit() -> None:
    from exchange_bridge.transport import Header, PackageError, Receipt, new_id

    pid, rid = new_id(), new_id()
    by_city = Header("receipt", rid, "dy-city", ("dy-kenli",))
    notice = Receipt(rid, pid, "dy-guangrao", "quarantined", "unknown_signer", relay="dy-city")
    parsed = Receipt.from_bytes(notice.to_bytes(), by_city)
    assert (parsed.unit, parsed.status, parsed.reason, parsed.relay) == ("dy-guangrao", "quarantined", "unknown_signer", "dy-city")
    for forged in (
        Receipt(rid, pid, "dy-guangrao", "signed", relay="dy-city"),  # a relay cannot sign for a county
        Receipt(rid, pid, "dy-guangrao", "delivered"),  # nor pass off a receipt as the county's
        Receipt(rid, pid, "dy-guangrao", "quarantined", relay="dy-kenli"),  # nor speak for another relay
    ):
        with pytest.raises(PackageError) as bad:
            Receipt.from_bytes(forged.to_bytes(), by_city)
        assert bad.value.reason == "header_mismatch"


async def test_an_arrival_its_card_and_its_desk_row_commit_together_or_not_at_all(hub: Any, tmp_path: Path, ca: Any) -> None:
    """The desk stores the 收文 card inside the arrival's transaction: a failure after the
    card was written (a crash before the commit, say) leaves no arrival, no card and no
    desk row, the sender keeps its package queued, and its next attempt lands whole."""
    import sqlalchemy as sa

    from exchange_bridge.desk_tables import exchange_desk_cards
    from exchange_bridge.model import Document
    from exchange_bridge.xml_codec import dump_xml
    from hub.db import DATABASE
    from rooms.schema import messages

    _install(hub.config.data_dir, ca, "dy-city")
    city: Exchange = hub.app[EXCHANGE]
    hekou_data, hekou_db, hekou = await _county(tmp_path, ca)
    city_site = Site(city)
    await city_site.up()
    await hekou.add_peer("dy-city", city_site.url, load_cert(ca[1]["dy-city"].cert))
    await city.add_peer("dy-hekou", "https://127.0.0.1:1", load_cert(ca[1]["dy-hekou"].cert))
    hekou_out = Outbox(hekou, base=600, cap=600, poll=0.1)
    desk = city.arrival_store
    real_store = desk.store

    async def crash_after_the_card(conn: Any, arrival: Any, prepared: Any) -> None:
        await real_store(conn, arrival, prepared)
        raise RuntimeError("the process died before the commit")

    async def city_rows() -> tuple[int, int, int, int]:
        def count(conn: Any) -> tuple[int, int, int, int]:
            from exchange_bridge.transport.tables import exchange_inbox, exchange_received

            n = lambda t: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            cards = conn.execute(sa.select(sa.func.count()).select_from(messages).where(messages.c.kind == "card")).scalar_one()
            return n(exchange_inbox), n(exchange_received), cards, n(exchange_desk_cards)

        return await hub.app[DATABASE].read(count)

    xml = dump_xml(Document(title="关于召开全市安全生产会议的通知", kind="通知"))
    try:
        desk.store = crash_after_the_card  # type: ignore[method-assign]
        pid = await hekou.send_document(title="关于召开全市安全生产会议的通知", document=xml, recipients=["dy-city"])
        assert await hekou_out.run_once() == 1
        assert (await hekou.state())["outbox"][0]["state"] == "pending"  # refused: the sender keeps it
        assert await city_rows() == (0, 0, 0, 0)  # nothing half-done at the city

        desk.store = real_store  # type: ignore[method-assign]
        assert await hekou.retry_now("dy-city") == 1
        assert await hekou_out.run_once() == 1
        assert await city_rows() == (1, 1, 1, 1)  # the arrival, its dedup row, its card, its desk row
        state = await city.state()
        assert [r["package_id"] for r in state["inbox"]] == [pid]
    finally:
        desk.store = real_store  # type: ignore[method-assign]
        await hekou_out.stop()
        await city_site.down()
        await hekou_db.close()


async def test_a_sent_document_and_its_tracking_card_commit_together(hub: Any, ca: Any) -> None:
    import sqlalchemy as sa

    from exchange_bridge.model import Document
    from exchange_bridge.transport.tables import exchange_outbox, exchange_tracking
    from exchange_bridge.wiring import DESK
    from hub.auth import Principal
    from hub.db import DATABASE
    from rooms.schema import messages

    _install(hub.config.data_dir, ca, "dy-city")
    city: Exchange = hub.app[EXCHANGE]
    await city.add_peer("dy-hekou", "https://127.0.0.1:1", load_cert(ca[1]["dy-hekou"].cert))
    clerk_user = await hub.user("clerk", "收发员", roles=("clerk",))
    clerk = Principal(clerk_user["id"], "clerk", "收发员", ("clerk",), 0)
    desk = hub.app[DESK]
    real = desk._post_in

    async def crash(*args: Any) -> Any:
        await real(*args)
        raise RuntimeError("the process died before the commit")

    async def rows() -> tuple[int, int, int]:
        def count(conn: Any) -> tuple[int, int, int]:
            n = lambda t, *w: conn.execute(sa.select(sa.func.count()).select_from(t).where(*w)).scalar_one()
            return n(exchange_outbox), n(exchange_tracking), n(messages, messages.c.kind == "card")

        return await hub.app[DATABASE].read(count)

    doc = Document(title="关于报送年度安全生产总结的通知", kind="通知")
    desk._post_in = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await desk.send(clerk, doc, ["dy-hekou"])
    assert await rows() == (0, 0, 0)  # no package queued without its tracking card, nor the reverse
    desk._post_in = real  # type: ignore[method-assign]
    sent = await desk.send(clerk, doc, ["dy-hekou"])
    assert sent["message"]["card"]["title"] and await rows() == (1, 1, 1)
