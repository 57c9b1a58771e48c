"""Sub-flows over real sockets on both engines: a parent's 部门会签 step runs a flow of its
own as a child instance; the child's approval passes the parent's step, its rejection
ends the parent; a parent withdrawn while its child runs terminates the child; a child
flow not imported refuses the step that would start it, changing nothing; a flow that
names itself stops at three levels."""

from __future__ import annotations

import asyncio

from tests.test_workflow_runtime import world
from tests.test_workflows import card_from_bot

CHILD = """\
key: huiqian
name: 部门会签
version: 1
nodes:
  - {id: start, type: start, next: sign}
  - {id: sign, type: task, name: 会签, assignee: {user: kezhang}, next: end}
  - {id: end, type: end}
"""

PARENT = """\
key: fawen-hq
name: 发文（会签）
version: 1
nodes:
  - {id: start, type: start, next: dept}
  - {id: dept, type: task, name: 核稿, assignee: {leader: initiator}, next: huiqian}
  - {id: huiqian, type: subflow, name: 部门会签, flow: huiqian, next: issue}
  - {id: issue, type: task, name: 签发, assignee: {leader: initiator}, next: end}
  - {id: end, type: end}
"""

SELF = """\
key: loop
name: 自己套自己
version: 1
nodes:
  - {id: start, type: start, next: again}
  - {id: again, type: subflow, flow: loop, next: end}
  - {id: end, type: end}
"""


async def started(hub, p: dict, title: str) -> dict:
    status, body = await hub.request("POST", "/api/v1/flows/fawen-hq/instances", token=p["zhang"]["token"], json={"title": title, "form": {"密级": "普通"}})
    assert status == 201, body
    return body["instance"]


async def op(hub, who: dict, instance_id: int, **body) -> tuple[int, dict]:
    return await hub.request("POST", f"/api/v1/flows/instances/{instance_id}/operations", token=who["token"], json=body)


async def instance(hub, who: dict, instance_id: int) -> dict:
    status, body = await hub.request("GET", f"/api/v1/flows/instances/{instance_id}", token=who["token"])
    assert status == 200, body
    return body["instance"]


async def test_the_child_runs_its_own_flow_and_its_approval_passes_the_parents_step(hub):
    p = await world(hub, CHILD, PARENT.replace("version: 1\n", "version: 1\nchannel: 发文办理\n"))
    admin = await hub.client(p["admin"])
    followed = (await admin.call("channel:create", {"name": "发文办理", "kind": "private"}))["channel"]
    ke = await hub.client(p["kezhang"])
    parent = await started(hub, p, "关于道路养护的通知")
    assert (await op(hub, p["boss"], parent["id"], kind="approve", task_id=parent["open_tasks"][0]["id"]))[0] == 200
    waiting = (await instance(hub, p["zhang"], parent["id"]))["open_tasks"]
    assert [(t["node_name"], t["kind"], t["user_name"]) for t in waiting] == [("部门会签", "subflow", "子流程办理中")]
    child_id = waiting[0]["child_id"]

    def progress(m: dict) -> bool:  # the flow's channel follows the parent: held by its sub-flow now
        shown = {f["label"]: f["value"] for f in m["card"]["fields"]} if m.get("kind") == "card" else {}
        return m["channel_id"] == followed["id"] and shown.get("当前步骤") == "部门会签" and shown.get("办理人") == "子流程办理中"

    for _ in range(100):  # posted (or brought up to date) by the flow.cards effect
        if any(e in ("message", "message:update") and progress(m) for e, m in admin.events):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"no progress card held by the sub-flow; got {admin.events}")
    card = await ke.wait_for("message", lambda m: card_from_bot(hub, m) and m["card"]["data"]["instance_id"] == child_id)
    assert card["card"]["title"] == "部门会签：关于道路养护的通知"
    child = await instance(hub, p["zhang"], child_id)  # the parent's initiator starts the child
    assert child["initiator_name"] == "张三" and child["form"]["密级"] == "普通" and child["form"]["_parent"] == [parent["id"], waiting[0]["id"]]
    assert (await ke.call("card:action", {"message_id": card["id"], "action": "approve", "comment": "同意会签"}))["ok"]
    after = await instance(hub, p["zhang"], parent["id"])
    assert [(t["node_name"], t["user_name"]) for t in after["open_tasks"]] == [("签发", "王局长")]
    assert [(s["node"], s["operation"], s["target"]) for s in after["trail"]][-1] == ("huiqian", "subflow_done", "approved")
    status, tasks = await hub.request("GET", "/api/v1/tasks?box=todo", token=p["boss"]["token"])
    assert [t["title"] for t in tasks["tasks"]] == ["关于道路养护的通知"]  # nobody holds the waiting step as a to-do


async def test_a_rejected_child_ends_the_parent_and_a_withdrawn_parent_ends_its_child(hub):
    p = await world(hub, CHILD, PARENT)
    first = await started(hub, p, "第一份")
    await op(hub, p["boss"], first["id"], kind="approve", task_id=first["open_tasks"][0]["id"])
    child_id = (await instance(hub, p["zhang"], first["id"]))["open_tasks"][0]["child_id"]
    child = await instance(hub, p["kezhang"], child_id)
    status, body = await op(hub, p["kezhang"], child_id, kind="reject", task_id=child["open_tasks"][0]["id"], opinion="数据有误")
    assert status == 200 and body["instance"]["status"] == "rejected"
    assert (await instance(hub, p["zhang"], first["id"]))["status"] == "rejected"

    second = await started(hub, p, "第二份")
    await op(hub, p["boss"], second["id"], kind="approve", task_id=second["open_tasks"][0]["id"])
    child_id = (await instance(hub, p["zhang"], second["id"]))["open_tasks"][0]["child_id"]
    status, body = await op(hub, p["zhang"], second["id"], kind="withdraw", opinion="不发了")
    assert status == 200 and body["instance"]["status"] == "withdrawn"
    child = await instance(hub, p["kezhang"], child_id)
    assert child["status"] == "terminated" and child["open_tasks"] == []
    assert child["trail"][-1]["opinion"] == "主流程已结束，子流程随之终止。"
    status, tasks = await hub.request("GET", "/api/v1/tasks?box=todo", token=p["kezhang"]["token"])
    assert tasks["tasks"] == []  # the child's 会签 left his 待办 with it


async def test_a_child_flow_not_imported_refuses_the_step_and_a_flow_that_names_itself_stops(hub):
    p = await world(hub, PARENT, SELF)
    parent = await started(hub, p, "无会签流程")
    status, body = await op(hub, p["boss"], parent["id"], kind="approve", task_id=parent["open_tasks"][0]["id"])
    assert status == 409 and body["error"]["message"] == "子流程“huiqian”尚未导入，请管理员先导入该流程。"
    assert [t["node"] for t in (await instance(hub, p["zhang"], parent["id"]))["open_tasks"]] == ["dept"]  # nothing changed
    status, body = await hub.request("POST", "/api/v1/flows/loop/instances", token=p["zhang"]["token"], json={"title": "套娃", "form": {}})
    assert status == 409 and body["error"]["message"] == "子流程“loop”嵌套过深（最多三层），请检查流程定义。"
    status, mine = await hub.request("GET", "/api/v1/tasks?box=started", token=p["zhang"]["token"])
    assert [t["title"] for t in mine["tasks"]] == ["无会签流程"]  # none of the loop's instances was kept
