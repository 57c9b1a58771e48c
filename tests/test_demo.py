"""The demo organisation of 东营市 loads, its logins work, and seeding is idempotent."""

from __future__ import annotations

from hub.demo import DEMO_PASSWORD, seed


async def test_demo_data_loads_and_logins_work(hub):
    first = await seed(hub.app)
    assert first["created"]
    again = await seed(hub.app)
    assert not again["created"]
    admin_token = await hub.login("admin", DEMO_PASSWORD)
    status, tree = await hub.request("GET", "/api/v1/directory/units", admin_token)
    assert status == 200
    [city] = tree["units"]
    assert city["name"] == "东营市"
    names = [u["name"] for u in city["children"]]
    for body in ("中共东营市委", "东营市人大常委会", "东营市人民政府", "政协东营市委员会", "东营区", "河口区", "垦利区", "利津县", "广饶县"):
        assert body in names
    government = next(u for u in city["children"] if u["name"] == "东营市人民政府")
    departments = [u["name"] for u in government["children"]]
    assert len(departments) >= 12 and {"市教育局", "市财政局", "市公安局", "市应急管理局", "市大数据局"} <= set(departments)
    for username, _, _ in first["logins"]:
        token = await hub.login(username, DEMO_PASSWORD)
        status, me = await hub.request("GET", "/api/v1/me", token)
        assert status == 200 and me["user"]["posts"]
    status, found = await hub.request("GET", "/api/v1/directory/users?q=wjg", admin_token)
    assert any(u["display_name"] == "王建国" for u in found["users"])
    c = await hub.client(admin_token)
    channels = {ch["name"]: ch for ch in (await c.call("channel:list"))["channels"]}
    assert channels["通知公告"]["read_only"] and channels["全市工作交流"]["member_count"] > 100
    # A staff member finds the demo notice card in 通知公告 and can confirm it.
    staff = await hub.client(await hub.login(first["logins"][1][0], DEMO_PASSWORD))
    page = await staff.call("history", {"channel_id": channels["通知公告"]["id"]})
    [card] = [m for m in page["messages"] if m["kind"] == "card"]
    assert card["card"]["title"] == "关于做好岁末年初安全生产工作的通知"
    acked = await staff.call("card:action", {"message_id": card["id"], "action": "ack"})
    assert acked["message"]["card"]["status"]["text"] == "1人已阅"
