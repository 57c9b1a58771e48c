"""Several hub processes behind one PostgreSQL and one Redis behave as one hub."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.slow


async def test_users_on_two_nodes_chat_see_presence_and_typing(cluster):
    a_node, b_node = await cluster.node("a"), await cluster.node("b")
    alice, bob = await cluster.users("alice", "bob")
    a = await cluster.client(a_node, await cluster.login(a_node, "alice"))
    b = await cluster.client(b_node, await cluster.login(b_node, "bob"))
    assert (await a.wait_for("presence", lambda p: p["user_id"] == bob["id"]))["status"] == "online"
    for c in (a, b):  # city-wide: each node lists the users of both
        listed = await c.call("presence:list", {})
        assert {u["username"] for g in listed["units"] for u in g["users"]} == {"alice", "bob"}
    ch = (await a.call("channel:create", {"name": "跨节点", "kind": "private", "member_ids": [bob["id"]]}))["channel"]
    await b.wait_for("channel", lambda c: c["id"] == ch["id"])  # bob's socket on B joined the room
    sent = await a.call("message:send", {"channel_id": ch["id"], "client_msg_id": "1", "text": "来自A"})
    got = await b.wait_for("message", lambda m: m["id"] == sent["message"]["id"])
    assert got["text"] == "来自A"
    reply = await b.call("message:send", {"channel_id": ch["id"], "client_msg_id": "2", "text": "来自B"})
    await a.wait_for("message", lambda m: m["id"] == reply["message"]["id"])
    await b.call("typing", {"channel_id": ch["id"]})
    assert (await a.wait_for("typing"))["user_id"] == bob["id"]
    await b.disconnect()
    assert (await a.wait_for("presence", lambda p: p["user_id"] == bob["id"] and p["status"] == "offline"))


async def test_concurrent_senders_on_two_processes_get_gap_free_seqs(cluster):
    a_node, b_node = await cluster.node("a"), await cluster.node("b")
    alice, bob = await cluster.users("alice", "bob")
    a = await cluster.client(a_node, await cluster.login(a_node, "alice"))
    b = await cluster.client(b_node, await cluster.login(b_node, "bob"))
    ch = (await a.call("channel:create", {"name": "并发", "kind": "private", "member_ids": [bob["id"]]}))["channel"]
    sends = [
        c.call("message:send", {"channel_id": ch["id"], "client_msg_id": f"{n}{i}", "text": f"{n}{i}"})
        for i in range(40)
        for n, c in (("a", a), ("b", b))
    ]
    acks = await asyncio.gather(*sends)
    assert all(r["ok"] for r in acks)
    assert sorted(r["message"]["seq"] for r in acks) == list(range(1, 81))


async def test_a_file_shared_on_one_node_downloads_from_another(cluster):
    a_node, b_node = await cluster.node("a"), await cluster.node("b")
    alice, bob = await cluster.users("alice", "bob")
    ta, tb = await cluster.login(a_node, "alice"), await cluster.login(b_node, "bob")
    a = await cluster.client(a_node, ta)
    ch = (await a.call("channel:create", {"name": "文件", "kind": "private", "member_ids": [bob["id"]]}))["channel"]
    body = "会议纪要\n".encode() * 5000
    async with cluster.http.post(
        a_node.url + "/api/v1/files?name=纪要.txt", data=body, headers={"Authorization": f"Bearer {ta}", "Content-Type": "text/plain"}
    ) as r:
        assert r.status == 201
        file_id = (await r.json())["file_id"]
    assert (await a.call("message:send", {"channel_id": ch["id"], "client_msg_id": "f", "text": "", "file_id": file_id}))["ok"]
    async with cluster.http.get(b_node.url + f"/api/v1/files/{file_id}", headers={"Authorization": f"Bearer {tb}"}) as r:
        assert r.status == 200 and await r.read() == body


async def test_killing_a_node_loses_no_acknowledged_message(cluster):
    """kill -9 of node B while its clients send: they move to A, `sync` fills the gap,
    and every acknowledged message reaches every member exactly once, with no gap."""
    a_node, b_node = await cluster.node("a"), await cluster.node("b")
    names = [f"user{i}" for i in range(6)]
    users = await cluster.users(*names)
    tokens = {u["username"]: await cluster.login(a_node, u["username"]) for u in users}
    owner = await cluster.client(a_node, tokens["user0"])
    ch = (await owner.call("channel:create", {"name": "抗毁", "kind": "private", "member_ids": [u["id"] for u in users[1:]]}))["channel"]
    on_a = [owner] + [await cluster.client(a_node, tokens[n]) for n in names[1:3]]
    on_b = [await cluster.client(b_node, tokens[n]) for n in names[3:]]
    acked: dict[int, int] = {}  # message id -> seq
    stop = asyncio.Event()

    async def sender(c, tag):
        i = 0
        while not stop.is_set():
            i += 1
            try:
                r = await c.call("message:send", {"channel_id": ch["id"], "client_msg_id": f"{tag}-{i}", "text": f"{tag}-{i}"}, timeout=3)
            except Exception:
                return  # the node died under this client
            if r.get("ok"):
                acked[r["message"]["id"]] = r["message"]["seq"]
            await asyncio.sleep(0.02)

    tasks = [asyncio.create_task(sender(c, f"s{k}")) for k, c in enumerate(on_a + on_b)]
    await asyncio.sleep(1.5)
    b_node.kill()
    await asyncio.sleep(1.0)
    # B's clients reconnect to A, sync from their last cursor, and carry on
    moved = []
    for k, c in enumerate(on_b):
        cursor = max([m["change_seq"] for e, m in c.events if e == "message"], default=0)
        nc = await cluster.client(a_node, tokens[names[3 + k]])
        nc.events.extend((e, d) for e, d in c.events if e == "message")
        page = await nc.call("sync", {"cursors": {str(ch["id"]): cursor}})
        assert page["ok"] and not page["has_more"]
        nc.events.extend(("message", m) for m in page["messages"])
        moved.append(nc)
        tasks.append(asyncio.create_task(sender(nc, f"m{k}")))
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(*tasks)
    await asyncio.sleep(0.5)
    assert len(acked) > 20
    # No gap in the channel's seq. (A send that committed on B just before the kill has
    # a seq but no ack: it counts here, and it is not in `acked`.)
    stored, cursors = [], {str(ch["id"]): 0}
    while True:
        page = await owner.call("sync", {"cursors": cursors})
        stored += page["messages"]
        cursors = page["cursors"]
        if not page["has_more"]:
            break
    assert sorted(m["seq"] for m in stored) == list(range(1, len(stored) + 1))
    assert set(acked) <= {m["id"] for m in stored}
    for c in on_a + moved:
        final = await c.call("sync", {"cursors": {str(ch["id"]): max([m["change_seq"] for e, m in c.events if e == "message"], default=0)}})
        c.events.extend(("message", m) for m in final["messages"])
        seen = {m["id"] for e, m in c.events if e == "message"}
        assert set(acked) <= seen  # every acknowledged message reached every member
