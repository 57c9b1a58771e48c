"""Exchange nodes as real `changtong serve` processes, each with its own data directory,
unit certificate and ports, talking mutual TLS on loopback.

The test process prepares each node the way an operator would (trust the CA, install
the unit certificate, `changtong exchange peer add`), starts the hubs, then acts on a
node's own database as its users would (send, 签收, read, 退回) through the same
`Exchange` object the hub uses, while the node's process does the delivering.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from exchange_bridge.pki import CertPair, NodePki, init_ca, issue_unit, load_cert, load_key, sign, envelope
from exchange_bridge.transport import Exchange, build_content, new_id
from hub.cli import main
from hub.config import Config
from hub.db import create_engine, upgrade

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent / "changtong"
OPENSSL = shutil.which("openssl") or "openssl"
UNITS = ("dy-city", "dy-kenli", "dy-guangrao", "dy-stranger")
XML = '<?xml version="1.0" encoding="UTF-8"?><公文><标题>关于做好冬季安全生产工作的通知</标题></公文>'.encode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[CertPair, dict[str, CertPair]]:
    """One test CA (as the city would run it) and a unit certificate per unit."""
    d = tmp_path_factory.mktemp("ca")
    root = init_ca(d / "ca", bits=2048)
    return root, {u: issue_unit(root, u, d / "issued", unit_name="测试单位", bits=2048) for u in UNITS}


class Node:
    def __init__(self, tmp: Path, unit: str, ca: tuple[CertPair, dict[str, CertPair]]) -> None:
        self.unit = unit
        self.data = tmp / unit
        self.pair = ca[1][unit]
        self.port = _free_port()
        self.exchange_port = _free_port()
        self.url = f"https://127.0.0.1:{self.exchange_port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp / f"{unit}.log"
        pki = NodePki.of(self.data)
        pki.add_trust(ca[0].cert)
        pki.install_identity(self.pair.cert, self.pair.key)
        upgrade(Config(data_dir=self.data))
        self.engine = create_engine(Config(data_dir=self.data).effective_database_url)
        self.exchange = Exchange(self.engine, self.data, 50 * 1024 * 1024)

    def cli(self, *args: str) -> None:
        """`changtong --data-dir <node> ...`, in-process (in a thread: it runs its own event loop)."""
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            assert pool.submit(main, ["--data-dir", str(self.data), *args]).result() == 0

    def peer(self, other: Node, via: Node | None = None) -> None:
        if via is None:
            self.cli("exchange", "peer", "add", other.unit, other.url, "--cert", str(other.pair.cert))
        else:
            self.cli("exchange", "peer", "add", other.unit, "--cert", str(other.pair.cert), "--via", via.unit)

    def start(self) -> None:
        env = {
            **os.environ,
            "CHANGTONG_DATA_DIR": str(self.data),
            "CHANGTONG_EXCHANGE_PORT": str(self.exchange_port),
            "CHANGTONG_EXCHANGE_HOST": "127.0.0.1",
            "CHANGTONG_EXCHANGE_RETRY_BASE_SECONDS": "0.2",
            "CHANGTONG_EXCHANGE_RETRY_MAX_SECONDS": "1",
            "CHANGTONG_EXCHANGE_POLL_SECONDS": "0.2",
            "CHANGTONG_LOG_LEVEL": "INFO",
        }
        env.pop("CHANGTONG_DATABASE_URL", None)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([str(BIN), "serve", "--port", str(self.port)], env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", self.exchange_port), timeout=5):
            pass

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    async def state(self) -> dict[str, Any]:
        return await self.exchange.state()

    async def tracking(self, package_id: str) -> dict[str, tuple[str, str]]:
        return {r["unit"]: (r["status"], r["reason"]) for r in (await self.state())["sent"] if r["package_id"] == package_id}

    async def inbox(self) -> dict[str, dict[str, Any]]:
        return {r["package_id"]: r for r in (await self.state())["inbox"]}


@pytest.fixture
async def nodes(tmp_path: Path, ca: tuple[CertPair, dict[str, CertPair]]) -> AsyncIterator[Callable[[str], Node]]:
    made: list[Node] = []

    def make(unit: str) -> Node:
        node = Node(tmp_path, unit, ca)
        made.append(node)
        return node

    yield make
    for n in made:
        n.stop()
        await n.engine.dispose()


async def until(what: Callable[[], Awaitable[Any]], timeout: float = 20, nodes: tuple[Node, ...] = ()) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await what()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {n.unit}\n{n.log.read_text()[-2500:]}" for n in nodes if n.log.exists())
            raise AssertionError(f"timed out; last value {value!r}\n{logs}")
        await asyncio.sleep(0.1)


def openssl(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([OPENSSL, *args], capture_output=True, timeout=30)


def pair(a: Node, b: Node) -> None:
    a.peer(b)
    b.peer(a)


async def test_two_nodes_exchange_a_document_both_ways_with_receipts(nodes: Callable[[str], Node], ca: Any, tmp_path: Path) -> None:
    city, kenli = nodes("dy-city"), nodes("dy-kenli")
    pair(city, kenli)
    city.start()
    kenli.start()

    attachment = bytes(range(256)) * 4000  # a 1 MB binary attachment
    pid = await kenli.exchange.send_document(
        title="垦利区关于冬季安全生产的请示", document=XML, recipients=["dy-city"], attachments={"附件1 数据.bin": attachment},
    )
    arrived = await until(lambda: city.inbox(), nodes=(city, kenli))
    assert list(arrived) == [pid]
    assert arrived[pid]["sender"] == "dy-kenli" and arrived[pid]["title"] == "垦利区关于冬季安全生产的请示"
    content = await city.exchange.open_arrival(pid)
    assert content.document == XML and content.attachments == {"附件1 数据.bin": attachment}
    assert await until(lambda: _is(kenli.tracking(pid), {"dy-city": ("delivered", "")}), nodes=(city, kenli))

    # the stored package is plain CMS: OpenSSL decrypts it with the city's key and verifies kenli's signature
    stored = Path(arrived[pid]["path"])
    assert stored.is_file() and stored.is_relative_to(city.data)
    inner = tmp_path / "inner.der"
    done = openssl("cms", "-decrypt", "-binary", "-inform", "DER", "-in", str(stored), "-recip", str(city.pair.cert),
                   "-inkey", str(city.pair.key), "-out", str(inner))
    assert done.returncode == 0, done.stderr
    done = openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", str(inner), "-CAfile", str(ca[0].cert),
                   "-out", str(tmp_path / "content.zip"))
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(tmp_path / "content.zip") as z:
        assert z.read("document.xml") == XML
        assert z.read("attachments/附件1 数据.bin") == attachment

    await city.exchange.sign_for(pid)  # 签收
    assert await until(lambda: _is(kenli.tracking(pid), {"dy-city": ("signed", "")}), nodes=(city, kenli))
    await city.exchange.mark_read(pid)
    assert await until(lambda: _is(kenli.tracking(pid), {"dy-city": ("read", "")}), nodes=(city, kenli))

    # and back: the city sends to kenli, which returns it (退回) with a reason
    back = await city.exchange.send_document(title="东营市关于报送材料的通知", document=XML, recipients=["dy-kenli"])
    await until(lambda: _has(kenli.inbox(), back), nodes=(city, kenli))
    await kenli.exchange.return_package(back, "附件缺失，请补充后重发")
    assert await until(lambda: _is(city.tracking(back), {"dy-kenli": ("returned", "附件缺失，请补充后重发")}), nodes=(city, kenli))
    assert (await kenli.inbox())[back]["status"] == "returned"


async def _is(coro: Awaitable[Any], expected: Any) -> bool:
    return (await coro) == expected


async def _has(coro: Awaitable[dict[str, Any]], key: str) -> bool:
    return key in await coro
