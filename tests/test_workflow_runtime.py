"""Workflows that run by themselves, over real sockets on both engines: a 文号 step
numbers instances gap-free under concurrency; a deadline sends the holder a 催办 card,
then escalates to their leader, whose action closes both; the initiator's 催办 reaches
the holder and is rate-limited; the 流转记录 is a hash chain that `changtong flow verify`
checks and that shows a tampered row; a deadline set before a restart fires after it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import docx
import pytest
import sqlalchemy as sa

from bots.schema import flow_audit, flow_instances
from bots.workflow import service
from hub.config import CONFIG
from hub.db import DATABASE
from tests.conftest import hub_config, serve
from tests.test_cli import changtong, clean_env
from tests.test_workflows import card_from_bot

FLOWS = Path(__file__).resolve().parents[1] / "bots" / "flows"

NUMBERED = """\
key: fawen-lite
name: 发文（简）
version: 1
nodes:
  - {id: start, type: start, next: sign}
  - {id: sign, type: task, name: 签发, assignee: {leader: initiator}, next: num}
  - {id: num, type: auto, name: 编号, action: number, counter: 东交发, field: 文号, next: archive}
  - {id: archive, type: auto, name: 归档, action: archive, next: end}
  - {id: end, type: end}
"""

TIMED = """\
key: timed
name: 限时审批
version: 1
nodes:
  - {id: start, type: start, next: boss}
  - {id: boss, type: task, name: 科长审批, assignee: {user: kezhang}, deadline: 1s, on_timeout: escalate, next: end}
  - {id: end, type: end}
