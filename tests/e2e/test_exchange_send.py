"""发文 in the browser: two real hub processes as exchange nodes (a county and the city,
mutual TLS on loopback), a county clerk in Chromium uploads a Word file, checks the
fields (the missing ones outlined), fills one in, picks the city and sends; the tracking
card in 发文 moves to 已送达, and to 已签收 live when the city's clerk signs for it in
her own browser. Screenshots of every step (desktop 1280×800, phone 390×844) go to
tests/artifacts/exchange-*.png."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.exchange.test_exchange_nodes import Node, ca, pair  # noqa: F401 (the `ca` fixture)

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "web_client" / "dist"
ARTIFACTS = ROOT / "tests" / "artifacts"
SAMPLE = ROOT / "tests" / "exchange" / "samples" / "request-upward.docx"
PASSWORD = "desk-pass-2026"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TITLE = "利津县人民政府关于申请拨付防汛物资储备资金的请示"
UNMARKED = {"copy_no": "份号", "secrecy": "密级和保密期限", "cc": "抄送机关", "printed_by": "印发机关", "printed_date": "印发日期"}

pytestmark = pytest.mark.slow


class Clerk:
    """One person in one browser context against one node."""

    def __init__(self, browser, node: Node, username: str, viewport: dict) -> None:
        self.base = f"http://127.0.0.1:{node.port}"
        self.username = username
        self.context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
        self.context.set_default_timeout(20_000)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def login(self) -> None:
        self.page.goto(self.base + "/")
        self.page.get_by_label("用户名").fill(self.username)
        self.page.get_by_label("密码").fill(PASSWORD)
        self.page.get_by_role("button", name="登录").click()
        self.page.get_by_role("navigation", name="主导航").wait_for()

    def shot(self, name: str) -> None:
        self.page.wait_for_timeout(400)
        self.page.screenshot(path=str(ARTIFACTS / f"exchange-{name}.png"))

    def field(self, name: str):
        return self.page.locator(f'.fields [data-field="{name}"]')

    def upload(self, path: Path) -> None:
        chooser = self.page.locator('.exchange input[type="file"]')
        expect(chooser).to_be_enabled()  # disabled while an earlier upload is still being read
        chooser.set_input_files(str(path))

    def drop(self, path: Path, name: str = "") -> None:
        """Drag a file from the desktop onto the drop zone (a real DataTransfer with a File)."""
        data = base64.b64encode(path.read_bytes()).decode()
        transfer = self.page.evaluate_handle(
            """([b64, name]) => {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
                const dt = new DataTransfer()
                dt.items.add(new File([bytes], name))
                return dt
            }""",
            [data, name or path.name],
        )
        zone = self.page.locator(".exchange .el-upload-dragger")
        zone.dispatch_event("dragover", {"dataTransfer": transfer})
        zone.dispatch_event("drop", {"dataTransfer": transfer})

    def close(self) -> None:
        assert not self.dialogs, self.dialogs
        assert not self.errors, self.errors
        self.context.close()


def _in_thread(fn, *args):
    """Run `fn` off the main thread: sync Playwright keeps an event loop running there."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


