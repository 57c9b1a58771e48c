"""The 收发 desk: the exchange shown to people, and people acting on it.

- An arriving document (a verified package) becomes a card in the node's 收文 channel:
  title, number, issuer, urgency, secrecy, attachments; 签收 / 退回 (with a reason) /
  查看. Pressing a button moves the inbox and sends the signed receipt in the same
  transaction that stores the card's new state.
- A quarantined package becomes a card there too, with its reason; an administrator
  can 重新处理 it (after trusting the sender's certificate, say).
- Sending (`send`, also behind `POST /api/v1/exchange/send`) writes the document as
  exchange XML (validated against the schema), hands it to the transport and posts a
  tracking card in the 发文 channel, one row per recipient unit, which every receipt
  updates live.

The 收文 and 发文 channels are private; their members are the node's administrators
and its clerks (role `clerk`, 收发员), and the desk's own bot (公文交换) posts in them.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth import Principal
from hub.cards import CARD_HANDLERS, Acted, Card, CardActionContext, CardStatus
from hub.db import DATABASE, Database
from hub.directory import DIRECTORY_HOOKS, add_user, user_by_username
from hub.effects import EFFECTS, Effect, Later
from hub.errors import Forbidden, HubError
from hub.i18n import translate as t
from hub.schema import units, users
from rooms.rules import ChannelAddMembers, ChannelCreate, DmOpen, MessageSend
from rooms.schema import messages
from rooms.wiring import CARDS, ROOMS

from . import desk_cards as cards
from .desk_tables import exchange_desk_cards, exchange_desk_channels
from .flow_steps import START_RECEIPT_EFFECT, receipt_flow_payload
from .model import Document
from .pki import certificate_organisation
from .transport import Exchange
from .transport import store as xstore
from .transport.package import PackageError
from .transport.service import Arrival, QuarantineEvent, ReceiptEvent
from .transport.tables import exchange_peers
from .xml_codec import dump_xml, load_xml

log = logging.getLogger(__name__)

BOT_USERNAME = "gongwen-bot"
REPROCESS_EFFECT = "exchange.reprocess"  # 重新处理 a quarantined package, after the card said 处理中
DESK_ROLES = frozenset({"admin", "clerk"})


def check_exchange_xml(document: bytes) -> None:
    """The transport's check of what arrives: our XML, valid against the schema."""
    try:
        load_xml(document)
    except HubError as exc:
        raise PackageError("schema", t(exc.key, **exc.params)) from exc


