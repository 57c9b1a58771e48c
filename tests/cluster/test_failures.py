"""The servers the cluster stands on restart: Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.cluster.conftest import pg_start, pg_stop, redis_restart

pytestmark = pytest.mark.slow


async def _delivered(sender, receiver, ch_id: int, tag: str, timeout: float = 2) -> bool:
    r = await sender.call("message:send", {"channel_id": ch_id, "client_msg_id": tag, "text": tag}, timeout=10)
    if not r.get("ok"):
        return False
    try:
        await receiver.wait_for("message", lambda m: m["id"] == r["message"]["id"], timeout=timeout)
        return True
    except AssertionError:
        return False


async def test_redis_restart_the_hub_reconnects_and_delivery_resumes(cluster):
    a_node, b_node = await cluster.node("a"), await cluster.node("b")
    alice, bob = await cluster.users("alice", "bob")
    a = await cluster.client(a_node, await cluster.login(a_node, "alice"))
    b = await cluster.client(b_node, await cluster.login(b_node, "bob"))
    ch = (await a.call("channel:create", {"name": "Redis重启", "kind": "private", "member_ids": [bob["id"]]}))["channel"]
    await b.wait_for("channel", lambda c: c["id"] == ch["id"])
    assert await _delivered(a, b, ch["id"], "before")
    await asyncio.to_thread(redis_restart)
    deadline = time.monotonic() + 60
    n = 0
    while not await _delivered(a, b, ch["id"], f"after-{n}"):
        n += 1
        assert time.monotonic() < deadline, "cross-node delivery did not resume after Redis came back"
    # nothing acknowledged was lost meanwhile: bob's sync has every message
    page = await b.call("sync", {"cursors": {str(ch["id"]): 0}})
    assert [m["text"] for m in page["messages"]] == ["before", *[f"after-{i}" for i in range(n + 1)]]


async def test_postgresql_restart_sends_fail_fast_then_succeed(cluster):
    a_node = await cluster.node("a")
    alice, bob = await cluster.users("alice", "bob")
    a = await cluster.client(a_node, await cluster.login(a_node, "alice"))
    ch = (await a.call("channel:create", {"name": "数据库重启", "kind": "private", "member_ids": [bob["id"]]}))["channel"]
    await asyncio.to_thread(pg_stop)
    try:
        started = time.monotonic()
        down = await a.call("message:send", {"channel_id": ch["id"], "client_msg_id": "down", "text": "数据库停了"}, timeout=20)
        assert down["ok"] is False and down["error"]["code"] == "unavailable"
        assert time.monotonic() - started < 15  # fails fast, no hang
        assert (await a.call("channel:list", {}, timeout=20))["error"]["code"] == "unavailable"
    finally:
        await asyncio.to_thread(pg_start)
    deadline = time.monotonic() + 30
    while True:
        again = await a.call("message:send", {"channel_id": ch["id"], "client_msg_id": "down", "text": "数据库停了"}, timeout=20)
        if again["ok"]:
            break
        assert again["error"]["code"] == "unavailable" and time.monotonic() < deadline
        await asyncio.sleep(0.5)
    assert again["message"]["seq"] == 1  # the failed attempt left no trace; the retry is the first message
