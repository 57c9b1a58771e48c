"""`message:send` latency while the exchange signs receipts in a burst (issue: effects
leave the transaction). A clerk's 签收 of a document signs a CMS receipt (RSA) and writes
its file; done inside the card's write transaction, every send in the hub waits for it.

One in-process hub (SQLite, the node dy-city with a test CA's certificate) holds
`--docs` arrived documents. A Socket.IO client sends messages back to back, first with
nothing else going on, then while `--concurrency` tasks sign for every document
(`Exchange.sign_for`, what the 签收 button calls), until every receipt is signed and
queued. Prints the send latency of both phases and how long the burst took; writes bench/results/receipts-<time>.json.

    .venv/bin/python bench/receipts.py [--docs 100] [--concurrency 8]

Runs against any commit (it uses only public calls), so before/after is two runs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import socketio
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port, summary_ms, table, write_result  # noqa: E402
from exchange_bridge.pki import NodePki, init_ca, issue_unit, load_cert  # noqa: E402
from exchange_bridge.transport import store  # noqa: E402
from exchange_bridge.wiring import EXCHANGE  # noqa: E402
from hub.app import create_app  # noqa: E402
from hub.auth import AUTH  # noqa: E402
from hub.config import Config  # noqa: E402
from hub.db import DATABASE, upgrade  # noqa: E402
from exchange_bridge.transport.tables import exchange_outbox  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from hub.directory import DIRECTORY_HOOKS, add_user  # noqa: E402

PASSWORD = "bench-pass-2026"


async def sends(sio: socketio.AsyncClient, cid: int, stop: asyncio.Event, prefix: str) -> list[float]:
    took: list[float] = []
    n = 0
    while not stop.is_set():
        n += 1
        t0 = time.perf_counter()
        ack = await sio.call("message:send", {"channel_id": cid, "client_msg_id": f"{prefix}-{n}", "text": f"消息 {n}"}, timeout=60)
        took.append((time.perf_counter() - t0) * 1000)
        assert ack["ok"], ack
    return took


async def main(docs: int, concurrency: int, quiet_seconds: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-receipts-"))
    data = tmp / "city"
    ca = init_ca(tmp / "ca")
    city = issue_unit(ca, "dy-city", tmp / "certs")
    kenli = issue_unit(ca, "dy-kenli", tmp / "certs")
    pki = NodePki.of(data)
    pki.add_trust(ca.cert)
    pki.install_identity(city.cert, city.key)
    config = Config(data_dir=data, argon2_time_cost=1, argon2_memory_kib=8, events_per_second=100000, log_level="WARNING")
    upgrade(config)
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    exchange = app[EXCHANGE]
    await exchange.add_peer("dy-kenli", "https://127.0.0.1:1", load_cert(kenli.cert))
    async with app[DATABASE].begin() as conn:
        for name in ("clerk", "peer"):
            await add_user(conn, app[DIRECTORY_HOOKS], username=name, password_hash=await app[AUTH].passwords.hash_async(PASSWORD), display_name=name)
        for i in range(docs):
            await store.add_arrival(conn, f"{i:032x}", "dy-kenli", f"来文 {i}", {}, str(data / "none"))
    async with aiohttp.ClientSession() as http:
        async with http.post(f"http://127.0.0.1:{port}/api/v1/auth/login", json={"username": "clerk", "password": PASSWORD}) as r:
            token = (await r.json())["token"]
    sio = socketio.AsyncClient()
    await sio.connect(f"http://127.0.0.1:{port}", auth={"token": token}, transports=["websocket"])
    cid = (await sio.call("channel:create", {"name": "压测", "kind": "private", "member_ids": []}))["channel"]["id"]

    stop = asyncio.Event()
    quiet_task = asyncio.create_task(sends(sio, cid, stop, "quiet"))
    await asyncio.sleep(quiet_seconds)
    stop.set()
    quiet = await quiet_task

    stop = asyncio.Event()
    busy_task = asyncio.create_task(sends(sio, cid, stop, "busy"))
    queue: asyncio.Queue[str] = asyncio.Queue()
    for i in range(docs):
        queue.put_nowait(f"{i:032x}")

    async def signer() -> None:
        while not queue.empty():
            await exchange.sign_for(queue.get_nowait())

    t0 = time.perf_counter()
    await asyncio.gather(*[signer() for _ in range(concurrency)])
    burst_s = time.perf_counter() - t0
    # until the receipts themselves are signed and queued (inline, or by the effects worker);
    # one COUNT every 50 ms (the full `exchange.state()` here cost more CPU than the sends)
    count = sa.select(sa.func.count()).select_from(exchange_outbox).where(exchange_outbox.c.kind == "receipt")
    for _ in range(1200):
        if await app[DATABASE].read(lambda conn: conn.execute(count).scalar_one()) >= docs:
            break
        await asyncio.sleep(0.05)
    all_done_s = time.perf_counter() - t0
    stop.set()
    busy = await busy_task
    await sio.disconnect()
    await runner.cleanup()

    q, b = summary_ms(quiet), summary_ms(busy)
    print(table(
        ["phase", "sends", "p50 ms", "p95 ms", "p99 ms", "max ms"],
        [["quiet", q["n"], q["p50"], q["p95"], q["p99"], q["max"]], ["signing burst", b["n"], b["p50"], b["p95"], b["p99"], b["max"]]],
    ))
    print(f"{docs} 签收 acted in {burst_s:.2f} s; all {docs} receipts signed and queued after {all_done_s:.2f} s")
    print(write_result("receipts", {"docs": docs, "concurrency": concurrency, "quiet": q, "burst": b,
                                    "burst_seconds": burst_s, "receipts_queued_seconds": all_done_s}))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--quiet-seconds", type=float, default=3)
    a = ap.parse_args()
    asyncio.run(main(a.docs, a.concurrency, a.quiet_seconds))
