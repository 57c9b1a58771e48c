"""A message committed while a `sync` page is being read: the page's statements each read
their own snapshot (hub.db.read runs no BEGIN), so the page may already carry it; the
cursor it returns must then cover it, or the next sync would deliver it a second time.

SQLite only: the other writer commits from inside the reader's statement hook, which
needs a synchronous connection of its own (the suite's PostgreSQL driver is asyncpg).
On PostgreSQL the same rule holds by the same code (READ COMMITTED: one snapshot per
statement)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from hub.db import DATABASE
from rooms.schema import channels, messages


@pytest.fixture
def backend() -> str:
    return "sqlite"


async def test_a_message_committed_during_a_sync_page_is_sent_once(hub):
    alice = await hub.user("alice", "艾丽丝")
    bob = await hub.user("bob", "鲍勃")
    a = await hub.client(alice)
    cid = (await a.call("channel:create", {"name": "值班", "kind": "private", "member_ids": [bob["id"]]}))["channel"]["id"]
    for i in (1, 2):
        assert (await a.call("message:send", {"channel_id": cid, "client_msg_id": f"m{i}", "text": f"第{i}条"}))["ok"]
    b = await hub.client(bob)

    db = hub.app[DATABASE]
    other = sa.create_engine(db.engine.url.set(drivername="sqlite"))
    reader = db.reader
    assert reader is not None
    statements = 0

    def another_writer_commits(*_: Any) -> None:
        nonlocal statements
        statements += 1
        if statements == 1:  # after the page read the channel heads, before it reads the changes
            with other.begin() as conn:
                conn.execute(
                    messages.insert().values(
                        channel_id=cid, seq=3, change_seq=3, sender_id=alice["id"], client_msg_id="m3",
                        kind="text", text="第3条", created_at=datetime.now(UTC),
                    )
                )
                conn.execute(channels.update().where(channels.c.id == cid).values(head_seq=3))

    event.listen(reader, "after_execute", another_writer_commits)
    try:
        first = await b.call("sync", {"cursors": {str(cid): 0}})
    finally:
        event.remove(reader, "after_execute", another_writer_commits)
        other.dispose()
    again = await b.call("sync", {"cursors": first["cursors"]})

    assert [m["text"] for m in first["messages"]] == ["第1条", "第2条", "第3条"]
    assert first["cursors"][str(cid)] == 3
    assert again["messages"] == []
