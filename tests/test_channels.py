"""Channels: public, private, direct, unit channels that follow the directory, admins,
read-only announcement channels, and channel pushes to members."""

from __future__ import annotations


async def test_create_list_join_leave_public_channel(hub):
    alice = await hub.user("alice", "艾丽丝")
    bob = await hub.user("bob", "鲍勃")
    a, b = await hub.client(alice), await hub.client(bob)
    created = await a.call("channel:create", {"name": "应急值班", "kind": "public", "topic": "值班安排"})
    ch = created["channel"]
    assert (ch["name"], ch["kind"], ch["role"], ch["member_count"]) == ("应急值班", "public", "admin", 1)
    public = (await b.call("channel:list", {"scope": "public"}))["channels"]
    assert [c["name"] for c in public] == ["应急值班"]
    joined = await b.call("channel:join", {"channel_id": ch["id"]})
    assert joined["channel"]["role"] == "member" and joined["channel"]["member_count"] == 2
    await a.call("message:send", {"channel_id": ch["id"], "client_msg_id": "1", "text": "欢迎"})
    await b.wait_for("message", lambda m: m["text"] == "欢迎")
    assert (await b.call("channel:leave", {"channel_id": ch["id"]}))["ok"]
    assert ch["id"] not in [c["id"] for c in (await b.call("channel:list"))["channels"]]


async def test_members_added_later_are_pushed_the_channel_and_its_messages(hub):
    alice = await hub.user("alice")
    bob = await hub.user("bob")
    a, b = await hub.client(alice), await hub.client(bob)
    ch = (await a.call("channel:create", {"name": "专班", "kind": "private"}))["channel"]
    added = await a.call("channel:add_members", {"channel_id": ch["id"], "user_ids": [bob["id"]]})
    assert added["added"] == [bob["id"]]
    pushed = await b.wait_for("channel", lambda c: c["id"] == ch["id"])
    assert pushed["name"] == "专班"
    await a.call("message:send", {"channel_id": ch["id"], "client_msg_id": "1", "text": "加入后可见"})
    await b.wait_for("message", lambda m: m["text"] == "加入后可见")
    refused = await b.call("channel:add_members", {"channel_id": ch["id"], "user_ids": [alice["id"]]})
    assert refused["error"]["code"] == "forbidden"


async def test_direct_channels_one_to_one_and_group(hub):
    alice, bob, carol = await hub.user("alice"), await hub.user("bob"), await hub.user("carol")
    a = await hub.client(alice)
    first = (await a.call("dm:open", {"user_id": bob["id"]}))["channel"]
    again = (await a.call("dm:open", {"user_id": bob["id"]}))["channel"]
    assert first["id"] == again["id"] and first["kind"] == "direct"
    assert [p["username"] for p in first["peers"]] == ["bob"]
    b = await hub.client(bob)
    from_bob = (await b.call("dm:open", {"user_id": alice["id"]}))["channel"]
    assert from_bob["id"] == first["id"]
    group = (await a.call("dm:open", {"user_ids": [bob["id"], carol["id"]]}))["channel"]
    assert group["id"] != first["id"] and group["member_count"] == 3
    assert (await a.call("dm:open", {"user_id": alice["id"]}))["error"]["code"] == "bad_request"
    assert (await a.call("dm:open", {"user_id": 999999}))["error"]["code"] == "not_found"
    assert (await a.call("channel:leave", {"channel_id": first["id"]}))["error"]["code"] == "forbidden"


async def test_unit_channel_follows_the_directory(hub):
    await hub.unit("city", "东营市")
    await hub.unit("edu", "市教育局", "city")
    teacher = await hub.user("teacher", "王老师", units=("edu",))
    t = await hub.client(teacher)
    unit_channels = [c for c in (await t.call("channel:list"))["channels"] if c["kind"] == "unit"]
    assert [c["name"] for c in unit_channels] == ["市教育局"]
    newcomer = await hub.user("newcomer", "新同事", units=("edu",))
    joined = await t.call("channel:members", {"channel_id": unit_channels[0]["id"]})
    assert {m["username"] for m in joined["members"]} == {"teacher", "newcomer"}
    n = await hub.client(newcomer)
    await t.call("message:send", {"channel_id": unit_channels[0]["id"], "client_msg_id": "1", "text": "欢迎新同事"})
    await n.wait_for("message", lambda m: m["text"] == "欢迎新同事")


async def test_read_only_announcements_and_channel_admins(hub):
    admin = await hub.user("chief", "主任")
    staff = await hub.user("staff", "科员")
    a, s = await hub.client(admin), await hub.client(staff)
    ch = (await a.call("channel:create", {"name": "通知公告", "kind": "public", "read_only": True, "member_ids": [staff["id"]]}))["channel"]
    assert ch["read_only"]
    assert (await a.call("message:send", {"channel_id": ch["id"], "client_msg_id": "1", "text": "通知"}))["ok"]
    refused = await s.call("message:send", {"channel_id": ch["id"], "client_msg_id": "2", "text": "我也说"})
    assert refused["error"]["code"] == "forbidden"
    assert (await s.call("channel:update", {"channel_id": ch["id"], "read_only": False}))["error"]["code"] == "forbidden"
    assert (await a.call("channel:set_role", {"channel_id": ch["id"], "user_id": staff["id"], "role": "admin"}))["ok"]
    assert (await s.call("message:send", {"channel_id": ch["id"], "client_msg_id": "3", "text": "管理员发言"}))["ok"]
    updated = await a.call("channel:update", {"channel_id": ch["id"], "name": "重要通知", "read_only": False})
    assert updated["channel"]["name"] == "重要通知"
    pushed = await s.wait_for("channel:update", lambda c: c["channel_id"] == ch["id"])
    assert pushed == {"channel_id": ch["id"], "name": "重要通知", "read_only": False}


async def test_typing_reaches_other_members_not_the_typist(hub):
    alice, bob = await hub.user("alice", "艾丽丝"), await hub.user("bob")
    a = await hub.client(alice)
    ch = (await a.call("channel:create", {"name": "t", "kind": "private", "member_ids": [bob["id"]]}))["channel"]
    b = await hub.client(bob)
    assert (await a.call("typing", {"channel_id": ch["id"]}))["ok"]
    event = await b.wait_for("typing")
    assert event == {"channel_id": ch["id"], "user_id": alice["id"], "display_name": "艾丽丝"}
    await a.call("channel:list")  # a round trip later, alice has still no echo
    assert a.received("typing") == []
