"""Presence across hub processes (`redis_url` set): several hub apps in this test process
share one PostgreSQL database and one Redis, each on its own port, with real Socket.IO
clients on each node.

What crosses nodes here is presence *state* in Redis (`presence:list`, who is online,
the dead-node reaper). Cross-node *pushes* are the Socket.IO Redis manager's job
(hub/realtime.py): except in `test_pushes_cross_nodes`, which skips without that
manager, pushes are only checked on the node that announced them, and announcements
are counted where they are made (`emit_to_all`), so the tests hold with or without it.

Every test uses its own Redis key prefix and pub/sub channels (keys removed afterwards)
and TTL 1.5 s (heartbeat every 0.5 s, reaper every 0.15 s). The single-node presence
tests of tests/test_presence.py run here again with Redis, on both storage backends.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis
from aiohttp import web

from hub.app import create_app
from hub.presence import PRESENCE
from hub.realtime import REALTIME
from tests.conftest import Hub, _missing, _truncate, hub_config

# The single-node suite again, over Redis (the `hub` override below).
from tests.test_presence import (  # noqa: F401
    test_a_connection_that_fails_to_set_up_leaves_no_ghost,
    test_away_and_back,
    test_connecting_user_shows_online_to_others,
    test_list_groups_online_users_by_unit,
    test_list_with_nobody_in_the_unit,
    test_reload_within_grace_does_not_flap,
    test_two_tabs_stay_online_until_both_close,
)

REDIS_SERVER = os.environ.get("CHANGTONG_TEST_REDIS", "redis://127.0.0.1:6379/0")
TTL = 1.5  # presence_ttl_seconds here: heartbeat every 0.5 s, reaper every 0.15 s
GRACE = 0.3  # presence_grace_seconds in tests/conftest.py


# ---- fixtures --------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> str:
    async def ping() -> None:
        r = aioredis.from_url(REDIS_SERVER, socket_connect_timeout=2, socket_timeout=2)
        try:
            await r.ping()
        finally:
            await r.aclose()

    try:
        asyncio.run(ping())
    except Exception as exc:  # noqa: BLE001 - any failure means "no server"
        _missing(f"Redis at {REDIS_SERVER} ({exc.__class__.__name__})")
    return REDIS_SERVER


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    r = aioredis.from_url(redis_url, decode_responses=True)
    yield r
    await r.aclose()


@pytest.fixture
async def prefix(redis: aioredis.Redis) -> AsyncIterator[str]:
    """This test's own Redis key prefix and pub/sub channels (the hubs get it as
    `redis_prefix`); its presence keys are `<prefix>:presence:*`, removed afterwards."""
    base = f"changtong-test:{uuid.uuid4().hex[:10]}"
    yield f"{base}:presence"
    keys = [k async for k in redis.scan_iter(match=f"{base}:*")]
    if keys:
        await redis.delete(*keys)


def base(prefix: str) -> str:
    return prefix.removesuffix(":presence")


async def start(app: web.Application, prefix: str) -> tuple[Hub, web.AppRunner]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return Hub(app, f"http://127.0.0.1:{port}"), runner


@pytest.fixture
async def hub(data_dir: tuple[Path, str], tmp_path: Path, redis_url: str, prefix: str) -> AsyncIterator[Hub]:
    """tests/conftest.py's `hub` (both storage backends), with presence in Redis."""
    app = create_app(
        hub_config(tmp_path, data_dir[1], redis_url=redis_url, presence_ttl_seconds=TTL, redis_prefix=base(prefix))
    )
    h, runner = await start(app, prefix)
    try:
        yield h
    finally:
        await h.close()
        await runner.cleanup()


class Cluster:
    """Hub processes (nodes) sharing one PostgreSQL database and one Redis."""

    def __init__(self, tmp_path: Path, database_url: str, redis_url: str, prefix: str) -> None:
        self.tmp_path = tmp_path
        self.database_url = database_url
        self.redis_url = redis_url
        self.prefix = prefix
        self.nodes: list[tuple[Hub, web.AppRunner]] = []

    async def node(self, name: str, redis_url: str | None = None) -> Hub:
        config = hub_config(
            self.tmp_path / name,
            self.database_url,
            redis_url=redis_url or self.redis_url,
            presence_ttl_seconds=TTL,
            redis_prefix=base(self.prefix),
        )
        hub, runner = await start(create_app(config), self.prefix)
        self.nodes.append((hub, runner))
        return hub

    async def close(self) -> None:
        for hub, runner in reversed(self.nodes):
            await hub.close()
            await runner.cleanup()


