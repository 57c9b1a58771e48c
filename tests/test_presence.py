"""Presence (全市在线人员) over real sockets: online / away / offline across a user's
tabs, the grace period after the last tab closes (0.3 s in tests), and the city-wide
list grouped by unit."""

from __future__ import annotations

import asyncio

import pytest
import socketio

from hub.realtime import REALTIME

GRACE = 0.3  # presence_grace_seconds in tests/conftest.py


def pushes_about(client, user_id: int) -> list[str]:
    return [p["status"] for p in client.received("presence") if p["user_id"] == user_id]


async def test_connecting_user_shows_online_to_others(hub):
    alice = await hub.user("alice", "艾丽丝")
    bob = await hub.user("bob", "鲍勃")
    a = await hub.client(alice)
    await hub.client(bob)
    push = await a.wait_for("presence", lambda p: p["user_id"] == bob["id"])
    assert push == {"user_id": bob["id"], "status": "online"}


async def test_two_tabs_stay_online_until_both_close(hub):
    alice = await hub.user("alice")
    bob = await hub.user("bob")
    a = await hub.client(alice)
    tab1 = await hub.client(bob)
    tab2 = await hub.client(bob)
    await a.wait_for("presence", lambda p: p == {"user_id": bob["id"], "status": "online"})

    await tab1.disconnect()
    await asyncio.sleep(GRACE * 2)
    assert pushes_about(a, bob["id"]) == ["online"]  # no offline, no second online
    assert (await tab2.call("channel:list"))["ok"]

    closed = asyncio.get_running_loop().time()
    await tab2.disconnect()
    await a.wait_for("presence", lambda p: p == {"user_id": bob["id"], "status": "offline"}, timeout=3)
    waited = asyncio.get_running_loop().time() - closed
    assert waited >= GRACE * 0.8, waited  # after the grace period, not at once
    assert pushes_about(a, bob["id"]) == ["online", "offline"]


async def test_reload_within_grace_does_not_flap(hub):
    await hub.unit("tj", "交通局")
    alice = await hub.user("alice", units=("tj",))
    bob = await hub.user("bob", units=("tj",))
    a = await hub.client(alice)
    b = await hub.client(bob)
    await a.wait_for("presence", lambda p: p["user_id"] == bob["id"])
    await b.disconnect()
    await asyncio.sleep(GRACE / 3)
    await hub.client(bob)  # the page came back
    await asyncio.sleep(GRACE * 2)
    assert pushes_about(a, bob["id"]) == ["online"]
    listed = await a.call("presence:list", {})
    assert listed["ok"] and listed["online"] == 2  # bob is still listed


async def test_away_and_back(hub):
    alice = await hub.user("alice")
    bob = await hub.user("bob")
    a = await hub.client(alice)
    b = await hub.client(bob)
    await a.wait_for("presence", lambda p: p["user_id"] == bob["id"])

    ack = await b.call("presence:set", {"status": "away"})
    assert ack == {"ok": True, "status": "away"}
    assert await a.wait_for("presence", lambda p: p["user_id"] == bob["id"] and p["status"] == "away")
    ack = await b.call("presence:set", {"status": "online"})
    assert ack == {"ok": True, "status": "online"}
    await a.wait_for("presence", lambda p: p["user_id"] == bob["id"] and p["status"] == "online" and len(pushes_about(a, bob["id"])) == 3)
    assert pushes_about(a, bob["id"]) == ["online", "away", "online"]

    # a second tab that is active keeps bob online while the first one is away
    tab2 = await hub.client(bob)
    assert (await b.call("presence:set", {"status": "away"}))["status"] == "online"
    await tab2.disconnect()
    await a.wait_for("presence", lambda p: p["user_id"] == bob["id"] and p["status"] == "away" and len(pushes_about(a, bob["id"])) == 4)

    for bad in ({"status": "offline"}, {"status": "busy"}, {"status": None}, {}, {"status": "away", "x": 1}):
        err = await b.call("presence:set", bad)
        assert err["ok"] is False and err["error"]["code"] == "bad_request", bad


async def _city(hub):
    """市政府 > 交通局 > 交通局办公室, 市政府 > 教育局; bob holds posts in two units."""
    city = await hub.unit("city", "市政府")
    tj = await hub.unit("tj", "交通局", "city")
    tjo = await hub.unit("tj-office", "交通局办公室", "tj")
    jy = await hub.unit("jy", "教育局", "city")
    alice = await hub.user("alice", "艾丽丝", units=("tj",))
    bob = await hub.user("bob", "鲍勃", units=("tj-office", "jy"))
    carol = await hub.user("carol", "卡罗尔", units=("jy",))
    dave = await hub.user("dave", "戴夫", units=("tj",))  # never connects
    return {"city": city, "tj": tj, "tj-office": tjo, "jy": jy}, alice, bob, carol, dave


