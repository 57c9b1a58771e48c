"""Delivery rules: gap-free per-channel seq, ack after commit, idempotent sends, and
offline messages through `sync` — edits and recalls included, once each, in order."""

from __future__ import annotations

import asyncio

from hub.db import DATABASE
from rooms.schema import channels, messages

import sqlalchemy as sa


async def _pair(hub):
    alice = await hub.user("alice", "艾丽丝")
    bob = await hub.user("bob", "鲍勃")
    a = await hub.client(alice)
    r = await a.call("channel:create", {"name": "项目组", "kind": "private", "member_ids": [bob["id"]]})
    assert r["ok"], r
    return alice, bob, a, r["channel"]["id"]


async def test_send_is_acked_with_seq_and_pushed_to_members(hub):
    alice, bob, a, cid = await _pair(hub)
    b = await hub.client(bob)
    ack = await a.call("message:send", {"channel_id": cid, "client_msg_id": "m1", "text": "你好"})
    assert ack["ok"] and ack["message"]["seq"] == 1 and ack["message"]["text"] == "你好"
    assert ack["message"]["sender"]["display_name"] == "艾丽丝"
    pushed = await b.wait_for("message", lambda m: m["id"] == ack["message"]["id"])
    assert pushed == ack["message"]


async def test_retried_send_returns_the_original(hub):
    alice, bob, a, cid = await _pair(hub)
    first = await a.call("message:send", {"channel_id": cid, "client_msg_id": "retry-1", "text": "一次"})
    again = await a.call("message:send", {"channel_id": cid, "client_msg_id": "retry-1", "text": "一次"})
    concurrent = await asyncio.gather(
        *[a.call("message:send", {"channel_id": cid, "client_msg_id": "retry-2", "text": "并发"}) for _ in range(5)]
    )
    assert again["message"]["id"] == first["message"]["id"]
    assert len({r["message"]["id"] for r in concurrent}) == 1
    history = await a.call("history", {"channel_id": cid})
    assert [m["text"] for m in history["messages"]] == ["一次", "并发"]


async def test_concurrent_senders_get_unique_gap_free_seqs(hub):
    alice, bob, a, cid = await _pair(hub)
    b = await hub.client(bob)
    sends = [
        c.call("message:send", {"channel_id": cid, "client_msg_id": f"{n}-{i}", "text": f"{n}{i}"})
        for i in range(15)
        for n, c in (("a", a), ("b", b))
    ]
    acks = await asyncio.gather(*sends)
    assert all(r["ok"] for r in acks), [r for r in acks if not r["ok"]]
    assert sorted(r["message"]["seq"] for r in acks) == list(range(1, 31))
    async with hub.app[DATABASE].connect() as conn:
        head = (await conn.execute(sa.select(channels.c.head_seq).where(channels.c.id == cid))).scalar_one()
    assert head == 30


async def test_every_member_sees_a_burst_in_seq_order_once_with_its_own_acks(hub):
    """Bursts from three senders: pushes are batched per loop turn and an ack is written
    ahead of the batch (with the pushes already batched for its own socket in front of
    it); every member still gets each message once, and a sender's ack for a message
    never arrives before that message's push on the same socket. (Pushes of concurrent
    sends may cross on PostgreSQL, where transactions commit in parallel: the protocol's
    gap rule covers that, so the order is not asserted.)"""
    alice, bob, a, cid = await _pair(hub)
    carol = await hub.user("carol", "卡萝")
    assert (await a.call("channel:add_members", {"channel_id": cid, "user_ids": [carol["id"]]}))["ok"]
    b, c = await hub.client(bob), await hub.client(carol)
    clients = {"a": a, "b": b, "c": c}
    acked: dict[str, list[int]] = {n: [] for n in clients}

    async def burst(name: str) -> None:
        async def one(i: int) -> None:
            ack = await clients[name].call("message:send", {"channel_id": cid, "client_msg_id": f"{name}{i}", "text": f"{name}{i}"})
            assert ack["ok"], ack
            # the push of this message reached this socket no later than its ack
            assert ack["message"]["id"] in [m["id"] for m in clients[name].received("message")]
            acked[name].append(ack["message"]["seq"])

        await asyncio.gather(*(one(i) for i in range(20)))

    await asyncio.gather(*(burst(n) for n in clients))
    for name, client in clients.items():
        await client.wait_for("message", lambda m: len(client.received("message")) >= 60)
        await asyncio.sleep(0.05)  # nothing more comes
        assert sorted(m["seq"] for m in client.received("message")) == list(range(1, 61)), name
        assert len(acked[name]) == 20


