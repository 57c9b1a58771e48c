"""Moving from the embedded SQLite database to PostgreSQL: `changtong db migrate-to URL`."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from aiohttp import web

from hub.app import create_app
from hub.cli import main
from hub.demo import DEMO_PASSWORD, seed
from tests.conftest import Hub, _truncate, hub_config


async def _start(tmp_path: Path, url: str) -> tuple[Hub, web.AppRunner]:
    app = create_app(hub_config(tmp_path, url))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return Hub(app, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"), runner  # type: ignore[union-attr]


@pytest.fixture
def sqlite_copy(tmp_path: Path, sqlite_template: Path) -> Path:
    (tmp_path / "data").mkdir()
    shutil.copy(sqlite_template, tmp_path / "data" / "changtong.db")
    return tmp_path / "data"


def test_migrate_from_sqlite_to_postgresql(tmp_path, sqlite_copy, pg_url, capsys):
    asyncio.run(_truncate(pg_url))

    async def before() -> int:
        hub, runner = await _start(tmp_path, "")
        try:
            await seed(hub.app)
            c = await hub.client(await hub.login("admin", DEMO_PASSWORD))
            talk = next(ch for ch in (await c.call("channel:list"))["channels"] if ch["name"] == "全市工作交流")
            await c.call("message:send", {"channel_id": talk["id"], "client_msg_id": "before", "text": "迁移前的消息"})
            return talk["id"]
        finally:
            await hub.close()
            await runner.cleanup()

    talk_id = asyncio.run(before())
    assert main(["--data-dir", str(sqlite_copy), "db", "migrate-to", pg_url]) == 0
    assert "messages" in capsys.readouterr().out
    assert main(["--data-dir", str(sqlite_copy), "db", "migrate-to", pg_url]) == 1  # the target is no longer empty

    async def after() -> None:
        hub, runner = await _start(tmp_path, pg_url)
        try:
            c = await hub.client(await hub.login("wangjianguo", DEMO_PASSWORD))
            history = await c.call("history", {"channel_id": talk_id})
            assert [m["text"] for m in history["messages"]][-1] == "迁移前的消息"
            sent = await c.call("message:send", {"channel_id": talk_id, "client_msg_id": "after", "text": "迁移后"})
            assert sent["ok"] and sent["message"]["seq"] == history["messages"][-1]["seq"] + 1
            new_user = await hub.user("newcomer", "新同事")  # ids continue past the copied ones
            assert new_user["id"] > 1
        finally:
            await hub.close()
            await runner.cleanup()

    asyncio.run(after())
