"""Every card state a clerk meets, drawn by the one card renderer at phone and desktop
width: 收文 waiting, signed and returned with a long reason, a 发文 tracking card with a
returned and a refused recipient, a quarantined package before and after 重新处理, and a
通知 read by many. None may overflow the screen or squeeze its title into a column: the
status stays a short label and the reason has a line of its own."""

from __future__ import annotations

import asyncio
import concurrent.futures

import pytest
import socketio
from playwright.sync_api import expect

from exchange_bridge import desk_cards
from exchange_bridge.desk import incoming_state
from exchange_bridge.model import Document
from hub.cards import Card, CardStatus
from rooms.notices import notice_card
from tests.e2e.conftest import DESKTOP, PHONE, api, token_for

pytestmark = pytest.mark.slow

TITLE = "东营市人民政府办公室关于进一步做好冬季安全生产和森林防火工作的通知"
REASON = "附件二《重点企业安全隐患排查整改台账》缺少垦利区、利津县两地的数据，请补充后重新报送，并由分管负责同志签字确认"


def _cards() -> list[Card]:
    doc = Document(kind="通知", title=TITLE, number="东政办字〔2026〕118号", urgency="特急", signed_by=["东营市人民政府办公室"],
                   date="2026年12月1日", attachments=[{"name": "重点企业安全隐患排查整改台账"}, {"name": "森林防火责任人名单"}])
    waiting = desk_cards.incoming_card(doc, "a" * 32, "东营市垦利区人民政府办公室")
    signed = incoming_state(waiting, "signed", "")
    returned = incoming_state(waiting, "returned", REASON)
    tracking = desk_cards.outgoing_card(TITLE, "东政办字〔2026〕118号", "b" * 32, [
        {"unit": "dy-kenli", "name": "东营市垦利区人民政府办公室", "status": "returned", "reason": REASON},
        {"unit": "dy-hekou", "name": "河口区", "status": "quarantined", "reason": "bad_signature"},
        {"unit": "dy-lijin", "name": "利津县", "status": "signed", "reason": ""},
    ])
    held = desk_cards.quarantine_card(7, "c" * 32, "dy-guangrao", "unknown_signer", "signer CN=东营市广饶县人民政府办公室 " + "x" * 120)
    still = held.model_copy(update={"status": CardStatus(text="仍未通过", tone="danger"), "actions": []})
    readers = [{"id": i, "name": n} for i, n in enumerate(["李海燕", "王建国", "张伟", "刘洋", "陈静", "赵磊", "孙丽", "周强"] * 3)]
    notice = notice_card("关于2027年元旦放假和值班安排的通知", "12月31日至1月1日放假，请各单位安排好值班。" * 4, "王建国", readers)
    return [waiting, signed, returned, tracking, held, still, notice]


MEASURE = """() => [...document.querySelectorAll('article.card')].map(e => {
  const r = e.getBoundingClientRect(), t = e.querySelector('.card-title').getBoundingClientRect()
  const st = e.querySelector('.status')
  return { title: e.querySelector('.card-title').textContent.trim(), status: st ? st.textContent.trim() : '',
           statusCut: st ? st.scrollWidth - st.clientWidth : 0,
           left: r.left, right: r.right, width: r.width, titleWidth: t.width, overflow: e.scrollWidth - e.clientWidth }
})"""


SAMPLES = "卡片样张"


def _own_channel(base: str, token: str, member_id: int) -> int:
    """A channel of its own, so the shared channels' tests do not scroll past tall cards."""
    async def create() -> dict:
        sio = socketio.AsyncClient()
        await sio.connect(base, auth={"token": token}, transports=["websocket"])
        try:
            return await sio.call("channel:create", {"name": SAMPLES, "kind": "private", "member_ids": [member_id]})
        finally:
            await sio.disconnect()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # sync Playwright keeps a loop in this thread
        return pool.submit(asyncio.run, create()).result()["channel"]["id"]


@pytest.fixture(scope="module")
def posted(hub) -> int:
    admin = token_for(hub, "admin")
    viewer = api(hub, "GET", "/api/v1/directory/users?q=wangjianguo", token=admin)["users"][0]["id"]
    cid = _own_channel(hub, admin, viewer)
    hook = api(hub, "POST", f"/api/v1/channels/{cid}/webhooks", {"name": "卡片样张"}, token=admin)["webhook"]
    cards = _cards()
    for card in cards:
        api(hub, "POST", hook["url"], {"card": card.stored()})
    return len(cards)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_card_state_fits_and_keeps_its_title_readable(people, hub, posted, viewport):
    who = people("wangjianguo", viewport)
    who.login()
    who.page.get_by_role("link", name=SAMPLES, exact=True).click()
    page = who.page
    returned = page.locator("article.card", has_text=REASON).filter(has=page.locator(".status", has_text="已退回"))
    expect(returned.first).to_be_visible()
    expect(returned.first.locator(".status")).to_have_text("已退回")
    # the reason is written once, in its own line
    assert returned.first.inner_text().count(REASON) == 1
    expect(page.locator("article.card", has_text="东政办字〔2026〕118号").first).to_be_visible()

    width = viewport["width"]
    want = {(c.title, c.status.text if c.status else "") for c in _cards()}
    # The list is virtual: scroll up through it, measuring every card as it is drawn.
    seen: dict[tuple[str, str], dict] = {}
    for _ in range(60):
        for m in page.evaluate(MEASURE):
            seen[(m["title"], m["status"])] = m
        if want <= set(seen) or page.evaluate("() => document.querySelector('.messages').scrollTop") == 0:
            break
        page.evaluate("() => { const l = document.querySelector('.messages'); l.scrollTop = Math.max(0, l.scrollTop - l.clientHeight * 0.6) }")
        page.wait_for_timeout(150)
    assert want <= set(seen), f"not drawn: {want - set(seen)}"
    for key in want:
        m = seen[key]
        assert m["left"] >= 0 and m["right"] <= width, f"runs off the screen: {m}"
        assert m["titleWidth"] >= m["width"] * 0.45, f"title squeezed: {m}"
        assert m["overflow"] <= 1, f"content wider than its card: {m}"
        assert len(m["status"]) <= 12 and m["statusCut"] <= 1, f"status not shown whole: {m}"
    who.shot(f"cards-{width}")
    page.locator("article.card", has_text=REASON).first.scroll_into_view_if_needed()
    who.shot(f"cards-returned-{width}")
    assert not who.errors, who.errors