@pytest.fixture
async def cluster(tmp_path: Path, pg_url: str, redis_url: str, prefix: str) -> AsyncIterator[Cluster]:
    await _truncate(pg_url)
    c = Cluster(tmp_path, pg_url, redis_url, prefix)
    try:
        yield c
    finally:
        await c.close()


# ---- helpers ----------------------------------------------------------------------


def listed(listing: dict[str, Any]) -> dict[str, str]:
    """username -> status in a `presence:list` answer."""
    assert listing["ok"], listing
    return {u["username"]: u["status"] for g in listing["units"] for u in g["users"]}


async def eventually(
    check: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> float:
    """Poll the async `check` until it returns true; the seconds it took."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    last: Any = None
    while loop.time() - started < timeout:
        last = await check()
        if last:
            return loop.time() - started
        await asyncio.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")


def announcements(*hubs: Hub) -> list[tuple[int, str]]:
    """Record every presence change the given nodes announce, in order."""
    seen: list[tuple[int, str]] = []
    for hub in hubs:
        realtime = hub.app[REALTIME]
        original = realtime.emit_to_all

        async def emit_to_all(event: str, data: Any, _original: Any = original) -> None:
            if event == "presence":
                seen.append((data["user_id"], data["status"]))
            await _original(event, data)

        realtime.emit_to_all = emit_to_all  # type: ignore[method-assign]
    return seen


def pushes_about(client: Any, user_id: int) -> list[str]:
    return [p["status"] for p in client.received("presence") if p["user_id"] == user_id]


def kill(hub: Hub) -> None:
    """What a crashed process leaves behind: its heartbeat and reaper stop, and its
    connections go without any disconnect handler running."""
    presence = hub.app[PRESENCE]
    presence._stopping = True  # type: ignore[attr-defined]
    for task in presence._tasks:  # type: ignore[attr-defined]
        task.cancel()
    hub.app[REALTIME].disconnect_hooks.clear()


async def _people(hub: Hub) -> dict[str, dict[str, Any]]:
    await hub.unit("tj", "交通局")
    await hub.unit("jy", "教育局")
    people = {}
    for name, unit in (("alice", "tj"), ("bob", "tj"), ("carol", "jy"), ("dave", "jy")):
        people[name] = await hub.user(name, units=(unit,))
    return people


# ---- tests --------------------------------------------------------------------------


async def test_list_is_city_wide(cluster):
    a = await cluster.node("a")
    b = await cluster.node("b")
    p = await _people(a)
    alice = await a.client(p["alice"])
    carol = await a.client(p["carol"])
    bob = await b.client(p["bob"])  # token from node A: the database is shared

    # a push on the node that saw the change
    await alice.wait_for("presence", lambda d: d == {"user_id": p["carol"]["id"], "status": "online"})
    assert (await bob.call("presence:set", {"status": "away"})) == {"ok": True, "status": "away"}

    want = {"alice": "online", "bob": "away", "carol": "online"}
    assert listed(await alice.call("presence:list", {})) == want
    assert listed(await bob.call("presence:list", {})) == want
    from_b = await bob.call("presence:list", {})
    assert from_b["online"] == 3
    assert {g["unit"]["code"]: {u["username"] for u in g["users"]} for g in from_b["units"]} == {
        "tj": {"alice", "bob"},
        "jy": {"carol"},
    }

    await carol.disconnect()
    await eventually(
        lambda: _without(bob, "carol"), GRACE * 3 + 1, "carol (node A) leaves node B's list after the grace period"
    )
    await bob.call("presence:set", {"status": "online"})
    assert listed(await alice.call("presence:list", {})) == {"alice": "online", "bob": "online"}


async def _without(client: Any, username: str) -> bool:
    return username not in listed(await client.call("presence:list", {}))


async def test_tabs_on_two_nodes(cluster):
    a = await cluster.node("a")
    b = await cluster.node("b")
    p = await _people(a)
    said = announcements(a, b)
    watch_a = await a.client(p["alice"])
    watch_b = await b.client(p["carol"])
    tab_a = await a.client(p["bob"])
    tab_b = await b.client(p["bob"])
    bob = p["bob"]["id"]
    assert listed(await watch_b.call("presence:list", {}))["bob"] == "online"

    await tab_a.disconnect()
    await asyncio.sleep(GRACE * 3)
    assert listed(await watch_a.call("presence:list", {}))["bob"] == "online"
    assert listed(await watch_b.call("presence:list", {}))["bob"] == "online"
    assert [s for u, s in said if u == bob] == ["online"]  # no offline, no second online
    assert pushes_about(watch_a, bob) == ["online"]  # node A saw bob's first tab

    # away on one node, online on the other: online; all away: away
    tab_a2 = await a.client(p["bob"])
    assert (await tab_a2.call("presence:set", {"status": "away"}))["status"] == "online"
    assert (await tab_b.call("presence:set", {"status": "away"}))["status"] == "away"
    assert listed(await watch_a.call("presence:list", {}))["bob"] == "away"
    assert (await tab_b.call("presence:set", {"status": "online"}))["status"] == "online"
    await tab_b.disconnect()  # the tab left is away: bob shows away at once, no grace
    await watch_b.wait_for("presence", lambda d: pushes_about(watch_b, bob).count("away") == 2, timeout=1)
    assert listed(await watch_a.call("presence:list", {}))["bob"] == "away"

    closed = asyncio.get_running_loop().time()
    await tab_a2.disconnect()
    await watch_a.wait_for("presence", lambda d: d == {"user_id": bob, "status": "offline"}, timeout=3)
    waited = asyncio.get_running_loop().time() - closed
    assert waited >= GRACE * 0.8, waited  # after the grace period, not at once
    assert "bob" not in listed(await watch_b.call("presence:list", {}))
    assert [s for u, s in said if u == bob] == ["online", "away", "online", "away", "offline"]


async def _status_is(client: Any, username: str, status: str) -> bool:
    return listed(await client.call("presence:list", {})).get(username) == status


async def test_last_tab_closing_on_one_node_and_reopening_on_another_does_not_flap(cluster):
    a = await cluster.node("a")
    b = await cluster.node("b")
    p = await _people(a)
    said = announcements(a, b)
    await a.client(p["alice"])
    tab = await a.client(p["bob"])
    await tab.disconnect()
    await asyncio.sleep(GRACE / 3)
    again = await b.client(p["bob"])  # the load balancer sent the reload to node B
    await asyncio.sleep(GRACE * 3)
    assert listed(await again.call("presence:list", {})) == {"alice": "online", "bob": "online"}
    assert [s for u, s in said if u == p["bob"]["id"]] == ["online"]


async def test_a_dead_nodes_users_go_offline_within_the_ttl(cluster, redis, prefix):
    a = await cluster.node("a")
    b = await cluster.node("b")
    c = await cluster.node("c")
    p = await _people(a)
    said = announcements(a, b, c)
    alice = await a.client(p["alice"])
    dave = await c.client(p["dave"])
    await b.client(p["bob"])
    await b.client(p["carol"])
    await a.client(p["carol"])  # carol also has a tab on a live node
    everyone = {"alice": "online", "bob": "online", "carol": "online", "dave": "online"}
    assert listed(await alice.call("presence:list", {})) == everyone
    node_b = b.app[PRESENCE].node  # type: ignore[attr-defined]

    kill(b)
    died = asyncio.get_running_loop().time()
    for client in b.clients:
        await client.disconnect()  # its clients lose it; no disconnect handler runs
    gone = await eventually(lambda: _without(alice, "bob"), TTL + 1, "bob (dead node B) leaves node A's list")
    assert gone <= TTL + 0.5, gone
    # the offline push, on the node that noticed (A or C reaps; only one announces)
    pushed = await eventually(
        lambda: _offline_pushed(alice, dave, p["bob"]["id"]), TTL * 1.1 + 1, "bob's offline push"
    )
    assert asyncio.get_running_loop().time() - died <= TTL * 1.1 + 0.6, pushed

    # users on live nodes stay online, and nobody's change is announced twice
    await asyncio.sleep(TTL)
    assert listed(await alice.call("presence:list", {})) == {"alice": "online", "carol": "online", "dave": "online"}
    assert listed(await dave.call("presence:list", {})) == {"alice": "online", "carol": "online", "dave": "online"}
    assert [s for u, s in said if u == p["bob"]["id"]] == ["online", "offline"]
    assert [s for u, s in said if u in (p["alice"]["id"], p["carol"]["id"], p["dave"]["id"])] == ["online"] * 3
    assert pushes_about(alice, p["carol"]["id"]).count("offline") == 0
    # the reaper removed node B's connections and forgot the node
    conns = await redis.hgetall(f"{prefix}:conns")
    assert conns and not [f for f in conns if f.startswith(f"{node_b}|")]
    assert node_b not in await redis.smembers(f"{prefix}:nodes")


async def _offline_pushed(a: Any, c: Any, user_id: int) -> bool:
    return "offline" in pushes_about(a, user_id) + pushes_about(c, user_id)


async def test_a_node_whose_heartbeat_lapsed_comes_back(cluster, redis, prefix):
    """Node B was cut off long enough for its heartbeat key to expire (here: deleted) and
    node A's reaper to take its users offline; B's next heartbeat writes them back."""
    a = await cluster.node("a")
    b = await cluster.node("b")
    p = await _people(a)
    alice = await a.client(p["alice"])
    bob = await b.client(p["bob"])
    await redis.delete(f"{prefix}:node:{b.app[PRESENCE].node}")  # type: ignore[attr-defined]
    await eventually(
        lambda: _status_is(alice, "bob", "online"), TTL, "bob back in node A's list after B's next heartbeat"
    )
    await asyncio.sleep(TTL)
    assert listed(await alice.call("presence:list", {})) == {"alice": "online", "bob": "online"}
    assert (await bob.call("presence:set", {"status": "away"}))["status"] == "away"


class Proxy:
    """A TCP relay to Redis that the test can cut and restore: Redis 'briefly down' for
    one node only."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target = target
        self.host, self.to_port = parts.hostname or "127.0.0.1", parts.port or 6379
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        parts = urlsplit(self.target)
        return urlunsplit(parts._replace(netloc=f"127.0.0.1:{self.port}"))

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.to_port)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(pipe(src, dst))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for w in self.writers:
                w.close()
            for t in list(self.tasks):
                t.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.server.wait_closed()
            self.server, self.writers = None, set()


