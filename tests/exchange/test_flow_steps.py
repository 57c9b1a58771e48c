"""发文 and 收文 as flows across two real nodes: at the county a staff member drafts,
the office checks, the leader signs (签发), the 编号 step takes 东政办发〔year〕1号, the
clerk seals (用印), and 分发 sends the document through the exchange; at the city it
arrives as a 收文 card under that number, and the clerk's 签收 starts 收文 there, whose
登记 card reaches the clerk from 流程助手 and whose progress the desk channel follows. On one hub: a 发文 without its document tells
the clerk why it was not sent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from exchange_bridge.flow_steps import document_of
from hub.errors import BadRequest
from tests.exchange.doc_samples import SAMPLES
from tests.exchange.test_desk import PASSWORD, Person, first_card, login
from tests.exchange.test_exchange_nodes import Node, ca, nodes, pair, until  # noqa: F401 (fixtures)

FLOWS = Path(__file__).resolve().parents[2] / "bots" / "flows"


def test_a_dispatch_needs_its_document_and_recipients():
    with pytest.raises(BadRequest) as no_doc:
        document_of({"recipients": ["dy-city"]})
    assert no_doc.value.key == "error.flow_dispatch_incomplete"
    with pytest.raises(BadRequest):
        document_of({"document": {"title": "关于路灯维修的通知"}, "recipients": []})
    doc, to = document_of({"document": {"title": "关于路灯维修的通知"}, "recipients": ["dy-city"], "文号": "东政办发〔2026〕3号"})
    assert doc.number is not None and doc.number.serial == 3 and doc.number.year == 2026 and to == ["dy-city"]


async def tasks_card(person: Person, pred: Callable[[dict[str, Any]], bool] = lambda c: True) -> Any:
    """The newest card from 流程助手 in the person's DM with it that matches."""
    async def look() -> Any:
        channels = (await person.call("channel:list", {}))["channels"]
        for c in channels:
            history = (await person.call("history", {"channel_id": c["id"]}))["messages"]
            found = [m for m in history if m["kind"] == "card" and m["sender"]["username"] == "liucheng-bot" and not m["card"]["data"].get("state") and pred(m)]
            if found:
                return found[-1]
        return None

    return await until(look, nodes=(person.node,))


async def press(person: Person, card: dict[str, Any], action: str = "approve", comment: str = "") -> None:
    acted = await person.call("card:action", {"message_id": card["id"], "action": action, "comment": comment})
    assert acted["ok"], acted


@pytest.mark.slow
async def test_a_fawen_is_numbered_dispatched_and_starts_shouwen_when_signed_for(nodes: Callable[[str], Node]) -> None:
    city, kenli = nodes("dy-city"), nodes("dy-kenli")
    pair(city, kenli)
    for node, unit in ((kenli, "kl-bgs"), (city, "dy-bgs")):
        node.cli("unit", "add", unit, "办公室")
        node.cli("user", "add", "clerk", "--password", PASSWORD, "--display-name", "王收发", "--role", "clerk", "--unit", unit)
        node.cli("user", "add", "boss", "--password", PASSWORD, "--display-name", "李主任", "--role", "leader", "--unit", unit)
        node.cli("user", "add", "staff", "--password", PASSWORD, "--display-name", "张科员", "--unit", unit)
        for flow in ("fawen.yaml", "shouwen.yaml"):
            node.cli("flow", "import", str(FLOWS / flow))
        node.start()
    people = {k: await login(kenli, k) for k in ("clerk", "boss", "staff")}
    city_clerk, city_boss = await login(city, "clerk"), await login(city, "boss")
    try:
        status, body = await people["clerk"].http("POST", "/api/v1/exchange/import", data=(SAMPLES / "request-upward.docx").read_bytes())
        assert status == 200, body
        doc = body["document"]
        status, started = await people["staff"].http(
            "POST", "/api/v1/flows/fawen/instances", json={"title": doc["title"], "form": {"document": doc, "recipients": ["dy-city"]}},
        )
        assert status == 201, started
        check = await tasks_card(people["clerk"])
        assert check["card"]["title"] == f"发文：{doc['title']}"
        await press(people["clerk"], check, comment="核稿无误")
        sign = await tasks_card(people["boss"])
        await press(people["boss"], sign, comment="同意印发")
        seal = await tasks_card(people["clerk"], lambda m: m["id"] != check["id"])
        number = f"东政办发〔{datetime.now(ZoneInfo('Asia/Shanghai')).year}〕1号"
        assert {f["label"]: f["value"] for f in seal["card"]["fields"]}["文号"] == number
        await press(people["clerk"], seal)

        arrived = await first_card(city_clerk, "收文")
        fields = {f["label"]: f["value"] for f in arrived["card"]["fields"]}
        assert fields["文号"] == number, fields  # sent under the number the flow took
        await press(city_clerk, arrived, action="sign")
        register = await tasks_card(city_clerk)  # 收文 started by the 签收: 登记 is the clerk's
        assert register["card"]["title"].startswith("收文：") and [a["id"] for a in register["card"]["actions"]][:1] == ["approve"]
        assert {f["label"]: f["value"] for f in register["card"]["fields"]}["当前步骤"] == "登记"
        await press(city_clerk, register)
        propose = await tasks_card(city_boss)
        assert {f["label"]: f["value"] for f in propose["card"]["fields"]}["当前步骤"] == "拟办"

        async def progress() -> Any:  # the desk channel the document arrived in follows its 收文
            history = (await city_clerk.call("history", {"channel_id": arrived["channel_id"]}))["messages"]
            cards = [m for m in history if m["kind"] == "card" and m["card"]["data"].get("state")]
            shown = {f["label"]: f["value"] for f in cards[-1]["card"]["fields"]} if cards else {}
            return cards[-1] if shown.get("当前步骤") == "拟办" else None

        state = await until(progress, nodes=(city,))
        assert state["card"]["title"] == register["card"]["title"] and state["card"]["status"]["text"] == "办理中"
        shown = {f["label"]: f["value"] for f in state["card"]["fields"]}
        assert shown["办理人"] == "李主任" and shown["最近办理"] == "王收发 同意" and shown["文号"] == number
    finally:
        for p in (*people.values(), city_clerk, city_boss):
            await p.sio.disconnect()
