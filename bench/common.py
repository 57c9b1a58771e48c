"""Shared pieces of the benchmarks: a seeded data directory, the hub as a real
subprocess, CPU/RSS accounting of a process, percentiles, result files, and a cheap
raw-websocket Engine.IO v4 / Socket.IO v5 client for load generation.

Run `python bench/common.py setup --data-dir D --users N [--channel]` to seed a data
directory (the benchmarks do this in a separate process before serving).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"

# ---- seeding -------------------------------------------------------------------


async def _seed(data_dir: Path, n_users: int, channel: bool, out: Path) -> None:
    """N users with tokens (one password hash shared: argon2 per user would take
    minutes), and optionally one private channel holding all of them."""
    import secrets
    from datetime import timedelta

    import sqlalchemy as sa

    from hub.auth import hash_token
    from hub.config import load_config
    from hub.db import Database, now
    from hub.passwords import Passwords
    from hub.pinyin import search_keys
    from hub.schema import tokens, users
    from rooms import store
    from rooms.schema import channel_members

    config = load_config(data_dir=data_dir)
    db = Database(config.effective_database_url)
    pw = Passwords(1, 8).hash("bench-password")
    created = now()
    full, initials = search_keys("压测用户")
    rows = [
        {
            "username": f"bench{i:06d}",
            "password_hash": pw,
            "display_name": f"压测用户{i}",
            "pinyin": full,
            "initials": initials,
            "title": "",
            "phone": "",
            "email": "",
            "roles": "",
            "is_bot": False,
            "created_at": created,
        }
        for i in range(n_users)
    ]
    async with db.begin() as conn:
        await conn.execute(users.insert(), rows)
        ids = list(
            (
                await conn.execute(
                    sa.select(users.c.id).where(users.c.username.like("bench%")).order_by(users.c.username)
                )
            ).scalars()
        )
        toks = [secrets.token_urlsafe(32) for _ in ids]
        await conn.execute(
            tokens.insert(),
            [
                {
                    "token_hash": hash_token(t),
                    "user_id": uid,
                    "created_at": created,
                    "expires_at": created + timedelta(days=30),
                    "client": "bench",
                }
                for uid, t in zip(ids, toks, strict=True)
            ],
        )
        cid = None
        if channel:
            cid = await store.create_channel(conn, kind="private", name="压测频道", created_by=ids[0])
            await conn.execute(
                channel_members.insert(),
                [
                    {
                        "channel_id": cid,
                        "user_id": uid,
                        "role": "admin" if i == 0 else "member",
                        "last_read_seq": 0,
                        "joined_seq": 0,
                        "joined_at": created,
                    }
                    for i, uid in enumerate(ids)
                ],
            )
    await db.close()
    out.write_text(json.dumps({"channel_id": cid, "users": [[u, t] for u, t in zip(ids, toks, strict=True)]}))


def seed(data_dir: Path, n_users: int, channel: bool = True, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Seed in a separate process (the load generator never imports the hub). `env`
    (e.g. CHANGTONG_DATABASE_URL) goes to that process: it migrates and seeds there."""
    out = data_dir / "seed.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "setup", "--data-dir", str(data_dir), "--users", str(n_users)]
    if channel:
        cmd.append("--channel")
    subprocess.run(cmd, check=True, cwd=ROOT, env=_env(**(env or {})))
    return json.loads(out.read_text())


# ---- PostgreSQL and Redis for several nodes ------------------------------------------

