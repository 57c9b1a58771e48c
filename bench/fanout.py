"""Fan-out benchmark: N real Socket.IO connections in one channel, M messages sent
through `message:send` (stored in SQLite, acked after commit, pushed to every member).

    .venv/bin/python bench/fanout.py --clients 1000 --messages 300 --rate 10
    .venv/bin/python bench/fanout.py --clients 1000 --messages 3000 --rate 100
    .venv/bin/python bench/fanout.py --clients 1000 --messages 2000 --rate 0   # flood
    .venv/bin/python bench/fanout.py --nodes 2 --redis --clients 100,1000,5000 --messages 100
    .venv/bin/python bench/fanout.py --reference node --clients 1000 --messages 300 --rate 10

The hub runs as a subprocess (`changtong --data-dir TMP serve --port P`) on a fresh
SQLite data directory seeded by a separate setup process (N users with tokens, one
private channel with all of them). The load generator is a few processes of raw
websocket connections speaking Engine.IO v4 / Socket.IO v5 text framing (see
bench/common.py: SioConn), cheaper per delivery than the hub; its CPU is reported.

`--reference node` runs the official Node.js socket.io server (bench/node_reference,
in memory) in the hub's place: the yardstick, measured on this machine.

With `--redis` the hubs share a fresh PostgreSQL database and Redis (a unique
CHANGTONG_REDIS_PREFIX per run); `--nodes 2` runs the same load on one node and on two,
the clients spread round-robin over the nodes. `--clients` takes a list of sizes.

Prints a table and writes bench/results/fanout-<time>.json. Never asserts.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

DEFAULT_TEXT = "请各单位于今日下午三点前报送材料"
ACK_ID = re.compile(rb"^43(\d+)")


# ---- load-generator process -------------------------------------------------------


class Worker:
    def __init__(self, idx: int, conf: dict[str, Any], pipe: Any) -> None:
        self.idx = idx
        self.conf = conf
        self.pipe = pipe
        self.tokens: list[str] = conf["tokens"]
        self.senders: dict[int, int] = conf["senders"]  # global sender number -> local conn index
        self.conns: list[common.SioConn] = []
        self.lat = array.array("f")
        self.ack_lat = array.array("f")
        self.sent_ns: dict[int, int] = {}
        self.received = 0
        self.other = 0
        self.acks = 0
        self.ack_errors = 0
        self.last_ns = 0
        self.expected = 0
        self.my_messages = 0
        self.done: asyncio.Future[None] | None = None
        self.queue_of: dict[int, list[int]] = {}  # flood: sender -> its remaining message numbers
        self.typing = conf["event"] == "typing"
        self.t0_ns = 0
        self.step_ns = 0
        self.text = json.dumps(conf["text"])[1:-1].encode()  # ASCII with \\u escapes, no spaces
        self.connect_retries = 0

    # callbacks from SioConn.data_received (hot path: keep cheap)
    def on_event(self, conn: common.SioConn, p: bytes) -> None:
        if self.typing:
            if p.startswith(b'42["typing"'):
                now = time.monotonic_ns()
                k = conn.seen
                conn.seen = k + 1
                if not hasattr(conn, "sender"):  # a sender skips its own: its count would be off
                    self.lat.append((now - self.t0_ns - k * self.step_ns) / 1e6)
                self.received += 1
                self.last_ns = now
                self._check_done()
                return
            self.other += 1
            return
        if p.startswith(b'42["message"'):
            i = p.find(b'"text":"bench:')
            if i >= 0:
                j = p.find(b" ", i + 14)
                now = time.monotonic_ns()
                sent = int(p[p.find(b":", i + 14) + 1 : j])
                self.lat.append((now - sent) / 1e6)
                self.received += 1
                self.last_ns = now
                self._check_done()
                return
        self.other += 1

    def on_ack(self, conn: common.SioConn, p: bytes) -> None:
        m = ACK_ID.match(p)
        if m is None:
            return
        mid = int(m.group(1))
        sent = self.sent_ns.pop(mid, None)
        if sent is None:
            return
        self.ack_lat.append((time.monotonic_ns() - sent) / 1e6)
        self.acks += 1
        if not p.startswith(b'[{"ok":true', m.end()):
            self.ack_errors += 1
            if self.ack_errors <= 3:
                print(f"[loadgen {self.idx}] ack error: {p[:300]!r}", file=sys.stderr)
        q = self.queue_of.get(getattr(conn, "sender", -1))
        if q:
            self.send(conn, q.pop())
        self._check_done()

    def _check_done(self) -> None:
        done = self.done
        if done is not None and not done.done() and self.received >= self.expected and self.acks >= self.my_messages:
            done.set_result(None)

    def send(self, conn: common.SioConn, j: int) -> None:
        now = time.monotonic_ns()
        self.sent_ns[j] = now
        if self.typing:
            conn.emit(b'42%d["typing",{"channel_id":%d}]' % (j, self.conf["channel_id"]))
            return
        conn.emit(
            b'42%d["message:send",{"channel_id":%d,"client_msg_id":"m%d","text":"bench:%d:%d %s"}]'
            % (j, self.conf["channel_id"], j, j, now, self.text)
        )

    async def _recv(self) -> Any:
        # A thread, not add_reader: the loop would make the pipe non-blocking.
        return await asyncio.get_running_loop().run_in_executor(None, self.pipe.recv)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        c = self.conf
        started = time.monotonic()
        sem = asyncio.Semaphore(c["connect_concurrency"])

        per_s = c["connect_rate"] / c["procs"] if c["connect_rate"] else 0

        async def one(i: int, token: str) -> common.SioConn:
            if per_s:
                await asyncio.sleep(i / per_s)
            port = c["ports"][i]
            for attempt in range(6):  # a hub refusing with `unavailable` (pool timeout) is retried, like clients do
                async with sem:
                    try:
                        return await common.open_conn(c["host"], port, token, self.on_event, self.on_ack, c["deflate"], timeout=60)
                    except ConnectionError:
                        if attempt == 5:
                            raise
                self.connect_retries += 1
                await asyncio.sleep(1 + attempt)
            raise AssertionError("unreachable")

        self.conns = list(await asyncio.gather(*[one(i, t) for i, t in enumerate(self.tokens)]))
        for s, local in self.senders.items():
            self.conns[local].sender = s  # type: ignore[attr-defined]
        self.pipe.send(("ready", {"connect_s": time.monotonic() - started, "retries": self.connect_retries}))
        cmd, t0 = await self._recv()
        assert cmd == "go"
        M, rate, S = c["messages"], c["rate"], c["n_senders"]
        mine = {s: [j for j in range(M) if j % S == s] for s in self.senders}
        self.my_messages = sum(len(v) for v in mine.values())
        self.expected = M * len(self.conns)
        if self.typing:  # typing goes to everyone but its sender
            self.expected -= self.my_messages
            for x in self.conns:
                x.seen = 0  # type: ignore[attr-defined]
            self.t0_ns = int(t0 * 1e9)
            self.step_ns = int(1e9 / rate) if rate else 0
        self.done = loop.create_future()
        self.other = 0
        cpu0 = common.self_cpu()
        if rate > 0:
            loop_t0 = loop.time() + (t0 - time.monotonic())
            for s, js in mine.items():
                conn = self.conns[self.senders[s]]
                for j in js:
                    loop.call_at(loop_t0 + j / rate, self.send, conn, j)
            budget = M / rate + c["drain_timeout"]
        else:
            await asyncio.sleep(max(0.0, t0 - time.monotonic()))
            for s, js in mine.items():
                q = list(reversed(js))
                self.queue_of[s] = q
                conn = self.conns[self.senders[s]]
                for _ in range(min(c["window"], len(q))):
                    self.send(conn, q.pop())
            budget = c["drain_timeout"] + M / 100
        if self.expected == 0 and self.my_messages == 0:
            self.done.set_result(None)
        try:
            await asyncio.wait_for(asyncio.shield(self.done), max(0.0, t0 - time.monotonic()) + budget)
        except TimeoutError:
            pass
        cpu1 = common.self_cpu()
        self.pipe.send(
            (
                "done",
                {
                    "cpu_s": cpu1 - cpu0,
                    "received": self.received,
                    "expected": self.expected,
                    "acks": self.acks,
                    "ack_errors": self.ack_errors,
                    "sent": self.my_messages,
                    "other_events": self.other,
                    "last_ns": self.last_ns,
                    "lat": self.lat.tobytes(),
                    "ack_lat": self.ack_lat.tobytes(),
                    "closed_conns": sum(1 for x in self.conns if x.closed),
                },
            )
        )
        await self._recv()  # "exit"
        for x in self.conns:
            x.close()


def worker_main(idx: int, conf: dict[str, Any], pipe: Any) -> None:
    loop = common.new_event_loop(conf["uvloop"])
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(Worker(idx, conf, pipe).run())
    except Exception as exc:  # noqa: BLE001 - report, never hang the parent
        import traceback

        traceback.print_exc()
        try:
            pipe.send(("error", repr(exc)))
        except OSError:
            pass


# ---- orchestration -------------------------------------------------------------------


def run(args: argparse.Namespace, clients: int, nodes: int = 1) -> dict[str, Any]:
    """One run: a fresh store, `nodes` hub processes, `clients` members connected."""
    tmp = Path(tempfile.mkdtemp(prefix="changtong-bench-"))
    hubs: list[common.HubProcess] = []
    procs: list[mp.Process] = []
    backend_env: dict[str, str] = {}
    pg_url = redis_prefix = None
    try:
        t = time.monotonic()
        if args.redis:
            import uuid

            pg_url = common.pg_create_database(args.pg)
            redis_prefix = f"changtong-bench-{uuid.uuid4().hex[:10]}"
            backend_env = {
                "CHANGTONG_DATABASE_URL": pg_url,
                "CHANGTONG_REDIS_URL": args.redis,
                "CHANGTONG_REDIS_PREFIX": redis_prefix,
            }
        if args.reference:  # nothing stored: any token joins the one room
            seed = {"users": [(i, f"reference-{i}") for i in range(clients)], "channel_id": 1}
        else:
            seed = common.seed(tmp, clients, env=backend_env)
        setup_s = time.monotonic() - t
        env = dict(backend_env)
        if args.hub_env:
            for kv in args.hub_env:
                k, v = kv.split("=", 1)
                env[k] = v
        server = common.NodeReferenceProcess if args.reference else common.HubProcess
        hubs = [server(tmp, env=env) for _ in range(nodes)]
        for hub in hubs:
            hub.wait_ready()
        if args.print_pid:
            print("hub pid " + " ".join(str(h.pid) for h in hubs), flush=True)
        time.sleep(0.5)
        rss_idle = [h.rss_mb() for h in hubs]
        users = seed["users"]
        n_senders = args.senders or max(1, -(-int(args.rate or 100) // 10))
        K = args.procs
        ctx = mp.get_context("fork")
        pipes = []
        for w in range(K):
            local = [i for i in range(len(users)) if i % K == w]
            senders = {s: local.index(s) for s in range(n_senders) if s % K == w}
            conf = {
                "host": "127.0.0.1",
                "ports": [hubs[i % nodes].port for i in local],  # member i on node i mod nodes
                "channel_id": seed["channel_id"],
                "tokens": [users[i][1] for i in local],
                "senders": senders,
                "n_senders": n_senders,
                "messages": args.messages,
                "rate": args.rate,
                "window": args.window,
                "deflate": args.deflate,
                "uvloop": not args.no_uvloop,
                "drain_timeout": args.drain_timeout,
                "connect_concurrency": args.connect_concurrency,
                "connect_rate": args.connect_rate,
                "procs": K,
                "text": args.text,
                "event": args.event,
            }
            parent, child = ctx.Pipe()
            p = ctx.Process(target=worker_main, args=(w, conf, child), daemon=True)
            p.start()
            procs.append(p)
            pipes.append(parent)
        cpu_c0 = sum(h.cpu() for h in hubs)
        t = time.monotonic()
        ready = [_expect(pp, "ready", 600) for pp in pipes]
        connect_s = time.monotonic() - t
        connect_cpu = sum(h.cpu() for h in hubs) - cpu_c0
        time.sleep(args.settle)  # let connect-time presence pushes drain
        idle0, idle_t0 = sum(h.cpu() for h in hubs), time.monotonic()
        time.sleep(args.idle_window)  # connections held, nothing sent: pings and pongs only
        idle_cpu = sum(h.cpu() for h in hubs) - idle0
        idle_s = time.monotonic() - idle_t0
        rss_connected = [h.rss_mb() for h in hubs]
        lg = [common.proc_cpu(p.pid) for p in procs]
        split0 = [h.cpu_split() for h in hubs]
        wait0 = [h.runqueue_wait() for h in hubs]
        m0 = sum(h.main_thread_cpu() for h in hubs)
        t0 = time.monotonic() + 0.5
        for pp in pipes:
            pp.send(("go", t0))
        results = [_expect(pp, "done", args.messages / (args.rate or 100) + args.drain_timeout + 120) for pp in pipes]
        t_end = time.monotonic()
        split1 = [h.cpu_split() for h in hubs]
        wait1 = [h.runqueue_wait() for h in hubs]
        m1 = sum(h.main_thread_cpu() for h in hubs)
        lg_cpu = sum(common.proc_cpu(p.pid) - c for p, c in zip(procs, lg, strict=True))
        peak = [h.peak_rss_mb() for h in hubs]
        u0, s0 = sum(a for a, _ in split0), sum(b for _, b in split0)
        u1, s1 = sum(a for a, _ in split1), sum(b for _, b in split1)
        node_cpu = [(b[0] - a[0]) + (b[1] - a[1]) for a, b in zip(split0, split1, strict=True)]
        for pp in pipes:
            pp.send(("exit", None))
        lat: list[float] = []
        ack: list[float] = []
        for r in results:
            lat.extend(array.array("f", r["lat"]))
            ack.extend(array.array("f", r["ack_lat"]))
        received = sum(r["received"] for r in results)
        expected = sum(r["expected"] for r in results)
        last = max((r["last_ns"] for r in results), default=0) / 1e9
        span = max(1e-9, (last - t0) if last else (t_end - t0))
        server_cpu = (u1 - u0) + (s1 - s0)
        out = {
            "config": {
                "clients": clients,
                "nodes": nodes,
                "backend": "node-reference" if args.reference else "postgresql+redis" if args.redis else "sqlite",
                "messages": args.messages,
                "rate": args.rate,
                "senders": n_senders,
                "window": args.window if not args.rate else None,
                "procs": K,
                "deflate": args.deflate,
                "uvloop_loadgen": not args.no_uvloop,
                "text": args.text,
                "event": args.event,
                "hub_env": env,
            },
            "setup_s": setup_s,
            "connect_s": connect_s,
            "connect_server_cpu_s": connect_cpu,
            "connect_worker_s": [r["connect_s"] for r in ready],
            "connect_retries": sum(r["retries"] for r in ready),
            "deliveries": received,
            "expected": expected,
            "missing": expected - received,
            "acks": sum(r["acks"] for r in results),
            "ack_errors": sum(r["ack_errors"] for r in results),
            "span_s": span,
            "deliveries_per_s": received / span,
            "messages_per_s": args.messages / span,
            "server_cpu_s": server_cpu,
            "server_cpu_user_s": u1 - u0,
            "server_cpu_sys_s": s1 - s0,
            "server_loop_thread_cpu_s": m1 - m0,
            "server_cpu_util": server_cpu / max(1e-9, t_end - t0),
            "node_cpu_s": node_cpu,
            "node_runqueue_wait_s": [b - a for a, b in zip(wait0, wait1, strict=True)],
            "server_runqueue_wait_pct": max(b - a for a, b in zip(wait0, wait1, strict=True)) / max(1e-9, t_end - t0) * 100,
            "load_avg": os.getloadavg(),
            "node_cpu_util": [c / max(1e-9, t_end - t0) for c in node_cpu],
            "server_us_per_delivery": server_cpu / received * 1e6 if received else None,
            "loadgen_cpu_s": lg_cpu,
            "loadgen_us_per_delivery": lg_cpu / received * 1e6 if received else None,
            "latency_ms": common.summary_ms(lat),
            "ack_ms": common.summary_ms(ack),
            "idle_window_s": idle_s,
            "idle_server_cpu_s": idle_cpu,
            "idle_us_per_connection_s": idle_cpu / max(1e-9, idle_s) / clients * 1e6,
            "server_rss_idle_mb": rss_idle,
            "server_rss_connected_mb": rss_connected,
            "server_peak_rss_mb": peak,
            "server_kb_per_connection": (sum(rss_connected) - sum(rss_idle)) * 1024 / clients,
            "other_events": sum(r["other_events"] for r in results),
            "closed_conns": sum(r["closed_conns"] for r in results),
        }
        return out
    except BaseException:
        for hub in hubs:  # say why: a hub that exited, and the end of each hub's log
            code = hub.proc.poll()
            print(f"hub {hub.pid} on port {hub.port}: {'running' if code is None else f'exited with {code}'}; log tail:",
                  file=sys.stderr)
            with contextlib.suppress(OSError):
                print(hub.log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        for hub in hubs:
            hub.stop()
        if args.keep:
            print(f"kept {tmp} (hub logs in it)")
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.kill()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        if redis_prefix is not None:
            common.redis_cleanup(args.redis, redis_prefix)
        if pg_url is not None and not args.keep:
            common.pg_drop_database(pg_url)


def _expect(pipe: Any, what: str, timeout: float) -> dict[str, Any]:
    if not pipe.poll(timeout):
        raise RuntimeError(f"load generator gave no {what!r} within {timeout:.0f}s")
    kind, body = pipe.recv()
    if kind != what:
        raise RuntimeError(f"load generator: {kind} {body}")
    return body


STORE_LABEL = {"sqlite": "sqlite", "postgresql+redis": "pg+redis", "node-reference": "node mem"}


def report(runs: list[dict[str, Any]]) -> str:
    headers = ["event", "store", "nodes", "members", "msgs", "rate/s", "deliv/s", "srv µs/deliv", "srv CPU%", "srv wait%", "p50 ms",
               "p95 ms", "p99 ms", "ack p50", "ack p99", "LG µs/deliv", "peak RSS MB", "KB/conn", "missing"]
    rows = []
    for r in runs:
        c = r["config"]
        lat, ack = r["latency_ms"], r["ack_ms"]
        rows.append([
            c.get("event", "message"), STORE_LABEL.get(c["backend"], c["backend"]), c["nodes"], c["clients"],
            c["messages"], c["rate"] or "flood", r["deliveries_per_s"], r["server_us_per_delivery"],
            r["server_cpu_util"] * 100, r["server_runqueue_wait_pct"], lat["p50"], lat["p95"], lat["p99"], ack["p50"], ack["p99"],
            r["loadgen_us_per_delivery"], max(r["server_peak_rss_mb"]), r["server_kb_per_connection"], r["missing"],
        ])
    return common.table(headers, rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", default="500", help="members connected to the channel; a list runs each (default 500)")
    p.add_argument("--messages", type=int, default=300, help="messages to send (default 300)")
    p.add_argument("--rate", type=float, default=10, help="messages per second, open loop; 0 = flood (default 10)")
    p.add_argument("--senders", type=int, default=0, help="sending connections (default: one per 10 msgs/s)")
    p.add_argument("--window", type=int, default=4, help="flood: sends in flight per sender")
    p.add_argument("--procs", type=int, default=2, help="load-generator processes (default 2)")
    p.add_argument("--deflate", action=argparse.BooleanOptionalAction, default=True,
                   help="offer permessage-deflate like browsers do (default on)")
    p.add_argument("--no-uvloop", action="store_true", help="plain asyncio loop in the load generator")
    p.add_argument("--event", choices=["message", "typing"], default="message",
                   help="message: message:send (stored, then pushed); typing: fan-out only, nothing stored "
                   "(latency from the scheduled send time; needs --rate > 0)")
    p.add_argument("--text", default=DEFAULT_TEXT, help="message text after the timestamp")
    p.add_argument("--drain-timeout", type=float, default=20, help="seconds to wait for deliveries after the last send")
    p.add_argument("--connect-concurrency", type=int, default=50, help="connects in progress per process")
    p.add_argument("--connect-rate", type=float, default=0, help="new connections per second in all (default: no limit)")
    p.add_argument("--settle", type=float, default=2.0, help="seconds between connecting and sending")
    p.add_argument("--idle-window", type=float, default=5.0,
                   help="seconds after settling to measure the hub's CPU for holding the connections idle (default 5)")
    p.add_argument("--hub-env", action="append", help="KEY=VALUE for the hub process (repeatable)")
    p.add_argument("--print-pid", action="store_true", help="print the hub pid (to attach py-spy)")
    p.add_argument("--keep", action="store_true", help="keep the data directory and hub log")
    p.add_argument("--label", default="", help="free text stored in the result file")
    p.add_argument("--nodes", type=int, default=1,
                   help="hub processes (needs --redis); above 1 the same load also runs on one node, for comparison")
    p.add_argument("--redis", nargs="?", const=common.REDIS_URL, default=None,
                   help=f"PostgreSQL + Redis instead of SQLite (Redis URL, default {common.REDIS_URL}; "
                   "a fresh database and a unique key prefix per run)")
    p.add_argument("--compare", action=argparse.BooleanOptionalAction, default=True,
                   help="with --nodes above 1, also run the load on one node (default on)")
    p.add_argument("--reference", choices=["node"], default=None,
                   help="run the official Node.js socket.io server (bench/node_reference, in memory) instead of the hub")
    p.add_argument("--pg", default=common.PG_SERVER, help=f"PostgreSQL server for --redis (default {common.PG_SERVER})")
    args = p.parse_args()
    sizes = [int(x) for x in str(args.clients).split(",")]
    if args.nodes > 1 and not args.redis:
        p.error("--nodes above 1 needs --redis (the nodes share PostgreSQL and Redis)")
    if args.reference and (args.redis or args.nodes > 1):
        p.error("--reference runs one in-memory Node.js server: no --redis, no --nodes")
    node_counts = sorted({1, args.nodes}) if args.compare else [args.nodes]
    runs: list[dict[str, Any]] = []
    path = None
    for clients in sizes:
        for nodes in node_counts:
            try:
                r = run(args, clients, nodes)
            except Exception as exc:  # noqa: BLE001 - keep what the earlier runs measured
                print(f"run with {clients} clients on {nodes} node(s) failed: {exc}", file=sys.stderr)
                runs.append({"config": {"clients": clients, "nodes": nodes}, "failed": repr(exc)[:2000]})
                continue
            runs.append(r)
            print(report([r]), flush=True)
            print(f"connect: {r['connect_s']:.1f}s for {clients} clients on {nodes} node(s), {r['connect_retries']} retried "
                  f"(hub CPU {r['connect_server_cpu_s']:.1f}s); hub CPU {r['server_cpu_s']:.2f}s "
                  f"(user {r['server_cpu_user_s']:.2f} sys {r['server_cpu_sys_s']:.2f}; "
                  f"event-loop threads {r['server_loop_thread_cpu_s']:.2f}; per node "
                  f"{', '.join(f'{c:.2f}' for c in r['node_cpu_s'])}); load generator CPU {r['loadgen_cpu_s']:.2f}s; "
                  f"acks {r['acks']} errors {r['ack_errors']}; span {r['span_s']:.1f}s; idle: "
                  f"{r['idle_us_per_connection_s']:.1f} µs CPU per connection per second; load {os.getloadavg()[0]:.1f}",
                  flush=True)
        result: dict[str, Any] = {"label": args.label, "load_avg_end": os.getloadavg()}
        if len(runs) == 1 and "failed" not in runs[0]:
            result.update(runs[0])
        else:
            result["runs"] = runs
        if path is not None:
            path.unlink(missing_ok=True)
        path = common.write_result("fanout", result)  # after every size: a later failure keeps these
    done = [r for r in runs if "failed" not in r]
    if len(done) > 1:
        print()
        print(report(done))
    print(f"wrote {path.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
