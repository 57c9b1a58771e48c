"""Workflow benchmark: instances per second through a five-step approval flow with real
clients acting, and the time from one approver's action to the next approver's card.

    .venv/bin/python bench/workflows.py                                   # 200 instances, 20 in flight, both databases
    .venv/bin/python bench/workflows.py --instances 20 --database sqlite  # quick

Per database (SQLite in the data directory; PostgreSQL: a fresh database on `--pg`,
created for the run and dropped after it), a separate setup process (bench/common.py)
migrates and seeds five approvers with login tokens; the hub's own CLI adds the
initiator as an administrator (`changtong user add … --role admin`), who logs in over
REST. The hub runs as a subprocess (`changtong --data-dir TMP serve --port P`).

The initiator imports a flow (POST /api/v1/flows: start → s1 … s5 → end, each step a
`task` of one approver) and starts `--instances` instances over REST (POST
/api/v1/flows/{key}/instances), `--concurrency` in flight: a new one starts when one
ends. The five approvers are raw Socket.IO connections (common.SioConn); each card the
workflow bot (liucheng-bot) pushes into an approver's DM is pressed at once
(`card:action` approve). An instance ends with the ack of its fifth approval; every
instance's status is then read back (GET /api/v1/flows/instances/{id}).

Measured: instances/s from the first start to the last ack; per step the time from the
ack of `card:action` at step k to the arrival of the card at step k+1 (and from the
press); start → first card; the acks; the hub's CPU, its loop's wait for a CPU, RSS.
One warm-up instance first (the bot's user and the five DMs are made on first use) is
left out of the figures.

Prints a table and writes bench/results/workflows-<time>.json. Never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

FLOW_KEY = "bench-five"
STEPS = 5
BOT = "liucheng-bot"
ADMIN, ADMIN_PASSWORD = "wf-initiator", "bench-initiator-password"
ACK = re.compile(rb"^43(\d+)")


def flow_yaml(approvers: list[str]) -> str:
    nodes = ["  - {id: start, type: start, name: 提交申请, next: s1}"]
    for k, name in enumerate(approvers, 1):
        nxt = f"s{k + 1}" if k < len(approvers) else "end"
        nodes.append(f"  - {{id: s{k}, type: task, name: 第{k}级审批, assignee: {{user: {name}}}, next: {nxt}}}")
    nodes.append("  - {id: end, type: end, name: 办结}")
    return f"key: {FLOW_KEY}\nname: 压测五级审批\nversion: 1\nnodes:\n" + "\n".join(nodes) + "\n"


class Run:
    """Every timestamp of one run (time.perf_counter, seconds), keyed by (instance, step)."""

    def __init__(self) -> None:
        self.card_at: dict[tuple[int, int], float] = {}
        self.press_at: dict[tuple[int, int], float] = {}
        self.ack_at: dict[tuple[int, int], float] = {}
        self.started_at: dict[int, float] = {}  # POST sent
        self.created_at: dict[int, float] = {}  # its 201 read
        self.done_at: dict[int, float] = {}
        self.waiters: dict[int, asyncio.Future[None]] = {}
        self.ack_errors: list[str] = []
        self.duplicate_cards = 0
        self.updates = 0  # message:update pushes (cards brought up to date)
        self.other_events = 0

    def finished(self, inst: int, t: float) -> None:
        self.done_at[inst] = t
        fut = self.waiters.pop(inst, None)
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def wait_done(self, inst: int, timeout: float) -> None:
        if inst in self.done_at:
            return
        fut = self.waiters.setdefault(inst, asyncio.get_running_loop().create_future())
        await asyncio.wait_for(fut, timeout)


class Approver:
    """One approver's connection: presses approve on each task card as it arrives."""

    def __init__(self, step: int, bench: dict[str, Run]) -> None:
        self.step = step
        self.bench = bench  # {"run": the current Run}: swapped after the warm-up
        self.conn: common.SioConn | None = None
        self.next_id = 0
        self.pending: dict[int, tuple[int, float]] = {}

    def on_event(self, conn: common.SioConn, p: bytes) -> None:
        run = self.bench["run"]
        if p.startswith(b'42["message:update"'):
            run.updates += 1
            return
        if not p.startswith(b'42["message",'):
            run.other_events += 1
            return
        now = time.perf_counter()
        msg = json.loads(p[2:])[1]
        card = msg.get("card") or {}
        data = card.get("data") or {}
        if msg.get("kind") != "card" or msg["sender"]["username"] != BOT or "task_id" not in data or data.get("urge"):
            run.other_events += 1
            return
        inst = int(data["instance_id"])
        key = (inst, self.step)
        if key in run.card_at:
            run.duplicate_cards += 1
            return
        run.card_at[key] = now
        self.next_id += 1
        mid = self.next_id
        self.pending[mid] = (inst, now)
        body = json.dumps(["card:action", {"message_id": msg["id"], "action": "approve", "comment": ""}], separators=(",", ":"))
        run.press_at[key] = time.perf_counter()
        conn.emit(b"42%d" % mid + body.encode())

    def on_ack(self, conn: common.SioConn, p: bytes) -> None:
        now = time.perf_counter()
        m = ACK.match(p)
        if m is None:
            return
        entry = self.pending.pop(int(m.group(1)), None)
        if entry is None:
            return
        inst, _ = entry
        run = self.bench["run"]
        if not p.startswith(b'[{"ok":true', m.end()):
            run.ack_errors.append(f"step {self.step} instance {inst}: {p[m.end():m.end() + 300].decode(errors='replace')}")
            return
        run.ack_at[(inst, self.step)] = now
        if self.step == STEPS:
            run.finished(inst, now)


