"""Workflows in chat over real sockets: a flow started over REST brings a task card to
each assignee's DM with 流程助手; the assignee acts by the card's button or by replying
"同意 …" / "不同意 …"; the card updates in place, the next assignee gets theirs, and the
initiator sees where it stands. Refusals in Chinese; one winner when two act at once."""

from __future__ import annotations

import asyncio
from typing import Any

from bots.wiring import BOTS

FLOW = """\
key: purchase
name: 采购申请
version: 1
nodes:
  - {id: start, type: start, next: boss}
  - {id: boss, type: task, name: 负责人审批, assignee: {role: leader, unit: initiator}, next: amount}
  - {id: amount, type: exclusive, branches: [{when: "amount > 10000", to: finance}, {to: end}]}
  - {id: finance, type: countersign, name: 财务会签, mode: sequential, assignees: [{user: caiwu1}, {user: caiwu2}], next: end}
  - {id: end, type: end}
"""
ANY = FLOW.replace("key: purchase", "key: quick").replace("mode: sequential", "mode: any").replace('"amount > 10000"', '"amount > 0"')


async def flow_bot(hub) -> int:
    return (await hub.app[BOTS].bots["liucheng-bot"].hub.identity()).user_id


async def world(hub) -> dict[str, Any]:
    await hub.unit("tj", "交通局")
    people = {
        "admin": await hub.user("admin9", "管理员", roles=("admin",)),
        "zhang": await hub.user("zhangsan", "张三", units=("tj",)),
        "boss": await hub.user("boss", "王局长", units=("tj",), roles=("leader",)),
        "c1": await hub.user("caiwu1", "财务甲"),
        "c2": await hub.user("caiwu2", "财务乙"),
    }
    for flow in (FLOW, ANY):
        status, body = await hub.request("POST", "/api/v1/flows", token=people["admin"]["token"], data=flow.encode())
        assert status == 201, body
    return people


def card_from_bot(hub, m: dict[str, Any]) -> bool:
    return m["kind"] == "card" and m["sender"]["username"] == "liucheng-bot"


async def test_a_purchase_goes_from_the_leader_to_finance_by_button_and_by_reply(hub):
    p = await world(hub)
    boss, c1, c2, zhang = [await hub.client(p[k]) for k in ("boss", "c1", "c2", "zhang")]
    status, started = await hub.request(
        "POST", "/api/v1/flows/purchase/instances", token=p["zhang"]["token"],
        json={"title": "采购办公电脑20台", "form": {"amount": 96000, "用途": "新员工"}},
    )
    assert status == 201, started
    inst = started["instance"]
    assert [t["node"] for t in inst["open_tasks"]] == ["boss"]

    card = await boss.wait_for("message", lambda m: card_from_bot(hub, m))
    assert card["card"]["title"] == "采购申请：采购办公电脑20台"
    assert card["sender"]["is_bot"] and card["card"]["status"]["text"] == "待办理"
    assert [a["label"] for a in card["card"]["actions"]] == ["同意", "不同意", "退回"]
    fields = {f["label"]: f["value"] for f in card["card"]["fields"]}
    assert fields["发起人"] == "张三" and fields["amount"] == "96000" and fields["当前步骤"] == "负责人审批"

    refused = await boss.call("card:action", {"message_id": card["id"], "action": "reject"})
    assert refused["error"]["code"] == "bad_request"  # 不同意 needs a reason
    pressed = await boss.call("card:action", {"message_id": card["id"], "action": "approve", "comment": "同意采购"})
    assert pressed["ok"], pressed
    assert pressed["message"]["card"]["status"]["text"] == "已同意" and pressed["message"]["card"]["actions"] == []
    again = await boss.call("card:action", {"message_id": card["id"], "action": "approve"})
    assert again["error"]["code"] == "conflict"

    first = await c1.wait_for("message", lambda m: card_from_bot(hub, m))
    assert "王局长 同意：同意采购" in {f["label"]: f["value"] for f in first["card"]["fields"]}["办理意见"]
    dm = first["channel_id"]
    await c1.call("message:send", {"channel_id": dm, "client_msg_id": "r1", "text": "同意，请尽快下单"})
    said = await c1.wait_for("message", lambda m: m["sender"]["username"] == "liucheng-bot" and m["kind"] == "text")
    assert said["text"] == "已同意：采购办公电脑20台"
    updated = await c1.wait_for("message:update", lambda m: m["id"] == first["id"])
    assert updated["card"]["status"]["text"] == "已同意"

    second = await c2.wait_for("message", lambda m: card_from_bot(hub, m))
    await c2.call("message:send", {"channel_id": second["channel_id"], "client_msg_id": "r2", "text": "不同意 报价单不全"})
    await c2.wait_for("message", lambda m: m["sender"]["username"] == "liucheng-bot" and m["kind"] == "text" and "不同意" in m["text"])

    status, mine = await hub.request("GET", "/api/v1/tasks?box=started", token=p["zhang"]["token"])
    assert status == 200 and [(t["title"], t["status"]) for t in mine["tasks"]] == [("采购办公电脑20台", "rejected")]
    status, got = await hub.request("GET", f"/api/v1/flows/instances/{inst['id']}", token=p["zhang"]["token"])
    assert [(s["operation"], s["opinion"]) for s in got["instance"]["trail"]] == [
        ("start", ""), ("approve", "同意采购"), ("approve", "请尽快下单"), ("reject", "报价单不全"),
    ]
    # a stranger learns nothing of it
    assert (await hub.request("GET", f"/api/v1/flows/instances/{inst['id']}", token=p["admin"]["token"]))[0] == 200
    other = await hub.user("lisi", "李四")
    assert (await hub.request("GET", f"/api/v1/flows/instances/{inst['id']}", token=other["token"]))[0] == 404
    # and one with nothing to do is told so
    z_dm = (await zhang.call("dm:open", {"user_id": await flow_bot(hub)}))["channel"]["id"]
    await zhang.call("message:send", {"channel_id": z_dm, "client_msg_id": "z1", "text": "同意"})
    none = await zhang.wait_for("message", lambda m: m["sender"]["username"] == "liucheng-bot")
    assert none["text"] == "你目前没有待办。"


