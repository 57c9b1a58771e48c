"""A node killed with SIGKILL while documents arrive: each arrival is stored with its 收文
card and its desk row, or not at all, and the sender's retries bring the rest exactly
once. (When they were three commits, a kill between them could leave an inbox row
without a card: a document no clerk would ever see.) The kill falls wherever it falls in
the stream, so each run checks a different cut; the state is read straight from the dead
node's database before it restarts."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from exchange_bridge.desk_tables import exchange_desk_cards
from exchange_bridge.transport.tables import exchange_inbox
from rooms.schema import messages
from tests.exchange.test_desk import add_people
from tests.exchange.test_exchange_nodes import XML, Node, ca, nodes, pair, until  # noqa: F401 (fixtures)

N = 60


def _stored(conn: sa.Connection) -> dict[str, Any]:
    inbox = set(conn.execute(sa.select(exchange_inbox.c.package_id)).scalars())
    desk = list(conn.execute(sa.select(exchange_desk_cards.c.package_id).where(exchange_desk_cards.c.box == "in")).scalars())
    cards = [
        m.card["data"].get("package_id")
        for m in conn.execute(sa.select(messages.c.card).where(messages.c.kind == "card"))
        if m.card and m.card.get("handler") == "exchange.incoming"
    ]
    return {"inbox": inbox, "desk": desk, "cards": cards}


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
