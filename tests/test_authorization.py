"""Who may see and do what in a channel, over real sockets: a non-member of a private
channel learns nothing (every answer is the same not_found a missing channel gives) and
receives nothing; public channels are open to join; read-only channels take posts from
their admins only; leaving stops pushes; direct and unit channels have fixed members."""

from __future__ import annotations

import asyncio

import aiohttp

from hub.db import DATABASE
from hub.directory import DIRECTORY_HOOKS, set_posts

MISSING_CHANNEL = 987_654_321
QUIET = 0.3  # how long to listen for a push that must not come, after the members got theirs


def not_found(reply) -> bool:
    return reply["ok"] is False and reply["error"]["code"] == "not_found" and bool(reply["error"]["message"])


def about_channel(client, cid: int) -> list[tuple[str, object]]:
    """Every push the client got that concerns channel `cid`."""
    out = []
    for event, data in client.events:
        if isinstance(data, dict) and (data.get("channel_id") == cid or (event.startswith("channel") and data.get("id") == cid)):
            out.append((event, data))
    return out


async def private_setup(hub):
    """alice (admin) and bob share a private channel with some traffic; eve is outside."""
    alice = await hub.user("alice", "艾丽丝")
    bob = await hub.user("bob", "鲍勃")
    eve = await hub.user("eve", "伊芙")
    a = await hub.client(alice)
    ch = await a.call("channel:create", {"name": "机密组", "kind": "private", "member_ids": [bob["id"]]})
    assert ch["ok"], ch
    cid = ch["channel"]["id"]
    m1 = await a.call("message:send", {"channel_id": cid, "client_msg_id": "s1", "text": "机密一"})
    m2 = await a.call("message:send", {"channel_id": cid, "client_msg_id": "s2", "text": "机密二"})
    return alice, bob, eve, a, cid, m1["message"], m2["message"]


async def test_outsider_cannot_read_or_sync_a_private_channel(hub):
    alice, bob, eve, a, cid, m1, m2 = await private_setup(hub)
    e = await hub.client(eve)
    missing = await e.call("history", {"channel_id": MISSING_CHANNEL})
    assert not_found(missing)
    refused = await e.call("history", {"channel_id": cid})
    assert refused == missing  # the same answer as for a channel that does not exist
    assert await e.call("history", {"channel_id": cid, "thread_root_id": m1["id"]}) == missing
    assert await e.call("channel:members", {"channel_id": cid}) == missing

    for cursors in ({}, {str(cid): 0}, {str(cid): 1}):
        got = await e.call("sync", {"cursors": cursors})
        assert got["ok"], got
        assert [m for m in got["messages"] if m["channel_id"] == cid] == []
        assert str(cid) not in got["cursors"]
        assert cid not in [c["id"] for c in got["channels"]]
    listed = await e.call("channel:list", {})
    assert cid not in [c["id"] for c in listed["channels"]]
    public = await e.call("channel:list", {"scope": "public"})
    assert cid not in [c["id"] for c in public["channels"]]

    # a member, for contrast, sees it all
    b = await hub.client(bob)
    assert [m["text"] for m in (await b.call("history", {"channel_id": cid}))["messages"]] == ["机密一", "机密二"]
    got = await b.call("sync", {"cursors": {str(cid): 0}})
    assert [m["id"] for m in got["messages"]] == [m1["id"], m2["id"]] and got["cursors"][str(cid)] == 2


async def test_outsider_receives_no_pushes(hub):
    alice, bob, eve, a, cid, m1, m2 = await private_setup(hub)
    b = await hub.client(bob)
    e = await hub.client(eve)
    e2 = await hub.client(eve)  # a second tab changes nothing

    sent = (await a.call("message:send", {"channel_id": cid, "client_msg_id": "p1", "text": "@eve 你看不到"}))["message"]
    await b.wait_for("message", lambda m: m["id"] == sent["id"])
    assert (await a.call("message:edit", {"message_id": sent["id"], "text": "改过了"}))["ok"]
    await b.wait_for("message:update", lambda m: m["id"] == sent["id"] and m["text"] == "改过了")
    assert (await a.call("message:recall", {"message_id": m1["id"]}))["ok"]
    await b.wait_for("message:update", lambda m: m["id"] == m1["id"] and m["recalled"])
    assert (await a.call("typing", {"channel_id": cid}))["ok"]
    await b.wait_for("typing", lambda t: t["channel_id"] == cid)
    assert (await a.call("read", {"channel_id": cid, "seq": 10**6}))["seq"] == 5  # up to the head
    await b.wait_for("read", lambda r: r["channel_id"] == cid and r["user_id"] == alice["id"])
    assert (await a.call("channel:update", {"channel_id": cid, "topic": "新议题"}))["ok"]
    await b.wait_for("channel:update", lambda c: c["channel_id"] == cid and c["topic"] == "新议题")

    await asyncio.sleep(QUIET)
    assert about_channel(e, cid) == [] and about_channel(e2, cid) == []
    assert sent["mentions"] == []  # @eve is not a member: no mention either
    got = await e.call("sync", {"cursors": {}})
    assert [c for c in got["channels"] if c["id"] == cid] == []


