"""The browser client's weight and speed, in Debian's Chromium driven by Playwright.

    .venv/bin/python bench/web_client.py [--messages 10000] [--switches 10]

1. A hub with the demo data starts as a subprocess (its own data directory; the per-
   connection event limit raised for seeding) and serves web_client/dist (run `make web`).
2. One channel gets --messages messages through `message:send` (python-socketio, a few
   connections in parallel).
3. First screen: the JavaScript the login page and then the chat screen fetch, gzipped
   here (level 6, as a server would), against the 400 KB budget.
4. The big channel: time from the click in the rail to its newest message on screen;
   scrolling back through all of its history (pages of 200) with the number of rows in
   the DOM (the list renders only what is visible) and long tasks seen meanwhile.
5. Channel switching: away to a small channel and back, --switches times; back to the big
   channel shows the cached messages at once (time from the click to its newest message
   painted). Also the first open after a reload (from IndexedDB).

Prints a table and writes bench/results/web_client-<time>.json. Never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, ROOT, free_port, summary_ms, table, write_result  # noqa: E402

DIST = ROOT / "web_client" / "dist"
BUDGET_KB = 400
BIG = "压测大频道"
SMALL = "全市工作交流"


def start_hub(data: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANGTONG_")}
    env.update(CHANGTONG_LOG_LEVEL="WARNING", CHANGTONG_EVENTS_PER_SECOND="100000")
    log = open(data / "hub.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([str(BIN / "changtong"), "--data-dir", str(data), "serve", "--demo", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1):
                return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError((data / "hub.log").read_text())


def login_token(base: str, username: str) -> str:
    req = urllib.request.Request(base + "/api/v1/auth/login", method="POST",
                                 data=json.dumps({"username": username, "password": "changtong"}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())["token"]


async def seed(base: str, n: int, conns: int = 8) -> dict:
    import socketio

    token = login_token(base, "admin")
    clients = []
    for _ in range(conns):
        c = socketio.AsyncClient()
        await c.connect(base, auth={"token": token}, transports=["websocket"])
        clients.append(c)
    ack = await clients[0].call("channel:create", {"name": BIG, "kind": "public"})
    cid = ack["channel"]["id"]
    t0 = time.perf_counter()
    counter = iter(range(n))
    last = {"id": 0, "seq": 0}

    async def worker(c: socketio.AsyncClient) -> None:
        for i in counter:
            a = await c.call("message:send", {"channel_id": cid, "client_msg_id": f"bench-web-{i}",
                                              "text": f"第{i + 1}条压测消息：请各单位按时报送汛期值班安排。" + ("补充说明。" * (i % 4))})
            m = a["message"]
            if m["seq"] > last["seq"]:
                last.update(id=m["id"], seq=m["seq"])

    await asyncio.gather(*(worker(c) for c in clients))
    took = time.perf_counter() - t0
    for c in clients:
        await c.disconnect()
    return {"channel_id": cid, "last_id": last["id"], "seed_seconds": round(took, 1)}


WAIT_NEWEST = """async ({name, key}) => {
  const t0 = performance.now()
  const link = [...document.querySelectorAll('.rail-item')].find(a => a.getAttribute('aria-label') === name)
  link.click()
  await new Promise(resolve => {
    const check = () => {
      const title = document.querySelector('.pane-head .title')
      if (title && title.textContent === name && (!key || document.querySelector(`[data-key="${key}"] .bubble`))) resolve()
      else requestAnimationFrame(check)
    }
    check()
  })
  await new Promise(r => requestAnimationFrame(() => r()))
  return performance.now() - t0
}"""

SCROLL_ALL = """async () => {
  const list = document.querySelector('.messages')
  const longTasks = []
  const obs = new PerformanceObserver(l => l.getEntries().forEach(e => longTasks.push(e.duration)))
  try { obs.observe({ type: 'longtask', buffered: false }) } catch (e) {}
  let maxRows = 0, steps = 0
  const t0 = performance.now()
  while (!document.querySelector('.top-row')?.textContent.includes('已经到顶了') && performance.now() - t0 < 240000) {
    list.scrollTop = Math.max(0, list.scrollTop - 2400)
    steps++
    await new Promise(r => setTimeout(r, 16))
    maxRows = Math.max(maxRows, document.querySelectorAll('.vlist-row').length)
  }
  list.scrollTop = 0
  await new Promise(r => setTimeout(r, 200))
  const first = document.querySelector('.vlist-row[data-key^="m"] .bubble')?.textContent || ''
  obs.disconnect()
  return { ms: performance.now() - t0, steps, maxRows, first, longTasks, rowsLoaded: document.querySelector('.vlist-space').style.height }
}"""


SCROLL_FRAMES = """async () => {
  // all history loaded: scroll down through it 600 px a frame, timing every frame
  const list = document.querySelector('.messages')
  list.scrollTop = 0
  await new Promise(r => setTimeout(r, 300))
  const frames = []
  let last = performance.now()
  while (list.scrollTop + list.clientHeight < list.scrollHeight - 2 && frames.length < 3000) {
    list.scrollTop += 600
    await new Promise(r => requestAnimationFrame(() => r()))
    const now = performance.now()
    frames.push(now - last)
    last = now
  }
  return frames
}"""


def run_browser(base: str, info: dict, switches: int) -> dict:
    from playwright.sync_api import sync_playwright

    out: dict = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=["--no-sandbox"])
        ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        page = ctx.new_page()
        scripts: dict[str, int] = {}

        def on_response(r) -> None:
            if r.request.resource_type == "script" and r.ok:
                try:
                    scripts[r.url] = len(gzip.compress(r.body(), 6))
                except Exception:  # noqa: BLE001
                    pass

        page.on("response", on_response)
        page.goto(base + "/", wait_until="networkidle")
        login_js = dict(scripts)
        page.get_by_label("用户名").fill("admin")
        page.get_by_label("密码").fill("changtong")
        page.get_by_role("button", name="登录").click()
        page.get_by_role("navigation", name="主导航").wait_for()
        page.wait_for_load_state("networkidle")
        out["first_screen_js_gz_kb"] = round(sum(login_js.values()) / 1024, 1)
        out["chat_screen_js_gz_kb"] = round(sum(scripts.values()) / 1024, 1)
        out["first_screen_js_files"] = len(login_js)

        page.get_by_role("link", name=BIG, exact=True).wait_for()
        newest = f"m{info['last_id']}"
        out["open_big_ms"] = round(page.evaluate(WAIT_NEWEST, {"name": BIG, "key": newest}), 1)
        scroll = page.evaluate(SCROLL_ALL)
        out["scroll_all_history_s"] = round(scroll["ms"] / 1000, 1)
        out["scroll_steps"] = scroll["steps"]
        out["max_rows_in_dom"] = scroll["maxRows"]
        out["reached_first_message"] = scroll["first"].startswith("第1条")
        out["long_tasks"] = len(scroll["longTasks"])
        out["long_task_max_ms"] = round(max(scroll["longTasks"], default=0), 1)
        frames = page.evaluate(SCROLL_FRAMES)
        out["scroll_frame_ms"] = summary_ms(frames)
        out["scroll_frames_over_50ms"] = sum(1 for f in frames if f > 50)
        page.evaluate("document.querySelector('.messages').scrollTop = 1e9")

        to_big, to_small = [], []
        for _ in range(switches):
            to_small.append(page.evaluate(WAIT_NEWEST, {"name": SMALL, "key": ""}))
            to_big.append(page.evaluate(WAIT_NEWEST, {"name": BIG, "key": newest}))
        out["switch_to_big_ms"] = summary_ms(to_big)
        out["switch_to_small_ms"] = summary_ms(to_small)

        page.get_by_role("link", name=SMALL, exact=True).click()
        page.wait_for_timeout(1500)  # the cache is written in the background
        page.reload()
        page.get_by_role("link", name=BIG, exact=True).wait_for()
        out["open_big_after_reload_ms"] = round(page.evaluate(WAIT_NEWEST, {"name": BIG, "key": newest}), 1)
        browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--switches", type=int, default=10)
    args = ap.parse_args()
    if not (DIST / "index.html").exists():
        sys.exit("web_client/dist is not built: run `make web`")
    data = Path(tempfile.mkdtemp(prefix="ct-bench-web-"))
    proc, base = start_hub(data)
    try:
        info = asyncio.run(seed(base, args.messages))
        res = run_browser(base, info, args.switches)
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(data, ignore_errors=True)
    rows = [
        ["first screen JS (login), gzip KB", res["first_screen_js_gz_kb"], f"budget {BUDGET_KB}"],
        ["chat screen JS after login, gzip KB", res["chat_screen_js_gz_kb"], ""],
        [f"open a {args.messages}-message channel, ms", res["open_big_ms"], "click → newest painted"],
        ["scroll back through all history, s", res["scroll_all_history_s"], f"{res['scroll_steps']} steps; first reached: {res['reached_first_message']}"],
        ["rows in the DOM at most", res["max_rows_in_dom"], "virtual list"],
        ["frame while scrolling loaded history, p50 ms", res["scroll_frame_ms"]["p50"],
         f"p95 {res['scroll_frame_ms']['p95']:.1f}; {res['scroll_frames_over_50ms']} of {res['scroll_frame_ms']['n']} over 50 ms"],
        ["long tasks while loading all history", res["long_tasks"], f"max {res['long_task_max_ms']} ms"],
        ["switch back to it (cached), p50 ms", res["switch_to_big_ms"]["p50"], f"p95 {res['switch_to_big_ms']['p95']:.1f}"],
        ["switch to a small channel, p50 ms", res["switch_to_small_ms"]["p50"], f"p95 {res['switch_to_small_ms']['p95']:.1f}"],
        ["open it after a reload (IndexedDB), ms", res["open_big_after_reload_ms"], ""],
    ]
    print(table(["measure", "value", "note"], rows))
    load = os.getloadavg()
    print(f"\nload average during the run: {load[0]:.1f} on {os.cpu_count()} cores (times scale with it)")
    path = write_result("web_client", {"params": vars(args), "seed": info, "results": res, "budget_kb": BUDGET_KB,
                                       "loadavg": load})
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
