"""In-process bots: small Python classes that take part in chat as themselves.

A bot is a user with `is_bot` (a 机器人 badge in the client; it can never log in with a
password). A subclass of `Bot` sets `username` and `display_name` and overrides what it
reacts to:

* `on_message(incoming)`: a message in a channel the bot belongs to, its DMs included
  (`incoming.direct`), with `incoming.mentioned` when it was @-mentioned. Live and best
  effort (rooms' `message_posted` hook, after the commit); a bot that must see every
  message reads its channels through `sync`.
* `on_card_action(conn, ctx)`: a member pressed a button on a card this bot posted
  (cards it posts carry the handler `bot.<username>`); runs inside the card's write
  transaction and answers `Acted(card, effects)`: the new state and the effects to queue.
* `on_timer(payload)`: a durable timer it set with `hub.schedule(...)`: an effect row
  with a due time (hub/effects.py), so it fires after a restart, once.
* `on_command(command)`: `/trigger args` for each trigger in `commands`; the text it
  returns is the answer (integrations.py runs it after the ack, as an effect).

A bot acts through its `hub` (`BotHub`): `say`, `dm`, `post_card`, `dm_card`,
`schedule` — the same paths people's messages take (membership checks, seq, pushes).
Bots never see their own messages or other bots' (no loops).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth import Principal
from hub.cards import CARD_HANDLERS, Acted, Card, CardActionContext
from hub.db import DATABASE
from hub.directory import DIRECTORY_HOOKS, add_user, user_by_username
from hub.effects import EFFECTS, Effect, enqueue
from hub.errors import Conflict
from hub.schema import effects, users
from rooms.rules import DmOpen, MessageSend
from rooms.schema import channel_members, channels
from rooms.wiring import CARDS, ROOMS

__all__ = ["Bot", "BotHub", "BotRuntime", "Command", "Incoming"]

log = logging.getLogger(__name__)

TIMER_EFFECT = "bots.timer"


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message as a bot receives it."""

    message: dict[str, Any]
    channel_kind: str
    direct: bool  # the DM between the sender and this bot alone
    mentioned: bool

    @property
    def text(self) -> str:
        return str(self.message.get("text") or "")

    @property
    def channel_id(self) -> int:
        return int(self.message["channel_id"])

    @property
    def sender(self) -> dict[str, Any]:
        return dict(self.message["sender"])


@dataclass(frozen=True, slots=True)
class Command:
    """`/trigger args`, typed by `user` in `channel_id`."""

    trigger: str
    args: str
    channel_id: int
    user: dict[str, Any]
    delivery: str = ""  # the same on every retry of this one command


class Bot:
    username: ClassVar[str]
    display_name: ClassVar[str]
    commands: ClassVar[dict[str, str]] = {}  # trigger -> one line of help

    hub: BotHub

    async def on_message(self, incoming: Incoming) -> None:
        """A message in one of the bot's channels (DMs included)."""

    async def on_card_action(self, conn: AsyncConnection, ctx: CardActionContext) -> Acted:
        raise Conflict("error.card_action_gone")

    async def on_timer(self, payload: dict[str, Any]) -> None:
        """A timer set with `hub.schedule` is due."""

    async def on_command(self, command: Command) -> str | None:
        """`/trigger args` for a trigger in `commands`; the answer, or None for none."""
        return None


class BotHub:
    """What a bot may do, as itself."""

    def __init__(
        self, app: web.Application, username: str, display_name: str, principal: Principal | None = None,
        made: Any = None,
    ) -> None:
        self.app = app
        self.username = username
        self.display_name = display_name
        self.me = principal  # None until the bot's user exists (made on first use)
        self._made = made
        self.card_handler = f"bot.{username}"
        self._dms: dict[int, int] = {}  # user id -> the DM channel with them

    async def identity(self) -> Principal:
        """The bot's user, made the first time the bot acts (a hub that never uses a bot
        has no user for it)."""
        if self.me is None:
            self.me = await ensure_bot_user(self.app, self.username, self.display_name)
            if self._made is not None:
                self._made(self.me)
        return self.me

    async def say(self, channel_id: int, text: str, *, client_msg_id: str | None = None, thread_root_id: int | None = None) -> dict[str, Any]:
        req = MessageSend(channel_id=channel_id, client_msg_id=client_msg_id or uuid.uuid4().hex, text=text, thread_root_id=thread_root_id)
        return await self.app[ROOMS].send(await self.identity(), req)

    async def direct_channel(self, user_id: int) -> int:
        """The DM with the person, made on first use. A DM channel is never removed, so
        its id is kept: a task card or a reminder does not build a channel view to find
        it (open_dm would, in a write transaction)."""
        found = self._dms.get(user_id)
        if found is None:
            channel = await self.app[ROOMS].open_dm(await self.identity(), DmOpen(user_id=user_id))
            found = self._dms[user_id] = int(channel["id"])
        return found

    async def dm(self, user_id: int, text: str, *, client_msg_id: str | None = None) -> dict[str, Any]:
        return await self.say(await self.direct_channel(user_id), text, client_msg_id=client_msg_id)

    async def post_card(self, channel_id: int, card: Card, *, client_msg_id: str | None = None) -> dict[str, Any]:
        return await self.app[CARDS].post(await self.identity(), channel_id, card.model_copy(update={"handler": self.card_handler}), client_msg_id)

    async def join(self, channel_id: int) -> None:
        """Become a publisher of a channel the bot's feature posts into (its own card there,
        read-only channels too): NotFound for none, or for a direct or unit channel."""
        await self.app[ROOMS].ensure_publisher(channel_id, (await self.identity()).user_id)

    async def dm_card(self, user_id: int, card: Card, *, client_msg_id: str | None = None) -> dict[str, Any]:
        return await self.post_card(await self.direct_channel(user_id), card, client_msg_id=client_msg_id)

    def schedule(self, conn: sa.Connection, delay_seconds: float, payload: dict[str, Any]) -> int:
        """A durable timer inside the caller's transaction; `on_timer(payload)` runs once
        it is due, after restarts too. Returns the timer's id."""
        return enqueue(conn, TIMER_EFFECT, {"bot": self.username, "payload": payload}, delay_seconds=delay_seconds)

    async def schedule_later(self, delay_seconds: float, payload: dict[str, Any], *, key: str | None = None) -> int:
        """`schedule` in a transaction of its own. With a `key`, a second call with the
        same key (a retried command) sets no second timer and returns the first's id."""

        def tx(conn: sa.Connection) -> int:
            if key is not None:
                found = conn.execute(
                    sa.select(effects.c.id).where(
                        effects.c.kind == TIMER_EFFECT,
                        effects.c.payload["bot"].as_string() == self.username,
                        effects.c.payload["key"].as_string() == key,
                    )
                ).scalar()
                if found is not None:
                    return int(found)
            return enqueue(conn, TIMER_EFFECT, {"bot": self.username, "payload": payload, "key": key}, delay_seconds=delay_seconds)

        return await self.app[DATABASE].write(tx)


