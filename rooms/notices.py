"""通知 cards: a channel admin posts a notice; each member confirms it with 已阅.

The smallest complete card feature: a REST endpoint that posts the card and the handler
that answers its one action. The card lists who confirmed and how many, in Chinese
(cards are stored once for every reader; the hub's language is zh-CN first).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth import Principal
from hub.cards import Acted, Card, CardAction, CardActionContext, CardField, CardStatus
from hub.http import json_body, json_response, principal
from hub.i18n import translate
from hub.ids import path_id

from . import rules
from .cards import CardActions

HANDLER = "notice"
ACK = "ack"


def notice_card(title: str, body: str, author: str, acked: list[dict[str, Any]] | None = None) -> Card:
    """The card's whole state follows from its content and who has confirmed it."""
    acked = acked or []
    names = "、".join(a["name"] for a in acked)
    return Card(
        handler=HANDLER,
        title=title,
        body=body,
        status=CardStatus(
            text=translate("card.notice.acked", count=len(acked)), tone="success" if acked else "info"
        ),
        fields=[CardField(label=translate("card.notice.acked_by"), value=names)] if acked else [],
        actions=[CardAction(id=ACK, label=translate("card.notice.ack"), style="primary")],
        footer=translate("card.notice.footer", author=author),
        data={"acked": acked, "author": author},
    )


async def on_action(conn: AsyncConnection, ctx: CardActionContext) -> Acted:
    """已阅: add the member once (pressing again changes nothing)."""
    acked = list(ctx.card.data.get("acked", []))
    if all(a.get("id") != ctx.actor.user_id for a in acked):
        acked.append({"id": ctx.actor.user_id, "name": ctx.actor.display_name})
    return Acted(notice_card(ctx.card.title, ctx.card.body, ctx.card.data.get("author", ""), acked))


async def post_notice(cards: CardActions, who: Principal, channel_id: int, req: rules.NoticePost) -> dict[str, Any]:
    async with cards.rooms.db.connect() as conn:
        await cards.rooms.check_admin(conn, channel_id, who)
    return await cards.post(who, channel_id, notice_card(req.title, req.body, who.display_name), req.client_msg_id)


def routes(cards: CardActions) -> list[web.RouteDef]:
    async def create(request: web.Request) -> web.Response:
        who = await principal(request)
        channel_id = path_id(request.match_info["channel_id"])
        req = await json_body(request, rules.NoticePost)
        message = await post_notice(cards, who, channel_id, req)
        return json_response({"message": message}, status=201)

    return [web.post(r"/api/v1/channels/{channel_id:\d+}/notices", create)]
