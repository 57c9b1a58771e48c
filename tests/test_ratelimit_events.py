"""The per-connection event rate limit (events_per_second, burst twice that), over a
real socket: a burst past it is answered `rate_limited` (never dropped), the bucket
refills, and other connections are unaffected."""

from __future__ import annotations

import asyncio

import pytest

RATE = 5  # burst: 2 * RATE


@pytest.fixture
def hub_settings():
    return {"events_per_second": RATE}


def codes(replies) -> list[str]:
    return ["ok" if r["ok"] else r["error"]["code"] for r in replies]


async def test_burst_past_the_limit_is_rate_limited_then_refills(hub):
    alice = await hub.user("alice")
    a = await hub.client(alice)
    other = await hub.client(alice)  # a second tab has its own bucket

    loop = asyncio.get_running_loop()
    started = loop.time()
    replies = await asyncio.gather(*[a.call("channel:list", {}) for _ in range(3 * RATE)])
    elapsed = loop.time() - started
    got = codes(replies)
    assert set(got) == {"ok", "rate_limited"}
    # the burst, plus whatever refilled while the calls were in flight
    assert 2 * RATE <= got.count("ok") <= 2 * RATE + RATE * elapsed + 1, (got, elapsed)
    limited = next(r for r in replies if not r["ok"])
    assert limited == {"ok": False, "error": {"code": "rate_limited", "message": limited["error"]["message"]}}
    assert limited["error"]["message"]

    # garbage and unknown events count too, and are still answered
    unknown = codes(await asyncio.gather(*[a.call("no-such-event", {}) for _ in range(2 * RATE)]))
    assert set(unknown) <= {"bad_request", "rate_limited"} and unknown.count("rate_limited") >= RATE, unknown
    assert (await other.call("channel:list", {}))["ok"]

    drained = loop.time()
    await asyncio.sleep(0.5)  # refills at RATE per second
    refilled = codes(await asyncio.gather(*[a.call("channel:list", {}) for _ in range(2 * RATE)]))
    window = loop.time() - drained
    assert RATE * 0.5 - 1 <= refilled.count("ok") <= RATE * window + 1, (refilled, window)
    assert "rate_limited" in refilled


async def test_sends_past_the_limit_store_nothing(hub):
    alice = await hub.user("alice")
    a = await hub.client(alice)
    reader = await hub.client(alice)
    cid = (await a.call("channel:create", {"name": "刷屏", "kind": "private"}))["channel"]["id"]
    replies = await asyncio.gather(
        *[a.call("message:send", {"channel_id": cid, "client_msg_id": f"s{i}", "text": f"第{i}条"}) for i in range(4 * RATE)]
    )
    stored = [r["message"]["text"] for r in replies if r["ok"]]
    assert codes(replies).count("rate_limited") >= RATE
    history = await reader.call("history", {"channel_id": cid})
    assert sorted(m["text"] for m in history["messages"]) == sorted(stored)


async def test_a_fake_disconnect_event_does_not_lift_the_limit(hub):
    alice = await hub.user("alice")
    a = await hub.client(alice)
    await a.sio.call("disconnect", {}, timeout=2)
    replies = await asyncio.gather(*[a.call("channel:list", {}) for _ in range(4 * RATE)])
    assert "rate_limited" in codes(replies)