@pytest.fixture
def county_and_city(ca, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Node, Node]]:
    """The county 垦利 (dy-kenli) and the city (dy-city) as exchange nodes with their clerks.
    The `nodes` fixture of the harness is async, which sync Playwright cannot share a
    thread with, so the same Node objects are made and stopped here."""
    if not (DIST / "index.html").exists():
        pytest.skip("web_client/dist is not built (cd web_client && npx vite build)")
    # The nodes serve a snapshot of the build: a rebuild during the test cannot pull assets away.
    web = tmp_path / "web"
    shutil.copytree(DIST, web)
    monkeypatch.setenv("CHANGTONG_WEB_DIR", str(web))
    made: list[Node] = []

    def setup() -> tuple[Node, Node]:
        city, kenli = Node(tmp_path, "dy-city", ca), Node(tmp_path, "dy-kenli", ca)
        made.extend((city, kenli))
        pair(city, kenli)
        for node in (city, kenli):
            node.cli("unit", "add", "dy-city", "东营市人民政府")
            node.cli("unit", "add", "dy-kenli", "垦利区人民政府", "--parent", "dy-city")
        kenli.cli("user", "add", "clerk", "--password", PASSWORD, "--display-name", "王收发", "--role", "clerk", "--unit", "dy-kenli")
        kenli.cli("user", "add", "staff", "--password", PASSWORD, "--display-name", "张科员", "--unit", "dy-kenli")
        city.cli("user", "add", "clerk", "--password", PASSWORD, "--display-name", "李收文", "--role", "clerk", "--unit", "dy-city")
        for node in (city, kenli):
            node.start()
        return kenli, city

    try:
        yield _in_thread(setup)
    finally:
        for n in made:
            n.stop()
            _in_thread(asyncio.run, n.db.close())


