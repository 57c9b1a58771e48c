"""一人多岗 over real sockets, on both engines: a leader who holds posts in two units gets
a task from each unit's staff in the capacity of that unit — his 待办 says which post each
is for, the card says 办理身份, and the 流转记录 keeps the post he acted in."""

from __future__ import annotations

from tests.test_workflows import card_from_bot

FLOW = """\
key: leave
name: 请假
version: 1
nodes:
  - {id: start, type: start, name: 提交申请, next: dept}
  - {id: dept, type: task, name: 单位负责人审批, assignee: {leader: initiator}, next: end}
  - {id: end, type: end}
"""


async def test_a_leader_with_two_posts_acts_in_the_capacity_each_task_was_given_in(hub):
    await hub.unit("tj", "交通局")
    await hub.unit("dsj", "大数据局")
    admin = await hub.user("admin1", "管理员", roles=("admin",))
    zhang = await hub.user("zhangsan", "张三", units=("tj",))
    wang = await hub.user("wangwu", "王五", units=("dsj",))
    boss = await hub.user("juzhang", "刘局长", units=("tj", "dsj"), roles=("leader",))
    assert (await hub.request("POST", "/api/v1/flows", token=admin["token"], data=FLOW.encode()))[0] == 201
    b = await hub.client(boss)
    for who, title in ((zhang, "张三请假"), (wang, "王五请假")):
        status, body = await hub.request("POST", "/api/v1/flows/leave/instances", token=who["token"], json={"title": title, "form": {}})
        assert status == 201, body
    status, todo = await hub.request("GET", "/api/v1/tasks?box=todo", token=boss["token"])
    assert sorted((t["title"], t["post_name"]) for t in todo["tasks"]) == [("张三请假", "交通局"), ("王五请假", "大数据局")]
    card = await b.wait_for("message", lambda m: card_from_bot(hub, m) and m["card"]["title"] == "请假：王五请假")
    assert {f["label"]: f["value"] for f in card["card"]["fields"]}["办理身份"] == "大数据局"
    assert (await b.call("card:action", {"message_id": card["id"], "action": "approve", "comment": "同意"}))["ok"]
    instance_id = card["card"]["data"]["instance_id"]
    status, got = await hub.request("GET", f"/api/v1/flows/instances/{instance_id}", token=wang["token"])
    assert [(s["user_name"], s["post_name"], s["operation"]) for s in got["instance"]["trail"]][-1] == ("刘局长", "大数据局", "approve")
