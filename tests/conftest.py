"""Test harness: a real hub on a real port, over real SQLite and real PostgreSQL, with
real Socket.IO clients (python-socketio's AsyncClient) and real HTTP.

Every test that takes the `hub` fixture runs once per storage backend. PostgreSQL gets
a fresh database per test session (dropped afterwards); outside CI a missing server
skips those tests with one line saying what to start; in CI (CI=true) it fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
import sqlalchemy as sa
from aiohttp import web

from hub.app import create_app
from hub.auth import AUTH
from hub.config import CONFIG, Config
from hub.db import DATABASE, metadata, upgrade
from hub.directory import DIRECTORY_HOOKS, add_unit, add_user
from hub.tables import import_all_tables

import_all_tables()

IN_CI = os.environ.get("CI") == "true"
PG_SERVER = os.environ.get("CHANGTONG_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432")
PASSWORD = "secret-pw-1"
BACKENDS = ["sqlite", "postgresql"]


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} not running: start it (see tests/services.sh) or run `make test`")


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_SERVER.replace("+asyncpg", "") + "/postgres", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> Any:
    """A fresh, migrated PostgreSQL database for this test session."""
    name = f"changtong_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, Exception) as exc:  # noqa: BLE001 - any failure means "no server"
        _missing(f"PostgreSQL at {PG_SERVER} ({exc.__class__.__name__})")
    url = f"{PG_SERVER}/{name}"
    upgrade(Config(data_dir=Path("/tmp"), database_url=url))
    yield url
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (faster than migrating each time)."""
    data = tmp_path_factory.mktemp("sqlite-template")
    upgrade(Config(data_dir=data))
    return data / "changtong.db"


async def _truncate(url: str) -> None:
    from hub.db import create_engine

    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await engine.dispose()


class Client:
    """A Socket.IO client that records every push it receives."""

    def __init__(self, sio: socketio.AsyncClient) -> None:
        self.sio = sio
        self.events: list[tuple[str, Any]] = []

    async def call(self, event: str, data: Any = None, timeout: float = 10) -> dict[str, Any]:
        return await self.sio.call(event, data if data is not None else {}, timeout=timeout)

    def received(self, event: str) -> list[Any]:
        return [d for e, d in self.events if e == event]

    async def wait_for(self, event: str, pred: Callable[[Any], bool] = lambda d: True, timeout: float = 5) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for e, d in self.events:
                if e == event and pred(d):
                    return d
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no {event!r} matching within {timeout}s; got {[e for e, _ in self.events]}")
            await asyncio.sleep(0.01)

    async def disconnect(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


class Hub:
    def __init__(self, app: web.Application, url: str) -> None:
        self.app = app
        self.url = url
        self.config: Config = app[CONFIG]
        self.clients: list[Client] = []
        self.http = aiohttp.ClientSession()

    async def unit(self, code: str, name: str, parent: str | None = None) -> dict[str, Any]:
        async with self.app[DATABASE].begin() as conn:
            return await add_unit(conn, self.app[DIRECTORY_HOOKS], code, name, parent)

    async def user(
        self, username: str, display_name: str | None = None, units: tuple[str, ...] = (), roles: tuple[str, ...] = (), password: str = PASSWORD
    ) -> dict[str, Any]:
        password_hash = self.app[AUTH].passwords.hash(password)
        async with self.app[DATABASE].begin() as conn:
            user = await add_user(
                conn, self.app[DIRECTORY_HOOKS], username=username, password_hash=password_hash,
                display_name=display_name, unit_codes=units, roles=roles,
            )
        user["token"] = await self.login(username, password)
        return user

    async def login(self, username: str, password: str = PASSWORD) -> str:
        status, body = await self.request("POST", "/api/v1/auth/login", json={"username": username, "password": password})
        assert status == 200, body
        return body["token"]

    async def request(self, method: str, path: str, token: str | None = None, **kw: Any) -> tuple[int, Any]:
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.request(method, self.url + path, headers=headers, **kw) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.read()

    async def client(self, who: dict[str, Any] | str, transports: list[str] | None = None, **auth: Any) -> Client:
        token = who if isinstance(who, str) else who["token"]
        sio = socketio.AsyncClient(reconnection=False)
        client = Client(sio)

        @sio.on("*")
        async def record(event: str, data: Any = None) -> None:
            client.events.append((event, data))

        await sio.connect(self.url, auth={"token": token, **auth}, transports=transports or ["websocket"], wait_timeout=10)
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for c in self.clients:
            await c.disconnect()
        await self.http.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def data_dir(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, str]:
    """A data directory and database URL for one test: a copy of the migrated SQLite
    template, or the session's PostgreSQL database emptied."""
    data = tmp_path / "data"
    data.mkdir()
    if backend == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), data / "changtong.db")
        return data, ""
    url = request.getfixturevalue("pg_url")
    asyncio.run(_truncate(url))
    return data, url


async def serve(config: Config) -> tuple[Hub, web.AppRunner]:
    """A hub of its own on a free port, for a test that stops and starts one (a restart,
    a restore): the caller closes the Hub and cleans up the runner."""
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return Hub(app, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"), runner  # type: ignore[union-attr]


def hub_config(tmp_path: Path, database_url: str = "", **extra: Any) -> Config:
    settings: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8,
        "presence_grace_seconds": 0.3,
        "events_per_second": 1000,
        "login_attempts_per_address": 1000,
    }
    settings.update(extra)
    return Config(**settings)


@pytest.fixture
def hub_settings() -> dict[str, Any]:
    """Override in a test module to change the hub's settings."""
    return {}


@pytest.fixture
def hub_prepare() -> Callable[[web.Application], None]:
    """Override in a test module to change the app before it starts (register a bot)."""
    return lambda app: None


@pytest.fixture
async def hub(
    data_dir: tuple[Path, str], tmp_path: Path, hub_settings: dict[str, Any], hub_prepare: Callable[[web.Application], None]
) -> AsyncIterator[Hub]:
    app = create_app(hub_config(tmp_path, data_dir[1], **hub_settings))
    hub_prepare(app)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    h = Hub(app, f"http://127.0.0.1:{port}")
    try:
        yield h
    finally:
        await h.close()
        await runner.cleanup()