async def test_redis_briefly_down_for_a_node(cluster):
    proxy = Proxy(cluster.redis_url)
    await proxy.start()
    try:
        a = await cluster.node("a", redis_url=proxy.url)
        b = await cluster.node("b")
        p = await _people(a)
        alice = await a.client(p["alice"])
        bob = await b.client(p["bob"])
        assert listed(await alice.call("presence:list", {})) == {"alice": "online", "bob": "online"}

        await proxy.stop()  # node A loses Redis for longer than the TTL
        carol = await a.client(p["carol"])  # connects still succeed
        assert (await carol.call("channel:list"))["ok"]
        assert (await carol.call("presence:set", {"status": "away"}))["ok"]
        down = await carol.call("presence:list", {})
        assert down["ok"] is False and down["error"]["code"] == "unavailable", down
        # node B reaps node A's users once A's heartbeat key expires
        await eventually(lambda: _without(bob, "alice"), TTL + 1, "alice (node A, cut off) leaves node B's list")
        await bob.wait_for("presence", lambda d: d == {"user_id": p["alice"]["id"], "status": "offline"}, timeout=2)

        await proxy.start()  # same port: Redis is back for node A
        both = {"alice": "online", "bob": "online", "carol": "away"}
        await eventually(lambda: _listed_is(bob, both), TTL + 2, "node A writes its connections back")
        assert listed(await alice.call("presence:list", {})) == both
        # node A announces what it wrote back, to its own clients at least
        await carol.wait_for("presence", lambda d: d == {"user_id": p["alice"]["id"], "status": "online"}, timeout=2)
        await carol.wait_for("presence", lambda d: d == {"user_id": p["carol"]["id"], "status": "away"}, timeout=2)
    finally:
        await cluster.close()
        cluster.nodes.clear()
        await proxy.stop()


