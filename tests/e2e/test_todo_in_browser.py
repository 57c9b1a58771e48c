"""A 请假 in the browser, as two clerks live it: 李海燕 starts it from 待办 (its form's
fields, the required ones marked where they are missing) and, opening
it, sees it wait for her leader and presses 催办; her unit's leader 王建国 finds it in
his 待办 with the 催办 card beside it, opens it in 流程助手, presses 同意 with an
opinion, and 李海燕's 我发起的 shows it approved, its 流转记录 with his opinion.
Desktop and phone width."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, PHONE, api, token_for

pytestmark = pytest.mark.slow


def start_form(person, flow: str, title: str) -> None:
    """From 待办: 发起流程, the flow picked, its title typed; its own fields are next."""
    person.page.get_by_role("link", name="待办").click()
    person.page.get_by_role("button", name="发起流程").click()
    person.page.locator(".start .el-select").first.click()  # the select's box (its input sits under the placeholder)
    person.page.get_by_role("option", name=flow).click()
    person.page.get_by_label("标题，例如：12月8日至10日请假").fill(title)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_leave_request_is_started_approved_in_chat_and_shown_approved(people, viewport):
    title = f"12月8日至10日请假 {uuid.uuid4().hex[:4]}"
    clerk = people("lihaiyan", viewport)
    leader = people("wangjianguo", viewport)
    clerk.login()
    start_form(clerk, "请假", title)
    clerk.page.get_by_role("button", name="提交").click()  # the form's required fields, shown where they are
    start_day = clerk.page.locator(".field", has_text="开始日期")
    expect(start_day.get_by_role("alert")).to_have_text("必填")
    clerk.page.get_by_label("开始日期").fill("2026-12-08")
    clerk.page.get_by_label("开始日期").press("Enter")
    clerk.page.get_by_label("天数").fill("3")
    clerk.page.get_by_label("事由").fill("回老家办理户口")
    clerk.shot(f"todo-start-form-{viewport['width']}")
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
    leader.page.get_by_label("意见", exact=True).fill("同意，注意安全")
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


def test_a_car_request_is_started_with_its_form_and_the_fleet_office_picks_a_free_car(people):
    """车辆申请: 张志强 fills the form at desktop width (a return before the departure is
    refused by the hub, in words, with nothing lost); his leader agrees with a 常用意见
    pressed into the opinion box, takes it back from his drawer and agrees again; 车管员
    胡杰, on a phone, presses 同意 on the card, picks one of the cars it offers, and it is
    booked."""
    title = f"河口区检查用车 {uuid.uuid4().hex[:4]}"
    day = 20 + int(uuid.uuid4().hex[:2], 16) % 9  # a January day of its own (no clash with another run's car)
    clerk = people("zhangzhiqiang", DESKTOP)
    clerk.login()
    start_form(clerk, "车辆申请", title)
    for label, value in (("出发时间", f"2027-01-{day:02d} 17:00"), ("返回时间", f"2027-01-{day:02d} 08:30")):
        clerk.page.get_by_label(label).fill(value)
        clerk.page.get_by_label(label).press("Enter")
    clerk.page.get_by_label("目的地").fill("河口区仙河镇")
    clerk.page.get_by_label("事由").fill("安全生产检查")
    clerk.page.get_by_role("button", name="提交").click()
    expect(clerk.page.locator(".start").get_by_role("alert").last).to_have_text("“返回时间”须晚于“出发时间”。")
    clerk.page.get_by_label("返回时间").fill(f"2027-01-{day:02d} 21:00")
    clerk.page.get_by_label("返回时间").press("Enter")
    clerk.shot("todo-car-form-1280")
    clerk.page.get_by_role("button", name="提交").click()
    expect(clerk.page.get_by_role("status")).to_contain_text(f"已发起：{title}")

    boss = people("wangjianguo", DESKTOP)
    boss.login()
    boss.page.get_by_role("link", name="待办").click()
    boss.page.locator(".row", has_text=title).get_by_role("button", name="去办理").click()
    card = boss.page.get_by_role("article", name=f"车辆申请：{title}")
    card.get_by_role("button", name="同意", exact=True).click()
    card.get_by_role("group", name="常用意见").get_by_role("button", name="请按有关规定办理。").click()  # one press fills the opinion
    expect(boss.page.get_by_label("意见", exact=True)).to_have_value("请按有关规定办理。")
    card.get_by_role("button", name="同意", exact=True).click()
    expect(card).to_contain_text("已同意")
    expect(card).to_contain_text("王建国 同意：请按有关规定办理。")
    # 拿回 before the fleet office acts: from 已办, in the instance's drawer; then agreed again
    boss.page.get_by_role("link", name="待办").click()
    boss.page.get_by_role("tab", name="已办").click()
    boss.page.locator(".row", has_text=title).get_by_role("button", name=title).click()
    drawer = boss.page.get_by_role("dialog", name=title)
    expect(drawer.get_by_role("region", name="表单")).to_contain_text(f"1月{day}日")  # under its label, as a time reads (as on the card)
    expect(drawer.get_by_role("region", name="表单")).to_contain_text("17:00")
    drawer.get_by_role("button", name="拿回").click()
    expect(drawer.get_by_role("status")).to_have_text("已拿回，请重新办理")
    boss.shot("todo-taken-back-1280")
    drawer.get_by_role("button", name="关闭此对话框").click()
    boss.page.get_by_role("tab", name="我的待办").click()
    boss.page.locator(".row", has_text=title).get_by_role("button", name="去办理").click()
    again = boss.page.get_by_role("article", name=f"车辆申请：{title}").filter(has_text="待办理")
    again.get_by_role("button", name="同意", exact=True).click()
    again.get_by_role("button", name="同意", exact=True).click()
    expect(boss.page.get_by_role("article", name=f"车辆申请：{title}").last).to_contain_text("已同意")

    fleet = people("hujie", PHONE)
    fleet.login()
    fleet.page.get_by_role("link", name="待办").click()
    fleet.page.locator(".row", has_text=title).get_by_role("button", name="去办理").click()
    expect(fleet.page.get_by_role("article", name=f"车辆申请：{title}").first).to_contain_text("已拿回")  # the card taken back says so
    card = fleet.page.get_by_role("article", name=f"车辆申请：{title}").last
    card.get_by_role("button", name="同意", exact=True).click()
    cars = card.get_by_role("radiogroup", name="请选择车辆")
    expect(cars.get_by_role("radio")).to_have_count(4)
    card.get_by_role("button", name="同意", exact=True).click()
    expect(card.get_by_role("alert")).to_have_text("请先选择车辆")
    cars.get_by_text("鲁E·A0003 丰田考斯特（20座）").click()
    fleet.shot("todo-car-pick-390")
    card.get_by_role("button", name="同意", exact=True).click()
    expect(card).to_contain_text("已同意")
    expect(card).to_contain_text("鲁E·A0003 丰田考斯特（20座）")
    fleet.shot("todo-car-booked-390")
    assert not clerk.errors and not boss.errors and not fleet.errors, (clerk.errors, boss.errors, fleet.errors)


def test_a_clerk_with_two_posts_sees_his_invitations_per_post(people, hub):
    """一人多岗 in the browser: 胡杰 serves in 市政府办公室 and, part-time, in 市大数据局; a
    meeting called in each unit reaches him in that post, and his 待办 offers them per
    post — 全部, or one post's alone."""
    tag = uuid.uuid4().hex[:4]
    for organiser, unit in (("mayong", "办公室"), ("yaowei", "大数据局")):
        started = api(hub, "POST", "/api/v1/flows/huiyi/instances", {
            "title": f"{unit}例会 {tag}", "form": {"会议时间": "2027-02-01T09:00", "地点": "三楼会议室"},
        }, token_for(hub, organiser))
        assert started["instance"]["status"] == "running", started
    clerk = people("hujie", DESKTOP)
    clerk.login()
    clerk.page.get_by_role("link", name="待办").click()
    rows = clerk.page.locator(".row", has_text=tag)
    expect(rows).to_have_count(2)
    by_post = clerk.page.get_by_role("radiogroup", name="按岗位查看")
    by_post.get_by_text("市大数据局", exact=True).click()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(f"大数据局例会 {tag}")
    clerk.shot("todo-per-post-1280")
    by_post.get_by_text("全部岗位", exact=True).click()
    expect(rows).to_have_count(2)
    assert not clerk.errors, clerk.errors


def test_a_trip_is_asked_for_on_a_phone_with_its_cost_in_words(people):
    """出差审批 at phone width: one column, the dates picked, the cost with its 大写 beside it."""
    title = f"济南培训 {uuid.uuid4().hex[:4]}"
    clerk = people("lihaiyan", PHONE)
    clerk.login()
    start_form(clerk, "出差审批", title)
    clerk.page.get_by_label("目的地").fill("济南")
    for label, day in (("出发日期", "2026-12-14"), ("返回日期", "2026-12-16")):
        clerk.page.get_by_label(label).fill(day)
        clerk.page.get_by_label(label).press("Enter")
    clerk.page.get_by_label("预计费用").fill("5800")
    clerk.page.get_by_label("预计费用").press("Tab")
    expect(clerk.page.get_by_label("大写金额")).to_have_text("伍仟捌佰元整")
    clerk.page.get_by_label("事由").fill("参加全省政务信息化培训")
    clerk.shot("todo-trip-form-390")
    clerk.page.get_by_role("button", name="提交").click()
    expect(clerk.page.get_by_role("status").filter(has_text="已发起")).to_contain_text(f"已发起：{title}")
    assert not clerk.errors, clerk.errors