"""


async def world(hub, *flows: str) -> dict:
    await hub.unit("tj", "交通局")
    people = {
        "admin": await hub.user("admin1", "管理员", roles=("admin",)),
        "zhang": await hub.user("zhangsan", "张三", units=("tj",)),
        "kezhang": await hub.user("kezhang", "李科长", units=("tj",)),
        "boss": await hub.user("juzhang", "王局长", units=("tj",), roles=("leader",)),
    }
    for flow in flows:
        status, body = await hub.request("POST", "/api/v1/flows", token=people["admin"]["token"], data=flow.encode())
        assert status == 201, body
    return people


async def start(hub, who: dict, key: str, title: str) -> dict:
    status, body = await hub.request("POST", f"/api/v1/flows/{key}/instances", token=who["token"], json={"title": title, "form": {}})
    assert status == 201, body
    return body["instance"]


async def signed(hub, p: dict, inst: dict) -> dict:
    """王局长 signs a fawen-lite instance (签发), which numbers and archives it."""
    status, body = await hub.request(
        "POST", f"/api/v1/flows/instances/{inst['id']}/operations", token=p["boss"]["token"],
        json={"kind": "approve", "task_id": inst["open_tasks"][0]["id"], "opinion": "同意印发"},
    )
    assert status == 200, body
    return body


async def test_numbering_is_gap_free_under_concurrency_and_archives(hub):
    p = await world(hub, NUMBERED)
    year = datetime.now(ZoneInfo("Asia/Shanghai")).year
    started = await asyncio.gather(*(start(hub, p["zhang"], "fawen-lite", f"关于第{i}件事的通知") for i in range(6)))
    ops = "/api/v1/flows/instances/{}/operations"

    async def sign(inst: dict) -> dict:
        status, body = await hub.request("POST", ops.format(inst["id"]), token=p["boss"]["token"], json={"kind": "approve", "task_id": inst["open_tasks"][0]["id"]})
        assert status == 200, body
        return body["instance"]

    signed = await asyncio.gather(*(sign(i) for i in started))
    assert sorted(i["form"]["文号"] for i in signed) == sorted(f"东交发〔{year}〕{n}号" for n in range(1, 7))
    for inst in signed:
        assert inst["status"] == "approved"
        numbered = next(s for s in inst["trail"] if s["operation"] == "number")
        assert numbered["target"] == inst["form"]["文号"]  # the 流转记录 says which number it took
    archived = await hub.app[DATABASE].read(lambda c: c.execute(sa.select(sa.func.count()).where(flow_instances.c.archived_at.is_not(None))).scalar())
    assert archived == 6


async def test_a_number_taken_in_a_transaction_that_rolls_back_is_given_back(hub):
    await hub.unit("tj", "交通局")

    class Undo(Exception):
        pass

    def take_and_fail(conn: sa.Connection) -> None:
        assert service.next_number(conn, "东政办发", 7, 2026) == 1
        raise Undo

    with pytest.raises(Undo):
        await hub.app[DATABASE].write(take_and_fail)
    assert await hub.app[DATABASE].write(service.next_number, "东政办发", 7, 2026) == 1
    assert await hub.app[DATABASE].write(service.next_number, "东政办发", 7, 2026) == 2
    assert await hub.app[DATABASE].write(service.next_number, "东政办发", 8, 2026) == 1  # another unit counts alone
    assert await hub.app[DATABASE].write(service.next_number, "东政办发", 7, 2027) == 1  # and a new year starts at 1


async def test_a_deadline_urges_then_escalates_to_the_leader_whose_action_closes_both(hub):
    p = await world(hub, TIMED)
    ke, boss = await hub.client(p["kezhang"]), await hub.client(p["boss"])
    inst = await start(hub, p["zhang"], "timed", "请批复路灯维修")
    task = await ke.wait_for("message", lambda m: card_from_bot(hub, m) and not m["card"]["data"].get("urge"))
    urged = await ke.wait_for("message", lambda m: card_from_bot(hub, m) and m["card"]["data"].get("urge"), timeout=10)
    assert urged["card"]["title"] == "催办：限时审批《请批复路灯维修》"
    assert {f["label"]: f["value"] for f in urged["card"]["fields"]}["催办人"] == "已超过办理时限（系统自动催办）"
    escalated = await boss.wait_for("message", lambda m: card_from_bot(hub, m), timeout=10)  # the second deadline: the leader
    assert escalated["card"]["data"]["instance_id"] == inst["id"] and [a["id"] for a in escalated["card"]["actions"]][:1] == ["approve"]
    acted = await boss.call("card:action", {"message_id": escalated["id"], "action": "approve", "comment": "同意，抓紧修"})
    assert acted["ok"], acted
    closed = await ke.wait_for("message:update", lambda m: m["id"] == task["id"] and not m["card"]["actions"])
    assert closed["card"]["status"]["text"] != "待办理"
    status, body = await hub.request("GET", f"/api/v1/flows/instances/{inst['id']}", token=p["zhang"]["token"])
    assert status == 200 and body["instance"]["status"] == "approved", body
    assert [s["operation"] for s in body["instance"]["trail"]] == ["start", "remind", "escalate", "approve"]


async def test_the_initiator_urges_and_is_rate_limited(hub):
    p = await world(hub, TIMED.replace("deadline: 1s, on_timeout: escalate, ", ""))
    ke = await hub.client(p["kezhang"])
    inst = await start(hub, p["zhang"], "timed", "请批复路灯维修")
    ops = f"/api/v1/flows/instances/{inst['id']}/operations"
    status, body = await hub.request("POST", ops, token=p["kezhang"]["token"], json={"kind": "urge"})
    assert status == 403, body  # only the initiator urges
    status, body = await hub.request("POST", ops, token=p["zhang"]["token"], json={"kind": "urge", "opinion": "今天要报市里"})
    assert status == 200, body
    urged = await ke.wait_for("message", lambda m: card_from_bot(hub, m) and m["card"]["data"].get("urge"))
    fields = {f["label"]: f["value"] for f in urged["card"]["fields"]}
    assert fields["催办人"] == "张三" and fields["办理意见"] == "今天要报市里", fields
    status, body = await hub.request("POST", ops, token=p["zhang"]["token"], json={"kind": "urge"})
    assert status == 409 and body["error"]["message"] == "刚刚催办过，请十分钟后再催。", body


async def test_the_trail_is_a_hash_chain_that_verify_checks(hub, tmp_path):
    p = await world(hub, NUMBERED)
    inst = await start(hub, p["zhang"], "fawen-lite", "关于路灯维修的通知")
    await signed(hub, p, inst)
    config = hub.app[CONFIG]
    env = clean_env(CHANGTONG_DATABASE_URL=config.effective_database_url)

    async def verify() -> tuple[int, str]:
        run = await changtong("--data-dir", str(config.data_dir), "flow", "verify", str(inst["id"]), cwd=tmp_path, env=env)
        return run.code, run.out + run.err

    code, out = await verify()
    assert code == 0 and f"流转记录完整 (intact): 实例 {inst['id']}, 4 条" in out, out  # start, 签发, 编号, 归档
    await hub.app[DATABASE].write(
        lambda c: c.execute(
            flow_audit.update().where(flow_audit.c.instance_id == inst["id"], flow_audit.c.seq == 2)
            .values(step={**dict(c.execute(sa.select(flow_audit.c.step).where(flow_audit.c.instance_id == inst["id"], flow_audit.c.seq == 2)).scalar()), "opinion": "不同意"})
        )
    )
    code, out = await verify()
    assert code == 1 and "第 2 条 (step 2): 记录被改动" in out, out


async def test_a_deadline_set_before_a_restart_fires_after_it(data_dir, tmp_path):
    config = hub_config(tmp_path, data_dir[1])

    first, runner = await serve(config)
    p = await world(first, TIMED.replace("deadline: 1s", "deadline: 2s"))
    inst = await start(first, p["zhang"], "timed", "请批复路灯维修")
    await first.close()
    await runner.cleanup()  # down before the deadline
    second, runner = await serve(config)
    try:
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            status, body = await second.request("GET", f"/api/v1/flows/instances/{inst['id']}", token=p["zhang"]["token"])
            if [s["operation"] for s in body["instance"]["trail"]][1:2] == ["remind"]:
                break
            assert asyncio.get_running_loop().time() < deadline, body
            await asyncio.sleep(0.2)
    finally:
        await second.close()
        await runner.cleanup()


async def test_a_circulation_shows_under_cc_read_or_not(hub):
    p = await world(hub, """\
