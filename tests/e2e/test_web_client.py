"""The browser client end to end: two people in two browser contexts against a real hub.

Every test saves screenshots under tests/artifacts/ (desktop 1280×800, phone 390×844)."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.slow

EVIL = "<img src=x onerror=alert(1)>"
TALK = "全市工作交流"
NOTICE = "通知公告"


def tag() -> str:
    return uuid.uuid4().hex[:6]


def test_two_people_chat_share_a_file_and_see_each_other_online(people, tmp_path):
    alice = people("wangjianguo")  # 王建国
    bob = people("lihaiyan")  # 李海燕
    alice.login()
    alice.shot("desktop-chat")

    # 通讯录: search by pinyin initials; 李海燕 is offline until she signs in
    alice.page.get_by_role("link", name="通讯录").click()
    alice.page.get_by_label("搜索姓名或拼音首字母").fill("lhy")
    person = alice.page.get_by_role("button", name="李海燕")
    expect(person).to_contain_text("离线")
    bob.login()
    expect(person).to_contain_text("在线")  # a presence push, no reload
    expect(alice.page.get_by_text("全市在线人员")).to_be_visible()
    alice.shot("desktop-directory")

    # open a DM from the directory
    person.click()
    alice.page.get_by_role("button", name="发消息").click()
    expect(alice.page.get_by_role("heading", name="李海燕")).to_be_visible()
    expect(alice.page.locator(".pane-head .subtitle")).to_have_text("在线")
    hello = f"海燕你好，请报送材料 {tag()}"
    alice.send(hello)

    # Bob gets the DM in his rail with an unread badge, and the count in the page title
    expect(bob.page.locator(".rail-item", has_text="王建国").locator(".badge")).to_have_text("1")
    expect(bob.page).to_have_title(re.compile(r"^\(\d+\) 畅通$"))
    # he reads it and answers
    bob.page.get_by_role("link", name="王建国", exact=True).click()
    expect(bob.page.locator(".messages")).to_contain_text(hello)
    expect(bob.page.locator(".pane-head .subtitle")).to_have_text("在线")
    answer = f"收到，马上报送 {tag()}"
    bob.send(answer)
    expect(alice.page.locator(".messages")).to_contain_text(answer)
    # read receipts on one's own message in a small channel
    expect(alice.page.locator(".messages .msg.mine .receipt").first).to_have_text("已读")

    # @mention autocomplete, and an @ badge in the other's rail
    alice.open_channel(TALK)
    box = alice.page.get_by_label("输入消息")
    box.fill("请 ")
    box.type("@lih")
    option = alice.page.get_by_role("option", name=re.compile("李海燕"))
    expect(option).to_be_visible()
    box.press("Enter")
    expect(box).to_have_value("请 @lihaiyan ")
    box.type("看一下汛情通报")
    box.press("Enter")
    expect(alice.page.locator(".messages .mention").last).to_have_text("@lihaiyan")
    expect(bob.page.locator(".rail-item", has_text=TALK).locator(".badge.at")).to_be_visible()
    alice.page.get_by_role("link", name="李海燕", exact=True).click()

    # Shift+Enter makes a new line, Enter sends
    box = alice.page.get_by_label("输入消息")
    box.fill("第一行")
    box.press("Shift+Enter")
    box.type("第二行")
    expect(box).to_have_value("第一行\n第二行")
    box.press("Enter")
    expect(bob.page.locator(".messages")).to_contain_text("第二行")

    # share a file; the other side downloads it
    name = f"汛期值班表-{tag()}.txt"
    content = "值班：王建国 12月1日\n".encode()
    alice.page.locator(".composer input[type=file]").set_input_files(files=[{"name": name, "mimeType": "text/plain", "buffer": content}])
    expect(alice.page.locator(".messages .file-name", has_text=name)).to_be_visible()
    expect(bob.page.locator(".messages .file-name", has_text=name)).to_be_visible()
    with bob.page.expect_download() as dl:
        bob.page.get_by_role("link", name=f"下载 {name}").click()
    path = tmp_path / "got.txt"
    dl.value.save_as(path)
    assert path.read_bytes() == content
    assert dl.value.suggested_filename == name

    # every message once, in order, on both sides
    for p in (alice, bob):
        texts = p.bubble_texts()
        assert sum(hello in t for t in texts) == 1
        assert sum(answer in t for t in texts) == 1
        assert [i for i, t in enumerate(texts) if hello in t][0] < [i for i, t in enumerate(texts) if answer in t][0]
    alice.shot("desktop-dm")
    assert not alice.errors and not bob.errors


def test_offline_messages_are_kept_and_sent_once_in_order(people):
    alice = people("wangjianguo")
    bob = people("lihaiyan")
    alice.login()
    bob.login()
    alice.open_channel(TALK)
    bob.open_channel(TALK)
    t = tag()
    before = f"离线前 {t}"
    alice.send(before)
    expect(bob.page.locator(".messages")).to_contain_text(before)
    to_edit, to_recall = f"待修改 {t}", f"待撤回 {t}"
    bob.send(to_edit)
    bob.send(to_recall)
    expect(alice.page.locator(".messages")).to_contain_text(to_recall)

    alice.context.set_offline(True)
    expect(alice.page.get_by_role("status").filter(has_text="网络已断开")).to_be_visible()
    first, second = f"离线一 {t}", f"离线二 {t}"
    alice.send(first)
    alice.send(second)
    expect(alice.page.locator(".messages .pending")).to_have_count(2)
    expect(alice.page.locator(".messages .pending").first).to_contain_text("等待网络")
    meanwhile = f"与此同时 {t}"
    bob.send(meanwhile)
    expect(bob.page.locator(".messages")).to_contain_text(meanwhile)
    # Bob edits one message and recalls another while Alice cannot hear it
    mid = bob.page.locator(".messages .msg.mine", has_text=to_edit).get_attribute("data-message-id")
    row = bob.page.locator(f".messages .msg[data-message-id='{mid}']")
    row.hover()
    row.get_by_role("button", name="编辑").click()
    edit_box = row.get_by_label("编辑")
    edit_box.fill(f"已修改 {t}")
    edit_box.press("Enter")
    expect(bob.page.locator(".messages")).to_contain_text(f"已修改 {t}")
    row = bob.page.locator(".messages .msg.mine", has_text=to_recall)
    row.hover()
    row.get_by_role("button", name="撤回").click()
    bob.page.get_by_role("button", name="确定").click()
    expect(bob.page.locator(".messages")).to_contain_text("你撤回了一条消息")
    alice.shot("desktop-offline")

    alice.context.set_offline(False)
    expect(alice.page.locator(".messages .pending")).to_have_count(0, timeout=30_000)
    expect(alice.page.get_by_text("网络已断开")).to_have_count(0)
    for p in (alice, bob):
        expect(p.page.locator(".messages")).to_contain_text(second, timeout=20_000)
        expect(p.page.locator(".messages")).to_contain_text(meanwhile)
        texts = [x for x in p.bubble_texts() if t in x]
        assert texts == [before, f"已修改 {t}(已编辑)", meanwhile, first, second], (p.username, texts)
    expect(alice.page.locator(".messages")).to_contain_text("李海燕 撤回了一条消息")
    assert to_recall not in alice.page.locator(".messages").inner_text()

    # a reload shows the same, once each
    alice.page.reload()
    expect(alice.page.locator(".messages")).to_contain_text(second)
    alice.page.wait_for_timeout(1000)
    assert [x for x in alice.bubble_texts() if t in x] == [before, f"已修改 {t}(已编辑)", meanwhile, first, second]


def test_user_text_never_runs_as_html(people):
    alice = people("wangjianguo")
    alice.login()
    page = alice.page
    page.get_by_role("button", name="新建频道").click()
    page.get_by_label("频道名称").fill(f"{EVIL}{tag()}")
    page.get_by_role("button", name="创建").click()
    heading = page.locator(".pane-head .title")
    expect(heading).to_contain_text(EVIL)
    expect(page.locator(".rail-item.active")).to_contain_text(EVIL)
    alice.send(f"看这里 {EVIL} <b>粗体</b> <script>alert(2)</script>")
    expect(page.locator(".messages")).to_contain_text(EVIL)
    page.locator(".composer input[type=file]").set_input_files(
        files=[{"name": f"{EVIL}.txt", "mimeType": "text/plain", "buffer": b"x"}]
    )
    expect(page.locator(".messages .file-name", has_text=EVIL)).to_be_visible()
    page.wait_for_timeout(500)
    assert page.locator("img[src='x']").count() == 0
    assert page.locator(".messages b, .messages script").count() == 0
    assert page.evaluate("document.cookie").find("ct_session") == -1  # the session is HttpOnly
    alice.shot("desktop-escaping")
    assert not alice.dialogs and not alice.errors


def test_a_card_button_updates_the_card_for_both(people):
    alice = people("wangjianguo")
    bob = people("lihaiyan")
    alice.login()
    bob.login()
    alice.open_channel(NOTICE)
    bob.open_channel(NOTICE)
    title = "关于做好岁末年初安全生产工作的通知"
    a_card = alice.page.get_by_role("article", name=title)
    b_card = bob.page.get_by_role("article", name=title)
    expect(a_card).to_be_visible()
    expect(b_card).to_contain_text("0人已阅")
    a_card.get_by_role("button", name="已阅").click()
    expect(a_card).to_contain_text("1人已阅")
    expect(b_card).to_contain_text("1人已阅")  # message:update, in place
    expect(b_card).to_contain_text("王建国")
    b_card.get_by_role("button", name="已阅").click()
    expect(a_card).to_contain_text("2人已阅")
    expect(b_card).to_contain_text("2人已阅")
    assert alice.page.get_by_role("article", name=title).count() == 1
    alice.shot("desktop-card")


def test_phone_layout(people):
    phone = people("wangjianguo", PHONE)
    page = phone.page
    page.goto(phone.base + "/")
    phone.shot("phone-login")
    phone.login()
    nav = page.get_by_role("navigation", name="主导航")
    for label in ("消息", "通讯录", "待办", "视频"):
        expect(nav.get_by_role("link", name=label)).to_be_visible()
    box = nav.bounding_box()
    assert box and box["y"] > 700, "the main navigation sits at the bottom on a phone"
    phone.shot("phone-rail")
    phone.open_channel(TALK)
    expect(page.get_by_role("link", name=TALK, exact=True)).to_be_hidden()  # the pane replaces the rail
    text = f"手机发送 {tag()}"
    phone.send(text)
    expect(page.locator(".messages .msg.mine").last).to_contain_text(text)
    composer = page.get_by_role("button", name="发送", exact=True).bounding_box()
    assert composer and composer["x"] + composer["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.shot("phone-channel")
    page.get_by_role("button", name="返回").click()
    expect(page.get_by_role("link", name=TALK, exact=True)).to_be_visible()
    nav.get_by_role("link", name="通讯录").click()
    expect(page.get_by_text("全市在线人员")).to_be_visible()
    page.wait_for_timeout(500)
    phone.shot("phone-directory")
    for name, shot in (("待办", "phone-todo"), ("视频", "phone-video")):
        nav.get_by_role("link", name=name).click()
        page.wait_for_timeout(400)
        phone.shot(shot)
    nav.get_by_role("link", name="个人资料").click()
    expect(page.get_by_role("heading", name="修改密码")).to_be_visible()
    phone.shot("phone-profile")
    assert not phone.errors


def test_desktop_screens(people):
    p = people("lihaiyan")
    page = p.page
    page.goto(p.base + "/")
    page.get_by_label("用户名").fill("lihaiyan")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_contain_text(re.compile("错误|失败"))  # the server's sentence
    p.shot("desktop-login-error")
    p.login()
    p.open_channel(TALK)
    p.shot("desktop-channel")
    first = page.locator(".messages .msg").first
    first.hover()
    first.get_by_role("button", name="回复").click()
    expect(page.get_by_role("complementary", name="话题回复")).to_be_visible()
    p.shot("desktop-thread")
    page.get_by_role("button", name="关闭").click()
    for name, shot in (("通讯录", "desktop-directory-tree"), ("待办", "desktop-todo"), ("视频", "desktop-video")):
        page.get_by_role("navigation", name="主导航").get_by_role("link", name=name).click()
        page.wait_for_timeout(500)
        p.shot(shot)
    # personal contacts (REST writes carry the CSRF token)
    nav = page.get_by_role("navigation", name="主导航")
    nav.get_by_role("link", name="通讯录").click()
    page.get_by_label("搜索姓名或拼音首字母").fill("wjg")
    page.get_by_role("button", name="王建国").click()
    page.get_by_role("button", name="加为常用联系人").click()
    expect(page.get_by_text("已添加")).to_be_visible()
    page.keyboard.press("Escape")
    page.get_by_role("tab", name="常用联系人").click()
    expect(page.locator(".contacts .person", has_text="王建国")).to_be_visible()
    p.shot("desktop-contacts")
    page.get_by_role("link", name="个人资料").click()
    expect(page.get_by_role("heading", name="修改密码")).to_be_visible()
    page.get_by_label("电话").fill("0546-8888888")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("已保存")).to_be_visible()
    p.shot("desktop-profile")
    assert not p.errors


def test_a_reload_while_cut_off_loses_nothing(people):
    """The hub's socket unreachable (the page itself still loads): what was typed waits in
    IndexedDB through a reload and goes out once when the socket comes back."""
    alice = people("wangjianguo")
    alice.login()
    alice.open_channel(TALK)
    blocked = {"on": True}

    def route(ws) -> None:
        if blocked["on"]:
            ws.close()
        else:
            ws.connect_to_server()

    alice.context.route_web_socket(re.compile(r".*/socket\.io/.*"), route)
    alice.page.reload()
    expect(alice.page.get_by_role("status").filter(has_text="网络已断开")).to_be_visible(timeout=20_000)
    t = tag()
    alice.page.get_by_role("link", name=TALK, exact=True).click()
    alice.send(f"断线一 {t}")
    alice.send(f"断线二 {t}")
    expect(alice.page.locator(".messages .pending")).to_have_count(2)
    alice.page.reload()  # the outbox is in IndexedDB, not in memory
    alice.page.get_by_role("link", name=TALK, exact=True).click()
    expect(alice.page.locator(".messages .pending")).to_have_count(2)
    expect(alice.page.locator(".messages .pending").first).to_contain_text("等待网络")
    blocked["on"] = False
    expect(alice.page.locator(".messages .pending")).to_have_count(0, timeout=30_000)
    alice.page.wait_for_timeout(500)
    assert [x for x in alice.bubble_texts() if t in x] == [f"断线一 {t}", f"断线二 {t}"]
    bob = people("lihaiyan")
    bob.login()
    bob.open_channel(TALK)
    expect(bob.page.locator(".messages")).to_contain_text(f"断线二 {t}")
    assert [x for x in bob.bubble_texts() if t in x] == [f"断线一 {t}", f"断线二 {t}"]