class Desk:
    def __init__(self, app: web.Application, exchange: Exchange) -> None:
        self.app = app
        self.exchange = exchange
        self.bot: Principal | None = None

    @property
    def db(self) -> Database:
        return self.app[DATABASE]

    # ---- set-up (on first use: a hub that never exchanges has no desk) -------------

    async def _bot(self) -> Principal:
        if self.bot is None:
            async with self.db.begin() as conn:
                row = await user_by_username(conn, BOT_USERNAME)
                if row is None:
                    made = await add_user(
                        conn, self.app[DIRECTORY_HOOKS], username=BOT_USERNAME, password_hash="!",
                        display_name=t("desk.bot_name"), is_bot=True,
                    )
                    bot_id = made["id"]
                else:
                    bot_id = row.id
            self.bot = Principal(bot_id, BOT_USERNAME, t("desk.bot_name"), ("admin",), 0, is_bot=True)
        return self.bot

    async def channel(self, box: str) -> int:
        """The id of the node's 收文 (`in`) or 发文 (`out`) channel, made on first use."""
        bot = await self._bot()
        async with self.db.connect() as conn:
            found = (
                await conn.execute(sa.select(exchange_desk_channels.c.channel_id).where(exchange_desk_channels.c.box == box))
            ).scalar()
            if found is not None:
                return int(found)
            staff = [r.id for r in (await conn.execute(sa.select(users.c.id, users.c.roles).where(users.c.disabled == sa.false())))
                     if DESK_ROLES & set((r.roles or "").split()) and r.id != bot.user_id]
        name = t("desk.channel.in") if box == "in" else t("desk.channel.out")
        topic = t("desk.channel.in_topic") if box == "in" else t("desk.channel.out_topic")
        channel = await self.app[ROOMS].create_channel(
            bot, ChannelCreate(name=name, kind="private", topic=topic, member_ids=staff, read_only=True)
        )
        try:
            async with self.db.begin() as conn:
                await conn.execute(exchange_desk_channels.insert().values(box=box, channel_id=channel["id"]))
        except sa.exc.IntegrityError:  # another node made it first: use theirs
            return await self.channel(box)
        return int(channel["id"])

    async def tell(self, user_id: int, text: str) -> None:
        """A line to one person in their DM with the desk's bot (收发助手)."""
        bot = await self._bot()
        channel = await self.app[ROOMS].open_dm(bot, DmOpen(user_id=user_id))
        await self.app[ROOMS].send(bot, MessageSend(channel_id=int(channel["id"]), client_msg_id=uuid.uuid4().hex, text=text))

    async def _post(self, box: str, card: Card) -> dict[str, Any]:
        """A card of no package (a quarantined one) in the 收文 or 发文 channel."""
        return await self.app[CARDS].post(await self._bot(), await self.channel(box), card, client_msg_id=uuid.uuid4().hex)

    async def _card_message(self, conn: AsyncConnection, package_id: str, box: str) -> int | None:
        q = sa.select(exchange_desk_cards.c.message_id).where(
            exchange_desk_cards.c.package_id == package_id, exchange_desk_cards.c.box == box
        )
        return (await conn.execute(q)).scalar()

    async def unit_names(self, conn: AsyncConnection, codes: list[str]) -> dict[str, str]:
        """A name for each unit code people would read: the directory's, else the
        organisation named in the peer's certificate (`ca issue --name`); a code neither
        knows stays out, and callers show the code."""
        rows = await conn.execute(sa.select(units.c.code, units.c.name).where(units.c.code.in_(codes)))
        names = {r.code: r.name for r in rows}
        rest = [c for c in codes if c not in names]
        if rest:
            peers = await conn.execute(sa.select(exchange_peers.c.name, exchange_peers.c.cert_pem).where(exchange_peers.c.name.in_(rest)))
            for code, pem in peers:
                org = certificate_organisation(pem)
                if org:
                    names[code] = org
        return names

    # ---- arriving -------------------------------------------------------------------

    # The arrival's 收文 card and its desk row are stored in the transaction that stores
    # the arrival (the transport's ArrivalStore): an arrival never lacks its card.

    async def prepare(self, arrival: Arrival) -> tuple[int, Principal, Card]:
        doc = load_xml(arrival.content.document)
        async with self.db.connect() as conn:
            sender = (await self.unit_names(conn, [arrival.sender])).get(arrival.sender, arrival.sender)
        return await self.channel("in"), await self._bot(), cards.incoming_card(doc, arrival.package_id, sender)

    async def store(self, conn: AsyncConnection, arrival: Arrival, prepared: tuple[int, Principal, Card]) -> None:
        channel_id, bot, card = prepared
        await self._post_in(conn, "in", channel_id, bot, arrival.package_id, card)

    async def _post_in(self, conn: AsyncConnection, box: str, channel_id: int, bot: Principal, package_id: str, card: Card) -> dict[str, Any]:
        """The desk's card and the row that links it to its package, in the caller's transaction."""
        message = await conn.run_sync(self.app[CARDS].post_in, bot, channel_id, card, f"{box}-{package_id}")
        await conn.execute(exchange_desk_cards.insert().values(package_id=package_id, box=box, message_id=message["id"]))
        return message

    async def on_quarantine(self, event: QuarantineEvent) -> None:
        async with self.db.connect() as conn:
            sender = (await self.unit_names(conn, [event.sender])).get(event.sender, event.sender)
        card = cards.quarantine_card(event.quarantine_id, event.message_id, sender, event.reason, event.detail)
        await self._post("in", card)

    async def on_receipt(self, event: ReceiptEvent) -> None:
        card = await self.refresh_tracking(event.package_id)
        if card is not None and event.status in ("signed", "returned"):  # what the sending clerk must learn: a line that counts as unread
            await self._tell_sender(event, card)

    async def _tell_sender(self, event: ReceiptEvent, tracking: Card) -> None:
        unit = next((r["name"] for r in tracking.data["recipients"] if r["unit"] == event.unit), event.unit)
        text = cards.receipt_line(unit, tracking.title, event.status, event.reason, event.by)
        req = MessageSend(channel_id=await self.channel("out"), client_msg_id=f"rc-{event.package_id}-{event.unit}-{event.status}"[:64], text=text)
        await self.app[ROOMS].send(await self._bot(), req)

    async def refresh_tracking(self, package_id: str) -> Card | None:
        """The tracking card drawn again from the tracking rows; None for a package sent without the desk."""
        async with self.db.begin() as conn:
            message_id = await self._card_message(conn, package_id, "out")
            if message_id is None:
                return None
            card = await self._tracking_card(conn, package_id, message_id)
            await self.app[ROOMS].update_card(conn, message_id, card.stored())
        return card

    async def _tracking_card(self, conn: AsyncConnection, package_id: str, message_id: int) -> Card:
        rows = await xstore.tracking(conn, package_id)
        names = await self.unit_names(conn, [r["unit"] for r in rows])
        current = (await conn.execute(sa.select(messages.c.card).where(messages.c.id == message_id))).scalar()
        number = Card.model_validate(current).data.get("number") if current else None  # tracking rows hold no number
        recipients = [
            {"unit": r["unit"], "name": names.get(r["unit"], r["unit"]), "status": r["status"], "reason": r["reason"],
             "by": r["acted_by"], "at": cards.local_time(r["updated_at"]) if r["acted_by"] else ""}
            for r in rows
        ]
        return cards.outgoing_card(rows[0]["title"] if rows else "", number, package_id, recipients)

    # ---- going out ------------------------------------------------------------------

    async def send(self, who: Principal, doc: Document, recipients: list[str]) -> dict[str, Any]:
        """Send `doc` to recipient units (codes); returns {package_id, message}. The
        same call serves the web form and the 发文 workflow."""
        if not DESK_ROLES & set(who.roles):
            raise Forbidden("error.desk_not_clerk")
        xml = dump_xml(doc)  # validates against the schema: nothing invalid leaves
        await self._add_to_desk(who, "out")
        channel_id, bot = await self.channel("out"), await self._bot()
        async with self.db.connect() as conn:
            names = await self.unit_names(conn, recipients)
        posted: dict[str, Any] = {}

        async def track(conn: AsyncConnection, package_id: str) -> None:  # with the package, or not at all
            card = cards.outgoing_card(
                doc.title or "", doc.number.text if doc.number else None, package_id,
                [{"unit": u, "name": names.get(u, u), "status": "queued", "reason": ""} for u in recipients],
            )
            posted["message"] = await self._post_in(conn, "out", channel_id, bot, package_id, card)

        package_id = await self.exchange.send_document(title=doc.title or "", document=xml, recipients=recipients, also=track)
        await self.refresh_tracking(package_id)  # a fast neighbour may have answered already
        return {"package_id": package_id, "message": posted["message"]}

    async def _add_to_desk(self, who: Principal, box: str) -> None:
        channel_id = await self.channel(box)
        try:
            await self.app[ROOMS].add_members(await self._bot(), ChannelAddMembers(channel_id=channel_id, user_ids=[who.user_id]))
        except HubError:
            pass

    # ---- card handlers --------------------------------------------------------------

    async def on_incoming_action(self, conn: AsyncConnection, ctx: CardActionContext) -> Acted:
        package_id = str(ctx.card.data.get("package_id", ""))
        who = ctx.actor.display_name  # named in the receipt: the sender's clerk sees who signed
        later: tuple[Later, ...] = ()
        if ctx.action == cards.SIGN:
            await self.exchange.sign_for(package_id, conn=conn, by=who)
            state, reason = "signed", ""
            # 收文 starts after the commit, where the flow is imported (flow_steps.py)
            later = (Later(START_RECEIPT_EFFECT, receipt_flow_payload(ctx.card, package_id, ctx.actor.user_id, int(ctx.message["channel_id"]))),)
        else:
            await self.exchange.return_package(package_id, ctx.comment, conn=conn, by=who)
            state, reason = "returned", ctx.comment
        card = incoming_state(ctx.card, state, reason)
        card.data.setdefault("history", []).append({"state": state, "by": who, "reason": reason})
        return Acted(card, later)  # the signed receipt is the exchange's own effect, queued in `conn`

    async def on_quarantine_action(self, conn: AsyncConnection, ctx: CardActionContext) -> Acted:
        """重新处理: the card says 处理中 at once; the reprocessing (verification, storage,
        a receipt) is an effect, so a restart in between still finishes it."""
        if not (ctx.actor.is_admin or ctx.member_role == "admin"):
            raise Forbidden("error.forbidden")
        payload = {"quarantine_id": int(ctx.card.data.get("quarantine_id", 0)), "message_id": ctx.message["id"]}
        working = ctx.card.model_copy(update={"status": CardStatus(text=t("desk.q.working"), tone="info"), "actions": []})
        return Acted(working, (Later(REPROCESS_EFFECT, payload),))

    async def reprocess_effect(self, effect: Effect) -> None:
        """The REPROCESS_EFFECT: run again after a crash, it finds the package already
        taken in (`duplicate`) and says so on the card."""
        outcome = await self.exchange.reprocess(int(effect.payload["quarantine_id"]))
        await self._quarantine_done(int(effect.payload["message_id"]), outcome)

    async def _quarantine_done(self, message_id: int, outcome: dict[str, Any]) -> None:
        async with self.db.begin() as conn:
            row = (await conn.execute(sa.select(messages.c.card).where(messages.c.id == message_id))).scalar()
            card = Card.model_validate(row)
            if outcome.get("status") in ("accepted", "receipt", "relayed", "duplicate"):
                update = {"status": CardStatus(text=t("desk.q.accepted"), tone="success"), "actions": []}
            else:
                reason = outcome.get("reason", "")
                label = t(f"desk.reason.{reason}") if reason in cards.KNOWN_REASONS else reason
                fields = [f.model_copy(update={"value": label}) if f.label == t("desk.q.reason") else f for f in card.fields]
                update = {"status": CardStatus(text=t("desk.q.still"), tone="danger"), "fields": fields, "actions": []}
            await self.app[ROOMS].update_card(conn, message_id, card.model_copy(update=update).stored())


def incoming_state(card: Card, state: str, reason: str) -> Card:
    """The 收文 card after 签收 or 退回: same document, new status, no buttons left."""
    fresh = cards.incoming_card(Document(), str(card.data.get("package_id", "")), str(card.data.get("sender", "")), state, reason)
    return card.model_copy(update={
        "status": fresh.status, "actions": fresh.actions, "body": fresh.body,
        "data": {**card.data, "state": state},
    })


def register(app: web.Application, desk: Desk) -> None:
    handlers = app[CARD_HANDLERS]
    handlers.register(cards.INCOMING, desk.on_incoming_action)
    handlers.register(cards.QUARANTINED, desk.on_quarantine_action)
    app[EFFECTS].register(REPROCESS_EFFECT, desk.reprocess_effect)
    desk.exchange.arrival_store = desk
    desk.exchange.on_quarantine.append(desk.on_quarantine)
    desk.exchange.on_receipt.append(desk.on_receipt)
    desk.exchange.check_document = check_exchange_xml
