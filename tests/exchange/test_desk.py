"""The 收发 desk end to end, as clerks use it: a county clerk reads a Word file into
fields and sends it; at the city the document arrives as a card in 收文, is signed for
and viewed, and the county's tracking card follows live; a package that fails
verification shows up as a card with its reason and is re-processed once its cause is
fixed. Two real hub processes, real TLS, real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from exchange_bridge import desk_cards
from exchange_bridge.desk_api import document_page
from exchange_bridge.model import Document
from tests.exchange.doc_samples import SAMPLES
from tests.exchange.test_exchange_nodes import Node, _package, _post, ca, nodes, pair, until  # noqa: F401 (fixtures)

PASSWORD = "desk-pass-2026"


def add_people(node: Node) -> None:
    node.cli("user", "add", "clerk", "--password", PASSWORD, "--display-name", "王收发", "--role", "clerk")
    node.cli("user", "add", "boss", "--password", PASSWORD, "--display-name", "李主任", "--role", "admin")
    node.cli("user", "add", "staff", "--password", PASSWORD, "--display-name", "张科员")


class Person:
    def __init__(self, node: Node, token: str, sio: socketio.AsyncClient) -> None:
        self.node, self.token, self.sio = node, token, sio
        self.base = f"http://127.0.0.1:{node.port}"

    async def call(self, event: str, data: Any) -> dict[str, Any]:
        return await self.sio.call(event, data, timeout=10)

    async def http(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as s:
            async with s.request(method, self.base + path, headers={"Authorization": f"Bearer {self.token}"}, **kw) as r:
                return r.status, (await r.json() if r.content_type == "application/json" else await r.text())

    async def cards(self, channel_name: str) -> list[dict[str, Any]]:
        channels = (await self.call("channel:list", {}))["channels"]
        found = [c for c in channels if c["name"] == channel_name]
        if not found:
            return []
        return [m for m in (await self.call("history", {"channel_id": found[0]["id"]}))["messages"] if m["kind"] == "card"]


async def login(node: Node, username: str) -> Person:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"http://127.0.0.1:{node.port}/api/v1/auth/login", json={"username": username, "password": PASSWORD}) as r:
            token = (await r.json())["token"]
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(f"http://127.0.0.1:{node.port}", auth={"token": token}, transports=["websocket"], wait_timeout=10)
    return Person(node, token, sio)


async def first_card(person: Person, channel: str, pred: Callable[[dict[str, Any]], bool] = lambda c: True) -> Any:
    async def look() -> Any:
        return next((c for c in await person.cards(channel) if pred(c)), None)

    return await until(look, nodes=(person.node,))


@pytest.mark.slow
async def test_a_word_file_goes_from_county_to_city_as_cards(nodes: Callable[[str], Node]) -> None:
    city, kenli = nodes("dy-city"), nodes("dy-kenli")
    pair(city, kenli)
    for node in (city, kenli):
        add_people(node)
        node.start()
    county_clerk, city_clerk, city_staff = await login(kenli, "clerk"), await login(city, "clerk"), await login(city, "staff")
    try:
        # The county clerk reads a Word file into fields; what it lacks is named, not guessed.
        status, body = await county_clerk.http("POST", "/api/v1/exchange/import", data=(SAMPLES / "request-upward.docx").read_bytes())
        assert status == 200, body
        doc = body["document"]
        assert doc["kind"] == "请示" and doc["urgency"] == "特急" and body["labels"]["signer"] == "签发人"
        # An unclassified 请示 without 抄送 or 版记 lacks nothing the standard requires of it.
        assert "cc" in body["missing"] and body["lacking"] == []
        # Staff without the clerk's role may not send.
        status, refused = await city_staff.http("POST", "/api/v1/exchange/import", data=b"PK")
        assert status == 403 and refused["error"]["code"] == "forbidden"
        status, sent = await county_clerk.http("POST", "/api/v1/exchange/send", json={"document": doc, "recipients": ["dy-city"]})
        assert status == 201, sent
        package_id = sent["package_id"]

        # At the city: a card in 收文 with the head of the document and two buttons.
        card_msg = await first_card(city_clerk, "收文")
        card = card_msg["card"]
        assert card["title"] == "【特急】" + doc["title"]
        fields = {f["label"]: f["value"] for f in card["fields"]}
        assert fields["文号"] == doc["number"]["text"] and fields["紧急程度"] == "特急" and fields["来文单位"] == "垦利区人民政府"
        assert card["status"]["text"] == "待签收"  # 来文单位: the certificate's name (no 垦利 in the city's directory)
        assert [a["label"] for a in card["actions"]] == ["签收", "退回"]
        assert card["links"][0]["url"] == f"/api/v1/exchange/documents/{package_id}/view"
        # Ordinary staff are not members of 收文 and cannot see the document.
        assert await city_staff.cards("收文") == []
        status, _ = await city_staff.http("GET", card["links"][0]["url"])
        assert status == 404

        # The county's tracking card follows: delivered, then signed for, then read.
        async def tracking(state: str) -> Any:
            return await first_card(county_clerk, "发文", lambda c: any(state in f["value"] for f in c["card"]["fields"]))

        delivered = await tracking("已送达")
        assert {f["label"] for f in delivered["card"]["fields"]} >= {"东营市人民政府"}  # a name, not dy-city
        status, reachable = await county_clerk.http("GET", "/api/v1/exchange/units")
        assert status == 200 and {u["code"]: u["name"] for u in reachable["units"]}["dy-city"] == "东营市人民政府"
        signed = await city_clerk.call("card:action", {"message_id": card_msg["id"], "action": "sign"})
        assert signed["ok"], signed
        assert signed["message"]["card"]["status"]["text"] == "已签收" and signed["message"]["card"]["actions"] == []
        signed_track = await tracking("已签收")
        assert signed_track["card"]["status"]["text"] == "1/1 已签收"
        assert "（王收发 " in signed_track["card"]["fields"][-1]["value"]  # 签收人 and when
        # and the sending clerk is told, in a line of 发文 that counts as unread
        async def told() -> Any:  # posted after the card moved: wait for it
            out = next(c for c in (await county_clerk.call("channel:list", {}))["channels"] if c["name"] == "发文")
            history = (await county_clerk.call("history", {"channel_id": out["id"]}))["messages"]
            lines = [m["text"] for m in history if m["kind"] == "text"]
            return (out, lines) if lines else None

        out, lines = await until(told, nodes=(kenli, city))
        assert lines == [f"东营市人民政府 已签收《{doc['title']}》（王收发）"], lines
        assert out["unread"] >= 1

        status, page = await city_clerk.http("GET", card["links"][0]["url"])
        assert status == 200 and doc["title"] in page and "签发人：" in page  # an upward document's layout
        await tracking("已阅")
        # A second press is refused, not applied twice.
        again = await city_clerk.call("card:action", {"message_id": card_msg["id"], "action": "return", "comment": "迟了"})
        assert again["error"]["code"] == "conflict"
    finally:
        for p in (county_clerk, city_clerk, city_staff):
            await p.sio.disconnect()


@pytest.mark.slow
async def test_a_returned_document_and_a_quarantined_package_as_cards(
    nodes: Callable[[str], Node], ca: Any,
) -> None:
    city, kenli = nodes("dy-city"), nodes("dy-kenli")
    pair(city, kenli)
    for node in (city, kenli):
        add_people(node)
        node.start()
    root, certs = ca
    county_clerk, boss = await login(kenli, "clerk"), await login(city, "boss")
    try:
        doc = Document(kind="通知", title="关于报送年度统计数据的通知", to=["东营市统计局"]).to_json()
        status, sent = await county_clerk.http("POST", "/api/v1/exchange/send", json={"document": doc, "recipients": ["dy-city"]})
        assert status == 201, sent
        card_msg = await first_card(boss, "收文")
        missing = await boss.call("card:action", {"message_id": card_msg["id"], "action": "return"})
        assert missing["error"]["code"] == "bad_request"
        returned = await boss.call("card:action", {"message_id": card_msg["id"], "action": "return", "comment": "附件缺失"})
        # the status stays short (a long reason would squeeze the title at phone width); the reason has its own line
        assert returned["message"]["card"]["status"]["text"] == "已退回"
        assert returned["message"]["card"]["body"] == "退回理由：附件缺失"
        track = await first_card(county_clerk, "发文", lambda c: c["card"]["status"]["tone"] == "danger")
        assert any(f["value"].startswith("已退回：附件缺失（李主任 ") for f in track["card"]["fields"])
        assert track["card"]["status"]["text"] == "已退回"  # not "0/1 已签收"

        # 广饶 is not yet a peer of the city: its package is quarantined, and the card says why.
        guangrao = certs["dy-guangrao"]
        pid, body = _package(guangrao, [certs["dy-city"]], ["dy-city"], claimed_sender="dy-guangrao")
        status, answer = await _post(city, certs["dy-kenli"], root.cert, pid, body, ["dy-city"], sender="dy-guangrao")
        assert answer == {"status": "quarantined", "reason": "unknown_signer"}
        held = await first_card(boss, "收文", lambda c: c["card"]["status"]["text"] == "已隔离")
        reason = {f["label"]: f["value"] for f in held["card"]["fields"]}["原因"]
        assert reason == "签名者不是登记的发送单位"
        # The administrator registers 广饶 (via the city), then re-processes: the document comes in.
        city.cli("exchange", "peer", "add", "dy-guangrao", "--cert", str(guangrao.cert), "--via", "dy-kenli")
        pressed = await boss.call("card:action", {"message_id": held["id"], "action": "reprocess"})
        assert pressed["ok"] and pressed["message"]["card"]["status"]["text"] == "正在重新处理…"
        await first_card(boss, "收文", lambda c: c["id"] == held["id"] and c["card"]["status"]["text"] == "已重新处理并接收")
        await first_card(boss, "收文", lambda c: c["card"]["data"].get("package_id") == pid)
    finally:
        for p in (county_clerk, boss):
            await p.sio.disconnect()


def test_the_view_escapes_everything_and_follows_the_direction() -> None:
    hostile = "<img src=x onerror=alert(1)>"
    up = Document(kind="请示", direction="上行文", title=hostile, signer=["张三", "李四"], to=["东营市人民政府"],
                  body=[{"type": "paragraph", "text": "一、总体要求", "level": 1}, {"type": "paragraph", "text": hostile}])
    page = document_page(up, [])
    assert hostile not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "签发人：" in page and "张三　李四" in page and 'class="body l1"' in page
    down = Document(kind="通知", direction="下行文", title="关于开展安全检查的通知", number="东政办发〔2026〕15号")
    page = document_page(down, [])
    assert "签发人" not in page and "东政办发〔2026〕15号" in page and "number-line up" not in page


def test_the_tracking_card_tells_the_sender_why_in_words() -> None:
    rows = [
        {"unit": "dy-hekou", "name": "河口区", "status": "quarantined", "reason": "bad_signature"},
        {"unit": "dy-kenli", "name": "垦利区", "status": "signed", "reason": ""},
        {"unit": "dy-lijin", "name": "利津县", "status": "returned", "reason": "请补充附件"},
    ]
    card = desk_cards.outgoing_card("关于开展安全检查的通知", "东政发〔2026〕1号", "a" * 32, rows)
    values = {f.label: f.value for f in card.fields}
    assert values == {"文号": "东政发〔2026〕1号", "河口区": "对方拒收：签名校验失败（内容可能被篡改）", "垦利区": "已签收",
                      "利津县": "已退回：请补充附件"}
    assert (card.status.text, card.status.tone) == ("1/3 已签收·1 退回", "danger")
    done = desk_cards.outgoing_card("t", None, "a" * 32, [dict(rows[1], unit="x", name="甲"), dict(rows[1])])
    assert (done.status.text, done.status.tone) == ("2/2 已签收", "success")


def test_the_view_names_only_what_the_documents_kind_and_direction_require() -> None:
    plain = Document(
        kind="通知", issuer="东营市人民政府办公室文件", number="东政办发〔2026〕15号", title="关于做好冬季安全生产工作的通知",
        to=["各县区人民政府"], body=[{"type": "paragraph", "text": "正文"}], signed_by=["东营市人民政府办公室"], date="2026年11月20日",
        missing=["copy_no", "secrecy", "urgency", "signer", "attachments", "note", "cc", "printed_by", "printed_date"],
    )
    assert "原文缺少" not in document_page(plain, [])
    request = plain.model_copy(update={"kind": "请示", "to": ["山东省人民政府"], "title": "关于申请资金的请示"})
    assert "原文缺少必备要素：签发人" in document_page(request, [])