key: notice
name: 通知传阅
version: 1
nodes:
  - {id: start, type: start, next: read}
  - {id: read, type: circulate, name: 传阅, assignees: [{user: kezhang}, {user: juzhang}], next: end}
  - {id: end, type: end}
""")
    inst = await start(hub, p["zhang"], "notice", "关于冬季防火的通知")

    async def cc(who: str) -> list[str]:
        status, body = await hub.request("GET", "/api/v1/tasks?box=cc", token=p[who]["token"])
        assert status == 200, body
        return [(t["title"], t["status"]) for t in body["tasks"]]

    assert await cc("kezhang") == [("关于冬季防火的通知", "open")]
    mine = next(t for t in inst["open_tasks"] if t["user_id"] == p["kezhang"]["id"])
    status, body = await hub.request("POST", f"/api/v1/flows/instances/{inst['id']}/operations", token=p["kezhang"]["token"], json={"kind": "read", "task_id": mine["id"]})
    assert status == 200, body
    assert await cc("kezhang") == [("关于冬季防火的通知", "done")]
    assert await cc("zhang") == []  # the initiator was not given it to read


async def test_a_fawen_without_its_document_tells_the_sealing_clerk_why_it_was_not_sent(hub):
    await hub.unit("tj", "交通局")
    admin = await hub.user("admin1", "管理员", roles=("admin",))
    staff = await hub.user("zhangsan", "张三", units=("tj",))
    clerk = await hub.user("wangsf", "王收发", units=("tj",), roles=("clerk",))
    boss = await hub.user("juzhang", "王局长", units=("tj",), roles=("leader",))
    source = (FLOWS / "fawen.yaml").read_text(encoding="utf-8")
    assert (await hub.request("POST", "/api/v1/flows", token=admin["token"], data=source.encode()))[0] == 201
    c, b = await hub.client(clerk), await hub.client(boss)
    await start(hub, staff, "fawen", "关于路灯维修的通知")
    acted: set[int] = set()
    for client, comment in ((c, ""), (b, "同意印发"), (c, "")):  # 核稿, 签发, 用印
        card = await client.wait_for("message", lambda m: card_from_bot(hub, m) and m["card"]["actions"] and m["id"] not in acted)
        acted.add(card["id"])
        assert (await client.call("card:action", {"message_id": card["id"], "action": "approve", "comment": comment}))["ok"]
    told = await c.wait_for("message", lambda m: m["sender"]["username"] == "liucheng-bot" and m["kind"] == "text", timeout=10)
    assert told["text"] == "“关于路灯维修的通知”的分发没有完成：表单里缺少要分发的公文（document）或主送单位（recipients），请先导入公文并选择主送单位。"



async def test_the_record_of_handling_downloads_as_word_with_its_chain_checked(hub, tmp_path):
    p = await world(hub, NUMBERED)
    inst = await start(hub, p["zhang"], "fawen-lite", "关于路灯维修的通知")
    body = await signed(hub, p, inst)
    url = f"/api/v1/flows/instances/{inst['id']}/record.docx"
    status, data = await hub.request("GET", url, token=p["zhang"]["token"])
    assert status == 200 and data[:2] == b"PK"
    (tmp_path / "record.docx").write_bytes(data)
    doc = docx.Document(str(tmp_path / "record.docx"))
    text = [para.text for para in doc.paragraphs]
    assert text[0] == "发文（简）办理单" and "标题：关于路灯维修的通知" in text
    trail = [[c.text for c in row.cells] for row in doc.tables[-1].rows]
    number = body["instance"]["form"]["文号"]
    assert trail[0] == ["步骤", "办理人", "办理", "意见", "时间"]
    assert [r[:4] for r in trail[1:]] == [["start", "张三", "发起", ""], ["签发", "王局长", "同意", "同意印发"], ["编号", "系统", f"编号 {number}", ""], ["归档", "系统", "归档", ""]]
    assert text[-1] == "流转记录校验：完整（共 4 条，逐条哈希相连，未被改动）"
    assert (await hub.request("GET", url, token=p["kezhang"]["token"]))[0] == 404  # not his: nothing to see


async def test_xinxi_publishes_the_reviewed_text_as_a_notice_in_its_channel(hub):
    p = await world(hub)
    source = (FLOWS / "xinxi.yaml").read_text(encoding="utf-8")
    assert (await hub.request("POST", "/api/v1/flows", token=p["admin"]["token"], data=source.encode()))[0] == 201
    boss, ke = await hub.client(p["boss"]), await hub.client(p["kezhang"])
    news = await boss.call("channel:create", {"name": "信息发布", "kind": "public", "member_ids": [p["kezhang"]["id"]]})
    assert news["ok"], news  # the reviewer administers the channel it goes into

    async def submit(title: str) -> dict:
        status, body = await hub.request("POST", "/api/v1/flows/xinxi/instances", token=p["zhang"]["token"], json={"title": title, "form": {"正文": "12月3日，交通局完成全市主干道路灯检修。"}})
        assert status == 201, body
        card = await boss.wait_for("message", lambda m: card_from_bot(hub, m) and m["card"]["title"] == f"信息报送：{title}")
        assert (await boss.call("card:action", {"message_id": card["id"], "action": "approve", "comment": "同意发布"}))["ok"]
        return card

    await submit("路灯检修完成")
    notice = await ke.wait_for("message", lambda m: m["kind"] == "card" and m["card"]["handler"] == "notice", timeout=10)
    assert notice["channel_id"] == news["channel"]["id"] and notice["sender"]["display_name"] == "王局长"
    assert notice["card"]["title"] == "路灯检修完成" and notice["card"]["body"] == "12月3日，交通局完成全市主干道路灯检修。"
    assert [a["label"] for a in notice["card"]["actions"]] == ["已阅"]  # its readers confirm it

    await boss.call("channel:update", {"channel_id": news["channel"]["id"], "name": "旧信息发布"})
    await submit("第二条")  # no channel of that name any more: the reviewer is told why
    told = await boss.wait_for("message", lambda m: m["sender"]["username"] == "liucheng-bot" and m["kind"] == "text" and "发布" in m["text"], timeout=10)
    assert told["text"] == "“第二条”的发布没有完成：没有找到“信息发布”频道，请管理员先建立这个频道。"


async def test_a_meeting_notice_collects_answers_into_a_live_tally_and_reminds_before_it_starts(hub):
    p = await world(hub)
    source = (FLOWS / "huiyi.yaml").read_text(encoding="utf-8").replace("remind_before: 30m", "remind_before: 1h")
    assert (await hub.request("POST", "/api/v1/flows", token=p["admin"]["token"], data=source.encode()))[0] == 201
    z, ke, boss = await hub.client(p["zhang"]), await hub.client(p["kezhang"]), await hub.client(p["boss"])
    starts = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=1, seconds=3)).replace(microsecond=0)
    status, body = await hub.request("POST", "/api/v1/flows/huiyi/instances", token=p["zhang"]["token"],
                                     json={"title": "安全生产例会", "form": {"会议时间": starts.replace(tzinfo=None).isoformat(), "地点": "三楼会议室"}})
    assert status == 201, body
    invite = await ke.wait_for("message", lambda m: card_from_bot(hub, m))
    assert [a["label"] for a in invite["card"]["actions"]] == ["参加", "请假"]
    assert (await ke.call("card:action", {"message_id": invite["id"], "action": "decline"}))["error"]["code"] == "bad_request"  # a reason
    assert (await ke.call("card:action", {"message_id": invite["id"], "action": "decline", "comment": "在外地检查"}))["ok"]

    first = await z.wait_for("message", lambda m: card_from_bot(hub, m) and m["card"]["title"] == "参会统计：安全生产例会", timeout=10)
    assert first["card"]["status"]["text"] in ("参加 0 · 请假 0 · 未回复 2", "参加 0 · 请假 1 · 未回复 1")  # posted when the invitations went out

    async def tally(text: str) -> dict:
        if first["card"]["status"]["text"] == text:
            return first
        return await z.wait_for("message:update", lambda m: m["id"] == first["id"] and m["card"]["status"]["text"] == text, timeout=10)

    fields = {f["label"]: f["value"] for f in (await tally("参加 0 · 请假 1 · 未回复 1"))["card"]["fields"]}
    assert fields["请假"] == "李科长（在外地检查）" and fields["未回复"] == "王局长"
    assert fields["会议时间"].endswith(starts.strftime("%H:%M"))
    b_invite = await boss.wait_for("message", lambda m: card_from_bot(hub, m))
    await boss.call("message:send", {"channel_id": b_invite["channel_id"], "client_msg_id": "m1", "text": "参加"})
    said = await boss.wait_for("message", lambda m: m["sender"]["username"] == "liucheng-bot" and m["text"].startswith("已回复"))
    assert said["text"] == "已回复参加：安全生产例会"
    updated = await tally("参加 1 · 请假 1 · 未回复 0")
    assert {f["label"]: f["value"] for f in updated["card"]["fields"]}["参加"] == "王局长"
    reminded = await boss.wait_for("message", lambda m: m["sender"]["username"] == "liucheng-bot" and m["text"].startswith("⏰ 会议提醒"), timeout=10)
    assert reminded["text"].startswith("⏰ 会议提醒：《安全生产例会》将于 ") and reminded["text"].endswith("开始，请准时参加。")
    await asyncio.sleep(0.5)
    assert not [m for m in ke.received("message") if m["text"].startswith("⏰ 会议提醒")]  # not to one who asked for leave


async def test_a_meeting_form_is_checked_field_by_field_over_rest_and_socket_io(hub):
    p = await world(hub)
    source = (FLOWS / "huiyi.yaml").read_text(encoding="utf-8")
    assert (await hub.request("POST", "/api/v1/flows", token=p["admin"]["token"], data=source.encode()))[0] == 201
    status, body = await hub.request("POST", "/api/v1/flows/huiyi/instances", token=p["zhang"]["token"], json={"title": "例会", "form": {"会议时间": "下周一上午"}})
    assert status == 400 and body["error"]["message"] == "表单需要修改：“会议时间”：应为时间，例如 2026-12-08T09:00；“地点”：必填", body
    assert body["error"]["errors"] == [{"field": "会议时间", "message": "应为时间，例如 2026-12-08T09:00"}, {"field": "地点", "message": "必填"}]
    got = await (await hub.client(p["zhang"])).call("flow:start", {"key": "huiyi", "title": "例会", "form": {"会议时间": "2026-12-08T09:00", "地点": "三楼会议室", "人数": 3}})
    assert got["error"] == {"code": "bad_request", "message": "表单需要修改：“人数”：不是此表单的字段", "errors": [{"field": "人数", "message": "不是此表单的字段"}]}