async def test_two_approvers_of_an_or_sign_step_race_and_one_wins(hub):
    p = await world(hub)
    boss, c1, c2 = [await hub.client(p[k]) for k in ("boss", "c1", "c2")]
    await hub.request("POST", "/api/v1/flows/quick/instances", token=p["zhang"]["token"], json={"title": "买打印纸", "form": {"amount": 300}})
    card = await boss.wait_for("message", lambda m: card_from_bot(hub, m))
    assert (await boss.call("card:action", {"message_id": card["id"], "action": "approve"}))["ok"]
    k1 = await c1.wait_for("message", lambda m: card_from_bot(hub, m))
    k2 = await c2.wait_for("message", lambda m: card_from_bot(hub, m))
    a, b = await asyncio.gather(
        c1.call("card:action", {"message_id": k1["id"], "action": "approve", "comment": "甲同意"}),
        c2.call("card:action", {"message_id": k2["id"], "action": "approve", "comment": "乙同意"}),
    )
    assert sorted([a["ok"], b["ok"]]) == [False, True], (a, b)
    loser = a if not a["ok"] else b
    assert loser["error"]["code"] == "conflict"


async def test_several_pending_tasks_are_listed_and_picked_by_number(hub):
    p = await world(hub)
    boss = await hub.client(p["boss"])
    for title in ("买打印纸", "买墨盒"):
        await hub.request("POST", "/api/v1/flows/quick/instances", token=p["zhang"]["token"], json={"title": title, "form": {"amount": 1}})
    card = await boss.wait_for("message", lambda m: card_from_bot(hub, m))
    await boss.call("message:send", {"channel_id": card["channel_id"], "client_msg_id": "b1", "text": "同意"})
    listing = await boss.wait_for("message", lambda m: m["sender"]["username"] == "liucheng-bot" and m["kind"] == "text")
    assert listing["text"].startswith("你有 2 个待办") and "1. 买打印纸" in listing["text"] and "2. 买墨盒" in listing["text"]
    await boss.call("message:send", {"channel_id": card["channel_id"], "client_msg_id": "b2", "text": "２　同意"})
    done = await boss.wait_for("message", lambda m: m["sender"]["username"] == "liucheng-bot" and m["text"].startswith("已同意"))
    assert done["text"] == "已同意：买墨盒"
    status, todo = await hub.request("GET", "/api/v1/tasks?box=todo", token=p["boss"]["token"])
    assert [t["title"] for t in todo["tasks"]] == ["买打印纸"]


