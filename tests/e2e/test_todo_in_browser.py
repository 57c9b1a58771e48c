"""A 请假 in the browser, as two clerks live it: 李海燕 starts it from 待办 and, opening
it, sees it wait for her leader and presses 催办; her unit's leader 王建国 finds it in
his 待办 with the 催办 card beside it, opens it in 流程助手, presses 同意 with an
opinion, and 李海燕's 我发起的 shows it approved, its 流转记录 with his opinion.
Desktop and phone width."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, PHONE

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_leave_request_is_started_approved_in_chat_and_shown_approved(people, viewport):
    title = f"12月8日至10日请假 {uuid.uuid4().hex[:4]}"
    clerk = people("lihaiyan", viewport)
    leader = people("wangjianguo", viewport)
    clerk.login()
    clerk.page.get_by_role("link", name="待办").click()
    clerk.page.get_by_role("button", name="发起流程").click()
    clerk.page.locator(".start .el-select").click()  # the select's box (its input sits under the placeholder)
    clerk.page.get_by_role("option", name="请假").click()
    clerk.page.get_by_label("标题，例如：12月8日至10日请假").fill(title)
    clerk.page.get_by_label("说明（可选）").fill("回老家办理户口")
    clerk.page.get_by_role("button", name="提交").click()
    expect(clerk.page.get_by_role("status")).to_contain_text(f"已发起：{title}")
    expect(clerk.page.locator(".row", has_text=title)).to_contain_text("办理中")
    clerk.shot(f"todo-started-{viewport['width']}")
    clerk.page.locator(".row", has_text=title).get_by_role("button", name=title).click()
    drawer = clerk.page.get_by_role("dialog", name=title)
    expect(drawer).to_contain_text("等待 王建国 办理")
    drawer.get_by_label("催办留言（可选），例如：今天要报市里").fill("周一要出发，请尽快")
    drawer.get_by_role("button", name="催办").click()
    expect(drawer.get_by_role("status")).to_have_text("已催办，办理人会收到提醒")
    clerk.shot(f"todo-instance-running-{viewport['width']}")
    drawer.get_by_role("button", name="关闭此对话框").click()

    leader.login()
    badge = leader.page.get_by_role("link", name="待办").locator(".nav-badge")
    expect(badge).to_be_visible()  # the 待办 count, kept by the `task` push
    waiting = int(badge.inner_text())
    leader.page.get_by_role("link", name="待办").click()
    row = leader.page.locator(".row", has_text=title)
    expect(row).to_be_visible()
    leader.shot(f"todo-mine-{viewport['width']}")
    row.get_by_role("button", name="去办理").click()
    urged = leader.page.get_by_role("article", name=f"催办：请假《{title}》")
    expect(urged).to_contain_text("周一要出发，请尽快")
    card = leader.page.get_by_role("article", name=f"请假：{title}")
    expect(card).to_contain_text("待办理")
    expect(card).to_contain_text("回老家办理户口")
    card.get_by_role("button", name="同意", exact=True).click()
    leader.page.get_by_label("意见").fill("同意，注意安全")
    card.get_by_role("button", name="同意", exact=True).click()
    expect(card).to_contain_text("已同意")
    expect(card).to_contain_text("王建国 同意：同意，注意安全")
    if waiting > 1:
        expect(badge).to_have_text(str(waiting - 1))
    else:
        expect(badge).to_be_hidden()
    leader.shot(f"todo-card-approved-{viewport['width']}")

    clerk.page.get_by_role("tab", name="我的待办").click()
    clerk.page.get_by_role("tab", name="我发起的").click()
    expect(clerk.page.locator(".row", has_text=title)).to_contain_text("已通过")
    clerk.page.locator(".row", has_text=title).get_by_role("button", name=title).click()
    trail = clerk.page.get_by_role("dialog", name=title).get_by_role("region", name="流转记录")
    expect(trail).to_contain_text("王建国")
    expect(trail).to_contain_text("同意，注意安全")
    expect(trail).to_contain_text("催办")
    clerk.shot(f"todo-instance-approved-{viewport['width']}")
    assert not clerk.errors and not leader.errors, (clerk.errors, leader.errors)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_leader_sets_a_proxy_for_his_trip_and_removes_it(people, viewport):
    leader = people("wangjianguo", viewport)
    leader.login()
    leader.page.get_by_role("link", name="待办").click()
    leader.page.get_by_role("button", name="代理设置").click()
    dialog = leader.page.get_by_role("dialog", name="代理设置")
    expect(dialog).to_contain_text("还没有设置代理")
    dialog.locator(".add .el-select").click()
    leader.page.keyboard.type("lihaiyan")
    leader.page.get_by_role("option", name="李海燕").click()
    start, end = datetime.now(), datetime.now() + timedelta(days=2)
    dialog.get_by_placeholder("开始时间").fill(start.strftime("%Y-%m-%d %H:%M"))
    dialog.get_by_placeholder("结束时间").fill(end.strftime("%Y-%m-%d %H:%M"))
    dialog.get_by_placeholder("结束时间").press("Enter")
    dialog.get_by_role("button", name="设置代理").click()
    expect(dialog.get_by_role("status")).to_have_text("已设置代理")
    mine = dialog.get_by_role("region", name="我设置的代理")
    expect(mine).to_contain_text("由 李海燕 代理")
    expect(mine).to_contain_text("生效中")
    leader.shot(f"todo-proxy-{viewport['width']}")
    mine.get_by_role("button", name="取消").click()  # the other tests need 王建国 himself
    expect(mine).to_contain_text("还没有设置代理")
    assert not leader.errors, leader.errors