def test_a_clerk_sends_a_word_file_and_follows_the_receipts_live(browser, county_and_city) -> None:
    kenli, city = county_and_city
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    made: list[Clerk] = []

    def person(node: Node, username: str, viewport: dict = DESKTOP) -> Clerk:
        c = Clerk(browser, node, username, viewport)
        made.append(c)
        return c

    try:
        # Staff without the clerk's role do not see 发文, and the page says why.
        staff = person(kenli, "staff")
        staff.login()
        expect(staff.page.get_by_role("link", name="公文")).to_have_count(0)
        staff.page.goto(staff.base + "/desk/send")
        expect(staff.page.get_by_text("仅收发员和管理员可以发文")).to_be_visible()

        # ---- step 1: the county clerk picks a Word file; a broken one is refused with the hub's reason
        clerk = person(kenli, "clerk")
        clerk.login()
        page = clerk.page
        page.get_by_role("link", name="公文").click()
        expect(page.get_by_role("heading", name="发文")).to_be_visible()
        expect(page.get_by_text("将 .docx 文件拖到此处")).to_be_visible()
        clerk.shot("1-upload-desktop")
        broken = kenli.data.parent / "损坏的文件.docx"
        broken.write_bytes(b"this is not a zip file")
        clerk.upload(broken)
        error = page.locator(".upload-error")
        expect(error).to_contain_text("未能读取该文件：")
        clerk.shot("1-upload-error-desktop")
        old = kenli.data.parent / "旧格式.doc"
        old.write_bytes(b"\xd0\xcf\x11\xe0")
        clerk.upload(old)
        expect(error).to_contain_text("旧版 .doc / .wps 文件无法识别")  # refused before it is sent

        # ---- step 2: the fields; an unclassified 请示 without 版记 lacks nothing GB/T 9704
        # requires of it, so nothing is red: the optional parts it leaves out say 未标注
        clerk.upload(SAMPLE)
        expect(page.get_by_label("标题", exact=True)).to_have_value(TITLE)
        expect(page.get_by_role("alert").filter(has_text="必备要素齐全")).to_be_visible()
        expect(page.get_by_text("原文缺少")).to_have_count(0)
        expect(page.locator(".item.missing")).to_have_count(0)
        for name, label in UNMARKED.items():
            expect(clerk.field(name).locator(".flag.none")).to_have_text("未标注")
            expect(clerk.field(name)).not_to_contain_text(f"缺少：{label}")
        expect(clerk.field("kind")).to_contain_text("请示")
        expect(clerk.field("urgency")).to_contain_text("特急")
        expect(page.get_by_label("发文字号")).to_have_value("利政发〔2026〕8号")
        expect(clerk.field("to")).to_contain_text("东营市人民政府")
        expect(clerk.field("body")).to_contain_text("妥否，请批示。")
        clerk.shot("2-fields-desktop")
        page.get_by_label("印发机关").fill("利津县人民政府办公室")
        expect(clerk.field("printed_by").locator(".flag.none")).to_have_count(0)
        # a malformed date is caught next to its field before anything is sent
        page.get_by_label("印发日期").fill("2026-11-19")
        page.get_by_role("button", name="下一步").click()
        expect(clerk.field("printed_date")).to_contain_text("日期格式应如：2026年11月20日")
        page.get_by_label("印发日期").fill("2026年11月19日")
        clerk.field("printed_by").scroll_into_view_if_needed()
        clerk.shot("2-fields-filled-desktop")

        # ---- step 3: recipients from the units this node reaches
        page.get_by_role("button", name="下一步").click()
        expect(page.get_by_text(f"发送：{TITLE}")).to_be_visible()
        page.get_by_label("搜索单位名称或代码").fill("东营")
        unit = page.locator('.units [data-code="dy-city"]')
        expect(unit).to_contain_text("东营市人民政府")
        send = page.get_by_role("button", name="发送", exact=True)
        expect(send).to_be_disabled()
        unit.click()
        expect(page.get_by_text("已选 1 个单位")).to_be_visible()
        clerk.shot("3-recipients-desktop")
        send.click()

        # ---- the 发文 channel: the tracking card follows the city
        expect(page).to_have_url(re.compile(r"/chat/\d+$"))
        expect(page.get_by_role("heading", name="发文")).to_be_visible()
        card = page.locator("article.card").filter(has_text=TITLE).last
        expect(card).to_contain_text("利政发〔2026〕8号")
        expect(card).to_contain_text("东营市人民政府")
        expect(card.locator("dd").last).to_have_text("已送达", timeout=30_000)
        expect(card.locator(".status")).to_have_text("0/1 已签收")
        clerk.shot("4-tracking-delivered-desktop")

        # ---- at the city: the clerk signs for it in her own browser; the county sees it live
        city_clerk = person(city, "clerk")
        city_clerk.login()
        city_clerk.page.get_by_role("link", name="收文", exact=True).click()
        incoming = city_clerk.page.locator("article.card").filter(has_text=TITLE).last
        expect(incoming).to_contain_text("待签收")
        city_clerk.shot("5-city-incoming-desktop")
        incoming.get_by_role("button", name="签收").click()
        expect(incoming.locator(".status")).to_have_text("已签收")
        expect(card.locator("dd").last).to_have_text(re.compile(r"^已签收（.+ \d+月\d+日 \d\d:\d\d）$"), timeout=30_000)  # who signed, and when
        expect(card.locator(".status")).to_have_text("1/1 已签收")
        clerk.shot("6-tracking-signed-desktop")

        # ---- the same steps on a phone
        phone = person(kenli, "clerk", PHONE)
        phone.login()
        phone.page.get_by_role("link", name="公文").click()
        expect(phone.page.get_by_text("将 .docx 文件拖到此处")).to_be_visible()
        phone.shot("1-upload-phone")
        phone.drop(SAMPLE, "通知.doc")  # dragged, not picked: an old .doc is refused with advice
        expect(phone.page.locator(".upload-error")).to_contain_text("另存为 .docx")
        phone.shot("1-upload-old-doc-phone")
        phone.drop(SAMPLE)
        expect(phone.page.get_by_label("标题", exact=True)).to_have_value(TITLE)
        phone.shot("2-fields-phone")
        phone.field("printed_by").scroll_into_view_if_needed()
        phone.shot("2-fields-missing-phone")
        phone.page.get_by_role("button", name="下一步").click()
        phone.page.locator('.units [data-code="dy-city"]').click()
        phone.shot("3-recipients-phone")
        phone.page.get_by_role("button", name="上一步").click()
        expect(phone.page.get_by_label("印发机关")).to_be_visible()
        # the tracking card on the phone
        phone.page.get_by_role("link", name="消息").click()
        phone.page.get_by_role("link", name="发文", exact=True).click()
        phone_card = phone.page.locator("article.card").filter(has_text=TITLE).last
        expect(phone_card.locator(".status")).to_have_text("1/1 已签收")
        phone.shot("6-tracking-phone")
    finally:
        for c in made:
            c.close()