async def test_outsider_cannot_write_or_manage(hub):
    alice, bob, eve, a, cid, m1, m2 = await private_setup(hub)
    e = await hub.client(eve)
    attempts = [
        ("message:send", {"channel_id": cid, "client_msg_id": "x1", "text": "闯入"}, {"channel_id": MISSING_CHANNEL, "client_msg_id": "x2", "text": "闯入"}),
        ("message:send", {"channel_id": cid, "client_msg_id": "x3", "text": "回复", "thread_root_id": m1["id"]}, None),
        ("message:edit", {"message_id": m1["id"], "text": "篡改"}, {"message_id": 2**62, "text": "篡改"}),
        ("message:recall", {"message_id": m2["id"]}, {"message_id": 2**62}),
        ("channel:members", {"channel_id": cid}, {"channel_id": MISSING_CHANNEL}),
        ("channel:join", {"channel_id": cid}, {"channel_id": MISSING_CHANNEL}),
        ("channel:leave", {"channel_id": cid}, {"channel_id": MISSING_CHANNEL}),
        ("channel:add_members", {"channel_id": cid, "user_ids": [eve["id"]]}, {"channel_id": MISSING_CHANNEL, "user_ids": [eve["id"]]}),
        ("channel:update", {"channel_id": cid, "name": "我的了"}, {"channel_id": MISSING_CHANNEL, "name": "我的了"}),
        ("channel:set_role", {"channel_id": cid, "user_id": eve["id"], "role": "admin"}, {"channel_id": MISSING_CHANNEL, "user_id": eve["id"], "role": "admin"}),
        ("typing", {"channel_id": cid}, {"channel_id": MISSING_CHANNEL}),
        ("read", {"channel_id": cid, "seq": 2}, {"channel_id": MISSING_CHANNEL, "seq": 2}),
    ]
    for event, payload, missing_payload in attempts:
        reply = await e.call(event, payload)
        assert not_found(reply), (event, reply)
        if missing_payload is not None:
            # identical to what a channel or message that doesn't exist gives: nothing leaks
            assert reply["error"]["code"] == (await e.call(event, missing_payload))["error"]["code"], event
    # nothing changed
    history = await a.call("history", {"channel_id": cid})
    assert [(m["text"], m["recalled"]) for m in history["messages"]] == [("机密一", False), ("机密二", False)]
    members = await a.call("channel:members", {"channel_id": cid})
    assert sorted(m["username"] for m in members["members"]) == ["alice", "bob"]
    assert (await a.call("channel:list", {}))["channels"][0]["name"] == "机密组"


async def test_outsider_cannot_download_the_channels_files(hub):
    alice, bob, eve, a, cid, m1, m2 = await private_setup(hub)
    form = aiohttp.FormData()
    form.add_field("file", b"%PDF-1.4 secret", filename="plan.pdf", content_type="application/pdf")
    status, up = await hub.request("POST", "/api/v1/files", token=alice["token"], data=form)
    assert status == 201
    assert (await a.call("message:send", {"channel_id": cid, "client_msg_id": "f", "file_id": up["file_id"]}))["ok"]
    status, body = await hub.request("GET", f"/api/v1/files/{up['file_id']}", token=bob["token"])
    assert (status, body) == (200, b"%PDF-1.4 secret")
    status, body = await hub.request("GET", f"/api/v1/files/{up['file_id']}", token=eve["token"])
    assert status == 404 and body["error"]["code"] == "not_found"