PG_SERVER = os.environ.get("CHANGTONG_BENCH_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("CHANGTONG_BENCH_REDIS", "redis://127.0.0.1:6379/0")


async def _pg_admin(server: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server.replace("+asyncpg", "") + "/postgres", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def pg_create_database(server: str = PG_SERVER) -> str:
    """A fresh, empty database for one run (the seed process migrates it)."""
    import uuid

    name = f"changtong_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_admin(server, f'CREATE DATABASE "{name}"'))
    return f"{server}/{name}"


def pg_drop_database(url: str) -> None:
    server, name = url.rsplit("/", 1)
    asyncio.run(_pg_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def redis_cleanup(url: str, prefix: str) -> int:
    """Delete this run's keys (`<prefix>:*`); pub/sub channels leave nothing behind."""
    import redis

    r = redis.Redis.from_url(url)
    try:
        keys = list(r.scan_iter(f"{prefix}:*", count=1000))
        return r.delete(*keys) if keys else 0
    finally:
        r.close()


# ---- the hub as a subprocess ---------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANGTONG_")}
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HubProcess:
    """`changtong --data-dir D serve --port P` as a child process, with its CPU and RSS.
    The per-connection event limit is lifted: a benchmark measures the server, and its
    one client calling `history` 100 times in a row would otherwise get `rate_limited`."""

    def __init__(self, data_dir: Path, port: int | None = None, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / f"hub-{self.port}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=_env(CHANGTONG_LOG_LEVEL="WARNING", CHANGTONG_EVENTS_PER_SECOND="100000", **(env or {})),
        )
        self.pid = self.proc.pid
        import psutil

        self.ps = psutil.Process(self.pid)

    def command(self) -> list[str]:
        return [str(BIN / "changtong"), "--data-dir", str(self.data_dir), "serve", "--port", str(self.port)]

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited with {self.proc.returncode}:\n{self.log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"hub did not listen on {self.port} within {timeout}s")

    def cpu(self) -> float:
        t = self.ps.cpu_times()
        return t.user + t.system

    def cpu_split(self) -> tuple[float, float]:
        t = self.ps.cpu_times()
        return t.user, t.system

    def main_thread_cpu(self) -> float:
        """CPU of the event-loop thread (the others: the SQLite writer, aiosqlite's and executor threads)."""
        for t in self.ps.threads():
            if t.id == self.pid:
                return t.user_time + t.system_time
        return 0.0

    def runqueue_wait(self) -> float:
        """Seconds the event-loop thread has spent runnable but waiting for a CPU
        (/proc/PID/schedstat): how much the rest of the machine held the hub back."""
        try:
            with open(f"/proc/{self.pid}/schedstat") as f:
                return int(f.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return 0.0

    def rss_mb(self) -> float:
        return self.ps.memory_info().rss / 2**20

    def threads(self) -> int:
        return self.ps.num_threads()

    def peak_rss_mb(self) -> float:
        return proc_peak_rss_mb(self.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


NODE_REFERENCE = ROOT / "bench" / "node_reference"


class NodeReferenceProcess(HubProcess):
    """The official Node.js socket.io server (bench/node_reference/server.js), in memory,
    measured like the hub: the yardstick of the fan-out benchmark on this machine."""

    def command(self) -> list[str]:
        if not (NODE_REFERENCE / "node_modules" / "socket.io").is_dir():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_REFERENCE, check=True)
        return ["node", str(NODE_REFERENCE / "server.js"), str(self.port)]


def proc_peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def proc_cpu(pid: int) -> float:
    import psutil

    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---- numbers -----------------------------------------------------------------


def percentile(sorted_values: Any, q: float) -> float | None:
    n = len(sorted_values)
    if n == 0:
        return None
    i = min(n - 1, max(0, round(q / 100 * (n - 1))))
    return float(sorted_values[i])


def summary_ms(values: Any) -> dict[str, float | None]:
    s = sorted(values)
    return {
        "p50": percentile(s, 50),
        "p95": percentile(s, 95),
        "p99": percentile(s, 99),
        "max": float(s[-1]) if s else None,
        "n": len(s),
    }


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def git_rev() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "hub"], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except OSError:
        return "?"


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{stamp}.json"
    data = {"bench": name, "at": stamp, "git": git_rev(), "machine": machine(), **data}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    return path


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(out)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v >= 1000:
            return f"{v:,.0f}"
        if v >= 100:
            return f"{v:.0f}"
        if v >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


# ---- a raw Engine.IO v4 / Socket.IO v5 client over websocket ---------------------
#
# One asyncio.Protocol per connection: no task per connection, no per-message
# coroutine wake-ups; frames are parsed in data_received and handed to callbacks.
# Client frames are masked with a zero key (RFC 6455 requires a mask bit; a zero key
# keeps the payload as is and is accepted by every server).

MASK0 = b"\x00\x00\x00\x00"
DEFLATE_TAIL = b"\x00\x00\xff\xff"


def ws_client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + MASK0 + payload


class SioConn(asyncio.Protocol):
    """A Socket.IO connection over a raw websocket. `on_event(conn, payload)` gets the
    Socket.IO packet text (bytes) of every `42...` event, `on_ack(conn, payload)` every
    `43...` ack; Engine.IO pings are answered here."""

    def __init__(
        self,
        host: str,
        port: int,
        token: str,
        on_event: Callable[[SioConn, bytes], None],
        on_ack: Callable[[SioConn, bytes], None],
        deflate: bool = False,
    ) -> None:
        self.host, self.port, self.token = host, port, token
        self.on_event, self.on_ack = on_event, on_ack
        self.deflate = deflate
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.http_done = False
        self.inflater: Any = None
        self.connected: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.closed = False
        self.frames = 0

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        ext = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if self.deflate else ""
        req = (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {self.host}:{self.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"{ext}\r\n"
        )
        transport.write(req.encode())  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.connected.done():
            self.connected.set_exception(ConnectionError(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        if not self.http_done:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            head = buf[:end].decode("latin-1")
            if " 101 " not in head.split("\r\n", 1)[0]:
                self._fail(f"handshake refused: {head.splitlines()[0]}")
                return
            if "permessage-deflate" in head.lower():
                self.inflater = zlib.decompressobj(-15)
            self.http_done = True
            buf = buf[end + 4 :]
        pos = 0
        n = len(buf)
        while n - pos >= 2:
            b0 = buf[pos]
            ln = buf[pos + 1] & 0x7F
            hdr = 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                hdr = 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                hdr = 10
            if n - pos < hdr + ln:
                break
            payload = buf[pos + hdr : pos + hdr + ln]
            pos += hdr + ln
            opcode = b0 & 0x0F
            if b0 & 0x40:  # RSV1: permessage-deflate
                payload = self.inflater.decompress(payload + DEFLATE_TAIL)
            self.frames += 1
            if opcode == 0x1:
                self._eio(payload)
            elif opcode == 0x9:  # websocket ping
                self.transport.write(ws_client_frame(payload, 0xA))
            elif opcode == 0x8:
                self.closed = True
                self.transport.close()
                return
        self.buf = buf[pos:] if pos < n else b""

    # -- Engine.IO / Socket.IO
    def _eio(self, p: bytes) -> None:
        t = p[0]
        if t == 0x34:  # '4' message
            s = p[1]
            if s == 0x32:  # '2' event
                self.on_event(self, p)
            elif s == 0x33:  # '3' ack
                self.on_ack(self, p)
            elif s == 0x30:  # '0' connected
                if not self.connected.done():
                    self.connected.set_result(True)
            elif s == 0x34:  # '4' connect error
                self._fail(f"connect refused: {p[2:200]!r}")
        elif t == 0x32:  # '2' ping
            self.transport.write(ws_client_frame(b"3"))
        elif t == 0x30:  # '0' open
            self.send_text(b'40{"token":"' + self.token.encode() + b'"}')
        elif t == 0x31:  # '1' close
            self.closed = True

    def _fail(self, why: str) -> None:
        if not self.connected.done():
            self.connected.set_exception(ConnectionError(why))
        if self.transport is not None:
            self.transport.close()

    def send_text(self, payload: bytes) -> None:
        self.transport.write(ws_client_frame(payload))

    def emit(self, payload: bytes) -> None:
        """Send a prepared Socket.IO packet, e.g. b'42' + id + json."""
        self.send_text(payload)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


async def open_conn(host: str, port: int, token: str, on_event: Any, on_ack: Any, deflate: bool, timeout: float = 30) -> SioConn:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(lambda: SioConn(host, port, token, on_event, on_ack, deflate), host, port)
    await asyncio.wait_for(conn.connected, timeout)
    return conn


def new_event_loop(use_uvloop: bool = True) -> asyncio.AbstractEventLoop:
    if use_uvloop:
        try:
            import uvloop

            return uvloop.new_event_loop()
        except ImportError:
            pass
    return asyncio.new_event_loop()


def _main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--data-dir", required=True, type=Path)
    s.add_argument("--users", type=int, required=True)
    s.add_argument("--channel", action="store_true")
    args = p.parse_args()
    if args.cmd == "setup":
        args.data_dir.mkdir(parents=True, exist_ok=True)
        from hub.config import load_config
        from hub.db import upgrade

        upgrade(load_config(data_dir=args.data_dir))  # blocking, before the loop
        asyncio.run(_seed(args.data_dir, args.users, args.channel, args.data_dir / "seed.json"))


if __name__ == "__main__":
    _main()
