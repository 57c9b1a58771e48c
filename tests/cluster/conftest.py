"""A cluster of real hub processes on loopback ports, sharing one PostgreSQL database,
one Redis and one blob directory — the scale-out deployment in miniature.

`cluster.node("a")` starts `changtong serve` as a subprocess; `node.kill()` is kill -9.
Users are created through the hub's own directory code before the nodes start.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.db import Database
from hub.directory import DirectoryHooks, add_unit, add_user
from hub.passwords import Passwords
from tests.conftest import PASSWORD, Client, _missing

import socketio
from tests.ports import free_port

REDIS = os.environ.get("CHANGTONG_TEST_REDIS", "redis://127.0.0.1:6379")
BIN = Path(sys.executable).parent / "changtong"


class Node:
    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc = subprocess.Popen(
            [str(BIN), "serve", "--port", str(self.port)],
            env=env,
            stdout=open(log, "wb"),
            stderr=subprocess.STDOUT,
        )

    async def ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError(f"node {self.name} exited: {self.log.read_text()[-2000:]}")
                try:
                    async with http.get(self.url + "/healthz") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"node {self.name} not ready: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """kill -9: no shutdown, no disconnect handlers, no goodbye to Redis."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class Cluster:
    def __init__(self, tmp: Path, database_url: str, redis_url: str) -> None:
        self.tmp = tmp
        self.data = tmp / "shared-data"  # one blob store for every node (NFS in production)
        self.database_url = database_url
        self.redis_url = redis_url
        self.nodes: list[Node] = []
        self.clients: list[Client] = []
        self.http = aiohttp.ClientSession()
        self.env = {
            **os.environ,
            "CHANGTONG_DATA_DIR": str(self.data),
            "CHANGTONG_DATABASE_URL": database_url,
            "CHANGTONG_REDIS_URL": redis_url,
            "CHANGTONG_REDIS_PREFIX": f"changtong-test-{uuid.uuid4().hex[:10]}",  # pub/sub ignores db numbers
            "CHANGTONG_PRESENCE_TTL_SECONDS": "3",
            "CHANGTONG_PRESENCE_GRACE_SECONDS": "0.3",
            "CHANGTONG_ARGON2_TIME_COST": "1",
            "CHANGTONG_ARGON2_MEMORY_KIB": "8",
            "CHANGTONG_EVENTS_PER_SECOND": "1000",
            "CHANGTONG_LOG_LEVEL": "WARNING",
        }

    async def node(self, name: str) -> Node:
        node = Node(name, self.env, self.tmp / f"node-{name}-{len(self.nodes)}.log")
        self.nodes.append(node)
        await node.ready()
        return node

    async def users(self, *names: str) -> list[dict[str, Any]]:
        """Create users (with a unit each) straight in the shared database."""
        db = Database(self.database_url)
        hooks = DirectoryHooks()
        password_hash = Passwords(1, 8).hash(PASSWORD)
        out = []
        try:
            async with db.begin() as conn:
                try:
                    await add_unit(conn, hooks, "cluster", "集群测试单位")
                except Exception:
                    pass
            for name in names:
                async with db.begin() as conn:
                    out.append(
                        await add_user(
                            conn, hooks, username=name, password_hash=password_hash, display_name=name, unit_codes=["cluster"]
                        )
                    )
        finally:
            await db.close()
        return out

    async def login(self, node: Node, username: str) -> str:
        async with self.http.post(node.url + "/api/v1/auth/login", json={"username": username, "password": PASSWORD}) as r:
            body = await r.json()
            assert r.status == 200, body
            return body["token"]

    async def client(self, node: Node, token: str, reconnection: bool = False) -> Client:
        sio = socketio.AsyncClient(reconnection=reconnection)
        client = Client(sio)

        @sio.on("*")
        async def record(event: str, data: Any = None) -> None:
            client.events.append((event, data))

        await sio.connect(node.url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for c in self.clients:
            try:
                await asyncio.wait_for(c.disconnect(), 5)
            except Exception:
                pass
        await self.http.close()
        for n in self.nodes:
            n.stop()


async def _redis_ok(url: str) -> bool:
    import redis.asyncio as redis

    r = redis.from_url(url, socket_connect_timeout=2)
    try:
        return bool(await r.ping())
    except Exception:
        return False
    finally:
        await r.aclose()


@pytest.fixture
async def cluster(tmp_path: Path, pg_url: str) -> AsyncIterator[Cluster]:
    """A fresh database (the session's, emptied) and a private Redis db number."""
    from tests.conftest import _truncate

    if not await _redis_ok(REDIS):
        _missing(f"Redis at {REDIS}")
    await _truncate(pg_url)
    db = 1 + int(uuid.uuid4().int % 14)
    redis_url = f"{REDIS}/{db}"
    c = Cluster(tmp_path, pg_url, redis_url)
    try:
        yield c
    finally:
        await c.close()
        import redis.asyncio as redis

        r = redis.from_url(redis_url)
        await r.flushdb()
        await r.aclose()


def _pg_cluster() -> list[str]:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions or os.geteuid() != 0:
        _missing("a local PostgreSQL cluster this user may restart (root, /etc/postgresql)")
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main"]


def pg_stop() -> None:
    subprocess.run([*_pg_cluster(), "stop", "-m", "fast"], check=True, capture_output=True)


def pg_start() -> None:
    subprocess.run([*_pg_cluster(), "start"], check=True, capture_output=True)


def redis_restart(down_seconds: float = 1.0) -> None:
    """Shut the test Redis down and start it again as tests/services.sh does."""
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"], capture_output=True)
    time.sleep(down_seconds)
    subprocess.run(
        ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379", "--save", "",
         "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"],
        check=True, capture_output=True,
    )