async def test_a_definition_is_validated_with_lines_and_versions_are_immutable(hub):
    p = await world(hub)
    admin = p["admin"]["token"]
    status, body = await hub.request("POST", "/api/v1/flows", token=admin, data=FLOW.replace("next: amount", "next: nowhere").encode())
    assert status == 400 and body["error"]["errors"][0]["line"] == 6  # the boss step's line
    assert (await hub.request("POST", "/api/v1/flows", token=admin, data=FLOW.encode()))[0] == 200  # the same again: unchanged
    status, body = await hub.request("POST", "/api/v1/flows", token=admin, data=FLOW.replace("负责人审批", "领导审批").encode())
    assert status == 409 and "请提高版本号" in body["error"]["message"]
    assert (await hub.request("POST", "/api/v1/flows", token=p["zhang"]["token"], data=FLOW.encode()))[0] == 403
    status, listed = await hub.request("GET", "/api/v1/flows", token=p["zhang"]["token"])
    assert {f["key"] for f in listed["flows"]} == {"purchase", "quick"}
    assert (await hub.request("POST", "/api/v1/flows/nosuch/instances", token=p["zhang"]["token"], json={"title": "x"}))[0] == 404


async def test_delegate_over_rest_comes_back_and_an_administrator_terminates(hub):
    p = await world(hub)
    boss, c1 = await hub.client(p["boss"]), await hub.client(p["c1"])
    status, started = await hub.request("POST", "/api/v1/flows/purchase/instances", token=p["zhang"]["token"], json={"title": "买投影仪", "form": {"amount": 8000}})
    iid = started["instance"]["id"]
    card = await boss.wait_for("message", lambda m: card_from_bot(hub, m))
    task_id = started["instance"]["open_tasks"][0]["id"]
    ops = f"/api/v1/flows/instances/{iid}/operations"
    status, body = await hub.request("POST", ops, token=p["boss"]["token"], json={"kind": "delegate", "task_id": task_id, "opinion": "请财务先把关", "to": p["c1"]["id"]})
    assert status == 200, body
    assert [t["user_id"] for t in body["instance"]["open_tasks"]] == [p["c1"]["id"]]
    waiting = await boss.wait_for("message:update", lambda m: m["id"] == card["id"])
    assert waiting["card"]["status"]["text"] == "等待委派或加签人办理" and waiting["card"]["actions"] == []
    asked = await c1.wait_for("message", lambda m: card_from_bot(hub, m))
    status, body = await hub.request("POST", ops, token=p["c1"]["token"], json={"kind": "reject", "task_id": asked["card"]["data"]["task_id"], "opinion": "不行"})
    assert status == 400 and body["error"]["message"] == "这一步不能这样办理。", body  # a delegate answers; the boss decides
    pressed = await c1.call("card:action", {"message_id": asked["id"], "action": "approve", "comment": "价格合理"})
    assert pressed["ok"], pressed
    back = await boss.wait_for("message:update", lambda m: m["id"] == card["id"] and m["card"]["status"]["text"] == "待办理")
    assert "财务甲 同意：价格合理" in {f["label"]: f["value"] for f in back["card"]["fields"]}["办理意见"]
    status, body = await hub.request("POST", ops, token=p["zhang"]["token"], json={"kind": "terminate", "opinion": "重复"})
    assert status == 403, body  # only an administrator
    status, body = await hub.request("POST", ops, token=p["admin"]["token"], json={"kind": "terminate", "opinion": "重复申请"})
    assert status == 200 and body["instance"]["status"] == "terminated", body
    ended = await boss.wait_for("message:update", lambda m: m["id"] == card["id"] and m["card"]["status"]["text"] == "流程已终止")
    assert ended["card"]["actions"] == []
    status, body = await hub.request("POST", ops, token=p["admin"]["token"], json={"kind": "timeout", "task_id": task_id})
    assert status == 400  # the clock's, not anyone's


