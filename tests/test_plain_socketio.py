"""The fallback: with `fast_fanout` off the hub runs on python-socketio's own managers
and server (nothing private of engineio or aiohttp touched) and still delivers, acks,
pushes presence and catches up."""

from __future__ import annotations

import pytest

from hub.realtime import REALTIME, FastEmitManager


@pytest.fixture
def hub_settings():
    return {"fast_fanout": False}


async def test_the_plain_python_socketio_path_delivers_everything(hub):
    assert not isinstance(hub.app[REALTIME].sio.manager, FastEmitManager)
    alice = await hub.user("alice", "艾丽丝")
    bob = await hub.user("bob", "鲍勃")
    a = await hub.client(alice)
    b = await hub.client(bob, transports=["polling"])  # a long-polling client too
    assert (await a.wait_for("presence", lambda p: p["user_id"] == bob["id"]))["status"] == "online"
    ch = (await a.call("channel:create", {"name": "后备通道", "kind": "private", "member_ids": [bob["id"]]}))["channel"]
    await b.wait_for("channel", lambda c: c["id"] == ch["id"])
    sent = await a.call("message:send", {"channel_id": ch["id"], "client_msg_id": "1", "text": "走备用路径"})
    assert sent["ok"]
    got = await b.wait_for("message", lambda m: m["id"] == sent["message"]["id"])
    assert got["text"] == "走备用路径"
    page = await b.call("sync", {"cursors": {str(ch["id"]): 0}})
    assert [m["text"] for m in page["messages"]] == ["走备用路径"]
    too_big = await a.call("message:send", {"channel_id": ch["id"], "client_msg_id": "2", "text": "长" * 200_000})
    assert too_big["error"]["code"] == "too_large" and a.sio.connected