PG_COUNTERS = ("xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted", "tup_updated", "tup_deleted")


async def pg_counters(url: str | None) -> dict[str, int] | None:
    """The database's own counts (pg_stat_database): transactions and rows. Backends
    report them at most once a second, so read them after a pause."""
    if url is None:
        return None
    import asyncpg

    conn = await asyncpg.connect(url.replace("+asyncpg", ""), timeout=5)
    try:
        row = await conn.fetchrow(f"SELECT {', '.join(PG_COUNTERS)} FROM pg_stat_database WHERE datname = current_database()")
        return dict(row)
    finally:
        await conn.close()


async def drive(hub: common.HubProcess, tokens: list[str], approvers: list[str], args: argparse.Namespace,
                pg_url: str | None = None) -> dict[str, Any]:
    import aiohttp

    bench = {"run": Run()}
    out: dict[str, Any] = {}
    async with aiohttp.ClientSession(hub.url, connector=aiohttp.TCPConnector(limit=args.concurrency + 4)) as http:
        r = await http.post("/api/v1/auth/login", json={"username": ADMIN, "password": ADMIN_PASSWORD, "session": "token"})
        if r.status != 200:
            raise RuntimeError(f"login: {r.status} {await r.text()}")
        auth = {"Authorization": f"Bearer {(await r.json())['token']}"}
        r = await http.post("/api/v1/flows", data=flow_yaml(approvers).encode(), headers=auth)
        if r.status not in (200, 201):
            raise RuntimeError(f"flow import: {r.status} {await r.text()}")
        people = [Approver(k, bench) for k in range(1, STEPS + 1)]
        for a, token in zip(people, tokens, strict=True):
            a.conn = await common.open_conn("127.0.0.1", hub.port, token, a.on_event, a.on_ack, args.deflate)
        seq = 0

        async def one(run: Run) -> int:
            nonlocal seq
            seq += 1
            body = {"title": f"压测申请 {seq}", "form": {"事由": "采购办公用品", "金额": 1000 + seq, "部门": "办公室"}}
            t = time.perf_counter()
            r = await http.post(f"/api/v1/flows/{FLOW_KEY}/instances", json=body, headers=auth)
            if r.status != 201:
                raise RuntimeError(f"start: {r.status} {await r.text()}")
            inst = int((await r.json())["instance"]["id"])
            run.started_at[inst] = t
            run.created_at[inst] = time.perf_counter()
            try:
                await run.wait_done(inst, args.timeout)
            except TimeoutError:
                pass  # counted as not finished
            return inst

        # warm-up: the bot's user and each approver's DM with it are made on first use
        for _ in range(args.warmup):
            await one(bench["run"])
        out["warmup"] = summarise(bench["run"], 0.0, 1.0)
        run = bench["run"] = Run()
        await asyncio.sleep(args.settle)  # the warm-up's card refreshes
        if pg_url is not None:
            await asyncio.sleep(1.5)  # backends report their counts at most once a second
        pg0 = await pg_counters(pg_url)
        todo = args.instances
        cpu0, wait0, main0, lg0 = hub.cpu(), hub.runqueue_wait(), hub.main_thread_cpu(), common.self_cpu()
        u0, s0 = hub.cpu_split()
        t0 = time.perf_counter()

        async def worker() -> None:
            nonlocal todo
            while todo > 0:
                todo -= 1
                await one(run)

        await asyncio.gather(*[worker() for _ in range(min(args.concurrency, args.instances))])
        t_end = max(run.done_at.values(), default=time.perf_counter())
        cpu1, wait1, main1, lg1 = hub.cpu(), hub.runqueue_wait(), hub.main_thread_cpu(), common.self_cpu()
        u1, s1 = hub.cpu_split()
        wall = time.perf_counter() - t0
        out.update(summarise(run, t0, t_end))
        out.update({
            "wall_s": wall,
            "server_cpu_s": cpu1 - cpu0,
            "server_cpu_user_s": u1 - u0,
            "server_cpu_sys_s": s1 - s0,
            "server_loop_thread_cpu_s": main1 - main0,
            "server_cpu_util": (cpu1 - cpu0) / max(1e-9, wall),
            "server_runqueue_wait_pct": (wait1 - wait0) / max(1e-9, wall) * 100,
            "server_ms_per_instance": (cpu1 - cpu0) / max(1, len(run.done_at)) * 1000,
            "loadgen_cpu_s": lg1 - lg0,
            "server_rss_mb": hub.rss_mb(),
            "server_peak_rss_mb": hub.peak_rss_mb(),
            "server_threads": hub.threads(),
            "load_avg": os.getloadavg(),
        })
        if pg_url is not None:  # the database's work per instance, the run's tail of card refreshes included
            await asyncio.sleep(args.settle + 1.5)
            pg1 = await pg_counters(pg_url)
            done = max(1, len(run.done_at))
            out["pg_per_instance"] = {k: (pg1[k] - pg0[k]) / done for k in PG_COUNTERS}
        # every instance read back, outside the measured window
        statuses: dict[str, int] = {}
        for inst in run.started_at:
            r = await http.get(f"/api/v1/flows/instances/{inst}", headers=auth)
            st = (await r.json())["instance"]["status"] if r.status == 200 else f"http {r.status}"
            statuses[st] = statuses.get(st, 0) + 1
        out["statuses"] = statuses
        await asyncio.sleep(args.settle)  # the last card refreshes, before the connections close
        out["card_updates_received"] = run.updates
        for a in people:
            a.conn.close()
    return out


