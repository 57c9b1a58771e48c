"""End-to-end fixtures: a real `changtong serve --demo` subprocess on a free port with its
own data directory, serving the built web client, and Debian's Chromium driven by
Playwright (never a browser Playwright downloads). Screenshots go to tests/artifacts/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "web_client" / "dist" / "index.html"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "changtong"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not DIST.exists():
        pytest.skip("web_client/dist is not built (make web)")
    data = tmp_path_factory.mktemp("e2e-hub")
    port = free_port()
    exe = Path(sys.executable).parent / "changtong"
    env = {**os.environ, "CHANGTONG_LOG_LEVEL": "WARNING"}
    log = open(data / "hub.log", "wb")
    proc = subprocess.Popen(
        [str(exe), "--data-dir", str(data), "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the hub did not start:\n" + (data / "hub.log").read_text(errors="replace"))
        time.sleep(0.3)
    yield base
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def api(base: str, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def token_for(base: str, username: str) -> str:
    return api(base, "POST", "/api/v1/auth/login", {"username": username, "password": PASSWORD})["token"]


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":  # in CI nothing may skip
        pytest.fail(what)
    pytest.skip(what)


# Module scope, not session: sync Playwright runs an event loop in this thread while it
# is open, and the rest of the suite (asyncio.run in CLI tests, async fixtures) needs
# that loop gone once the browser tests are done.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        _missing("Debian's chromium is not installed (bash tests/e2e/browser.sh)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


class Person:
    """One user in one browser context (its own cookies and IndexedDB)."""

    def __init__(self, browser, base: str, username: str, viewport: dict = DESKTOP, name: str = ""):
        self.username = username
        self.name = name or username
        self.base = base
        self.context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai", accept_downloads=True)
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def on_dialog(d) -> None:  # an alert() would mean injected script ran
            self.dialogs.append(d.message)
            d.dismiss()

        self.page.on("dialog", on_dialog)
        if os.environ.get("CT_E2E_WS"):  # debugging: print the Socket.IO frames
            def ws(w) -> None:
                w.on("framesent", lambda f: print(username, ">>", str(f)[:200]))
                w.on("framereceived", lambda f: print(username, "<<", str(f)[:200]))
            self.page.on("websocket", ws)

    def login(self) -> None:
        page = self.page
        page.goto(self.base + "/")
        page.get_by_label("用户名").fill(self.username)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.get_by_role("navigation", name="主导航").wait_for()

    def open_channel(self, name: str) -> None:
        self.page.get_by_role("link", name=name, exact=True).click()
        self.page.get_by_role("heading", name=name).wait_for()

    def send(self, text: str) -> None:
        box = self.page.get_by_label("输入消息")
        box.fill(text)
        box.press("Enter")

    def bubble_texts(self) -> list[str]:
        return self.page.locator(".messages .msg .bubble, .messages .pending .bubble").all_inner_texts()

    def shot(self, name: str) -> None:
        self.page.wait_for_timeout(300)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def people(browser, hub):
    made: list[Person] = []

    def make(username: str, viewport: dict = DESKTOP) -> Person:
        p = Person(browser, hub, username, viewport)
        made.append(p)
        return p

    yield make
    for p in made:
        assert not p.dialogs, f"a dialog opened for {p.username}: {p.dialogs}"
        p.close()
