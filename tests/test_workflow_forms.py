"""出差审批 end to end on both engines: its form is checked as the traveller submits it;
a trip over 5000 元 goes on to 财务审核, who must give an opinion and may correct the
estimate (a field that step may edit), the 流转记录 keeping what was changed; a cheaper
trip ends with the leader."""

from __future__ import annotations

from pathlib import Path

FLOWS = Path(__file__).resolve().parents[1] / "bots" / "flows"
TRIP = {"目的地": "济南", "出发日期": "2026-12-14", "返回日期": "2026-12-16", "事由": "参加全省政务信息化培训"}


async def world(hub) -> dict:
    await hub.unit("tj", "交通局")
    p = {
        "admin": await hub.user("admin1", "管理员", roles=("admin",)),
        "zhang": await hub.user("zhangsan", "张三", units=("tj",)),
        "boss": await hub.user("juzhang", "王局长", units=("tj",), roles=("leader",)),
        "finance": await hub.user("caiwu", "许会计", roles=("finance",)),
    }
    source = (FLOWS / "chuchai.yaml").read_text(encoding="utf-8")
    assert (await hub.request("POST", "/api/v1/flows", token=p["admin"]["token"], data=source.encode()))[0] == 201
    return p


async def test_a_costly_trip_goes_to_finance_who_corrects_the_estimate(hub):
    p = await world(hub)
    status, body = await hub.request("POST", "/api/v1/flows/chuchai/instances", token=p["zhang"]["token"], json={"title": "济南培训", "form": {**TRIP, "预计费用": "一千"}})
    assert status == 400 and body["error"]["errors"] == [{"field": "预计费用", "message": "应为数字"}]
    status, body = await hub.request("POST", "/api/v1/flows/chuchai/instances", token=p["zhang"]["token"], json={"title": "济南培训", "form": {**TRIP, "预计费用": 6200.5}})
    assert status == 201, body
    inst = body["instance"]
    assert inst["form"]["交通方式"] == "火车"  # its default
    ops = f"/api/v1/flows/instances/{inst['id']}/operations"
    status, body = await hub.request("POST", ops, token=p["boss"]["token"], json={"kind": "approve", "task_id": inst["open_tasks"][0]["id"]})
    task = body["instance"]["open_tasks"][0]
    assert (task["node_name"], task["user_name"], task["editable"]) == ("财务审核", "许会计", ["预计费用"])
    status, body = await hub.request("POST", ops, token=p["finance"]["token"], json={"kind": "approve", "task_id": task["id"], "form": {"预计费用": 5800}})
    assert status == 400 and body["error"]["code"] == "bad_request"  # 财务审核 needs an opinion
    status, body = await hub.request("POST", ops, token=p["finance"]["token"], json={"kind": "approve", "task_id": task["id"], "opinion": "住宿按标准核减", "form": {"预计费用": 5800, "目的地": "青岛"}})
    assert status == 400 and body["error"]["errors"] == [{"field": "目的地", "message": "在此环节不可修改"}]
    status, body = await hub.request("POST", ops, token=p["finance"]["token"], json={"kind": "approve", "task_id": task["id"], "opinion": "住宿按标准核减", "form": {"预计费用": 5800}})
    assert status == 200 and body["instance"]["status"] == "approved", body
    assert body["instance"]["form"]["预计费用"] == 5800
    assert body["instance"]["trail"][-1]["filled"] == {"预计费用": 5800} and body["instance"]["trail"][-1]["opinion"] == "住宿按标准核减"


async def test_a_cheap_trip_ends_with_the_leader(hub):
    p = await world(hub)
    status, body = await hub.request("POST", "/api/v1/flows/chuchai/instances", token=p["zhang"]["token"], json={"title": "东营区调研", "form": {**TRIP, "预计费用": 300}})
    inst = body["instance"]
    status, body = await hub.request("POST", f"/api/v1/flows/instances/{inst['id']}/operations", token=p["boss"]["token"], json={"kind": "approve", "task_id": inst["open_tasks"][0]["id"]})
    assert status == 200 and body["instance"]["status"] == "approved"
