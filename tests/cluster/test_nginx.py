"""Debian's nginx in front of two nodes, with the websocket upgrade of examples/nginx.conf."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path

import aiohttp
import pytest

from tests.cluster.conftest import Node
from tests.ports import free_port
from tests.conftest import PASSWORD, _missing

pytestmark = pytest.mark.slow
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nginx.conf"


def _config(tmp: Path, listen: int, nodes: list[Node]) -> Path:
    text = EXAMPLE.read_text()
    text = text.replace("/run/nginx-changtong.pid", str(tmp / "nginx.pid"))
    text = text.replace("/var/log/nginx/changtong-error.log", str(tmp / "nginx-error.log"))
    text = text.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{listen};")
    text = text.replace("127.0.0.1:8081", f"127.0.0.1:{nodes[0].port}").replace("127.0.0.1:8082", f"127.0.0.1:{nodes[1].port}")
    temps = "".join(f"    {k}_temp_path {tmp}/{k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    text = re.sub(r"http \{\n", "http {\n" + temps, text, count=1)
    conf = tmp / "nginx.conf"
    conf.write_text(text)
    return conf


async def _connections(cluster, node: Node) -> float:
    async with cluster.http.get(node.url + "/metrics") as r:
        text = await r.text()
    return float(re.search(r"^changtong_connections ([0-9.]+)$", text, re.M).group(1))


async def _nginx(tmp_path: Path, nodes: list[Node]) -> tuple[Node, subprocess.Popen]:
    """examples/nginx.conf in front of `nodes`, addressed like a node."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        _missing("nginx (apt-get install nginx; tests/services.sh installs it)")
    listen = free_port()
    conf = _config(tmp_path, listen, nodes)
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"], stderr=subprocess.PIPE)
    front = Node.__new__(Node)
    front.name, front.port, front.url, front.proc, front.log = "nginx", listen, f"http://127.0.0.1:{listen}", proc, tmp_path / "nginx-error.log"
    for _ in range(50):
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode())
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", listen)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.1)
    return front, proc


async def test_two_nodes_behind_nginx(cluster, tmp_path):
    a_node, b_node = await cluster.node("a"), await cluster.node("b")
    front, proc = await _nginx(tmp_path, [a_node, b_node])
    try:
        users = await cluster.users("u0", "u1", "u2", "u3")
        tokens = [await cluster.login(a_node, u["username"]) for u in users]  # REST is not the point here
        clients = [await cluster.client(front, t) for t in tokens]  # round-robin: two sockets on each node
        assert await _connections(cluster, a_node) >= 1 and await _connections(cluster, b_node) >= 1  # spread over both
        ch = (await clients[0].call("channel:create", {"name": "经代理", "kind": "private", "member_ids": [u["id"] for u in users[1:]]}))["channel"]
        for c in clients[1:]:
            await c.wait_for("channel", lambda v: v["id"] == ch["id"])
        sent = await clients[3].call("message:send", {"channel_id": ch["id"], "client_msg_id": "x", "text": "穿过nginx"})
        for c in clients:
            got = await c.wait_for("message", lambda m: m["id"] == sent["message"]["id"])
            assert got["text"] == "穿过nginx"
        assert all(c.sio.transport() == "websocket" for c in clients)
    finally:
        proc.terminate()
        proc.wait(10)


async def _login_from(front: Node, address: str, username: str, password: str) -> int:
    """POST a login to nginx from a connection bound to `address` (any of 127/8 is this
    machine): nginx sees that client address and passes it on in X-Forwarded-For."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.post(front.url + "/api/v1/auth/login", json={"username": username, "password": password}) as r:
            return r.status


async def test_behind_nginx_an_office_logs_in_at_once_and_guesses_lock_out_only_their_address(cluster, tmp_path):
    a_node, b_node = await cluster.node("a"), await cluster.node("b")
    front, proc = await _nginx(tmp_path, [a_node, b_node])
    try:
        people = [f"staff{i:03d}" for i in range(100)] + ["guesser"]
        await cluster.users(*people)
        office, elsewhere = "127.0.0.20", "127.0.0.21"  # one NAT address for the office
        statuses = await asyncio.gather(*[_login_from(front, office, p, PASSWORD) for p in people[:100]])
        assert statuses == [200] * 100
        # one person at the office mistypes their password again and again: their account
        # locks (the limits are per node for now: 5 on each of the two), the office does not
        attempts = []
        while len(attempts) < 12 and 429 not in attempts:
            attempts.append(await _login_from(front, office, "staff000", "wrong"))
        assert attempts[-1] == 429 and set(attempts[:-1]) == {401}, attempts
        assert await _login_from(front, office, "staff000", PASSWORD) == 429
        assert await _login_from(front, office, "staff001", PASSWORD) == 200
        # someone elsewhere tries account after account (the per-address limit is 20, on each node)
        for round_ in range(3):
            await asyncio.gather(*[_login_from(front, elsewhere, f"nobody{round_}{i}", "guess") for i in range(20)])
        assert await _login_from(front, elsewhere, "guesser", PASSWORD) == 429
        # and the rest of the city, behind the same nginx, never notices
        assert await _login_from(front, office, "guesser", PASSWORD) == 200
    finally:
        proc.terminate()
        proc.wait(10)