async def test_public_channel_join_then_read(hub):
    alice = await hub.user("alice")
    eve = await hub.user("eve")
    a = await hub.client(alice)
    e = await hub.client(eve)
    cid = (await a.call("channel:create", {"name": "公告栏", "kind": "public"}))["channel"]["id"]
    await a.call("message:send", {"channel_id": cid, "client_msg_id": "1", "text": "欢迎"})

    public = await e.call("channel:list", {"scope": "public"})
    assert [(c["id"], c["name"], c["member_count"]) for c in public["channels"]] == [(cid, "公告栏", 1)]
    assert not_found(await e.call("history", {"channel_id": cid}))  # not before joining
    assert not_found(await e.call("message:send", {"channel_id": cid, "client_msg_id": "early", "text": "hi"}))

    joined = await e.call("channel:join", {"channel_id": cid})
    assert joined["ok"] and joined["channel"]["id"] == cid and joined["channel"]["role"] == "member"
    assert [m["text"] for m in (await e.call("history", {"channel_id": cid}))["messages"]] == ["欢迎"]
    again = await e.call("channel:join", {"channel_id": cid})  # idempotent
    assert again["ok"] and again["channel"]["member_count"] == 2

    sent = (await a.call("message:send", {"channel_id": cid, "client_msg_id": "2", "text": "新通知"}))["message"]
    assert (await e.wait_for("message", lambda m: m["id"] == sent["id"]))["text"] == "新通知"
    reply = await e.call("message:send", {"channel_id": cid, "client_msg_id": "3", "text": "收到"})
    assert reply["ok"]
    await a.wait_for("message", lambda m: m["id"] == reply["message"]["id"])


async def test_read_only_channel_admins_post(hub):
    alice = await hub.user("alice")
    bob = await hub.user("bob")
    a = await hub.client(alice)
    b = await hub.client(bob)
    ch = await a.call("channel:create", {"name": "通知", "kind": "private", "member_ids": [bob["id"]], "read_only": True})
    cid = ch["channel"]["id"]
    assert ch["channel"]["read_only"] is True

    refused = await b.call("message:send", {"channel_id": cid, "client_msg_id": "b1", "text": "我能说话吗"})
    assert refused["ok"] is False and refused["error"]["code"] == "forbidden" and refused["error"]["message"]
    assert (await a.call("history", {"channel_id": cid}))["messages"] == []
    assert (await b.call("channel:update", {"channel_id": cid, "read_only": False}))["error"]["code"] == "forbidden"

    posted = await a.call("message:send", {"channel_id": cid, "client_msg_id": "a1", "text": "放假通知"})
    assert posted["ok"]
    await b.wait_for("message", lambda m: m["id"] == posted["message"]["id"])

    assert (await a.call("channel:set_role", {"channel_id": cid, "user_id": bob["id"], "role": "admin"}))["ok"]
    assert (await b.call("message:send", {"channel_id": cid, "client_msg_id": "b2", "text": "补充"}))["ok"]


async def test_plain_members_cannot_manage_the_channel(hub):
    alice = await hub.user("alice")
    bob = await hub.user("bob")
    eve = await hub.user("eve")
    a = await hub.client(alice)
    b = await hub.client(bob)
    cid = (await a.call("channel:create", {"name": "管理", "kind": "private", "member_ids": [bob["id"]]}))["channel"]["id"]
    for event, payload in [
        ("channel:add_members", {"channel_id": cid, "user_ids": [eve["id"]]}),
        ("channel:set_role", {"channel_id": cid, "user_id": bob["id"], "role": "admin"}),
        ("channel:set_role", {"channel_id": cid, "user_id": alice["id"], "role": "member"}),
        ("channel:update", {"channel_id": cid, "name": "夺权"}),
    ]:
        reply = await b.call(event, payload)
        assert reply["ok"] is False and reply["error"]["code"] == "forbidden", (event, reply)
    members = (await a.call("channel:members", {"channel_id": cid}))["members"]
    assert sorted((m["username"], m["role"]) for m in members) == [("alice", "admin"), ("bob", "member")]
    m = (await a.call("message:send", {"channel_id": cid, "client_msg_id": "a1", "text": "管理员的话"}))["message"]
    assert (await b.call("message:edit", {"message_id": m["id"], "text": "改"}))["error"]["code"] == "forbidden"
    assert (await b.call("message:recall", {"message_id": m["id"]}))["error"]["code"] == "forbidden"


