"""A node killed with SIGKILL while documents arrive, or while its clerk sends: each arrival is stored with its 收文
card and its desk row, or not at all, and the sender's retries bring the rest exactly
once. (When they were three commits, a kill between them could leave an inbox row
without a card: a document no clerk would ever see.) The kill falls wherever it falls in
the stream, so each run checks a different cut; the state is read straight from the dead
node's database before it restarts."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from exchange_bridge import desk_cards
from exchange_bridge.desk_tables import exchange_desk_cards
from exchange_bridge.transport.tables import exchange_inbox, exchange_outbox, exchange_tracking
from rooms.schema import messages
from tests.exchange.test_desk import add_people, login
from tests.exchange.test_exchange_nodes import XML, Node, ca, nodes, pair, until  # noqa: F401 (fixtures)

N = 60


def _card_packages(conn: sa.Connection, handler: str) -> list[str]:
    """The package each card message of this handler shows, one entry per card."""
    rows = conn.execute(sa.select(messages.c.card).where(messages.c.kind == "card"))
    return [m.card["data"].get("package_id") for m in rows if m.card and m.card.get("handler") == handler]


def _stored(conn: sa.Connection) -> dict[str, Any]:
    inbox = set(conn.execute(sa.select(exchange_inbox.c.package_id)).scalars())
    desk = list(conn.execute(sa.select(exchange_desk_cards.c.package_id).where(exchange_desk_cards.c.box == "in")).scalars())
    return {"inbox": inbox, "desk": desk, "cards": _card_packages(conn, desk_cards.INCOMING)}


def _whole(state: dict[str, Any]) -> None:
    """Every arrival has one desk row and one card, and nothing shows a missing arrival."""
    assert sorted(state["desk"]) == sorted(state["inbox"]), "an arrival without its desk row, or the reverse"
    assert sorted(state["cards"]) == sorted(state["inbox"]), "an arrival without its 收文 card, or a card twice"


@pytest.mark.slow
async def test_a_node_killed_while_documents_arrive_keeps_each_with_its_card(nodes: Callable[[str], Node]) -> None:
    city, kenli = nodes("dy-city"), nodes("dy-kenli")
    pair(city, kenli)
    add_people(city)
    for node in (city, kenli):
        node.start()
    sent = [
        await kenli.exchange.send_document(title=f"关于第{i}批安全检查的通知", document=XML, recipients=["dy-city"])
        for i in range(N)
    ]

    async def some_arrived() -> bool:
        return len((await city.db.read(_stored))["inbox"]) >= 5

    await until(some_arrived, nodes=(city, kenli))
    city.stop(signal.SIGKILL)  # mid-stream: the sender is still delivering
    after_kill = await city.db.read(_stored)
    assert len(after_kill["inbox"]) < N, "all arrived before the kill: nothing was tested"
    _whole(after_kill)

    city.start()  # kenli's outbox retries what the dead node never answered

    async def all_arrived() -> bool:
        return len((await city.db.read(_stored))["inbox"]) == N

    await until(all_arrived, timeout=60, nodes=(city, kenli))
    final = await city.db.read(_stored)
    _whole(final)
    assert final["inbox"] == set(sent)


def _sent(conn: sa.Connection) -> dict[str, Any]:
    packages = set(conn.execute(sa.select(exchange_outbox.c.message_id).where(exchange_outbox.c.kind == "package")).scalars())
    tracked = set(conn.execute(sa.select(exchange_tracking.c.package_id)).scalars())
    desk = list(conn.execute(sa.select(exchange_desk_cards.c.package_id).where(exchange_desk_cards.c.box == "out")).scalars())
    return {"packages": packages, "tracked": tracked, "desk": desk, "cards": _card_packages(conn, desk_cards.OUTGOING)}


@pytest.mark.slow
async def test_a_node_killed_while_its_clerk_sends_keeps_each_package_with_its_tracking_card(
    nodes: Callable[[str], Node],
) -> None:
    """Desk.send: the package queued in the outbox, its tracking rows and its 发文 card
    commit together; a SIGKILL among forty sends leaves none of them without the others."""
    city, kenli = nodes("dy-city"), nodes("dy-kenli")
    pair(city, kenli)
    add_people(kenli)
    for node in (city, kenli):
        node.start()
    clerk = await login(kenli, "clerk")
    doc = {"kind": "通知", "title": "关于开展冬季消防检查的通知", "to": ["东营市人民政府"]}

    async def send(i: int) -> int:
        try:
            status, _ = await clerk.http("POST", "/api/v1/exchange/send",
                                         json={"document": {**doc, "title": f"关于开展第{i}次冬季消防检查的通知"}, "recipients": ["dy-city"]})
            return status
        except (aiohttp.ClientError, OSError):
            return 0  # the node died under this request

    tasks = [asyncio.create_task(send(i)) for i in range(40)]
    async def some_sent() -> bool:
        return sum(1 for t in tasks if t.done()) >= 8

    await until(some_sent, nodes=(kenli,))
    kenli.stop(signal.SIGKILL)
    answers = await asyncio.gather(*tasks)
    state = await kenli.db.read(_sent)
    assert 0 < sum(1 for a in answers if a == 201) < 40, answers
    assert state["packages"] == state["tracked"] == set(state["desk"]), "a package without its tracking, or the reverse"
    assert sorted(state["cards"]) == sorted(state["desk"]), "a package without its 发文 card, or a card twice"
    assert len(state["packages"]) >= sum(1 for a in answers if a == 201)  # every acknowledged send is there