def grouped(listing) -> dict[str, set[str]]:
    return {g["unit"]["code"]: {u["username"] for u in g["users"]} for g in listing["units"]}


async def test_list_groups_online_users_by_unit(hub):
    units, alice, bob, carol, dave = await _city(hub)
    a = await hub.client(alice)
    b = await hub.client(bob)
    await hub.client(carol)
    await b.call("presence:set", {"status": "away"})

    listing = await a.call("presence:list", {})
    assert listing["ok"] and listing["online"] == 3  # people, not posts: bob counts once
    assert grouped(listing) == {"tj": {"alice"}, "tj-office": {"bob"}, "jy": {"bob", "carol"}}
    jy = next(g for g in listing["units"] if g["unit"]["code"] == "jy")
    assert jy["unit"] == {"id": units["jy"]["id"], "code": "jy", "name": "教育局"}
    by_name = {u["username"]: u for u in jy["users"]}
    assert by_name["bob"] == {"id": bob["id"], "username": "bob", "display_name": "鲍勃", "status": "away"}
    assert by_name["carol"]["status"] == "online"

    sub = await a.call("presence:list", {"unit_id": units["tj"]["id"]})
    assert sub["ok"] and grouped(sub) == {"tj": {"alice"}, "tj-office": {"bob"}} and sub["online"] == 2
    leaf = await a.call("presence:list", {"unit_id": units["jy"]["id"]})
    assert grouped(leaf) == {"jy": {"bob", "carol"}} and leaf["online"] == 2
    whole = await a.call("presence:list", {"unit_id": units["city"]["id"]})
    assert grouped(whole) == grouped(listing)

    await b.disconnect()
    await a.wait_for("presence", lambda p: p == {"user_id": bob["id"], "status": "offline"}, timeout=3)
    after = await a.call("presence:list", {})
    assert grouped(after) == {"tj": {"alice"}, "jy": {"carol"}} and after["online"] == 2


async def test_list_with_nobody_in_the_unit(hub):
    units, alice, bob, carol, dave = await _city(hub)
    c = await hub.client(carol)
    listing = await c.call("presence:list", {"unit_id": units["tj"]["id"]})
    assert listing == {"ok": True, "units": [], "online": 0}
    for bad in ({"unit_id": "tj"}, {"unit_id": -1}, {"unit_id": 0}, {"unit_id": 2**70}, {"other": 1}, "tj", [1]):
        err = await c.call("presence:list", bad)
        assert err["ok"] is False and err["error"]["code"] in ("bad_request", "not_found"), (bad, err)


async def test_a_connection_that_fails_to_set_up_leaves_no_ghost(hub):
    await hub.unit("tj", "交通局")
    alice = await hub.user("alice", units=("tj",))
    bob = await hub.user("bob", units=("tj",))
    a = await hub.client(alice)

    async def broken(who, sid):
        if who.user_id == bob["id"]:
            raise RuntimeError("database went away")
        return []

    hub.app[REALTIME].connect_hooks.append(broken)
    sio = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(hub.url, auth={"token": bob["token"]}, transports=["websocket"], wait_timeout=1)
    await sio.disconnect()
    await asyncio.sleep(GRACE * 2)
    listing = await a.call("presence:list", {})
    assert [u["username"] for g in listing["units"] for u in g["users"]] == ["alice"]
    assert pushes_about(a, bob["id"]) in ([], ["online", "offline"])


async def test_a_connect_storm_reaches_everyone_once_per_change(hub):
    """Presence pushes are held for `presence_push_window_seconds` and written together:
    30 people connecting at once still reach an observer as 30 `presence` events, one
    per person, each once."""
    observer = await hub.user("observer")
    people = [await hub.user(f"user{i}") for i in range(30)]
    o = await hub.client(observer)
    await asyncio.gather(*(hub.client(p) for p in people))
    ids = {p["id"] for p in people}
    await o.wait_for("presence", lambda _: {p["user_id"] for p in o.received("presence")} >= ids)
    await asyncio.sleep(hub.config.presence_push_window_seconds * 2)  # a late duplicate would be here by now
    online = [p["user_id"] for p in o.received("presence") if p["status"] == "online" and p["user_id"] in ids]
    assert sorted(online) == sorted(ids)