async def test_a_reply_transfers_and_a_circulation_card_offers_only_read(hub):
    p = await world(hub)
    notice = """\
key: circ
name: 文件传阅
version: 1
nodes:
  - {id: start, type: start, next: boss}
  - {id: boss, type: task, name: 负责人阅批, assignee: {role: leader, unit: initiator}, next: read}
  - {id: read, type: circulate, name: 传阅, assignees: [{user: caiwu1}, {user: caiwu2}], next: end}
  - {id: end, type: end}
"""
    assert (await hub.request("POST", "/api/v1/flows", token=p["admin"]["token"], data=notice.encode()))[0] == 201
    boss, c1, c2 = [await hub.client(p[k]) for k in ("boss", "c1", "c2")]
    status, started = await hub.request("POST", "/api/v1/flows/circ/instances", token=p["zhang"]["token"], json={"title": "市政府第12次常务会议纪要", "form": {}})
    assert status == 201, started
    card = await boss.wait_for("message", lambda m: card_from_bot(hub, m))
    await boss.call("message:send", {"channel_id": card["channel_id"], "client_msg_id": "t0", "text": "转办 @nosuch 请办理"})
    said = await boss.wait_for("message", lambda m: m["sender"]["username"] == "liucheng-bot" and m["kind"] == "text")
    assert said["text"] == "没有找到用户 @nosuch，请检查用户名。"
    await boss.call("message:send", {"channel_id": card["channel_id"], "client_msg_id": "t1", "text": "转办 @caiwu2 请财务乙阅批"})
    said = await boss.wait_for("message", lambda m: m["sender"]["username"] == "liucheng-bot" and m["text"].startswith("已转办"))
    assert said["text"] == "已转办给 财务乙：市政府第12次常务会议纪要"
    moved = await c2.wait_for("message", lambda m: card_from_bot(hub, m))
    assert [a["label"] for a in moved["card"]["actions"]] == ["同意", "不同意", "退回"]
    assert (await c2.call("card:action", {"message_id": moved["id"], "action": "approve", "comment": "阅，请传阅"}))["ok"]
    reading = await c1.wait_for("message", lambda m: card_from_bot(hub, m))
    assert [a["label"] for a in reading["card"]["actions"]] == ["已阅"]  # a 传阅 has nothing to decide
    assert (await c1.call("card:action", {"message_id": reading["id"], "action": "read"}))["ok"]
    second = await c2.wait_for("message", lambda m: card_from_bot(hub, m) and m["id"] != moved["id"])
    await c2.call("message:send", {"channel_id": second["channel_id"], "client_msg_id": "t2", "text": "已阅"})
    said = await c2.wait_for("message", lambda m: m["sender"]["username"] == "liucheng-bot" and m["text"].startswith("已阅"))
    assert said["text"] == "已阅：市政府第12次常务会议纪要"
    status, got = await hub.request("GET", f"/api/v1/flows/instances/{started['instance']['id']}", token=p["zhang"]["token"])
    assert got["instance"]["status"] == "approved"
    assert [s["operation"] for s in got["instance"]["trail"]] == ["start", "transfer", "approve", "read", "read"]


async def test_replies_delegate_and_add_a_signer(hub):
    p = await world(hub)
    boss, c1, c2 = [await hub.client(p[k]) for k in ("boss", "c1", "c2")]
    status, started = await hub.request("POST", "/api/v1/flows/purchase/instances", token=p["zhang"]["token"], json={"title": "买投影仪", "form": {"amount": 500}})
    assert status == 201, started
    card = await boss.wait_for("message", lambda m: card_from_bot(hub, m))

    async def reply(client, channel_id: int, text: str, starts: str) -> str:
        await client.call("message:send", {"channel_id": channel_id, "client_msg_id": f"r-{text}", "text": text})
        said = await client.wait_for("message", lambda m: m["sender"]["username"] == "liucheng-bot" and m["kind"] == "text" and m["text"].startswith(starts))
        return said["text"]

    assert await reply(boss, card["channel_id"], "委派 @caiwu1 请先核算价格", "已委派") == "已委派给 财务甲：买投影仪。对方办理后会回到您这里。"
    asked = await c1.wait_for("message", lambda m: card_from_bot(hub, m))
    assert [a["label"] for a in asked["card"]["actions"]] == ["同意"]  # a delegate answers; the boss decides
    assert await reply(c1, asked["channel_id"], "同意 价格合理", "已同意") == "已同意：买投影仪"
    back = await boss.wait_for("message:update", lambda m: m["id"] == card["id"] and m["card"]["status"]["text"] == "待办理")
    assert [a["label"] for a in back["card"]["actions"]] == ["同意", "不同意", "退回"]
    assert await reply(boss, card["channel_id"], "加签 @caiwu2 同意，请财务乙复核", "已同意并加签") == "已同意并加签 财务乙：买投影仪"
    second = await c2.wait_for("message", lambda m: card_from_bot(hub, m))
    assert (await c2.call("card:action", {"message_id": second["id"], "action": "approve", "comment": "复核无误"}))["ok"]
    status, got = await hub.request("GET", f"/api/v1/flows/instances/{started['instance']['id']}", token=p["zhang"]["token"])
    assert got["instance"]["status"] == "approved"
    assert [(s["operation"], s["opinion"]) for s in got["instance"]["trail"]] == [
        ("start", ""), ("delegate", "请先核算价格"), ("approve", "价格合理"), ("add_sign_after", "同意，请财务乙复核"), ("approve", "复核无误"),
    ]


