"""Card messages: posting one, and `card:action` (a member presses a card's button).

The checks common to every card live here (membership, the action is offered, a
required comment is present, the card was not recalled); what an action *does* is the
business of the handler registered for the card (hub/cards.py), called inside the same
write transaction that stores the card's new state as a change (so `sync` carries it).
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from hub.auth import Principal
from hub.cards import Card, CardActionContext, CardHandlers
from hub.db import after_commit
from hub.effects import enqueue_all
from hub.errors import BadRequest, Conflict, NotFound

from . import rules, store
from .actions import Rooms
from .schema import messages


class CardActions:
    def __init__(self, rooms: Rooms, handlers: CardHandlers) -> None:
        self.rooms = rooms
        self.handlers = handlers

    async def post(self, who: Principal, channel_id: int, card: Card, client_msg_id: str | None = None) -> dict[str, Any]:
        """Post a card as `who` (a person or a bot, who must be a member). The text is
        the title, so previews and notifications read well."""
        return await self.rooms.send(who, _card_send(channel_id, card, client_msg_id), kind="card", card=card.stored())

    def post_in(
        self, conn: sa.Connection, who: Principal, channel_id: int, card: Card, client_msg_id: str | None = None
    ) -> dict[str, Any]:
        """`post` inside the caller's transaction (see `Rooms.post_in`)."""
        return self.rooms.post_in(conn, who, _card_send(channel_id, card, client_msg_id), kind="card", card=card.stored())

    async def act(self, who: Principal, req: rules.CardAct) -> dict[str, Any]:
        async with self.rooms.db.begin() as conn:
            # Locks the message row on PostgreSQL, so two members acting at once apply
            # one after the other, each on the state the other left.
            row = (
                await conn.execute(sa.select(messages).where(messages.c.id == req.message_id).with_for_update())
            ).first()
            if row is None or row.kind != "card":
                raise NotFound("error.message_not_found")
            _, member = await self.rooms.check_member(conn, row.channel_id, who.user_id)
            if row.recalled_at is not None or not row.card:
                raise Conflict("error.card_action_gone")
            try:
                card = Card.model_validate(row.card)
            except ValidationError as exc:
                raise Conflict("error.card_action_gone") from exc
            action = card.action(req.action)
            if action is None:
                raise Conflict("error.card_action_gone")
            comment = req.comment.strip()
            if action.comment == "required" and not comment:
                raise BadRequest("error.card_comment_required")
            if action.choices and req.choice not in action.choices:
                raise BadRequest("error.card_choice_required")
            handler = self.handlers.get(card.handler)
            if handler is None:
                raise Conflict("error.card_handler_missing")
            view = await store.message_by_id(conn, row.id)
            assert view is not None
            ctx = CardActionContext(
                view, card, who, member.role, action.id, comment if action.comment != "none" else "", req.choice if action.choices else "",
            )
            acted = await handler(conn, ctx)
            if acted.effects:
                await conn.run_sync(enqueue_all, acted.effects)
            updated = await self.rooms.update_card(conn, row.id, acted.card.stored())
            hooks = self.rooms.hooks
            if hooks.card_acted:

                async def acted() -> None:
                    hooks.acted(updated, ctx)

                after_commit(conn, acted)
            return updated


def _card_send(channel_id: int, card: Card, client_msg_id: str | None) -> rules.MessageSend:
    return rules.MessageSend(channel_id=channel_id, client_msg_id=client_msg_id or uuid.uuid4().hex, text=card.title)