async def _listed_is(client: Any, want: dict[str, str]) -> bool:
    answer = await client.call("presence:list", {})
    return answer["ok"] and listed(answer) == want


async def test_redis_unreachable_at_startup(tmp_path, pg_url, prefix):
    """No Redis at all: the hub starts, connects work, presence:list says unavailable."""
    await _truncate(pg_url)
    proxy = Proxy(REDIS_SERVER)
    await proxy.start()
    await proxy.stop()  # a port where nothing listens
    cluster = Cluster(tmp_path, pg_url, proxy.url, prefix)
    try:
        a = await cluster.node("a")
        p = await _people(a)
        alice = await a.client(p["alice"])
        assert (await alice.call("presence:set", {"status": "away"})) == {"ok": True, "status": "away"}
        down = await alice.call("presence:list", {})
        assert down["ok"] is False and down["error"]["code"] == "unavailable"
        await alice.disconnect()
    finally:
        await cluster.close()


async def test_a_node_that_stops_cleanly_lets_its_users_go_after_the_grace_period(cluster):
    a = await cluster.node("a")
    b = await cluster.node("b")
    p = await _people(a)
    alice = await a.client(p["alice"])
    await b.client(p["bob"])
    await b.client(p["carol"])
    await a.client(p["carol"])
    said = announcements(a)
    hub_b, runner_b = cluster.nodes.pop()
    await runner_b.cleanup()  # clients still connected: the shutdown drops them
    stopped = asyncio.get_running_loop().time()
    await hub_b.close()
    await alice.wait_for("presence", lambda d: d == {"user_id": p["bob"]["id"], "status": "offline"}, timeout=TTL)
    assert asyncio.get_running_loop().time() - stopped <= GRACE + 1, "offline soon after the grace period"
    assert listed(await alice.call("presence:list", {})) == {"alice": "online", "carol": "online"}
    assert said == [(p["bob"]["id"], "offline")]  # carol still has a tab on node A