@dataclass
class BotRuntime:
    app: web.Application
    bots: dict[str, Bot] = field(default_factory=dict)  # username -> bot
    by_id: dict[int, Bot] = field(default_factory=dict)

    def register(self, bot: Bot) -> None:
        """Add an in-process bot (before the app starts)."""
        if bot.username in self.bots:
            raise ValueError(f"bot {bot.username!r} registered twice")
        self.bots[bot.username] = bot
        self.app[CARD_HANDLERS].register(f"bot.{bot.username}", bot.on_card_action)

    def command_owner(self, trigger: str) -> Bot | None:
        return next((b for b in self.bots.values() if trigger in b.commands), None)

    async def start(self, app: web.Application) -> None:
        """on_startup: each bot's hub, with its user where it exists already (read only:
        a bot's user is made when the bot first acts, not by every `changtong` command)."""
        names = list(self.bots)

        def existing(conn: sa.Connection) -> dict[str, Any]:
            rows = conn.execute(sa.select(users.c.id, users.c.username, users.c.display_name, users.c.is_bot).where(users.c.username.in_(names)))
            return {r.username: r for r in rows}

        found = await app[DATABASE].read(existing) if names else {}
        for bot in self.bots.values():
            row = found.get(bot.username)
            principal = Principal(int(row.id), row.username, row.display_name, (), 0, is_bot=True) if row is not None and row.is_bot else None
            bot.hub = BotHub(app, bot.username, bot.display_name, principal, made=lambda p, b=bot: self.by_id.__setitem__(p.user_id, b))
            if principal is not None:
                self.by_id[principal.user_id] = bot

    # ---- the hooks -------------------------------------------------------------------

    async def message_posted(self, view: dict[str, Any]) -> None:
        if not self.by_id or view["sender"]["id"] in self.by_id or view.get("sender", {}).get("is_bot"):
            return
        cid = view["channel_id"]
        kind, members, count = await self.app[DATABASE].read(_bot_members, cid, list(self.by_id))
        mentioned = set(view.get("mentions") or [])
        for uid in members:
            bot = self.by_id[uid]
            incoming = Incoming(view, kind, kind == "direct" and count == 2, uid in mentioned)
            try:
                await bot.on_message(incoming)
            except Exception:
                log.exception("bot %s failed on message %s", bot.username, view.get("id"))

    async def timer(self, effect: Effect) -> None:
        bot = self.bots.get(effect.payload.get("bot", ""))
        if bot is None:
            log.warning("timer %s for a bot that is not here: %s", effect.id, effect.payload.get("bot"))
            return
        await bot.on_timer(effect.payload.get("payload") or {})


def _bot_members(conn: sa.Connection, channel_id: int, bot_ids: list[int]) -> tuple[str, list[int], int]:
    """The channel's kind, which of `bot_ids` are members, and how many members it has."""
    kind = conn.execute(sa.select(channels.c.kind).where(channels.c.id == channel_id)).scalar() or ""
    members = [
        int(r[0])
        for r in conn.execute(
            sa.select(channel_members.c.user_id).where(
                channel_members.c.channel_id == channel_id, channel_members.c.user_id.in_(bot_ids)
            )
        )
    ]
    count = 0
    if members and kind == "direct":
        count = conn.execute(
            sa.select(sa.func.count()).select_from(channel_members).where(channel_members.c.channel_id == channel_id)
        ).scalar_one()
    return kind, members, int(count)


async def ensure_bot_user(app: web.Application, username: str, display_name: str) -> Principal:
    """The bot's user, made on first use (`is_bot`, no password can match)."""
    async with app[DATABASE].begin() as conn:
        row = await user_by_username(conn, username)
        if row is None:
            made = await add_user(
                conn, app[DIRECTORY_HOOKS], username=username, password_hash="!", display_name=display_name, is_bot=True
            )
            user_id = int(made["id"])
        else:
            if not row.is_bot:
                raise ValueError(f"{username!r} is a person's account, not a bot's")
            user_id = int(row.id)
    return Principal(user_id, username, display_name, (), 0, is_bot=True)


def setup_runtime(app: web.Application) -> BotRuntime:
    runtime = BotRuntime(app)
    app.on_startup.append(runtime.start)
    app[ROOMS].hooks.message_posted.append(runtime.message_posted)
    app[EFFECTS].register(TIMER_EFFECT, runtime.timer)
    return runtime
