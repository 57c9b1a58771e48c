"""代理 over REST and real sockets, on both engines: a leader away sets a standing proxy;
while it runs the tasks given to him reach his proxy, who acts in his place — the card,
the instance and the 流转记录 say 李副局长（代 王局长）; refused periods, overlaps and
strangers get clear answers; once removed, tasks come to the leader again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.test_workflows import card_from_bot

FLOW = """\
key: leave
name: 请假
version: 1
nodes:
  - {id: start, type: start, name: 提交申请, next: dept}
  - {id: dept, type: task, name: 单位负责人审批, assignee: {user: juzhang}, next: end}
  - {id: end, type: end}
"""


def iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


async def world(hub) -> dict:
    await hub.unit("tj", "交通局")
    people = {
        "admin": await hub.user("admin1", "管理员", roles=("admin",)),
        "zhang": await hub.user("zhangsan", "张三", units=("tj",)),
        "boss": await hub.user("juzhang", "王局长", units=("tj",), roles=("leader",)),
        "deputy": await hub.user("fujuzhang", "李副局长", units=("tj",), roles=("leader",)),
    }
    assert (await hub.request("POST", "/api/v1/flows", token=people["admin"]["token"], data=FLOW.encode()))[0] == 201
    return people


async def test_a_proxy_holds_the_leaders_tasks_while_he_is_away(hub):
    p = await world(hub)
    deputy = await hub.client(p["deputy"])
    status, body = await hub.request("POST", "/api/v1/flows/proxies", token=p["boss"]["token"],
                                     json={"proxy": "fujuzhang", "starts_at": iso(-timedelta(minutes=1)), "ends_at": iso(timedelta(days=3))})
    assert status == 201 and body["proxy"]["proxy_name"] == "李副局长" and body["proxy"]["active"] is True, body
    assert datetime.fromisoformat(body["proxy"]["ends_at"]).utcoffset() is not None  # a moment, not a wall-clock time
    status, listed = await hub.request("GET", "/api/v1/flows/proxies", token=p["deputy"]["token"])
    assert [x["user_name"] for x in listed["proxies"]] == ["王局长"]  # the proxy sees what they hold for whom
    assert datetime.fromisoformat(listed["proxies"][0]["starts_at"]) == datetime.fromisoformat(body["proxy"]["starts_at"])

    status, started = await hub.request("POST", "/api/v1/flows/leave/instances", token=p["zhang"]["token"], json={"title": "12月8日请假", "form": {}})
    assert status == 201, started
    assert [(t["user_name"], t["proxy_for_name"]) for t in started["instance"]["open_tasks"]] == [("李副局长", "王局长")]
    card = await deputy.wait_for("message", lambda m: card_from_bot(hub, m))
    acted = await deputy.call("card:action", {"message_id": card["id"], "action": "approve", "comment": "同意，代王局长批"})
    assert acted["ok"], acted
    assert "李副局长（代 王局长） 同意：同意，代王局长批" in {f["label"]: f["value"] for f in acted["message"]["card"]["fields"]}["办理意见"]
    status, got = await hub.request("GET", f"/api/v1/flows/instances/{started['instance']['id']}", token=p["zhang"]["token"])
    assert got["instance"]["status"] == "approved"
    assert [(s["user_name"], s["proxy_for_name"], s["operation"]) for s in got["instance"]["trail"]][-1] == ("李副局长", "王局长", "approve")
    status, boss_todo = await hub.request("GET", "/api/v1/tasks?box=todo", token=p["boss"]["token"])
    assert boss_todo["tasks"] == []  # nothing waited on him while away

    proxy_id = body["proxy"]["id"]
    assert (await hub.request("DELETE", f"/api/v1/flows/proxies/{proxy_id}", token=p["deputy"]["token"]))[0] == 403  # only its owner
    assert (await hub.request("DELETE", f"/api/v1/flows/proxies/{proxy_id}", token=p["boss"]["token"]))[0] == 200
    status, again = await hub.request("POST", "/api/v1/flows/leave/instances", token=p["zhang"]["token"], json={"title": "12月9日请假", "form": {}})
    assert [(t["user_name"], t["proxy_for"]) for t in again["instance"]["open_tasks"]] == [("王局长", None)]


async def test_bad_proxies_are_refused_in_chinese(hub):
    p = await world(hub)

    async def ask(who: str, **body) -> tuple[int, str]:
        payload = {"proxy": "fujuzhang", "starts_at": iso(timedelta(0)), "ends_at": iso(timedelta(days=1)), **body}
        status, answer = await hub.request("POST", "/api/v1/flows/proxies", token=p[who]["token"], json=payload)
        return status, answer["error"]["message"] if status >= 400 else ""

    assert await ask("boss", proxy="juzhang") == (400, "不能设置自己为自己的代理人。")
    assert await ask("boss", ends_at=iso(-timedelta(hours=1))) == (400, "代理时间不对：结束时间要晚于开始时间和现在，且不超过一年。")
    assert await ask("boss", ends_at=iso(timedelta(days=400))) == (400, "代理时间不对：结束时间要晚于开始时间和现在，且不超过一年。")
    assert await ask("boss", proxy="nosuch") == (404, "找不到这位用户（或已停用）。")
    assert (await ask("boss", starts_at="2026-12-10T09:00:00"))[0] == 400  # a time without its zone is ambiguous
    assert await ask("zhang", user="juzhang") == (403, "仅系统管理员可以执行此操作")
    assert await ask("boss") == (201, "")
    assert await ask("boss", starts_at=iso(timedelta(hours=12)), ends_at=iso(timedelta(days=2))) == (409, "这段时间已经设置了代理，请先取消原来的代理。")
    assert (await ask("admin", user="zhangsan"))[0] == 201  # an administrator sets one for someone