async def test_pushes_cross_nodes(cluster):
    a = await cluster.node("a")
    if not hasattr(a.app[REALTIME].sio.manager, "channel"):
        pytest.skip("cross-node pushes need the Socket.IO Redis manager (redis_url) in hub/realtime.py")
    b = await cluster.node("b")
    p = await _people(a)
    alice = await a.client(p["alice"])
    bob = await b.client(p["bob"])
    bob_id = p["bob"]["id"]
    await alice.wait_for("presence", lambda d: d == {"user_id": bob_id, "status": "online"})
    await bob.call("presence:set", {"status": "away"})
    await alice.wait_for("presence", lambda d: d == {"user_id": bob_id, "status": "away"})
    await bob.disconnect()
    await alice.wait_for("presence", lambda d: d == {"user_id": bob_id, "status": "offline"}, timeout=3)
    await asyncio.sleep(GRACE)
    assert pushes_about(alice, bob_id) == ["online", "away", "offline"]  # each change once


async def test_a_burst_sent_on_one_node_reaches_the_other_in_order(cluster):
    """Messages acked one after another on node A reach a member on node B through
    Redis in that order, each once."""
    a = await cluster.node("a")
    b = await cluster.node("b")
    p = await _people(a)
    alice = await a.client(p["alice"])
    bob = await b.client(p["bob"])
    made = await alice.call("channel:create", {"name": "连发", "kind": "private", "member_ids": [p["bob"]["id"]]})
    cid = made["channel"]["id"]
    await bob.wait_for("channel", lambda c: c["id"] == cid)
    acked = []
    for i in range(40):
        ack = await alice.call("message:send", {"channel_id": cid, "client_msg_id": f"b{i}", "text": f"第{i}条"})
        assert ack["ok"], ack
        acked.append(ack["message"]["seq"])
    await bob.wait_for("message", lambda m: m["seq"] == acked[-1], timeout=10)
    assert [m["seq"] for m in bob.received("message") if m["channel_id"] == cid] == acked
