"""Bots from outside the process, the integrations users know from Mattermost:

* External bots: an administrator makes a bot account and its token (`changtong bot add
  NAME`, or `POST /api/v1/admin/bots`); the bot connects as a Socket.IO client with
  `auth: {token}` or calls REST with `Authorization: Bearer`, like any member.
* Incoming webhooks: a channel admin makes one (`POST /api/v1/channels/{id}/webhooks`)
  and gets a secret URL; `POST /hooks/<token> {text}` or `{card}` posts into that channel
  as the webhook's own bot (a member of the channel, shown with the 机器人 badge).
* Slash commands: an administrator registers `/trigger` with a URL
  (`POST /api/v1/admin/commands`); `command:run {channel_id, text: "/trigger args"}`
  answers at once and queues an effect that POSTs a signed request
  (`X-Changtong-Signature: sha256=HMAC(secret, timestamp + "." + body)`) and shows the
  answer from the command's bot: to the caller in a DM, or in the channel with
  `response_type: "in_channel"` where the bot is a member. In-process bots answer their
  own `commands` the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from typing import Any, Literal

import aiohttp
import sqlalchemy as sa
from aiohttp import web
from pydantic import Field

from hub.auth import AUTH, Principal, hash_token
from hub.cards import Card
from hub.config import CONFIG
from hub.db import DATABASE, now
from hub.effects import Effect, enqueue
from hub.errors import BadRequest, Conflict, Forbidden, NotFound, RateLimited
from hub.http import json_body, json_response, principal
from hub.i18n import translate as t
from hub.ids import DbId, path_id
from hub.ratelimit import TokenBucket
from hub.realtime import REALTIME, EventContext
from hub.schema import users
from rooms import store as room_store
from rooms.rules import MessageSend, Strict
from rooms.wiring import CARDS, ROOMS

from .runtime import BotHub, BotRuntime, Command, ensure_bot_user
from .schema import bot_commands, bot_webhooks

log = logging.getLogger(__name__)

COMMAND_EFFECT = "bots.command"
TRIGGER = re.compile(r"^/([a-z][a-z0-9_-]{0,31})(?:\s+(.*))?$", re.S)
BOT_NAME = r"^[a-z][a-z0-9._-]{1,63}$"
HOOK_MAX_BYTES = 64 * 1024
ANSWER_MAX_BYTES = 64 * 1024


class BotCreate(Strict):
    username: str = Field(pattern=BOT_NAME)
    display_name: str = Field(min_length=1, max_length=100)


class WebhookCreate(Strict):
    name: str = Field(min_length=1, max_length=100)


class CommandCreate(Strict):
    trigger: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    url: str = Field(max_length=2000, pattern=r"^https?://[^\s]+$")
    display_name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=200)


class HookPost(Strict):
    text: str | None = Field(None, max_length=10_000)
    card: Card | None = None


class CommandRun(Strict):
    channel_id: DbId
    text: str = Field(min_length=2, max_length=4000)


class CommandAnswer(Strict):
    text: str = Field(min_length=1, max_length=10_000)
    response_type: Literal["ephemeral", "in_channel"] = "ephemeral"


async def issue_bot(app: web.Application, username: str, display_name: str) -> tuple[Principal, str]:
    """A bot account (made on first use) and a new long-lived token for it."""
    bot = await ensure_bot_user(app, username, display_name)
    ttl = app[CONFIG].bots.token_ttl_days * 24
    token = await app[AUTH].issue_token(bot.user_id, "bot", ttl_hours=ttl)
    return bot, token


class Integrations:
    def __init__(self, app: web.Application, runtime: BotRuntime) -> None:
        self.app = app
        self.runtime = runtime
        self._buckets: dict[int, TokenBucket] = {}
        self._rate = app[CONFIG].bots.webhook_posts_per_second

    # ---- incoming webhooks ---------------------------------------------------------

    async def create_webhook(self, who: Principal, channel_id: int, name: str) -> dict[str, Any]:
        rooms = self.app[ROOMS]
        async with self.app[DATABASE].connect() as conn:
            await rooms.check_admin(conn, channel_id, who)
        token = secrets.token_urlsafe(32)
        bot = await ensure_bot_user(self.app, f"hook-{secrets.token_hex(6)}", name)
        async with self.app[DATABASE].begin() as conn:
            await room_store.add_member(conn, channel_id, bot.user_id)
            hook_id = (
                await conn.execute(
                    bot_webhooks.insert()
                    .values(token_hash=hash_token(token), channel_id=channel_id, bot_id=bot.user_id, name=name,
                            created_by=who.user_id, created_at=now())
                    .returning(bot_webhooks.c.id)
                )
            ).scalar_one()
        return {"id": hook_id, "name": name, "channel_id": channel_id, "url": f"/hooks/{token}", "bot_id": bot.user_id}

    async def post_by_hook(self, token: str, body: HookPost) -> dict[str, Any]:
        if not (body.text and body.text.strip()) and body.card is None:
            raise BadRequest("error.empty_message")
        row = await self.app[DATABASE].read(
            lambda conn: conn.execute(
                sa.select(bot_webhooks.c.id, bot_webhooks.c.channel_id, users.c.id.label("bot_id"), users.c.username,
                          users.c.display_name)
                .join(users, users.c.id == bot_webhooks.c.bot_id)
                .where(bot_webhooks.c.token_hash == hash_token(token), users.c.disabled == sa.false())
            ).first(),
        )
        if row is None:
            raise NotFound("error.webhook_not_found")
        bucket = self._buckets.setdefault(row.id, TokenBucket(self._rate, self._rate * 2))
        if not bucket.take():
            raise RateLimited("error.rate_limited")
        bot = Principal(row.bot_id, row.username, row.display_name, (), 0, is_bot=True)
        if body.card is not None:
            card = body.card.model_copy(update={"handler": "bot.webhook", "actions": []})  # no buttons: nobody answers them
            return await self.app[CARDS].post(bot, row.channel_id, card)
        req = MessageSend(channel_id=row.channel_id, client_msg_id=secrets.token_hex(16), text=body.text or "")
        return await self.app[ROOMS].send(bot, req)

    # ---- slash commands ------------------------------------------------------------

    async def create_command(self, who: Principal, req: CommandCreate) -> dict[str, Any]:
        if self.runtime.command_owner(req.trigger) is not None:
            raise Conflict("error.command_taken", trigger=req.trigger)
        bot = await ensure_bot_user(self.app, f"cmd-{req.trigger}", req.display_name)
        secret = secrets.token_hex(32)
        try:
            async with self.app[DATABASE].begin() as conn:
                cid = (
                    await conn.execute(
                        bot_commands.insert()
                        .values(trigger=req.trigger, url=req.url, secret=secret, bot_id=bot.user_id,
                                description=req.description, created_by=who.user_id, created_at=now())
                        .returning(bot_commands.c.id)
                    )
                ).scalar_one()
        except sa.exc.IntegrityError:
            raise Conflict("error.command_taken", trigger=req.trigger) from None
        return {"id": cid, "trigger": req.trigger, "url": req.url, "secret": secret, "bot_id": bot.user_id}

    async def run_command(self, who: Principal, req: CommandRun) -> dict[str, Any]:
        """Check the caller may post in the channel and the command exists; queue it."""
        m = TRIGGER.match(req.text.strip())
        if m is None:
            raise BadRequest("error.bad_command")
        trigger, args = m.group(1), (m.group(2) or "").strip()
        db = self.app[DATABASE]
        async with db.connect() as conn:
            await self.app[ROOMS].check_member(conn, req.channel_id, who.user_id)
            known = (await conn.execute(sa.select(bot_commands.c.id).where(bot_commands.c.trigger == trigger))).scalar()
        if known is None and self.runtime.command_owner(trigger) is None:
            raise NotFound("error.command_not_found", trigger=trigger)
        user = {"id": who.user_id, "username": who.username, "display_name": who.display_name}
        payload = {"trigger": trigger, "args": args, "channel_id": req.channel_id, "user": user}
        effect_id = await db.write(lambda conn: enqueue(conn, COMMAND_EFFECT, payload))
        return {"command": trigger, "queued": effect_id}

    async def command_effect(self, effect: Effect) -> None:
        p = effect.payload
        command = Command(p["trigger"], p["args"], int(p["channel_id"]), p["user"], str(effect.id))
        owner = self.runtime.command_owner(command.trigger)
        if owner is not None:
            try:
                text = await owner.on_command(command)
            except Exception:
                log.exception("bot %s failed on /%s", owner.username, command.trigger)
                text = t("bots.command_failed", trigger=command.trigger)
            if text:
                await owner.hub.dm(command.user["id"], text, client_msg_id=f"cmd-{effect.id}")
            return
        row = await self.app[DATABASE].read(
            lambda conn: conn.execute(
                sa.select(bot_commands, users.c.username, users.c.display_name)
                .join(users, users.c.id == bot_commands.c.bot_id)
                .where(bot_commands.c.trigger == command.trigger)
            ).first(),
        )
        if row is None:
            return  # removed since
        hub = BotHub(self.app, row.username, row.display_name, Principal(row.bot_id, row.username, row.display_name, (), 0, is_bot=True))
        answer = await self._call(row, command, effect.id)
        if answer is None:
            await hub.dm(command.user["id"], t("bots.command_failed", trigger=command.trigger), client_msg_id=f"cmd-{effect.id}")
            return
        if answer.response_type == "in_channel":
            try:
                await hub.say(command.channel_id, answer.text, client_msg_id=f"cmd-{effect.id}")
                return
            except (NotFound, Forbidden):
                pass  # the command's bot is not a member there: answer the caller alone
        await hub.dm(command.user["id"], answer.text, client_msg_id=f"cmd-{effect.id}")

    async def _call(self, row: Any, command: Command, delivery: int) -> CommandAnswer | None:
        """POST the signed request; the answer, or None when the service failed (logged)."""
        body = json.dumps(
            {"command": command.trigger, "text": command.args, "channel_id": command.channel_id,
             "user": command.user, "delivery": str(delivery)},
            ensure_ascii=False,
        ).encode()
        stamp = str(int(time.time()))
        signature = hmac.new(row.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Changtong-Timestamp": stamp,
            "X-Changtong-Signature": f"sha256={signature}",
            "X-Changtong-Delivery": str(delivery),
        }
        timeout = aiohttp.ClientTimeout(total=self.app[CONFIG].bots.command_timeout_seconds)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                async with http.post(row.url, data=body, headers=headers, allow_redirects=False) as r:
                    raw = await r.content.read(ANSWER_MAX_BYTES + 1)
                    if r.status != 200 or len(raw) > ANSWER_MAX_BYTES:
                        log.warning("/%s: %s answered %s (%d bytes)", command.trigger, row.url, r.status, len(raw))
                        return None
            if "json" in (r.headers.get("Content-Type") or ""):
                return CommandAnswer.model_validate_json(raw)
            text = raw.decode("utf-8", "replace").strip()
            return CommandAnswer(text=text[:10_000]) if text else None
        except Exception as exc:  # unreachable, too slow, or an answer we cannot read
            log.warning("/%s: %s failed: %s", command.trigger, row.url, str(exc) or type(exc).__name__)
            return None


def routes(integrations: Integrations) -> list[web.RouteDef]:
    app = integrations.app

    async def create_bot(request: web.Request) -> web.Response:
        who = await principal(request)
        if not who.is_admin:
            raise Forbidden("error.admin_only")
        req = await json_body(request, BotCreate)
        bot, token = await issue_bot(app, req.username, req.display_name)
        return json_response({"bot": {"id": bot.user_id, "username": bot.username, "display_name": bot.display_name}, "token": token}, status=201)

    async def create_webhook(request: web.Request) -> web.Response:
        who = await principal(request)
        channel_id = path_id(request.match_info["channel_id"])
        req = await json_body(request, WebhookCreate)
        return json_response({"webhook": await integrations.create_webhook(who, channel_id, req.name)}, status=201)

    async def create_command(request: web.Request) -> web.Response:
        who = await principal(request)
        if not who.is_admin:
            raise Forbidden("error.admin_only")
        req = await json_body(request, CommandCreate)
        return json_response({"command": await integrations.create_command(who, req)}, status=201)

    async def hook(request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if len(token) > 100:
            raise NotFound("error.webhook_not_found")
        req = await json_body(request, HookPost, limit=HOOK_MAX_BYTES)
        return json_response({"message": await integrations.post_by_hook(token, req)}, status=201)

    return [
        web.post("/api/v1/admin/bots", create_bot),
        web.post(r"/api/v1/channels/{channel_id:\d+}/webhooks", create_webhook),
        web.post("/api/v1/admin/commands", create_command),
        web.post("/hooks/{token}", hook),
    ]


def register_events(app: web.Application, integrations: Integrations) -> None:
    @app[REALTIME].on("command:run")
    async def command_run(ctx: EventContext, data: Any) -> dict[str, Any]:
        return await integrations.run_command(ctx.principal, CommandRun.model_validate(data))