def summarise(run: Run, t0: float, t_end: float) -> dict[str, Any]:
    next_card: list[float] = []
    press_next: list[float] = []
    per_step: dict[str, list[float]] = {}
    for (inst, k), t in run.card_at.items():
        if k == 1:
            continue
        ack = run.ack_at.get((inst, k - 1))
        if ack is not None:
            next_card.append((t - ack) * 1000)
            per_step.setdefault(f"{k - 1}->{k}", []).append((t - ack) * 1000)
        press = run.press_at.get((inst, k - 1))
        if press is not None:
            press_next.append((t - press) * 1000)
    first_card = [(run.card_at[(i, 1)] - c) * 1000 for i, c in run.created_at.items() if (i, 1) in run.card_at]
    start_rtt = [(run.created_at[i] - s) * 1000 for i, s in run.started_at.items()]
    acks = [(run.ack_at[key] - p) * 1000 for key, p in run.press_at.items() if key in run.ack_at]
    whole = [(run.done_at[i] - s) * 1000 for i, s in run.started_at.items() if i in run.done_at]
    done = len(run.done_at)
    span = max(1e-9, t_end - t0)
    return {
        "started": len(run.started_at),
        "finished": done,
        "span_s": span,
        "instances_per_s": done / span,
        "actions_per_s": len(run.ack_at) / span,
        "next_card_ms": summary(next_card),
        "next_card_by_step_ms": {k: summary(v) for k, v in sorted(per_step.items())},
        "next_card_before_ack": sum(1 for v in next_card if v < 0),
        "press_to_next_card_ms": summary(press_next),
        "first_card_ms": summary(first_card),
        "start_ms": summary(start_rtt),
        "ack_ms": summary(acks),
        "instance_ms": summary(whole),
        "ack_errors": len(run.ack_errors),
        "ack_error_samples": run.ack_errors[:5],
        "duplicate_cards": run.duplicate_cards,
        "missing_cards": len(run.started_at) * STEPS - len(run.card_at),
    }


