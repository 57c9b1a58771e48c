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

from exchange_bridge.model import Document
from exchange_bridge.xml_codec import dump_xml
from exchange_bridge.pki import CertPair, NodePki, init_ca, issue_unit, load_cert, load_key, sign, envelope
from exchange_bridge.transport import Exchange, build_content, new_id
from hub.cli import main
from hub.config import Config
from hub.db import Database, upgrade
from tests.ports import free_port

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent / "changtong"
OPENSSL = shutil.which("openssl") or "openssl"
UNITS = ("dy-city", "dy-kenli", "dy-guangrao", "dy-stranger")
# the organisation each certificate names (`ca issue --name`): what people read where the directory lacks a unit
UNIT_NAMES = {"dy-city": "东营市人民政府", "dy-kenli": "垦利区人民政府", "dy-guangrao": "广饶县人民政府", "dy-stranger": "外省某单位"}
# A real exchange XML: a hub node checks what arrives against the schema.
XML = dump_xml(Document(kind="通知", title="关于做好冬季安全生产工作的通知"))


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[CertPair, dict[str, CertPair]]:
    """One test CA (as the city would run it) and a unit certificate per unit."""
    d = tmp_path_factory.mktemp("ca")
    root = init_ca(d / "ca", bits=2048)
    return root, {u: issue_unit(root, u, d / "issued", unit_name=UNIT_NAMES[u], bits=2048) for u in UNITS}


class Node:
    def __init__(self, tmp: Path, unit: str, ca: tuple[CertPair, dict[str, CertPair]]) -> None:
        self.unit = unit
        self.data = tmp / unit
        self.pair = ca[1][unit]
        self.port = free_port()
        self.exchange_port = free_port()
        self.url = f"https://127.0.0.1:{self.exchange_port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp / f"{unit}.log"
        pki = NodePki.of(self.data)
        pki.add_trust(ca[0].cert)
        pki.install_identity(self.pair.cert, self.pair.key)
        upgrade(Config(data_dir=self.data))
        self.db = Database(Config(data_dir=self.data).effective_database_url)
        self.exchange = Exchange(self.db, self.data, 50 * 1024 * 1024)

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
            "CHANGTONG_EXCHANGE__PORT": str(self.exchange_port),
            "CHANGTONG_EXCHANGE__HOST": "127.0.0.1",
            "CHANGTONG_EXCHANGE__RETRY_BASE_SECONDS": "0.2",
            "CHANGTONG_EXCHANGE__RETRY_MAX_SECONDS": "1",
            "CHANGTONG_EXCHANGE__POLL_SECONDS": "0.2",
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
        await n.db.close()


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


async def test_a_node_that_is_down_receives_the_document_when_it_comes_back(nodes: Callable[[str], Node]) -> None:
    city, kenli = nodes("dy-city"), nodes("dy-kenli")
    pair(city, kenli)
    kenli.start()  # the city is down
    pid = await kenli.exchange.send_document(title="停机期间发出的通知", document=XML, recipients=["dy-city"])

    async def retried() -> bool:
        rows = [r for r in (await kenli.state())["outbox"] if r["message_id"] == pid]
        return len(rows) == 1 and rows[0]["attempts"] >= 2 and rows[0]["state"] == "pending" and rows[0]["last_error"] != ""

    await until(retried, nodes=(kenli,))
    assert await kenli.tracking(pid) == {"dy-city": ("queued", "")}
    kenli.stop(signal.SIGKILL)  # the sender dies too: the outbox is in its database, not its memory
    city.start()
    kenli.start()
    assert await until(lambda: _is(kenli.tracking(pid), {"dy-city": ("delivered", "")}), nodes=(city, kenli))
    assert list(await city.inbox()) == [pid]


def _package(sender: CertPair, recipients: list[CertPair], units: list[str], claimed_sender: str = "dy-kenli",
             package_id: str | None = None, tamper_inside: bool = False) -> tuple[str, bytes]:
    pid = package_id or new_id()
    content = build_content(pid, claimed_sender, units, "一份测试公文", XML)
    signed = bytearray(sign(content, load_cert(sender.cert), load_key(sender.key)))
    if tamper_inside:  # change the signed document, then encrypt it again (anyone can encrypt to a public cert)
        at = bytes(signed).find(b"manifest.json")
        signed[at + 40] ^= 0x01
    return pid, envelope(bytes(signed), [load_cert(p.cert) for p in recipients])


