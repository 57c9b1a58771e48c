"""Presence (全市在线人员): online / away / offline per user across all of a user's
connections. A user stays online while any tab or device is connected and goes offline
`presence_grace_seconds` after the last one closes (a page reload does not flap).
Changes are pushed to every connected user: the directory is city-wide, so everyone
may see everyone's status.

Two implementations of one small interface (`Presence`), chosen by `setup()`:

* `LocalPresence` (no `redis_url`): one process, state in memory.
* `RedisPresence` (hub/presence_redis.py, with `redis_url`): every hub process shares
  the state in Redis, with a heartbeat per process, so the users of a process that dies
  go offline by themselves within about `presence_ttl_seconds`; `presence:list` is
  city-wide across processes.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator
from typing import Any, Final, Literal

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from .auth import Principal
from .config import CONFIG
from .db import DATABASE
from .directory import unit_subtree
from .realtime import REALTIME, EventContext, Realtime
from .schema import posts, units, users

__all__ = ["PRESENCE", "LocalPresence", "Presence", "Status", "setup"]

Status = Literal["online", "away", "offline"]


class Presence(abc.ABC):
    """What the rest of the hub needs from presence. `connected` and `disconnected` are
    the realtime connect/disconnect hooks; status changes are announced with
    `realtime.emit_to_all("presence", {user_id, status})`."""

    realtime: Realtime

    async def start(self) -> None:
        """Called on app startup (before the hub accepts connections)."""

    async def stop(self) -> None:
        """Called on app cleanup."""

    async def lifetime(self, app: web.Application) -> AsyncIterator[None]:
        """For `app.cleanup_ctx`."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    @abc.abstractmethod
    async def connected(self, who: Principal, sid: str) -> list[str]:
        """A connection of `who` opened; returns rooms to join (none)."""

    @abc.abstractmethod
    async def disconnected(self, who: Principal, sid: str) -> None:
        """A connection of `who` closed."""

    @abc.abstractmethod
    async def set_status(self, user_id: int, sid: str, status: Status) -> Status:
        """One connection says its user is online or away; returns the user's status."""

    @abc.abstractmethod
    async def statuses(self) -> dict[int, Status]:
        """Every user who is not offline (city-wide)."""


class LocalPresence(Presence):
    """One process: every connection is on this node, state in memory."""

    def __init__(self, realtime: Realtime, grace_seconds: float) -> None:
        self.realtime = realtime
        self.grace = grace_seconds
        self._conns: dict[int, dict[str, Status]] = {}
        self._shown: dict[int, Status] = {}
        self._offline_timers: dict[int, asyncio.TimerHandle] = {}

    def status(self, user_id: int) -> Status:
        return self._shown.get(user_id, "offline")

    async def statuses(self) -> dict[int, Status]:
        return dict(self._shown)

    def _computed(self, user_id: int) -> Status:
        conns = self._conns.get(user_id)
        if not conns:
            return "offline"
        return "online" if "online" in conns.values() else "away"

    async def _publish(self, user_id: int) -> None:
        status = self._computed(user_id)
        if self._shown.get(user_id, "offline") == status:
            return
        if status == "offline":
            self._shown.pop(user_id, None)
        else:
            self._shown[user_id] = status
        await self.realtime.emit_to_all("presence", {"user_id": user_id, "status": status})

    async def connected(self, who: Principal, sid: str) -> list[str]:
        timer = self._offline_timers.pop(who.user_id, None)
        if timer:
            timer.cancel()
        self._conns.setdefault(who.user_id, {})[sid] = "online"
        await self._publish(who.user_id)
        return []

    async def disconnected(self, who: Principal, sid: str) -> None:
        conns = self._conns.get(who.user_id, {})
        conns.pop(sid, None)
        if conns:
            await self._publish(who.user_id)
            return
        self._conns.pop(who.user_id, None)
        loop = asyncio.get_running_loop()
        self._offline_timers[who.user_id] = loop.call_later(
            self.grace, lambda: asyncio.ensure_future(self._expire(who.user_id))
        )

    async def _expire(self, user_id: int) -> None:
        self._offline_timers.pop(user_id, None)
        await self._publish(user_id)

    async def set_status(self, user_id: int, sid: str, status: Status) -> Status:
        conns = self._conns.get(user_id)
        if conns is not None and sid in conns:
            conns[sid] = status
            await self._publish(user_id)
        return self.status(user_id)


PRESENCE: Final = web.AppKey("presence", Presence)


class SetStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["online", "away"]


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit_id: int | None = Field(None, gt=0, lt=2**63)  # a database id: 64-bit, positive


async def online_by_unit(app: web.Application, unit_id: int | None) -> dict[str, Any]:
    """Online (and away) users grouped by the units they hold posts in."""
    shown = await app[PRESENCE].statuses()
    if not shown:
        return {"units": [], "online": 0}
    q = (
        sa.select(units.c.id, units.c.code, units.c.name, users.c.id.label("user_id"), users.c.username, users.c.display_name)
        .select_from(posts.join(units, units.c.id == posts.c.unit_id).join(users, users.c.id == posts.c.user_id))
        .where(posts.c.user_id.in_(list(shown)), users.c.disabled == sa.false())
        .order_by(units.c.sort, units.c.id, users.c.initials)
    )
    if unit_id is not None:
        q = q.where(posts.c.unit_id.in_(unit_subtree(unit_id)))
    rows = await app[DATABASE].read(lambda conn: conn.execute(q).all())
    groups: dict[int, dict[str, Any]] = {}
    people: set[int] = set()
    for r in rows:
        g = groups.setdefault(r.id, {"unit": {"id": r.id, "code": r.code, "name": r.name}, "users": []})
        g["users"].append({"id": r.user_id, "username": r.username, "display_name": r.display_name, "status": shown[r.user_id]})
        people.add(r.user_id)
    return {"units": list(groups.values()), "online": len(people)}


def setup(app: web.Application) -> None:
    realtime = app[REALTIME]
    config = app[CONFIG]
    presence: Presence
    if config.redis:
        from .presence_redis import RedisPresence

        presence = RedisPresence(
            realtime,
            config.redis,
            grace_seconds=config.presence_grace_seconds,
            ttl_seconds=config.presence_ttl_seconds,
            prefix=f"{config.redis_prefix}:presence",
        )
        app.cleanup_ctx.append(presence.lifetime)
    else:
        presence = LocalPresence(realtime, config.presence_grace_seconds)
    app[PRESENCE] = presence
    realtime.connect_hooks.append(presence.connected)
    realtime.disconnect_hooks.append(presence.disconnected)

    @realtime.on("presence:list")
    async def presence_list(ctx: EventContext, data: Any) -> dict[str, Any]:
        query = ListQuery.model_validate(data)
        return await online_by_unit(app, query.unit_id)

    @realtime.on("presence:set")
    async def presence_set(ctx: EventContext, data: Any) -> dict[str, Any]:
        status = await presence.set_status(ctx.user_id, ctx.sid, SetStatus.model_validate(data).status)
        return {"status": status}