async def test_leaving_stops_pushes_and_reading(hub):
    alice = await hub.user("alice")
    bob = await hub.user("bob")
    carol = await hub.user("carol")
    a = await hub.client(alice)
    b = await hub.client(bob)
    c = await hub.client(carol)
    cid = (await a.call("channel:create", {"name": "临时组", "kind": "private", "member_ids": [bob["id"], carol["id"]]}))["channel"]["id"]
    b_tab2 = await hub.client(bob)  # another tab, open while bob leaves
    first = (await a.call("message:send", {"channel_id": cid, "client_msg_id": "1", "text": "离开前"}))["message"]
    await b.wait_for("message", lambda m: m["id"] == first["id"])
    await b_tab2.wait_for("message", lambda m: m["id"] == first["id"])

    assert (await b.call("channel:leave", {"channel_id": cid})) == {"ok": True}
    assert await b.wait_for("channel:removed", lambda r: r["channel_id"] == cid) == {"channel_id": cid}
    later = (await a.call("message:send", {"channel_id": cid, "client_msg_id": "2", "text": "离开后"}))["message"]
    await c.wait_for("message", lambda m: m["id"] == later["id"])
    assert (await a.call("typing", {"channel_id": cid}))["ok"]
    await c.wait_for("typing", lambda t: t["channel_id"] == cid)
    await asyncio.sleep(QUIET)
    for tab in (b, b_tab2):
        assert [d["id"] for d in tab.received("message")] == [first["id"]]
        assert tab.received("typing") == []
    await b_tab2.wait_for("channel:removed", lambda r: r["channel_id"] == cid)

    assert not_found(await b.call("history", {"channel_id": cid}))
    assert not_found(await b.call("typing", {"channel_id": cid}))
    assert not_found(await b.call("channel:join", {"channel_id": cid}))  # private: no way back in alone
    got = await b.call("sync", {"cursors": {str(cid): 1}})
    assert [m for m in got["messages"] if m["channel_id"] == cid] == [] and str(cid) not in got["cursors"]
    # a fresh connection doesn't rejoin the room either
    b2 = await hub.client(bob)
    third = (await a.call("message:send", {"channel_id": cid, "client_msg_id": "3", "text": "再一条"}))["message"]
    await c.wait_for("message", lambda m: m["id"] == third["id"])
    await asyncio.sleep(QUIET)
    assert b2.received("message") == []
    members = (await a.call("channel:members", {"channel_id": cid}))["members"]
    assert sorted(m["username"] for m in members) == ["alice", "carol"]


async def test_direct_channels(hub):
    alice = await hub.user("alice", "艾丽丝")
    bob = await hub.user("bob", "鲍勃")
    carol = await hub.user("carol", "卡罗尔")
    eve = await hub.user("eve", "伊芙")
    a = await hub.client(alice)
    b = await hub.client(bob)
    e = await hub.client(eve)

    dm = await a.call("dm:open", {"user_id": bob["id"]})
    assert dm["ok"] and dm["channel"]["kind"] == "direct"
    assert [p["username"] for p in dm["channel"]["peers"]] == ["bob"]
    cid = dm["channel"]["id"]
    assert (await a.call("dm:open", {"user_id": bob["id"]}))["channel"]["id"] == cid
    from_bob = await b.call("dm:open", {"user_id": alice["id"]})
    assert from_bob["channel"]["id"] == cid and [p["username"] for p in from_bob["channel"]["peers"]] == ["alice"]
    await b.wait_for("channel", lambda c: c["id"] == cid)  # bob was told when it was opened

    sent = (await a.call("message:send", {"channel_id": cid, "client_msg_id": "d1", "text": "私聊"}))["message"]
    await b.wait_for("message", lambda m: m["id"] == sent["id"])
    await asyncio.sleep(QUIET)
    assert about_channel(e, cid) == []
    assert not_found(await e.call("history", {"channel_id": cid}))
    assert not_found(await e.call("channel:join", {"channel_id": cid}))
    assert not_found(await e.call("message:send", {"channel_id": cid, "client_msg_id": "e1", "text": "偷听"}))

    assert (await a.call("channel:leave", {"channel_id": cid}))["error"]["code"] == "forbidden"
    assert (await a.call("channel:add_members", {"channel_id": cid, "user_ids": [eve["id"]]}))["error"]["code"] == "forbidden"

    group = await a.call("dm:open", {"user_ids": [bob["id"], carol["id"]]})
    assert group["ok"] and group["channel"]["kind"] == "direct" and group["channel"]["id"] != cid
    assert group["channel"]["member_count"] == 3
    assert [p["username"] for p in group["channel"]["peers"]] == ["bob", "carol"]
    same = await a.call("dm:open", {"user_ids": [carol["id"], bob["id"], alice["id"]]})
    assert same["channel"]["id"] == group["channel"]["id"]
    assert not_found(await e.call("history", {"channel_id": group["channel"]["id"]}))

    assert (await a.call("dm:open", {"user_id": alice["id"]}))["error"]["code"] == "bad_request"  # only oneself
    assert (await a.call("dm:open", {}))["error"]["code"] == "bad_request"
    assert not_found(await a.call("dm:open", {"user_id": 99_999_999}))


