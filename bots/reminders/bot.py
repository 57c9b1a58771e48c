"""提醒助手: `/remind <when> <what>` sets a durable timer (an effect row with a due time,
so it fires after a restart too) and the bot DMs "⏰ 提醒：<what>" when it is due;
`/remind 列表` lists the caller's pending ones, read from those same rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa

from hub.db import DATABASE
from hub.i18n import translate as t
from hub.schema import effects

from ..clock import OFFICE_TZ, moment
from ..runtime import TIMER_EFFECT, Bot, Command
from .when import WhenError, parse_when

LIST_WORDS = ("列表", "list")


class ReminderBot(Bot):
    username = "tixing-bot"
    display_name = t("remind.bot_name")
    commands: ClassVar[dict[str, str]] = {"remind": t("remind.help")}

    async def on_command(self, command: Command) -> str | None:
        args = command.args.strip()
        if args.lower() in LIST_WORDS:
            return await self._list(int(command.user["id"]))
        now = datetime.now(OFFICE_TZ)
        try:
            when, what = parse_when(args, now)
        except WhenError as e:
            return f"{t(e.key)}\n{t('remind.usage')}"
        rid = f"cmd-{command.delivery}" if command.delivery else uuid.uuid4().hex
        payload = {"id": rid, "user_id": int(command.user["id"]), "text": what, "at": when.isoformat()}
        await self.hub.schedule_later((when - now).total_seconds(), payload, key=rid)  # a retried command: one timer
        return t("remind.scheduled", when=moment(when), text=what)

    async def on_timer(self, payload: dict[str, Any]) -> None:
        # the id makes a repeated run of the timer's effect one message, not two
        await self.hub.dm(int(payload["user_id"]), t("remind.due", text=payload["text"]), client_msg_id=f"remind-{payload['id']}")

    async def _list(self, user_id: int) -> str:
        pending = await self.hub.app[DATABASE].read(_pending, self.username, user_id)
        if not pending:
            return t("remind.list.empty")
        lines = [t("remind.list.item", n=i, when=moment(datetime.fromisoformat(p["at"])), text=p["text"]) for i, p in enumerate(pending, 1)]
        return "\n".join([t("remind.list.header", count=len(pending)), *lines])


def _pending(conn: sa.Connection, bot: str, user_id: int) -> list[dict[str, Any]]:
    """The user's reminders not yet delivered: this bot's timer effects still queued."""
    rows = conn.execute(
        sa.select(effects.c.payload).where(
            effects.c.kind == TIMER_EFFECT,
            effects.c.failed_at.is_(None),
            effects.c.payload["bot"].as_string() == bot,
            effects.c.payload[("payload", "user_id")].as_integer() == user_id,
        )
    )
    return sorted((r.payload["payload"] for r in rows), key=lambda p: p["at"])
