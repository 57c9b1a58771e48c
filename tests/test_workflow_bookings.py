"""车辆申请 end to end, over real sockets on both engines: the applicant's form is checked
field by field; the leader agrees; the fleet office's card offers only the cars free for
the whole period, and its 同意 needs one picked; a car already booked for an
overlapping period is refused with the booking it clashes with, also when two
dispatchers press at once; the next day the same car is free again. The 车辆调度 channel
follows each request on one progress card."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.test_workflows import card_from_bot

FLOWS = Path(__file__).resolve().parents[1] / "bots" / "flows"
CARS = ["鲁E·A0001 别克GL8（7座）", "鲁E·A0002 大众帕萨特（5座）", "鲁E·A0003 丰田考斯特（20座）", "鲁E·A0005 比亚迪汉EV（5座）"]


async def world(hub) -> dict:
    await hub.unit("tj", "交通局")
    await hub.unit("bgs", "市政府办公室")
    p = {
        "admin": await hub.user("admin1", "管理员", roles=("admin",)),
        "zhang": await hub.user("zhangsan", "张三", units=("tj",)),
        "boss": await hub.user("juzhang", "王局长", units=("tj",), roles=("leader",)),
        "fleet1": await hub.user("chegu1", "车管员甲", units=("bgs",), roles=("fleet",)),
        "fleet2": await hub.user("chegu2", "车管员乙", units=("bgs",), roles=("fleet",)),
    }
    source = (FLOWS / "cheliang.yaml").read_text(encoding="utf-8")
    assert (await hub.request("POST", "/api/v1/flows", token=p["admin"]["token"], data=source.encode()))[0] == 201
    return p


def trip(day: int, start: str = "08:30", end: str = "17:00") -> dict:
    return {"出发时间": f"2026-12-{day:02d}T{start}", "返回时间": f"2026-12-{day:02d}T{end}", "目的地": "河口区", "事由": "安全检查"}


async def agreed(hub, p: dict, title: str, form: dict) -> dict:
    """Started by 张三 and agreed by his leader: now at 车管员派车."""
    status, body = await hub.request("POST", "/api/v1/flows/cheliang/instances", token=p["zhang"]["token"], json={"title": title, "form": form})
    assert status == 201, body
    inst = body["instance"]
    ops = f"/api/v1/flows/instances/{inst['id']}/operations"
    status, body = await hub.request("POST", ops, token=p["boss"]["token"], json={"kind": "approve", "task_id": inst["open_tasks"][0]["id"]})
    assert status == 200, body
    return body["instance"]


def task_of(inst: dict, user: dict) -> int:
    return next(t["id"] for t in inst["open_tasks"] if t["user_id"] == user["id"])


async def test_the_applicant_form_is_checked_and_the_period_must_run_forwards(hub):
    p = await world(hub)
    status, body = await hub.request("POST", "/api/v1/flows/cheliang/instances", token=p["zhang"]["token"], json={"title": "用车", "form": {"出发时间": "明天", "人数": 99}})
    assert status == 400
    assert {e["field"]: e["message"] for e in body["error"]["errors"]} == {
        "出发时间": "应为时间，例如 2026-12-08T09:00", "人数": "不能大于 60", "返回时间": "必填", "目的地": "必填", "事由": "必填",
    }
    status, body = await hub.request("POST", "/api/v1/flows/cheliang/instances", token=p["zhang"]["token"], json={"title": "用车", "form": {**trip(8), "车辆": CARS[0]}})
    assert status == 400 and body["error"]["errors"] == [{"field": "车辆", "message": "在此环节不可修改"}]  # the fleet office assigns it
    status, body = await hub.request("POST", "/api/v1/flows/cheliang/instances", token=p["zhang"]["token"], json={"title": "用车", "form": trip(8, "17:00", "08:30")})
    assert status == 400 and body["error"]["message"] == "“返回时间”须晚于“出发时间”。"
    # the hub's own keys never come from a request: a channel to follow it (the bot would join), a parent
    for own in ({"_channel_id": 1}, {"_parent": [1, 1]}):
        status, body = await hub.request("POST", "/api/v1/flows/cheliang/instances", token=p["zhang"]["token"], json={"title": "用车", "form": {**trip(8), **own}})
        assert status == 400 and body["error"]["code"] == "bad_request", body
    status, flows = await hub.request("GET", "/api/v1/flows", token=p["zhang"]["token"])
    form = next(f for f in flows["flows"] if f["key"] == "cheliang")["form"]
    assert [f["name"] for f in form] == ["出发时间", "返回时间", "目的地", "人数", "事由"]  # what the start fills; 车辆 is not its
    assert form[3] == {"name": "人数", "kind": "number", "label": "人数", "required": True, "default": 1, "min": 1, "max": 60}


async def test_the_fleet_office_picks_a_free_car_and_no_two_bookings_of_one_car_overlap(hub):
    p = await world(hub)
    f1 = await hub.client(p["fleet1"])
    first = await agreed(hub, p, "12月8日河口区检查", trip(8))
    card = await f1.wait_for("message", lambda m: card_from_bot(hub, m) and m["card"]["title"] == "车辆申请：12月8日河口区检查")
    approve = next(a for a in card["card"]["actions"] if a["id"] == "approve")
    assert approve["choices"] == CARS and approve["choice_label"] == "车辆"
    assert approve["phrases"] == ["同意。", "拟同意，请领导审批。", "请按有关规定办理。", "请抓紧落实。"]  # the hub's 常用意见: the flow names none
    refused = await f1.call("card:action", {"message_id": card["id"], "action": "approve"})
    assert refused["error"] == {"code": "bad_request", "message": "请先选择一项再提交。"}
    refused = await f1.call("card:action", {"message_id": card["id"], "action": "approve", "choice": "鲁E·Z9999"})
    assert refused["error"]["code"] == "bad_request"  # not one the card offers
    assert (await f1.call("card:action", {"message_id": card["id"], "action": "approve", "choice": CARS[0], "comment": "司机老李"}))["ok"]
    status, got = await hub.request("GET", f"/api/v1/flows/instances/{first['id']}", token=p["zhang"]["token"])
    assert got["instance"]["status"] == "approved" and got["instance"]["form"]["车辆"] == CARS[0]
    assert got["instance"]["trail"][-1]["filled"] == {"车辆": CARS[0]} and got["instance"]["trail"][-1]["opinion"] == "司机老李"

    # the afternoon of the same day overlaps: its card offers the other three
    second = await agreed(hub, p, "12月8日下午开会", trip(8, "14:00", "18:00"))
    card2 = await f1.wait_for("message", lambda m: card_from_bot(hub, m) and m["card"]["title"] == "车辆申请：12月8日下午开会")
    assert next(a for a in card2["card"]["actions"] if a["id"] == "approve")["choices"] == CARS[1:]
    ops = f"/api/v1/flows/instances/{second['id']}/operations"
    status, body = await hub.request("POST", ops, token=p["fleet1"]["token"], json={"kind": "approve", "task_id": task_of(second, p["fleet1"]), "form": {"车辆": CARS[0]}})
    assert status == 409
    assert body["error"]["message"] == f"“{CARS[0]}”在 12月8日（周二）08:30 至 12月8日（周二）17:00 已被《12月8日河口区检查》预订，请另选。"
    status, body = await hub.request("POST", ops, token=p["fleet1"]["token"], json={"kind": "approve", "task_id": task_of(second, p["fleet1"])})
    assert status == 400 and body["error"]["errors"] == [{"field": "车辆", "message": "必填"}]
    status, body = await hub.request("POST", ops, token=p["fleet1"]["token"], json={"kind": "approve", "task_id": task_of(second, p["fleet1"]), "form": {"车辆": CARS[1], "_channel_id": 1}})
    assert status == 400 and body["error"]["code"] == "bad_request", body
    status, body = await hub.request("POST", ops, token=p["fleet1"]["token"], json={"kind": "reject", "task_id": task_of(second, p["fleet1"]), "opinion": "无车", "form": {"车辆": CARS[1]}})
    assert status == 400 and body["error"]["message"] == "此操作不能填写表单，请在“同意”时填写。"

    # the next day the first car is free again
    third = await agreed(hub, p, "12月9日", trip(9))
    status, body = await hub.request("POST", f"/api/v1/flows/instances/{third['id']}/operations", token=p["fleet2"]["token"],
                                     json={"kind": "approve", "task_id": task_of(third, p["fleet2"]), "form": {"车辆": CARS[0]}})
    assert status == 200 and body["instance"]["status"] == "approved", body


async def test_the_fleet_channel_follows_each_request_on_a_progress_card(hub):
    p = await world(hub)
    admin = await hub.client(p["admin"])
    channel = (await admin.call("channel:create", {"name": "车辆调度", "kind": "private", "member_ids": [p["fleet1"]["id"]]}))["channel"]
    f1 = await hub.client(p["fleet1"])
    status, body = await hub.request("POST", "/api/v1/flows/cheliang/instances", token=p["zhang"]["token"], json={"title": "12月11日用车", "form": trip(11)})
    assert status == 201, body
    inst = body["instance"]

    def progress(m: dict) -> bool:
        return m["channel_id"] == channel["id"] and m["kind"] == "card" and m["card"]["data"].get("instance_id") == inst["id"]

    card = await f1.wait_for("message", progress, timeout=10)
    assert card["sender"]["username"] == "liucheng-bot" and card["card"]["title"] == "车辆申请：12月11日用车"
    shown = {f["label"]: f["value"] for f in card["card"]["fields"]}
    assert card["card"]["status"]["text"] == "办理中" and shown["当前步骤"] == "部门负责人审批" and shown["办理人"] == "王局长"
    assert not card["card"]["actions"]  # it shows; the tasks are acted on in DMs
    ops = f"/api/v1/flows/instances/{inst['id']}/operations"
    assert (await hub.request("POST", ops, token=p["boss"]["token"], json={"kind": "approve", "task_id": inst["open_tasks"][0]["id"], "opinion": "同意"}))[0] == 200
    await f1.wait_for("message:update", lambda m: progress(m) and m["card"]["fields"][1]["value"] == "车管员派车", timeout=10)
    status, got = await hub.request("GET", f"/api/v1/flows/instances/{inst['id']}", token=p["zhang"]["token"])
    status, body = await hub.request("POST", ops, token=p["fleet1"]["token"], json={"kind": "approve", "task_id": task_of(got["instance"], p["fleet1"]), "form": {"车辆": CARS[1]}})
    assert status == 200, body
    done = await f1.wait_for("message:update", lambda m: progress(m) and m["card"]["status"]["text"] == "流程已通过", timeout=10)
    assert {f["label"]: f["value"] for f in done["card"]["fields"]}["最近办理"] == "车管员甲 同意"
    history = (await f1.call("history", {"channel_id": channel["id"]}))["messages"]
    assert len([m for m in history if progress(m)]) == 1  # one card, kept up to date


async def test_two_dispatchers_booking_one_car_at_once_one_wins(hub):
    p = await world(hub)
    a = await agreed(hub, p, "甲", trip(10, "09:00", "12:00"))
    b = await agreed(hub, p, "乙", trip(10, "11:00", "15:00"))

    async def book(inst: dict, who: dict) -> tuple[int, dict]:
        return await hub.request("POST", f"/api/v1/flows/instances/{inst['id']}/operations", token=who["token"],
                                 json={"kind": "approve", "task_id": task_of(inst, who), "form": {"车辆": CARS[2]}})

    got = await asyncio.gather(book(a, p["fleet1"]), book(b, p["fleet2"]))
    assert sorted(status for status, _ in got) == [200, 409], got
    loser = next(body for status, body in got if status == 409)
    assert "已被《" in loser["error"]["message"]
