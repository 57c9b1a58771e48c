"""The seams rooms offers other features: hooks after what was posted or acted on, and
posting inside a feature's own transaction (its rows and the message, or neither)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from hub.auth import Principal
from hub.db import DATABASE
from rooms.rules import MessageSend
from rooms.schema import messages
from rooms.wiring import ROOMS


async def _pair(hub) -> tuple[dict[str, Any], Any, Any, int]:
    alice = await hub.user("alice", "艾丽丝")
    bob = await hub.user("bob", "鲍勃")
    a, b = await hub.client(alice), await hub.client(bob)
    cid = (await a.call("channel:create", {"name": "审批", "kind": "private", "member_ids": [bob["id"]]}))["channel"]["id"]
    return alice, a, b, cid


async def test_message_posted_reaches_a_listener_after_commit_without_holding_the_ack(hub):
    alice, a, b, cid = await _pair(hub)
    seen: list[dict[str, Any]] = []
    release = asyncio.Event()

    async def slow_listener(view: dict[str, Any]) -> None:
        # what the listener sees is committed: a fresh read finds it
        stored = await hub.app[DATABASE].read(lambda c: c.execute(sa.select(messages.c.text).where(messages.c.id == view["id"])).scalar())
        seen.append({**view, "stored": stored})
        await release.wait()

    async def failing_listener(view: dict[str, Any]) -> None:
        raise RuntimeError("a broken bot")

    hooks = hub.app[ROOMS].hooks
    hooks.message_posted += [failing_listener, slow_listener]
    ack = await a.call("message:send", {"channel_id": cid, "client_msg_id": "1", "text": "同意"})
    assert ack["ok"]  # answered while the slow listener still waits
    for _ in range(100):
        if seen:
            break
        await asyncio.sleep(0.02)
    assert [(s["id"], s["text"], s["stored"], s["sender"]["username"]) for s in seen] == [(ack["message"]["id"], "同意", "同意", "alice")]
    assert (await b.wait_for("message"))["text"] == "同意"  # the push went out as ever
    release.set()
    # a refused send is not posted
    refused = await a.call("message:send", {"channel_id": cid + 999, "client_msg_id": "2", "text": "不同意"})
    assert not refused["ok"]
    await asyncio.sleep(0.1)
    assert len(seen) == 1


async def test_card_acted_tells_who_pressed_what(hub):
    alice, a, b, cid = await _pair(hub)
    acted: list[tuple[int, str, str]] = []

    async def listener(view: dict[str, Any], ctx: Any) -> None:
        acted.append((view["id"], ctx.actor.username, ctx.action))

    hub.app[ROOMS].hooks.card_acted.append(listener)
    status, body = await hub.request("POST", f"/api/v1/channels/{cid}/notices", token=alice["token"], json={"title": "通知", "body": "请阅"})
    assert status == 201
    mid = body["message"]["id"]
    assert (await b.call("card:action", {"message_id": mid, "action": "ack"}))["ok"]
    for _ in range(100):
        if acted:
            break
        await asyncio.sleep(0.02)
    assert acted == [(mid, "bob", "ack")]


async def test_post_in_the_callers_transaction_commits_with_it_or_not_at_all(hub):
    alice, a, b, cid = await _pair(hub)
    rooms = hub.app[ROOMS]
    who = Principal(alice["id"], "alice", "艾丽丝", (), 0)
    db = hub.app[DATABASE]

    def announce_then_fail(conn: sa.Connection) -> None:
        rooms.post_in(conn, who, MessageSend(channel_id=cid, client_msg_id="tx-1", text="已登记"))
        raise RuntimeError("the feature's own write failed")

    with pytest.raises(RuntimeError):
        await db.write(announce_then_fail)

    def announce(conn: sa.Connection) -> dict[str, Any]:
        return rooms.post_in(conn, who, MessageSend(channel_id=cid, client_msg_id="tx-2", text="已登记"))

    view = await db.write(announce)
    got = await b.wait_for("message")
    assert got["id"] == view["id"] and got["text"] == "已登记"
    history = (await a.call("history", {"channel_id": cid}))["messages"]
    assert [m["client_msg_id"] for m in history] == ["tx-2"]  # nothing of the failed one, no seq gap
    assert history[0]["seq"] == 1


async def test_post_in_an_async_transaction_pushes_after_its_commit(hub):
    alice, a, b, cid = await _pair(hub)
    rooms = hub.app[ROOMS]
    who = Principal(alice["id"], "alice", "艾丽丝", (), 0)
    from hub.db import DATABASE

    async with hub.app[DATABASE].begin() as conn:
        view = await conn.run_sync(rooms.post_in, who, MessageSend(channel_id=cid, client_msg_id="async-1", text="已签收"))
        await asyncio.sleep(0.1)
        assert b.received("message") == []  # nothing pushed before the commit
    got = await b.wait_for("message")
    assert got["id"] == view["id"] and got["text"] == "已签收"
