"""Cards: a notice posted by a channel admin, members pressing its 已阅 button over
real sockets, the refusals a member can meet, a handler that needs a comment, and the
card's state reaching a member who was away through `sync`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import ValidationError

from hub.auth import Principal
from hub.cards import CARD_HANDLERS, Acted, Card, CardAction, CardActionContext, CardStatus
from rooms.wiring import CARDS


async def notice_channel(hub, *usernames: str) -> tuple[list[dict[str, Any]], list[Any], int]:
    users = [await hub.user(name, f"用户{name}") for name in usernames]
    clients = [await hub.client(u) for u in users]
    ch = (await clients[0].call("channel:create", {"name": "通知群", "kind": "private", "member_ids": [u["id"] for u in users[1:]]}))["channel"]
    return users, clients, ch["id"]


async def post_notice(hub, token: str, channel_id: int, title: str = "关于元旦放假的通知", body: str = "1月1日放假一天。") -> tuple[int, Any]:
    return await hub.request("POST", f"/api/v1/channels/{channel_id}/notices", token=token, json={"title": title, "body": body})


async def test_a_notice_is_confirmed_by_members_and_updates_for_everyone(hub):
    (admin, bob, carol), (a, b, c), cid = await notice_channel(hub, "admin1", "bob", "carol")
    status, body = await post_notice(hub, admin["token"], cid)
    assert status == 201, body
    card_msg = await b.wait_for("message", lambda m: m["kind"] == "card")
    assert card_msg["card"]["title"] == "关于元旦放假的通知"
    assert card_msg["card"]["status"]["text"] == "0人已阅"
    assert [x["label"] for x in card_msg["card"]["actions"]] == ["已阅"]

    ack = await b.call("card:action", {"message_id": card_msg["id"], "action": "ack"})
    assert ack["ok"], ack
    assert ack["message"]["card"]["status"] == {"text": "1人已阅", "tone": "success"}
    for client in (a, c):
        update = await client.wait_for("message:update", lambda m: m["id"] == card_msg["id"])
        assert update["card"]["fields"] == [{"label": "已阅人员", "value": "用户bob"}]
    # Pressing again changes nothing visible.
    again = await b.call("card:action", {"message_id": card_msg["id"], "action": "ack"})
    assert again["message"]["card"]["status"]["text"] == "1人已阅"


async def test_concurrent_confirmations_are_all_kept(hub):
    names = ["admin1"] + [f"u{i}" for i in range(6)]
    users, clients, cid = await notice_channel(hub, *names)
    _, body = await post_notice(hub, users[0]["token"], cid)
    mid = body["message"]["id"]
    answers = await asyncio.gather(*[c.call("card:action", {"message_id": mid, "action": "ack"}) for c in clients[1:]])
    assert all(x["ok"] for x in answers), answers
    final = (await clients[0].call("history", {"channel_id": cid}))["messages"][-1]
    assert final["card"]["status"]["text"] == "6人已阅"
    assert sorted(final["card"]["fields"][0]["value"].split("、")) == sorted(f"用户u{i}" for i in range(6))


async def test_refusals(hub):
    (admin, bob), (a, b), cid = await notice_channel(hub, "admin1", "bob")
    outsider = await hub.user("mallory")
    m = await hub.client(outsider)
    # Only a channel admin posts notices.
    status, body = await post_notice(hub, bob["token"], cid)
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = await post_notice(hub, outsider["token"], cid)
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = await post_notice(hub, admin["token"], cid, title="  ")
    assert status == 400
    _, body = await post_notice(hub, admin["token"], cid)
    mid = body["message"]["id"]
    # A non-member learns nothing; an action the card doesn't offer is a conflict.
    assert (await m.call("card:action", {"message_id": mid, "action": "ack"}))["error"]["code"] == "not_found"
    gone = await b.call("card:action", {"message_id": mid, "action": "approve"})
    assert gone["error"]["code"] == "conflict" and "不可用" in gone["error"]["message"]
    assert (await b.call("card:action", {"message_id": mid}))["error"]["code"] == "bad_request"
    text = await a.call("message:send", {"channel_id": cid, "client_msg_id": "t", "text": "普通消息"})
    assert (await b.call("card:action", {"message_id": text["message"]["id"], "action": "ack"}))["error"]["code"] == "not_found"
    # A recalled card can no longer be acted on.
    await a.call("message:recall", {"message_id": mid})
    assert (await b.call("card:action", {"message_id": mid, "action": "ack"}))["error"]["code"] == "conflict"


async def test_a_handler_with_a_required_comment(hub):
    """What a workflow does: 同意 / 退回 with a reason; the handler decides the new state."""

    async def review(conn: Any, ctx: CardActionContext) -> Acted:
        if ctx.action == "return" and ctx.actor.username != "bob":
            from hub.errors import Forbidden

            raise Forbidden("error.forbidden")
        done = {"approve": ("已同意", "success"), "return": (f"已退回：{ctx.comment}", "danger")}[ctx.action]
        return Acted(ctx.card.model_copy(update={"status": CardStatus(text=done[0], tone=done[1]), "actions": []}))

    hub.app[CARD_HANDLERS].register("test.review", review)
    (alice, bob), (a, b), cid = await notice_channel(hub, "alice", "bob")
    card = Card(
        handler="test.review", title="请审核：2026年预算草案",
        actions=[CardAction(id="approve", label="同意", style="primary"), CardAction(id="return", label="退回", style="danger", comment="required")],
    )
    who = Principal(alice["id"], "alice", "用户alice", (), 0)
    posted = await hub.app[CARDS].post(who, cid, card)
    missing = await b.call("card:action", {"message_id": posted["id"], "action": "return", "comment": "  "})
    assert missing["error"]["code"] == "bad_request" and missing["error"]["message"] == "此操作须填写意见"
    refused = await a.call("card:action", {"message_id": posted["id"], "action": "return", "comment": "不同意"})
    assert refused["error"]["code"] == "forbidden"
    done = await b.call("card:action", {"message_id": posted["id"], "action": "return", "comment": "数据需核实"})
    assert done["message"]["card"]["status"] == {"text": "已退回：数据需核实", "tone": "danger"}
    assert done["message"]["card"]["actions"] == []
    # The buttons are gone: a late press is refused, not applied twice.
    late = await a.call("card:action", {"message_id": posted["id"], "action": "approve"})
    assert late["error"]["code"] == "conflict"


async def test_a_member_who_was_away_syncs_the_cards_current_state(hub):
    (admin, bob, carol), (a, b, c), cid = await notice_channel(hub, "admin1", "bob", "carol")
    _, body = await post_notice(hub, admin["token"], cid)
    mid = body["message"]["id"]
    first = await c.call("sync", {"cursors": {str(cid): 0}})
    cursor = first["cursors"][str(cid)]
    await c.disconnect()
    await b.call("card:action", {"message_id": mid, "action": "ack"})
    back = await hub.client(carol)
    missed = await back.call("sync", {"cursors": {str(cid): cursor}})
    cards = [m for m in missed["messages"] if m["id"] == mid]
    assert len(cards) == 1 and cards[0]["card"]["status"]["text"] == "1人已阅"


@pytest.mark.parametrize("url", ["javascript:alert(1)", "//evil.example/x", "data:text/html,<b>", "/"])
def test_card_links_are_web_or_hub_paths_only(url: str) -> None:
    with pytest.raises(ValidationError):
        Card.model_validate({"handler": "notice", "title": "t", "links": [{"text": "x", "url": url}]})


async def test_a_handlers_effects_are_queued_with_the_new_card_and_run_after_the_commit(hub):
    """A handler decides and does not do: the slow part it names runs from the effects
    outbox after the card's new state has committed, and never for a refused press."""
    from hub.effects import EFFECTS, Effect, Later
    from hub.errors import Forbidden

    ran: list[dict[str, Any]] = []

    async def archive(effect: Effect) -> None:
        ran.append(effect.payload)

    async def review(conn: Any, ctx: CardActionContext) -> Acted:
        if ctx.actor.username != "bob":
            raise Forbidden("error.forbidden")
        card = ctx.card.model_copy(update={"status": CardStatus(text="已同意，归档中", tone="info"), "actions": []})
        return Acted(card, (Later("test.archive", {"message_id": ctx.message["id"], "by": ctx.actor.username}),))

    hub.app[EFFECTS].register("test.archive", archive)
    hub.app[CARD_HANDLERS].register("test.archive", review)
    (alice, bob), (a, b), cid = await notice_channel(hub, "alice", "bob")
    card = Card(handler="test.archive", title="请审核：会议纪要", actions=[CardAction(id="approve", label="同意", style="primary")])
    posted = await hub.app[CARDS].post(Principal(alice["id"], "alice", "用户alice", (), 0), cid, card)
    refused = await a.call("card:action", {"message_id": posted["id"], "action": "approve"})
    assert refused["error"]["code"] == "forbidden"
    done = await b.call("card:action", {"message_id": posted["id"], "action": "approve"})
    assert done["message"]["card"]["status"]["text"] == "已同意，归档中"
    for _ in range(250):
        if ran:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # and nothing else arrives: the refused press queued nothing
    assert ran == [{"message_id": posted["id"], "by": "bob"}]