async def test_offline_user_gets_missed_messages_edits_and_recalls_once_in_order(hub):
    alice, bob, a, cid = await _pair(hub)
    b = await hub.client(bob)
    m1 = (await a.call("message:send", {"channel_id": cid, "client_msg_id": "1", "text": "第一条"}))["message"]
    m2 = (await a.call("message:send", {"channel_id": cid, "client_msg_id": "2", "text": "第二条"}))["message"]
    await b.wait_for("message", lambda m: m["id"] == m2["id"])
    cursor = m2["seq"]
    await b.disconnect()  # bob goes away

    m3 = (await a.call("message:send", {"channel_id": cid, "client_msg_id": "3", "text": "第三条"}))["message"]
    assert (await a.call("message:edit", {"message_id": m1["id"], "text": "第一条（已修改）"}))["ok"]
    assert (await a.call("message:recall", {"message_id": m2["id"]}))["ok"]
    m4 = (await a.call("message:send", {"channel_id": cid, "client_msg_id": "4", "text": "第四条"}))["message"]
    assert (await a.call("message:edit", {"message_id": m3["id"], "text": "第三条（改）"}))["ok"]

    b2 = await hub.client(bob)
    got = await b2.call("sync", {"cursors": {str(cid): cursor}})
    assert got["ok"] and got["has_more"] is False
    by_id = {m["id"]: m for m in got["messages"]}
    assert len(by_id) == len(got["messages"]) == 4  # each changed message once, current state
    assert by_id[m1["id"]]["text"] == "第一条（已修改）" and by_id[m1["id"]]["edited_at"]
    assert by_id[m2["id"]]["recalled"] is True and by_id[m2["id"]]["text"] == ""
    assert by_id[m3["id"]]["text"] == "第三条（改）"
    assert by_id[m4["id"]]["text"] == "第四条"
    change_seqs = [m["change_seq"] for m in got["messages"]]
    assert change_seqs == sorted(change_seqs)  # in change order
    assert got["cursors"][str(cid)] == 7  # 4 messages + 2 edits + 1 recall
    again = await b2.call("sync", {"cursors": got["cursors"]})
    assert again["messages"] == []


async def test_sync_pages_with_has_more(hub):
    alice, bob, a, cid = await _pair(hub)
    for i in range(25):
        await a.call("message:send", {"channel_id": cid, "client_msg_id": f"p{i}", "text": str(i)})
    b = await hub.client(bob)
    cursors = {str(cid): 0}
    seen: list[str] = []
    pages = 0
    while True:
        page = await b.call("sync", {"cursors": cursors, "limit": 10})
        seen += [m["text"] for m in page["messages"]]
        cursors = page["cursors"]
        pages += 1
        assert ("channels" in page) == (not page["has_more"])  # the channel list comes once, at the end
        if not page["has_more"]:
            break
    assert seen == [str(i) for i in range(25)]
    assert pages == 3


async def test_channel_without_cursor_starts_from_read_position(hub):
    alice, bob, a, cid = await _pair(hub)
    b = await hub.client(bob)
    for i in range(3):
        await a.call("message:send", {"channel_id": cid, "client_msg_id": f"r{i}", "text": f"旧{i}"})
    assert (await b.call("read", {"channel_id": cid, "seq": 3}))["seq"] == 3
    await a.call("message:send", {"channel_id": cid, "client_msg_id": "r3", "text": "新消息"})
    got = await b.call("sync", {"cursors": {}})
    assert [m["text"] for m in got["messages"]] == ["新消息"]


async def test_unread_counts_mentions_and_read_receipts(hub):
    alice, bob, a, cid = await _pair(hub)
    b = await hub.client(bob)
    await a.call("message:send", {"channel_id": cid, "client_msg_id": "u1", "text": "普通消息"})
    m = await a.call("message:send", {"channel_id": cid, "client_msg_id": "u2", "text": "@bob 请看一下"})
    assert m["message"]["mentions"] == [bob["id"]]
    view = next(c for c in (await b.call("channel:list"))["channels"] if c["id"] == cid)
    assert (view["unread"], view["mentions"]) == (2, 1)
    mine = next(c for c in (await a.call("channel:list"))["channels"] if c["id"] == cid)
    assert mine["unread"] == 0  # one's own messages are read
    await b.call("read", {"channel_id": cid, "seq": 1})
    receipt = await a.wait_for("read", lambda e: e["user_id"] == bob["id"])
    assert receipt == {"channel_id": cid, "user_id": bob["id"], "seq": 1}
    view = next(c for c in (await b.call("channel:list"))["channels"] if c["id"] == cid)
    assert (view["unread"], view["mentions"]) == (1, 1)
    await b.call("read", {"channel_id": cid, "seq": 2})
    view = next(c for c in (await b.call("channel:list"))["channels"] if c["id"] == cid)
    assert (view["unread"], view["mentions"]) == (0, 0)
    members = (await a.call("channel:members", {"channel_id": cid}))["members"]
    assert {m["username"]: m["last_read_seq"] for m in members} == {"alice": 2, "bob": 2}


