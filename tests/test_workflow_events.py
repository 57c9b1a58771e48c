"""Workflows over Socket.IO, on both engines: list the flows, start one, read it, act on
it and list one's tasks with events instead of REST; a `task` push tells the assignee
their to-do count when a task arrives and when it is done; a stranger and a malformed
event get the same refusals REST gives."""

from __future__ import annotations

from tests.test_workflows import world


async def test_a_flow_started_and_approved_over_socket_io(hub):
    p = await world(hub)
    zhang, boss, stranger = await hub.client(p["zhang"]), await hub.client(p["boss"]), await hub.client(await hub.user("lisi", "李四"))
    listed = await zhang.call("flow:list", {})
    assert listed["ok"] and {"purchase", "quick"} <= {f["key"] for f in listed["flows"]}
    started = await zhang.call("flow:start", {"key": "purchase", "title": "买打印纸", "form": {"amount": 300}})
    assert started["ok"], started
    inst = started["instance"]
    assert (await boss.wait_for("task", lambda d: d["todo"] == 1)) == {"todo": 1}
    tasks = await boss.call("flow:tasks", {"box": "todo"})
    assert [(t["title"], t["instance_id"]) for t in tasks["tasks"]] == [("买打印纸", inst["id"])]
    refused = await stranger.call("flow:instance", {"instance_id": inst["id"]})
    assert refused["error"]["code"] == "not_found"
    assert (await stranger.call("flow:act", {"instance_id": inst["id"], "kind": "approve", "task_id": tasks["tasks"][0]["task_id"]}))["error"]["code"] == "forbidden"
    assert (await boss.call("flow:act", {"instance_id": inst["id"], "kind": "approve", "task_id": 1, "extra": 1}))["error"]["code"] == "bad_request"
    acted = await boss.call("flow:act", {"instance_id": inst["id"], "kind": "approve", "task_id": tasks["tasks"][0]["task_id"], "opinion": "同意"})
    assert acted["ok"] and acted["instance"]["status"] == "approved", acted
    await boss.wait_for("task", lambda d: d["todo"] == 0)
    read = await zhang.call("flow:instance", {"instance_id": inst["id"]})
    assert [(s["user_name"], s["operation"], s["opinion"]) for s in read["instance"]["trail"]] == [("张三", "start", ""), ("王局长", "approve", "同意")]


async def test_an_invitation_is_answered_over_socket_io(hub):
    p = await world(hub)
    meeting = """\
key: meet
name: 会议通知
version: 1
nodes:
  - {id: start, type: start, next: rsvp}
  - {id: rsvp, type: rsvp, name: 参会回复, assignees: [{user: caiwu1}], next: end}
  - {id: end, type: end}
"""
    assert (await hub.request("POST", "/api/v1/flows", token=p["admin"]["token"], data=meeting.encode()))[0] == 201
    zhang, c1 = await hub.client(p["zhang"]), await hub.client(p["c1"])
    inst = (await zhang.call("flow:start", {"key": "meet", "title": "周例会", "form": {}}))["instance"]
    task_id = inst["open_tasks"][0]["id"]
    assert (await c1.call("flow:act", {"instance_id": inst["id"], "kind": "decline", "task_id": task_id}))["error"]["code"] == "bad_request"
    answered = await c1.call("flow:act", {"instance_id": inst["id"], "kind": "decline", "task_id": task_id, "opinion": "出差"})
    assert answered["ok"] and answered["instance"]["status"] == "approved", answered
    assert [(s["operation"], s["opinion"]) for s in answered["instance"]["trail"]][-1] == ("decline", "出差")
