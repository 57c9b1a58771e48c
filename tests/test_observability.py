"""Health, metrics, request ids, transports."""

from __future__ import annotations

import asyncio


async def test_healthz_and_request_id(hub):
    status, body = await hub.request("GET", "/healthz")
    assert status == 200 and body == {"status": "ok"}
    async with hub.http.get(hub.url + "/healthz", headers={"X-Request-Id": "abc123"}) as resp:
        assert resp.headers["X-Request-Id"] == "abc123"
    async with hub.http.get(hub.url + "/api/v1/nope") as resp:
        assert resp.status == 404
        assert (await resp.json())["error"]["code"] == "not_found"
        assert len(resp.headers["X-Request-Id"]) == 16


async def test_metrics_count_connections_events_messages_and_deliveries(hub):
    alice, bob = await hub.user("alice"), await hub.user("bob")
    a, b = await hub.client(alice), await hub.client(bob)
    ch = (await a.call("channel:create", {"name": "m", "kind": "private", "member_ids": [bob["id"]]}))["channel"]
    await a.call("message:send", {"channel_id": ch["id"], "client_msg_id": "1", "text": "hi"})
    await b.wait_for("message")
    await a.call("no:such:event")
    status, raw = await hub.request("GET", "/metrics")
    text = raw.decode()
    assert status == 200
    assert "changtong_connections 2.0" in text
    assert 'changtong_events_total{event="message:send",outcome="ok"} 1.0' in text
    assert 'changtong_events_total{event="unknown",outcome="bad_request"} 1.0' in text
    assert 'changtong_messages_stored_total{kind="text"} 1.0' in text
    assert 'changtong_deliveries_total{event="message"} 2.0' in text  # alice's tab and bob's
    assert 'changtong_event_seconds_bucket{event="message:send"' in text


async def test_long_polling_transport_works(hub):
    alice, bob = await hub.user("alice"), await hub.user("bob")
    a = await hub.client(alice, transports=["polling"])
    b = await hub.client(bob, transports=["polling"])
    assert a.sio.transport() == "polling"
    ch = (await a.call("channel:create", {"name": "p", "kind": "private", "member_ids": [bob["id"]]}))["channel"]
    await asyncio.sleep(0)  # bob's room join happens after commit
    sent = await a.call("message:send", {"channel_id": ch["id"], "client_msg_id": "1", "text": "轮询"})
    got = await b.wait_for("message")
    assert got["id"] == sent["message"]["id"]
