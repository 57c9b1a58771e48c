"""What a clerk sees of bots and refusals in the browser: a webhook's message with the
机器人 badge, a slash command's answer from its bot, and a message too large to send
shown as failed with 编辑 / 删除 (never sent again). Desktop and phone width."""

from __future__ import annotations

import asyncio
import concurrent.futures

import pytest
import socketio
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, PHONE, api, token_for

pytestmark = pytest.mark.slow
TALK = "全市工作交流"


def _channel_id(base: str, token: str, name: str) -> int:
    async def listed() -> dict:
        sio = socketio.AsyncClient()
        await sio.connect(base, auth={"token": token}, transports=["websocket"])
        try:
            return await sio.call("channel:list", {})
        finally:
            await sio.disconnect()

    # in a thread of its own: sync Playwright keeps an event loop in this one
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        channels = pool.submit(asyncio.run, listed()).result()["channels"]
    return next(c["id"] for c in channels if c["name"] == name)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_webhook_message_carries_the_bot_badge_and_a_refused_text_waits_to_be_edited(people, hub, viewport):
    admin = token_for(hub, "admin")
    cid = _channel_id(hub, admin, TALK)
    hook = api(hub, "POST", f"/api/v1/channels/{cid}/webhooks", {"name": "数据中心告警"}, token=admin)["webhook"]
    text = f"东营数据中心 CPU 负载 92%（{viewport['width']}）"
    api(hub, "POST", hook["url"], {"text": text})

    who = people("wangjianguo", viewport)
    who.login()
    if viewport is PHONE:
        who.page.get_by_role("link", name=TALK, exact=True).click()
    else:
        who.open_channel(TALK)
    row = who.page.locator(".msg", has_text=text)
    expect(row).to_be_visible()
    expect(row.locator(".bot-badge")).to_have_text("机器人")
    expect(row).to_contain_text("数据中心告警")
    who.shot(f"bot-badge-{viewport['width']}")

    # a pasted text far over the limit is refused before it is sent, and waits to be edited
    pasted = "长" * 100_000
    box = who.page.get_by_label("输入消息")
    box.fill(pasted)
    box.press("Enter")
    failed = who.page.locator(".pending.failed")
    expect(failed).to_contain_text("内容过大")
    expect(failed.get_by_role("button", name="编辑")).to_be_visible()
    expect(failed.get_by_role("button", name="重试")).to_have_count(0)
    who.shot(f"too-large-{viewport['width']}")
    failed.get_by_role("button", name="编辑").click()
    expect(who.page.locator(".pending.failed")).to_have_count(0)
    assert len(box.input_value()) == 100_000
    box.fill("")
    assert not who.errors, who.errors


def test_a_slash_command_is_answered_by_its_bot(people, hub):
    who = people("lihaiyan")
    who.login()
    who.open_channel(TALK)
    who.send("/nosuch 参数")
    expect(who.page.get_by_role("alert")).to_contain_text("没有 /nosuch 这个命令")
    assert who.page.get_by_label("输入消息").input_value() == "/nosuch 参数"  # kept to fix
    who.shot("slash-command-unknown")