async def test_replies_take_back_and_remove_a_signer(hub):
    """拿回 and 减签 by reply: the boss takes back what he handed on before finance acted
    (the drawer offers it too: can_take_back), and takes off a signer he added."""
    p = await world(hub)
    boss, c1 = await hub.client(p["boss"]), await hub.client(p["c1"])
    status, started = await hub.request("POST", "/api/v1/flows/purchase/instances", token=p["zhang"]["token"], json={"title": "买服务器", "form": {"amount": 50000}})
    assert status == 201, started
    instance_id = started["instance"]["id"]
    card = await boss.wait_for("message", lambda m: card_from_bot(hub, m))

    async def reply(text: str, starts: str) -> str:
        await boss.call("message:send", {"channel_id": card["channel_id"], "client_msg_id": f"r-{text}", "text": text})
        said = await boss.wait_for("message", lambda m: m["sender"]["username"] == "liucheng-bot" and m["kind"] == "text" and m["text"].startswith(starts))
        return said["text"]

    assert await reply("拿回", "没有") == "没有可以拿回的：只有自己刚办过、下一步还没有人办理的事项才能拿回。"
    assert await reply("同意", "已同意") == "已同意：买服务器"
    await c1.wait_for("message", lambda m: card_from_bot(hub, m))  # finance's card
    status, got = await hub.request("GET", f"/api/v1/flows/instances/{instance_id}", token=p["boss"]["token"])
    assert got["instance"]["can_take_back"] is True
    assert await reply("拿回 金额需再核", "已拿回") == "已拿回：买服务器。下一步的待办已收回，请重新办理。"
    status, got = await hub.request("GET", f"/api/v1/flows/instances/{instance_id}", token=p["boss"]["token"])
    assert [(t["node"], t["user_name"]) for t in got["instance"]["open_tasks"]] == [("boss", "王局长")] and got["instance"]["can_take_back"] is False
    assert got["instance"]["trail"][-1]["operation"] == "take_back" and got["instance"]["trail"][-1]["opinion"] == "金额需再核"

    assert await reply("前加签 @caiwu1 请先看预算", "已请") == "已请 财务甲 先办理：买服务器。对方办理后会回到您这里。"
    assert await reply("减签 @caiwu2", "没有找到") == "没有找到你为 财务乙 加签、尚未办理的事项。"
    assert await reply("减签 @caiwu1 不必了", "已减签") == "已减签 财务甲：买服务器"
    status, got = await hub.request("GET", f"/api/v1/flows/instances/{instance_id}", token=p["boss"]["token"])
    assert [(t["node"], t["user_name"]) for t in got["instance"]["open_tasks"]] == [("boss", "王局长")]  # his own again


UNIT_FIELD = """\
key: banli
name: 交办
version: 1
form:
  - {name: 承办单位, kind: unit, required: true}
nodes:
  - {id: start, type: start, next: do}
  - {id: do, type: task, name: 承办, assignee: {unit_field: 承办单位, role: leader}, next: end}
  - {id: end, type: end}
"""


async def test_a_unit_named_in_the_form_takes_the_task_in_that_post(hub):
    """An assignee from a form's unit field (承办单位), by its name or its code: the unit's
    leaders get it, in that unit's post; a unit that does not exist is refused."""
    p = await world(hub)
    await hub.unit("dsj", "大数据局")
    other = await hub.user("dsj-head", "赵局长", units=("dsj",), roles=("leader",))
    assert (await hub.request("POST", "/api/v1/flows", token=p["admin"]["token"], data=UNIT_FIELD.encode()))[0] == 201
    for named, who, post in (("大数据局", "赵局长", "大数据局"), ("tj", "王局长", "交通局")):
        status, body = await hub.request("POST", "/api/v1/flows/banli/instances", token=p["zhang"]["token"], json={"title": f"交办{named}", "form": {"承办单位": named}})
        assert status == 201, body
        assert [(t["user_name"], t["post_name"]) for t in body["instance"]["open_tasks"]] == [(who, post)]
    status, body = await hub.request("POST", "/api/v1/flows/banli/instances", token=p["zhang"]["token"], json={"title": "交办", "form": {"承办单位": "不存在局"}})
    assert status == 409 and body["error"]["code"] == "conflict"
    status, todo = await hub.request("GET", "/api/v1/tasks?box=todo", token=other["token"])
    assert [t["title"] for t in todo["tasks"]] == ["交办大数据局"]
