"""`changtong serve --demo` from nothing, as a newcomer starts it: 公文 works out of the
box. 垦利区's node runs beside the city, its 请示 waits in 收文, and the clerk's first 发文
to 垦利区 is delivered and then signed for, the tracking card following; a restart finds
the peer again; a backup taken while it serves restores elsewhere with its documents;
Ctrl+C stops both cleanly."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from tests.ports import free_port
from tests.test_cli import CHANGTONG, clean_env

pytestmark = pytest.mark.slow


async def _serve(data: Path, port: int, log: Path, *flags: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        str(CHANGTONG), "serve", *(flags or ("--demo",)), "--port", str(port), "--data-dir", str(data),
        stdout=asyncio.subprocess.PIPE, stderr=open(log, "ab"),
        env=clean_env(CHANGTONG_ARGON2_TIME_COST="1", CHANGTONG_ARGON2_MEMORY_KIB="1024"),
    )
    lines: list[str] = []
    while not any("畅通已启动" in line for line in lines):
        line = await asyncio.wait_for(proc.stdout.readline(), 90)
        assert line, "serve exited:\n" + "".join(lines) + log.read_text()
        lines.append(line.decode())
    return proc, "".join(lines)


async def _stop(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGINT)
    return await asyncio.wait_for(proc.wait(), 20)


class Clerk:
    def __init__(self, base: str, token: str, sio: socketio.AsyncClient) -> None:
        self.base, self.token, self.sio = base, token, sio

    @classmethod
    async def login(cls, base: str) -> Clerk:
        async with aiohttp.ClientSession() as http:
            async with http.post(base + "/api/v1/auth/login", json={"username": "zhuyan", "password": "changtong"}) as r:
                token = (await r.json())["token"]
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(base, auth={"token": token}, transports=["websocket"])
        return cls(base, token, sio)

    async def cards(self, channel: str) -> list[dict[str, Any]]:
        found = [c for c in (await self.sio.call("channel:list", {}))["channels"] if c["name"] == channel]
        if not found:
            return []
        history = await self.sio.call("history", {"channel_id": found[0]["id"]})
        return [m["card"] for m in history["messages"] if m["kind"] == "card"]

    async def until(self, channel: str, pred, timeout: float = 30) -> dict[str, Any]:
        for _ in range(int(timeout * 5)):
            hit = next((c for c in await self.cards(channel) if pred(c)), None)
            if hit:
                return hit
            await asyncio.sleep(0.2)
        raise AssertionError(f"no such card in {channel}: {await self.cards(channel)}")

    async def send(self, title: str) -> int:
        doc = {"kind": "通知", "title": title, "to": ["垦利区人民政府"], "signed_by": ["东营市人民政府"], "date": "2026年12月3日"}
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {self.token}"}) as http:
            async with http.get(self.base + "/api/v1/exchange/units") as r:
                assert {u["code"]: u["name"] for u in (await r.json())["units"]} == {"klq": "垦利区"}
            async with http.post(self.base + "/api/v1/exchange/send", json={"document": doc, "recipients": ["klq"]}) as r:
                return r.status


async def test_the_demo_exchanges_documents_out_of_the_box(tmp_path: Path) -> None:
    data, port, log = tmp_path / "data", free_port(), tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    proc, out = await _serve(data, port, log)
    try:
        assert "zhuyan" in out and "公文收发员" in out  # the demo names its clerk
        clerk = await Clerk.login(base)
        welcome = await clerk.until("收文", lambda c: "清洁取暖" in c["title"])
        assert welcome["status"]["text"] == "待签收"
        assert {f["label"]: f["value"] for f in welcome["fields"]}["来文单位"] == "垦利区"
        assert await clerk.send("关于做好元旦期间安全生产工作的通知") == 201
        await clerk.until("发文", lambda c: c["status"]["text"] == "0/1 已签收" and "元旦" in c["title"])
        signed = await clerk.until("发文", lambda c: c["status"]["text"] == "1/1 已签收" and "元旦" in c["title"])
        (row,) = [(f["label"], f["value"]) for f in signed["fields"]]
        assert row[0] == "垦利区" and re.fullmatch(r"已签收（刘敏 \d+月\d+日 \d\d:\d\d）", row[1]), row
        await clerk.sio.disconnect()
        assert await _stop(proc) == 0

        # a restart: the peer comes back on new ports and the exchange still works
        proc, out = await _serve(data, port, log)
        assert "演示数据已存在" in out
        clerk = await Clerk.login(base)
        assert await clerk.send("关于报送2026年工作总结的通知") == 201
        await clerk.until("发文", lambda c: c["status"]["text"] == "1/1 已签收" and "工作总结" in c["title"])
        await clerk.sio.disconnect()
        # a backup while it serves, restored elsewhere: the documents open there (packages and the unit's key came along)
        backed = await asyncio.create_subprocess_exec(str(CHANGTONG), "--data-dir", str(data), "backup", str(tmp_path / "bk"),
                                                      env=clean_env(), stdout=asyncio.subprocess.PIPE)
        assert await backed.wait() == 0
        assert await _stop(proc) == 0
        put = await asyncio.create_subprocess_exec(str(CHANGTONG), "--data-dir", str(tmp_path / "restored"), "restore",
                                                   str(tmp_path / "bk"), env=clean_env(), stdout=asyncio.subprocess.PIPE)
        assert await put.wait() == 0
        proc, out = await _serve(tmp_path / "restored", port, log, "--host", "127.0.0.1")
        clerk = await Clerk.login(base)
        welcome = await clerk.until("收文", lambda c: "清洁取暖" in c["title"])
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {clerk.token}"}) as http:
            async with http.get(base + welcome["links"][0]["url"]) as r:
                assert r.status == 200 and "冬季清洁取暖补助资金" in await r.text()
        sent = [c["title"] for c in await clerk.cards("发文")]
        assert "关于做好元旦期间安全生产工作的通知" in sent and "关于报送2026年工作总结的通知" in sent
        await clerk.sio.disconnect()
        assert await _stop(proc) == 0
        assert "Traceback" not in log.read_text()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