async def _post(node: Node, client: CertPair, ca_cert: Path, pid: str, body: bytes, units: list[str],
                sender: str = "dy-kenli") -> tuple[int, dict[str, Any]]:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_cert))
    ctx.load_cert_chain(str(client.cert), str(client.key))
    headers = {"Changtong-Kind": "package", "Changtong-Id": pid, "Changtong-From": sender, "Changtong-To": ",".join(units)}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{node.url}/exchange/v1/packages", data=body, headers=headers, ssl=ctx) as resp:
            return resp.status, await resp.json()


async def test_tampered_and_wrongly_signed_packages_are_quarantined_and_reported(
    nodes: Callable[[str], Node], ca: tuple[CertPair, dict[str, CertPair]], tmp_path: Path,
) -> None:
    city, kenli = nodes("dy-city"), nodes("dy-kenli")
    pair(city, kenli)
    city.start()
    root, certs = ca
    to_city = [certs["dy-city"]]

    pid, body = _package(certs["dy-kenli"], to_city, ["dy-city"], tamper_inside=True)
    assert await _post(city, certs["dy-kenli"], root.cert, pid, body, ["dy-city"]) == (200, {"status": "quarantined", "reason": "bad_signature"})

    pid, body = _package(certs["dy-kenli"], to_city, ["dy-city"])
    flipped = bytearray(body)
    flipped[len(body) // 2] ^= 0xFF  # a byte of the ciphertext changed on the way
    status, answer = await _post(city, certs["dy-kenli"], root.cert, pid, bytes(flipped), ["dy-city"])
    assert status == 200 and answer["status"] == "quarantined", answer

    rogue_root = init_ca(tmp_path / "rogue", name="冒充的CA", bits=2048)
    rogue = issue_unit(rogue_root, "dy-kenli", tmp_path / "rogue", bits=2048)  # claims to be 垦利, other issuer
    pid, body = _package(rogue, to_city, ["dy-city"])
    assert await _post(city, certs["dy-kenli"], root.cert, pid, body, ["dy-city"]) == (200, {"status": "quarantined", "reason": "untrusted_signer"})

    pid, body = _package(certs["dy-stranger"], to_city, ["dy-city"])  # our CA's certificate, but not kenli's
    assert await _post(city, certs["dy-kenli"], root.cert, pid, body, ["dy-city"]) == (200, {"status": "quarantined", "reason": "unknown_signer"})

    state = await city.state()
    assert state["inbox"] == []
    reasons = [q["reason"] for q in state["quarantine"]]
    assert reasons[0] == "bad_signature" and reasons[2:] == ["untrusted_signer", "unknown_signer"] and len(reasons) == 4
    assert all(Path(q["path"]).is_file() and q["sender"] == "dy-kenli" and q["hop"] == "dy-kenli" for q in state["quarantine"])
    assert city.log.read_text().count("quarantined package") == 4  # reported in the node's log

    # a client certificate of our CA that is not a registered peer is refused, in Chinese by default
    status, answer = await _post(city, certs["dy-stranger"], root.cert, new_id(), b"x", ["dy-city"])
    assert status == 403 and answer["error"]["code"] == "forbidden"
    assert answer["error"]["message"] == "对方证书不属于已登记的交换节点"
    # a client of another CA does not get past the TLS handshake
    with pytest.raises((aiohttp.ClientError, ssl.SSLError)):
        await _post(city, rogue, root.cert, new_id(), b"x", ["dy-city"])
    # malformed routing headers
    status, answer = await _post(city, certs["dy-kenli"], root.cert, "not-an-id", b"x", ["dy-city"])
    assert status == 400 and answer["error"]["code"] == "bad_request"


async def test_a_duplicate_delivery_creates_no_second_arrival(
    nodes: Callable[[str], Node], ca: tuple[CertPair, dict[str, CertPair]],
) -> None:
    city, kenli = nodes("dy-city"), nodes("dy-kenli")
    pair(city, kenli)
    city.start()
    root, certs = ca
    pid, body = _package(certs["dy-kenli"], [certs["dy-city"]], ["dy-city"])
    assert await _post(city, certs["dy-kenli"], root.cert, pid, body, ["dy-city"]) == (200, {"status": "accepted"})
    assert await _post(city, certs["dy-kenli"], root.cert, pid, body, ["dy-city"]) == (200, {"status": "duplicate"})
    state = await city.state()
    assert [r["package_id"] for r in state["inbox"]] == [pid]

    async def receipts() -> list[dict[str, Any]]:  # signed after the commit (an effect)
        return [r for r in (await city.state())["outbox"] if r["kind"] == "receipt"]

    found = await until(receipts, nodes=(city,))
    await asyncio.sleep(1.5)  # a second one would be queued by now
    found = await receipts()
    assert len(found) == 1 and found[0]["units"] == ["dy-kenli"]  # one delivered receipt, not two
    # the same id with other bytes is not a duplicate: it is quarantined
    _, other = _package(certs["dy-kenli"], [certs["dy-city"]], ["dy-city"], package_id=pid)
    assert await _post(city, certs["dy-kenli"], root.cert, pid, other, ["dy-city"]) == (
        200, {"status": "quarantined", "reason": "conflicting_duplicate"})
    assert [r["package_id"] for r in (await city.state())["inbox"]] == [pid]


async def test_the_city_relays_between_counties_without_being_able_to_read(
    nodes: Callable[[str], Node], ca: tuple[CertPair, dict[str, CertPair]],
) -> None:
    city, kenli, guangrao = nodes("dy-city"), nodes("dy-kenli"), nodes("dy-guangrao")
    pair(city, kenli)
    pair(city, guangrao)
    kenli.peer(guangrao, via=city)  # the counties know each other's certificates, not each other's addresses
    guangrao.peer(kenli, via=city)
    for n in (city, kenli, guangrao):
        n.start()

    doc = kenli.data / "document.xml"
    doc.write_bytes(XML)
    sent = subprocess.run(  # as an operator would: the command queues it, the running node sends it
        [str(BIN), "--data-dir", str(kenli.data), "exchange", "send", str(doc), "--to", "dy-guangrao", "--title", "垦利区致广饶县的函"],
        capture_output=True, text=True, timeout=60,
    )
    assert sent.returncode == 0, sent.stderr
    pid = sent.stdout.strip()

    arrived = await until(lambda: guangrao.inbox(), nodes=(city, kenli, guangrao))
    assert list(arrived) == [pid] and arrived[pid]["sender"] == "dy-kenli"
    assert (await guangrao.exchange.open_arrival(pid)).document == XML
    assert await until(lambda: _is(kenli.tracking(pid), {"dy-guangrao": ("delivered", "")}), nodes=(city, kenli, guangrao))

    # the city passed it on but holds no arrival, and its copy does not open with its key
    assert await city.inbox() == {}
    async def relayed_rows() -> list[tuple[str, str, bool]]:
        return [(r["hop"], r["state"], r["relayed"]) for r in (await city.state())["outbox"] if r["message_id"] == pid]

    await until(lambda: _is(relayed_rows(), [("dy-guangrao", "done", True)]), nodes=(city,))
    relayed = [r for r in (await city.state())["outbox"] if r["message_id"] == pid]
    copy = relayed[0]["path"]
    done = openssl("cms", "-decrypt", "-binary", "-inform", "DER", "-in", copy, "-recip", str(city.pair.cert), "-inkey", str(city.pair.key))
    assert done.returncode != 0 and XML not in done.stdout
    done = openssl("cms", "-decrypt", "-binary", "-inform", "DER", "-in", copy, "-recip", str(guangrao.pair.cert), "-inkey", str(guangrao.pair.key))
    assert done.returncode == 0  # the same bytes open for the recipient

    await guangrao.exchange.sign_for(pid)  # the receipt travels back through the city
    assert await until(lambda: _is(kenli.tracking(pid), {"dy-guangrao": ("signed", "")}), nodes=(city, kenli, guangrao))


async def test_the_sender_learns_when_a_relayed_package_is_quarantined_further_on(nodes: Callable[[str], Node]) -> None:
    city, kenli, guangrao = nodes("dy-city"), nodes("dy-kenli"), nodes("dy-guangrao")
    pair(city, kenli)
    pair(city, guangrao)
    kenli.peer(guangrao, via=city)  # 广饶 has not registered 垦利's certificate: it cannot trust the signature
    for n in (city, kenli, guangrao):
        n.start()
    pid = await kenli.exchange.send_document(title="未登记证书的来文", document=XML, recipients=["dy-guangrao"])
    assert await until(lambda: _is(kenli.tracking(pid), {"dy-guangrao": ("quarantined", "unknown_signer")}),
                       nodes=(city, kenli, guangrao))
    assert [q["reason"] for q in (await guangrao.state())["quarantine"]] == ["unknown_signer"]
    assert await guangrao.inbox() == {}
