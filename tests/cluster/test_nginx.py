"""Debian's nginx in front of two nodes, with the websocket upgrade of examples/nginx.conf."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cluster.conftest import Node
from tests.ports import free_port
from tests.conftest import _missing

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


async def test_two_nodes_behind_nginx(cluster, tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        _missing("nginx (apt-get install nginx; tests/services.sh installs it)")
    a_node, b_node = await cluster.node("a"), await cluster.node("b")
    listen = free_port()
    conf = _config(tmp_path, listen, [a_node, b_node])
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"], stderr=subprocess.PIPE)
    try:
        front = Node.__new__(Node)  # the proxy, addressed like a node
        front.name, front.port, front.url, front.proc, front.log = "nginx", listen, f"http://127.0.0.1:{listen}", proc, tmp_path / "nginx-error.log"
        for _ in range(50):
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode())
            try:
                await asyncio.open_connection("127.0.0.1", listen)
                break
            except OSError:
                await asyncio.sleep(0.1)
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
