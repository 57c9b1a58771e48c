"""Catch-up benchmark: `history` latency and a reconnecting client's `sync` drain as the
store grows (10^3, 10^4, 10^5, 10^6 messages in one channel).

    .venv/bin/python bench/sync.py                       # up to 10^6 (inserting takes a while)
    .venv/bin/python bench/sync.py --max-messages 100000 # quick

A separate setup process seeds two users and a channel; the hub runs as a subprocess
(`changtong --data-dir TMP serve --port P`, SQLite). Messages are bulk-inserted straight
into the migrated database with SQLAlchemy (executemany batches), each row as
`message:send` would store it, while the hub runs (SQLite WAL lets it read meanwhile).
At each size a raw-websocket Socket.IO client (bench/common.py) measures
  * `history` (50 per page): the newest page, and a page from the middle;
  * `sync` of the last `--missed` (default 10,000) messages: the reader's read position
    is set back that far, then pages of `--page` (default 500) are fetched until
    `has_more` is false; time to drain all pages.

Prints a table and writes bench/results/sync-<time>.json. Never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

TEXT = "关于做好第三季度安全生产检查工作的通知，请各单位认真落实"
ACK = re.compile(rb"^43(\d+)")


class Caller:
    """Socket.IO calls with acks over one raw-websocket connection."""

    def __init__(self) -> None:
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.next_id = 0
        self.conn: common.SioConn | None = None

    def on_event(self, conn: common.SioConn, p: bytes) -> None:
        pass

    def on_ack(self, conn: common.SioConn, p: bytes) -> None:
        m = ACK.match(p)
        if m is None:
            return
        fut = self.waiting.pop(int(m.group(1)), None)
        if fut is not None and not fut.done():
            fut.set_result(json.loads(p[m.end() :])[0])

    async def call(self, event: str, data: Any, timeout: float = 120) -> Any:
        self.next_id += 1
        mid = self.next_id
        fut = asyncio.get_running_loop().create_future()
        self.waiting[mid] = fut
        self.conn.emit(b"42%d" % mid + json.dumps([event, data], separators=(",", ":")).encode())
        return await asyncio.wait_for(fut, timeout)


def insert_messages(db: Path, channel_id: int, sender_id: int, start: int, end: int, batch: int) -> float:
    """Rows seq start+1..end, as `message:send` stores them; returns seconds taken."""
    import sqlalchemy as sa

    from rooms.schema import channels, messages

    t = time.monotonic()
    engine = sa.create_engine(f"sqlite:///{db}")
    base = datetime.now(UTC) - timedelta(days=30)
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA synchronous=OFF")
    for lo in range(start, end, batch):
        hi = min(end, lo + batch)
        rows = [
            {
                "channel_id": channel_id,
                "seq": s,
                "change_seq": s,
                "sender_id": sender_id,
                "client_msg_id": f"bulk-{s}",
                "kind": "text",
                "text": f"{s} {TEXT}",
                "created_at": base + timedelta(seconds=s),
            }
            for s in range(lo + 1, hi + 1)
        ]
        with engine.begin() as conn:
            conn.execute(messages.insert(), rows)
            conn.execute(channels.update().where(channels.c.id == channel_id).values(head_seq=hi))
    engine.dispose()
    return time.monotonic() - t


def set_read(db: Path, channel_id: int, user_id: int, seq: int) -> None:
    import sqlalchemy as sa

    from rooms.schema import channel_members

    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(
            channel_members.update()
            .where(channel_members.c.channel_id == channel_id, channel_members.c.user_id == user_id)
            .values(last_read_seq=seq)
        )
    engine.dispose()


async def measure(hub: common.HubProcess, token: str, channel_id: int, size: int, args: argparse.Namespace) -> dict[str, Any]:
    c = Caller()
    c.conn = await common.open_conn("127.0.0.1", hub.port, token, c.on_event, c.on_ack, deflate=args.deflate)
    try:
        out: dict[str, Any] = {"size": size}
        for name, before in (("history_newest_ms", None), ("history_middle_ms", max(2, size // 2))):
            times = []
            for _ in range(args.repeat):
                req: dict[str, Any] = {"channel_id": channel_id, "limit": 50}
                if before is not None:
                    req["before_seq"] = before
                t = time.perf_counter()
                r = await c.call("history", req)
                times.append((time.perf_counter() - t) * 1000)
                if not r.get("ok") or not r["messages"]:
                    raise SystemExit(f"history refused: {r}")
            out[name] = common.summary_ms(times)
        # sync: the reader's position is `missed` behind the head; drain every page
        missed = min(args.missed, size)
        cpu0 = hub.cpu()
        t = time.perf_counter()
        cursors: dict[str, int] = {}
        got = pages = 0
        page_ms = []
        while True:
            tp = time.perf_counter()
            r = await c.call("sync", {"cursors": cursors, "limit": args.page})
            page_ms.append((time.perf_counter() - tp) * 1000)
            if not r.get("ok"):
                raise SystemExit(f"sync refused: {r}")
            got += len(r["messages"])
            pages += 1
            cursors = r["cursors"]
            if not r["has_more"]:
                break
        out["sync"] = {
            "missed": missed,
            "received": got,
            "pages": pages,
            "drain_s": time.perf_counter() - t,
            "page_ms": common.summary_ms(page_ms),
            "server_cpu_s": hub.cpu() - cpu0,
        }
        return out
    finally:
        c.conn.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [s for s in (10**3, 10**4, 10**5, 10**6) if s <= args.max_messages]
    tmp = Path(tempfile.mkdtemp(prefix="changtong-sync-"))
    hub = None
    results: list[dict[str, Any]] = []
    try:
        seed = common.seed(tmp, 2)
        (sender, _), (reader, token) = seed["users"]
        cid = seed["channel_id"]
        db = tmp / "changtong.db"
        hub = common.HubProcess(tmp)
        hub.wait_ready()
        have = 0
        for size in sizes:
            ins = insert_messages(db, cid, sender, have, size, args.batch)
            print(f"inserted {size - have:,} messages in {ins:.1f}s ({(size - have) / ins:,.0f}/s)", flush=True)
            have = size
            set_read(db, cid, reader, size - min(args.missed, size))
            r = asyncio.run(measure(hub, token, cid, size, args))
            r["insert_s"] = ins
            r["db_mb"] = sum(p.stat().st_size for p in tmp.glob("changtong.db*")) / 2**20
            r["server_rss_mb"] = hub.rss_mb()
            results.append(r)
            print(report([r]).splitlines()[-1], flush=True)
        return {
            "config": {"sizes": sizes, "missed": args.missed, "page": args.page, "repeat": args.repeat, "deflate": args.deflate},
            "results": results,
            "server_peak_rss_mb": hub.peak_rss_mb(),
        }
    finally:
        if hub is not None:
            hub.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def report(results: list[dict[str, Any]]) -> str:
    headers = ["stored", "hist new p50", "p95", "p99", "hist mid p50", "p99", "sync missed", "pages", "drain s",
               "msgs/s", "page p50 ms", "page p99", "srv CPU s", "DB MB"]
    rows = []
    for r in results:
        h, m, s = r["history_newest_ms"], r["history_middle_ms"], r["sync"]
        rows.append([r["size"], h["p50"], h["p95"], h["p99"], m["p50"], m["p99"], s["received"], s["pages"], s["drain_s"],
                     s["received"] / s["drain_s"] if s["drain_s"] else None, s["page_ms"]["p50"], s["page_ms"]["p99"],
                     s["server_cpu_s"], r["db_mb"]])
    return common.table(headers, rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--max-messages", type=int, default=10**6, help="largest store size (default 10^6)")
    p.add_argument("--missed", type=int, default=10_000, help="messages a reconnecting client missed (default 10,000)")
    p.add_argument("--page", type=int, default=500, help="sync page size asked for (default 500)")
    p.add_argument("--repeat", type=int, default=100, help="history calls per measurement")
    p.add_argument("--batch", type=int, default=20_000, help="rows per executemany batch")
    p.add_argument("--deflate", action=argparse.BooleanOptionalAction, default=True, help="offer permessage-deflate")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--label", default="")
    args = p.parse_args()
    r = run(args)
    r["label"] = args.label
    path = common.write_result("sync", r)
    print()
    print(report(r["results"]))
    print(f"wrote {path.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