def summary(values: list[float]) -> dict[str, float | None]:
    s = sorted(values)
    return {"p50": common.percentile(s, 50), "p90": common.percentile(s, 90), "p99": common.percentile(s, 99),
            "max": s[-1] if s else None, "n": len(s)}


def log_findings(path: Path) -> dict[str, Any]:
    """The hub runs at WARNING: every line it wrote is worth reading."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {"lines": 0}
    heads = [x for x in lines if " ERROR " in x or " WARNING " in x or x.startswith("Traceback") or "Error" in x[:80]]
    return {"lines": len(lines), "error_lines": sum(1 for x in lines if "ERROR" in x or x.startswith("Traceback")),
            "warning_lines": sum(1 for x in lines if "WARNING" in x), "first": heads[:10], "tail": lines[-20:]}


def run_database(database: str, args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="changtong-wf-"))
    hub = None
    pg_url = None
    env: dict[str, str] = {}
    try:
        t = time.monotonic()
        if database == "postgresql":
            pg_url = common.pg_create_database(args.pg)
            env["CHANGTONG_DATABASE_URL"] = pg_url
        seed = common.seed(tmp, STEPS, channel=False, env=env)  # bench000000 … bench000004, with tokens
        approvers = [f"bench{i:06d}" for i in range(STEPS)]
        subprocess.run(
            [str(common.BIN / "changtong"), "--data-dir", str(tmp), "user", "add", ADMIN, "--password", ADMIN_PASSWORD,
             "--display-name", "压测发起人", "--role", "admin"],
            check=True, cwd=common.ROOT, env=common._env(**env), stdout=subprocess.DEVNULL,
        )
        setup_s = time.monotonic() - t
        hub_env = dict(env)
        for kv in args.hub_env or []:
            k, v = kv.split("=", 1)
            hub_env[k] = v
        hub = common.HubProcess(tmp, env=hub_env)
        hub.wait_ready()
        if args.print_pid:
            print(f"hub pid {hub.pid}", flush=True)
        rss_idle = hub.rss_mb()
        loop = common.new_event_loop(not args.no_uvloop)
        try:
            out = loop.run_until_complete(drive(hub, [tok for _, tok in seed["users"]], approvers, args, pg_url))
        finally:
            loop.close()
        out["database"] = database
        out["setup_s"] = setup_s
        out["server_rss_idle_mb"] = rss_idle
        out["config"] = {"instances": args.instances, "concurrency": args.concurrency, "warmup": args.warmup,
                         "deflate": args.deflate, "hub_env": {k: v for k, v in hub_env.items() if k != "CHANGTONG_DATABASE_URL"}}
        return out
    except BaseException:
        if hub is not None:
            print(f"hub {hub.pid}: {'running' if hub.proc.poll() is None else f'exited with {hub.proc.returncode}'}; log tail:",
                  file=sys.stderr)
            with contextlib.suppress(OSError):
                print(hub.log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        if hub is not None:
            hub.stop()
            findings = log_findings(hub.log_path)
            if "out" in locals():
                out["hub_log"] = findings
        if args.keep:
            print(f"kept {tmp} (hub log in it){f'; database {pg_url}' if pg_url else ''}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            if pg_url is not None:
                common.pg_drop_database(pg_url)


def report(runs: list[dict[str, Any]]) -> str:
    headers = ["database", "inst", "conc", "inst/s", "actions/s", "next card p50", "p90", "p99", "max", "press→card p99",
               "1st card p50", "ack p50", "ack p99", "start p50", "start p99", "srv CPU%", "srv ms/inst", "srv wait%",
               "peak RSS MB", "approved", "errors"]
    rows = []
    for r in runs:
        n, a, s = r["next_card_ms"], r["ack_ms"], r["start_ms"]
        errors = r["ack_errors"] + r["missing_cards"] + r["duplicate_cards"]
        rows.append([r["database"], r["started"], r["config"]["concurrency"], r["instances_per_s"], r["actions_per_s"], n["p50"],
                     n["p90"], n["p99"], n["max"], r["press_to_next_card_ms"]["p99"], r["first_card_ms"]["p50"], a["p50"],
                     a["p99"], s["p50"], s["p99"], r["server_cpu_util"] * 100, r["server_ms_per_instance"],
                     r["server_runqueue_wait_pct"], r["server_peak_rss_mb"], r["statuses"].get("approved", 0), errors])
    return common.table(headers, rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--instances", type=int, default=200, help="instances to run through the flow (default 200)")
    p.add_argument("--concurrency", type=int, default=20, help="instances in flight (default 20)")
    p.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--pg", default=common.PG_SERVER, help=f"PostgreSQL server (default {common.PG_SERVER}; a fresh database per run)")
    p.add_argument("--warmup", type=int, default=1, help="instances run first and left out (default 1)")
    p.add_argument("--settle", type=float, default=1.0, help="seconds after the warm-up and after the run (card refreshes)")
    p.add_argument("--timeout", type=float, default=120, help="longest wait for one instance to end (s)")
    p.add_argument("--deflate", action=argparse.BooleanOptionalAction, default=True, help="offer permessage-deflate")
    p.add_argument("--no-uvloop", action="store_true", help="plain asyncio loop in the load generator")
    p.add_argument("--hub-env", action="append", help="KEY=VALUE for the hub process (repeatable)")
    p.add_argument("--print-pid", action="store_true", help="print the hub pid (to attach py-spy)")
    p.add_argument("--keep", action="store_true", help="keep the data directory (and the PostgreSQL database)")
    p.add_argument("--label", default="")
    args = p.parse_args()
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    runs: list[dict[str, Any]] = []
    for database in databases:
        try:
            r = run_database(database, args)
        except Exception as exc:  # noqa: BLE001 - keep what the other database measured
            print(f"{database} run failed: {exc}", file=sys.stderr)
            runs.append({"database": database, "failed": repr(exc)[:2000]})
            continue
        runs.append(r)
        print(report([r]), flush=True)
        log = r.get("hub_log", {})
        print(f"{database}: {r['finished']}/{r['started']} finished in {r['span_s']:.1f}s; statuses {r['statuses']}; hub CPU "
              f"{r['server_cpu_s']:.1f}s (user {r['server_cpu_user_s']:.1f} sys {r['server_cpu_sys_s']:.1f}, loop thread "
              f"{r['server_loop_thread_cpu_s']:.1f}); load generator {r['loadgen_cpu_s']:.1f}s; card updates pushed "
              f"{r['card_updates_received']}; next card before the ack {r['next_card_before_ack']}; hub log: "
              f"{log.get('error_lines', 0)} error / {log.get('warning_lines', 0)} warning lines; load {os.getloadavg()[0]:.1f}",
              flush=True)
        if "pg_per_instance" in r:
            print(f"{database}: per instance " + ", ".join(f"{k} {v:.1f}" for k, v in r["pg_per_instance"].items()), flush=True)
        for line in r["ack_error_samples"] + log.get("first", [])[:5]:
            print(f"  {line[:300]}", flush=True)
    changed = subprocess.run(["git", "status", "--porcelain", "--", "hub", "rooms", "bots"], cwd=common.ROOT,
                             capture_output=True, text=True, check=False).stdout.splitlines()
    path = common.write_result("workflows", {"label": args.label, "runs": runs, "load_avg_end": os.getloadavg(),
                                             "uncommitted_in_hub_rooms_bots": changed})
    done = [r for r in runs if "failed" not in r]
    if len(done) > 1:
        print()
        print(report(done))
    print(f"wrote {path.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