async def test_edit_and_recall_rules(hub):
    alice, bob, a, cid = await _pair(hub)
    b = await hub.client(bob)
    m = (await a.call("message:send", {"channel_id": cid, "client_msg_id": "e1", "text": "原文"}))["message"]
    other = await b.call("message:edit", {"message_id": m["id"], "text": "篡改"})
    assert other["error"]["code"] == "forbidden"
    assert (await b.call("message:recall", {"message_id": m["id"]}))["error"]["code"] == "forbidden"
    edited = await a.call("message:edit", {"message_id": m["id"], "text": "修改后"})
    update = await b.wait_for("message:update", lambda u: u["id"] == m["id"])
    assert update["text"] == "修改后" == edited["message"]["text"]
    # alice is the channel's admin (its creator): she may recall bob's message any time
    mb = (await b.call("message:send", {"channel_id": cid, "client_msg_id": "e2", "text": "鲍勃的话"}))["message"]
    assert (await a.call("message:recall", {"message_id": mb["id"]}))["ok"]
    assert (await a.call("message:recall", {"message_id": mb["id"]}))["error"]["code"] == "conflict"


async def test_recall_window(hub):
    alice, bob, a, cid = await _pair(hub)
    b = await hub.client(bob)
    mb = (await b.call("message:send", {"channel_id": cid, "client_msg_id": "w1", "text": "稍后撤回"}))["message"]
    async with hub.app[DATABASE].begin() as conn:  # the message was sent three minutes ago
        await conn.execute(
            messages.update().where(messages.c.id == mb["id"]).values(created_at=sa.func.now() - sa.text("interval '3 minutes'"))
            if hub.app[DATABASE].dialect == "postgresql"
            else messages.update().where(messages.c.id == mb["id"]).values(created_at=sa.text("datetime('now', '-3 minutes')"))
        )
    late = await b.call("message:recall", {"message_id": mb["id"]})
    assert late["error"]["code"] == "forbidden" and "2" in late["error"]["message"]


async def test_threads(hub):
    alice, bob, a, cid = await _pair(hub)
    root = (await a.call("message:send", {"channel_id": cid, "client_msg_id": "t0", "text": "议题"}))["message"]
    await a.call("message:send", {"channel_id": cid, "client_msg_id": "x", "text": "无关"})
    reply = await a.call("message:send", {"channel_id": cid, "client_msg_id": "t1", "text": "回复", "thread_root_id": root["id"]})
    assert reply["message"]["thread_root_id"] == root["id"]
    thread = await a.call("history", {"channel_id": cid, "thread_root_id": root["id"]})
    assert [m["text"] for m in thread["messages"]] == ["议题", "回复"]
    nested = await a.call("message:send", {"channel_id": cid, "client_msg_id": "t2", "text": "套娃", "thread_root_id": reply["message"]["id"]})
    assert nested["error"]["code"] == "bad_request"


async def test_history_pages_backwards(hub):
    alice, bob, a, cid = await _pair(hub)
    for i in range(12):
        await a.call("message:send", {"channel_id": cid, "client_msg_id": f"h{i}", "text": str(i)})
    page = await a.call("history", {"channel_id": cid, "limit": 5})
    assert [m["text"] for m in page["messages"]] == ["7", "8", "9", "10", "11"] and page["has_more"]
    page = await a.call("history", {"channel_id": cid, "limit": 5, "before_seq": page["messages"][0]["seq"]})
    assert [m["text"] for m in page["messages"]] == ["2", "3", "4", "5", "6"]
    page = await a.call("history", {"channel_id": cid, "limit": 5, "before_seq": page["messages"][0]["seq"]})
    assert [m["text"] for m in page["messages"]] == ["0", "1"] and not page["has_more"]


async def test_mentions_follow_edits(hub):
    alice, bob, a, cid = await _pair(hub)
    b = await hub.client(bob)

    async def bob_mentions() -> int:
        return next(c for c in (await b.call("channel:list"))["channels"] if c["id"] == cid)["mentions"]

    m = (await a.call("message:send", {"channel_id": cid, "client_msg_id": "m", "text": "@bob 看一下"}))["message"]
    assert await bob_mentions() == 1
    assert (await a.call("message:edit", {"message_id": m["id"], "text": "算了"}))["message"]["mentions"] == []
    assert await bob_mentions() == 0
    again = await a.call("message:edit", {"message_id": m["id"], "text": "还是 @bob 看"})
    assert again["ok"] and again["message"]["mentions"] == [bob["id"]]
    assert await bob_mentions() == 1
    recalled = await a.call("message:recall", {"message_id": m["id"]})
    assert recalled["message"]["mentions"] == [] and await bob_mentions() == 0


async def test_timestamps_are_utc_with_offset(hub):
    alice, bob, a, cid = await _pair(hub)
    m = (await a.call("message:send", {"channel_id": cid, "client_msg_id": "t", "text": "时间"}))["message"]
    assert m["created_at"].endswith("+00:00")