async def test_two_people_opening_their_dm_at_once_get_the_same_channel(hub):
    """Two first opens in flight together (both people, or a bot posting two task cards
    to one person) race to make the channel: each must get it, none an error."""
    alice = await hub.user("alice", "艾丽丝")
    bob = await hub.user("bob", "鲍勃")
    a = await hub.client(alice)
    b = await hub.client(bob)
    for _ in range(5):
        carol = await hub.user(f"carol{_}", "卡罗尔")
        c = await hub.client(carol)
        got = await asyncio.gather(
            a.call("dm:open", {"user_id": carol["id"]}), b.call("dm:open", {"user_ids": [carol["id"], alice["id"]]}),
            c.call("dm:open", {"user_id": alice["id"]}), a.call("dm:open", {"user_id": carol["id"]}),
        )
        assert all(g["ok"] for g in got), got
        assert got[0]["channel"]["id"] == got[2]["channel"]["id"] == got[3]["channel"]["id"] != got[1]["channel"]["id"]
        await c.disconnect()


async def test_unit_channels_follow_posts(hub):
    tj = await hub.unit("tj", "交通局")
    alice = await hub.user("alice", units=("tj",))
    bob = await hub.user("bob")
    a = await hub.client(alice)
    b = await hub.client(bob)
    mine = [c for c in (await a.call("channel:list", {}))["channels"] if c["kind"] == "unit"]
    assert [(c["unit_id"], c["name"]) for c in mine] == [(tj["id"], "交通局")]
    cid = mine[0]["id"]
    assert [c for c in (await b.call("channel:list", {}))["channels"] if c["kind"] == "unit"] == []

    assert not_found(await b.call("history", {"channel_id": cid}))
    assert not_found(await b.call("channel:join", {"channel_id": cid}))
    assert (await a.call("channel:leave", {"channel_id": cid}))["error"]["code"] == "forbidden"
    assert (await a.call("channel:update", {"channel_id": cid, "name": "改名"}))["error"]["code"] == "forbidden"  # a member, not an admin

    # bob takes a post in 交通局: he is in the channel at once, on his live connection
    async with hub.app[DATABASE].begin() as conn:
        await set_posts(conn, hub.app[DIRECTORY_HOOKS], bob["id"], [{"unit_id": tj["id"]}])
    await b.wait_for("channel", lambda c: c["id"] == cid)
    sent = (await a.call("message:send", {"channel_id": cid, "client_msg_id": "u1", "text": "全局通知"}))["message"]
    await b.wait_for("message", lambda m: m["id"] == sent["id"])
    assert (await b.call("history", {"channel_id": cid}))["ok"]

    # and out again when the post is removed
    async with hub.app[DATABASE].begin() as conn:
        await set_posts(conn, hub.app[DIRECTORY_HOOKS], bob["id"], [])
    await b.wait_for("channel:removed", lambda r: r["channel_id"] == cid)
    assert not_found(await b.call("history", {"channel_id": cid}))
    later = (await a.call("message:send", {"channel_id": cid, "client_msg_id": "u2", "text": "之后"}))["message"]
    c = await hub.client(alice)
    await c.call("channel:list", {})
    await asyncio.sleep(QUIET)
    assert later["id"] not in [m["id"] for m in b.received("message")]
