"""Presence shared by several hub processes through Redis (`redis_url` set).

Each hub process (node) has a random id and keeps, under `<redis_prefix>:presence`:

* `<p>:node:<node>`   a heartbeat key with a `presence_ttl_seconds` expiry, renewed
                      every ttl/3; a node whose key is gone is dead;
* `<p>:nodes`         the set of nodes that ever beat (for the reaper);
* `<p>:conns`         hash of every connection: `<node>|<sid>` -> `<user_id>|<status>`
                      (`presence:list` and the reaper read it);
* `<p>:user:<uid>`    hash of one user's connections: `<node>|<sid>` -> `<status>`;
* `<p>:shown`         hash `<user_id>` -> the status last announced (`online`/`away`;
                      no field = offline).

Every change runs one Lua script that updates a user's connections, recomputes the
user's status from the connections of live nodes only (online if any is online, away
if all are away, offline if none) and swaps it into `shown`, atomically; the node that
ran the script announces `presence {user_id, status}` with `realtime.emit_to_all` if
the shown status changed. So nothing is announced twice, whichever nodes race.

* A user's last live connection, when it closes, stays in Redis for
  `presence_grace_seconds` (a reload or a reconnect to another node does not flap),
  then goes; any other connection goes at once.
* A reaper on every node looks every ttl/10 for nodes whose heartbeat key has expired,
  removes their connections and announces the changes (the script re-checks that the
  node is still dead). `presence:list` ignores a dead node's connections from the
  moment its key expires, so a dead node's users leave the list within ttl and get their
  `offline` push within about 1.1 x ttl.
* Redis down: connects and every event still succeed, presence changes are not
  announced and `presence:list` answers `unavailable`; the heartbeat retries with
  backoff and, once Redis answers again (or if the node's key had expired or Redis lost
  its data), writes all of this node's connections back and removes its stale ones,
  announcing what changed.
* A node that stops cleanly lets its heartbeat key expire after the grace period, so its
  users show offline then unless they reconnected to another node.

The scripts touch keys they compute from the prefix: a single Redis (or a primary with
replicas / Sentinel), not Redis Cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from .auth import Principal
from .errors import Unavailable
from .presence import Presence, Status
from .realtime import Realtime

__all__ = ["RedisPresence"]

log = logging.getLogger("changtong.presence")


REDIS_ERRORS = (RedisError, OSError, asyncio.TimeoutError)

# ARGV: prefix, user_id, mode, then (field, status) pairs; status "" removes the field.
# mode "set":   apply the pairs;
#      "leave": the same, unless the user would then have no live connection: then change
#               nothing and return {"last"} (the caller keeps it through the grace period);
#      "reap":  remove only the fields whose node is dead (heartbeat key gone).
# Recomputes the user's status from the connections of live nodes, swaps it into
# <p>:shown and returns {old, new}.
APPLY = """
local p, uid, mode = ARGV[1], ARGV[2], ARGV[3]
local conns, ukey, shown = p .. ':conns', p .. ':user:' .. uid, p .. ':shown'
local alive = {}
local function live(field)
  local node = string.match(field, '^([^|]*)|')
  local v = alive[node]
  if v == nil then
    v = redis.call('EXISTS', p .. ':node:' .. node) == 1
    alive[node] = v
  end
  return v
end
local changes, order = {}, {}
for i = 4, #ARGV, 2 do
  local field, status = ARGV[i], ARGV[i + 1]
  if mode ~= 'reap' or not live(field) then
    if changes[field] == nil then table.insert(order, field) end
    changes[field] = status
  end
end
local any, online = false, false
local function count(field, status)
  if status ~= '' and live(field) then
    any = true
    if status == 'online' then online = true end
  end
end
local flat = redis.call('HGETALL', ukey)
for i = 1, #flat, 2 do
  local field = flat[i]
  local status = changes[field]
  if status == nil then count(field, flat[i + 1]) end
end
for _, field in ipairs(order) do count(field, changes[field]) end
local new = 'offline'
if online then new = 'online' elseif any then new = 'away' end
if mode == 'leave' and new == 'offline' then return {'last'} end
for _, field in ipairs(order) do
  local status = changes[field]
  if status == '' then
    redis.call('HDEL', conns, field)
    redis.call('HDEL', ukey, field)
  else
    redis.call('HSET', conns, field, uid .. '|' .. status)
    redis.call('HSET', ukey, field, status)
  end
end
local old = redis.call('HGET', shown, uid) or 'offline'
if new == 'offline' then redis.call('HDEL', shown, uid) else redis.call('HSET', shown, uid, new) end
return {old, new}
"""

# ARGV: prefix, node, ttl in ms. Renews the node's heartbeat; 1 if it was still alive.
BEAT = """
local key = ARGV[1] .. ':node:' .. ARGV[2]
local was = redis.call('EXISTS', key)
redis.call('SET', key, '1', 'PX', ARGV[3])
redis.call('SADD', ARGV[1] .. ':nodes', ARGV[2])
return was
"""

# ARGV: prefix. The registered nodes whose heartbeat key is gone.
DEAD_NODES = """
local dead = {}
for _, node in ipairs(redis.call('SMEMBERS', ARGV[1] .. ':nodes')) do
  if redis.call('EXISTS', ARGV[1] .. ':node:' .. node) == 0 then table.insert(dead, node) end
end
return dead
"""

# ARGV: prefix, node. Forgets a node that is still dead (after its connections were reaped).
FORGET = """
if redis.call('EXISTS', ARGV[1] .. ':node:' .. ARGV[2]) == 0 then
  return redis.call('SREM', ARGV[1] .. ':nodes', ARGV[2])
end
return 0
"""


class RedisPresence(Presence):
    def __init__(
        self,
        realtime: Realtime,
        redis_url: str,
        *,
        grace_seconds: float,
        ttl_seconds: float,
        prefix: str,
        node_id: str | None = None,
    ) -> None:
        self.realtime = realtime
        self.redis_url = redis_url
        self.grace = grace_seconds
        self.ttl = ttl_seconds
        self.beat_interval = ttl_seconds / 3
        self.reap_interval = ttl_seconds / 10
        self.prefix = prefix
        self.node = node_id or uuid.uuid4().hex[:16]
        self.redis: aioredis.Redis | None = None
        # this node's connections, sid -> (user_id, status), closing ones included
        self._conns: dict[str, tuple[int, Status]] = {}
        self._closing: set[str] = set()
        self._locks: dict[int, list[Any]] = {}  # user_id -> [Lock, users of it]
        self._tasks: list[asyncio.Task[None]] = []
        self._timers: set[asyncio.Task[None]] = set()
        self._healthy = False  # Redis answered the last call
        self._wake = asyncio.Event()  # a caller saw Redis fail: beat (and resync) now
        self._stopping = False
        self._resync = True  # Redis may be missing some of this node's connections

    # ---- keys ------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def _field(self, sid: str) -> str:
        return f"{self.node}|{sid}"

    # ---- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        timeout = max(0.5, min(2.0, self.ttl / 3))
        self.redis = aioredis.from_url(
            self.redis_url,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # one quick retry (a pooled connection that Redis closed); outages are the
            # heartbeat's business, not every caller's
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 1),
        )
        self._apply_script = self.redis.register_script(APPLY)
        self._beat_script = self.redis.register_script(BEAT)
        self._dead_script = self.redis.register_script(DEAD_NODES)
        self._forget_script = self.redis.register_script(FORGET)
        try:
            await self._beat()
        except REDIS_ERRORS as exc:
            log.warning("presence: Redis unreachable at startup (%s); retrying", str(exc) or type(exc).__name__)
            self._down(exc)
        self._tasks = [
            asyncio.create_task(self._beat_loop(), name=f"presence-heartbeat-{self.node}"),
            asyncio.create_task(self._reap_loop(), name=f"presence-reaper-{self.node}"),
        ]

    async def stop(self) -> None:
        # The flag as well as cancel(): Python 3.11's wait_for can swallow a cancellation.
        self._stopping = True
        self._wake.set()
        tasks = [*self._tasks, *self._timers]
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=max(1.0, self.beat_interval))
            if pending:
                log.warning("presence: %d background tasks did not stop", len(pending))
        self._tasks, self._timers = [], set()
        if self.redis is None:
            return
        try:
            # the connections stay counted for the grace period (a client reconnecting to
            # another node does not flap), then the other nodes' reapers remove them
            await self.redis.pexpire(self._key("node", self.node), max(1, int(self.grace * 1000)))
        except REDIS_ERRORS as exc:
            log.warning("presence: could not retire node %s in Redis: %s", self.node, exc)
        await self.redis.aclose()
        self.redis = None

    # ---- Redis health ----------------------------------------------------------------

    def _down(self, exc: BaseException) -> None:
        self._resync = True
        if self._healthy:
            log.warning(
                "presence: Redis unreachable (%s); presence changes wait until it answers",
                str(exc) or type(exc).__name__,
            )
        self._healthy = False
        self._wake.set()

    # ---- the realtime hooks and events ---------------------------------------------------

    async def connected(self, who: Principal, sid: str) -> list[str]:
        async with self._serial(who.user_id):
            self._conns[sid] = (who.user_id, "online")
            await self._apply(who.user_id, "set", [(sid, "online")])
        return []

    async def disconnected(self, who: Principal, sid: str) -> None:
        user_id = who.user_id
        async with self._serial(user_id):
            if sid not in self._conns or sid in self._closing:
                return
            result = await self._apply(user_id, "leave", [(sid, "")])
            if result is not None and result[0] != "last":
                self._conns.pop(sid, None)
                return
            # the user's last live connection (or Redis did not answer): keep it for the
            # grace period, then drop it
            self._closing.add(sid)
        timer = asyncio.create_task(self._expire(user_id, sid))
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    async def _expire(self, user_id: int, sid: str) -> None:
        await asyncio.sleep(self.grace)
        async with self._serial(user_id):
            if self._conns.pop(sid, None) is None:
                return
            self._closing.discard(sid)
            await self._apply(user_id, "set", [(sid, "")])  # if Redis is down, the resync removes it

    async def set_status(self, user_id: int, sid: str, status: Status) -> Status:
        async with self._serial(user_id):
            if sid in self._conns and sid not in self._closing:
                self._conns[sid] = (user_id, status)
                result = await self._apply(user_id, "set", [(sid, status)])
                if result is not None:
                    return cast(Status, result[1])
        return await self.status(user_id)

    async def status(self, user_id: int) -> Status:
        if self._healthy and self.redis is not None:
            try:
                return cast(Status, await self.redis.hget(self._key("shown"), str(user_id)) or "offline")
            except REDIS_ERRORS as exc:
                self._down(exc)
        mine = [s for sid, (uid, s) in self._conns.items() if uid == user_id]  # this node's view
        return "online" if "online" in mine else "away" if mine else "offline"

    async def statuses(self) -> dict[int, Status]:
        if not self._healthy or self.redis is None:
            raise Unavailable()
        try:
            conns = await self.redis.hgetall(self._key("conns"))
            nodes = sorted({field.partition("|")[0] for field in conns})
            beats = await self.redis.mget([self._key("node", n) for n in nodes]) if nodes else []
        except REDIS_ERRORS as exc:
            self._down(exc)
            raise Unavailable() from None
        alive = {n for n, beat in zip(nodes, beats) if beat is not None}
        result: dict[int, Status] = {}
        for field, value in conns.items():
            if field.partition("|")[0] not in alive:
                continue
            uid_text, _, status = value.partition("|")
            uid = int(uid_text)
            if status == "online":
                result[uid] = "online"
            elif status == "away":
                result.setdefault(uid, "away")
        return result

    # ---- applying changes --------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _serial(self, user_id: int) -> AsyncIterator[None]:
        """One change of a user's connections at a time on this node (a disconnect must
        not overtake the connect of the same sid)."""
        entry = self._locks.get(user_id)
        if entry is None:
            entry = self._locks[user_id] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._locks[user_id]

    async def _apply(self, user_id: int, mode: str, changes: Iterable[tuple[str, str]]) -> list[str] | None:
        """Run APPLY and announce a change; None if Redis did not answer (the heartbeat
        resyncs this node's connections when it is back)."""
        if not self._healthy or self.redis is None:
            self._resync = True
            return None
        args: list[str] = [self.prefix, str(user_id), mode]
        for sid, status in changes:
            args += [self._field(sid), status]
        try:
            result = [str(x) for x in await self._apply_script(keys=[], args=args)]
        except REDIS_ERRORS as exc:
            self._down(exc)
            return None
        if len(result) == 2 and result[0] != result[1]:
            await self._announce(user_id, result[1])
        return result

    async def _announce(self, user_id: int, status: str) -> None:
        try:
            await self.realtime.emit_to_all("presence", {"user_id": user_id, "status": status})
        except Exception:  # a push that fails must not fail a connect
            log.exception("presence: could not announce user %s %s", user_id, status)

    # ---- heartbeat, resync, reaper ---------------------------------------------------------

    async def _beat(self) -> None:
        assert self.redis is not None
        was_alive = await self._beat_script(keys=[], args=[self.prefix, self.node, max(1, int(self.ttl * 1000))])
        if not self._healthy:
            log.info("presence: Redis reachable; node %s heartbeating", self.node)
        self._healthy = True
        if not was_alive or self._resync:
            await self._resync_node()

    async def _beat_loop(self) -> None:
        """Beat every ttl/3; while Redis does not answer, retry with backoff (from
        ttl/12, at most 0.5 s, doubling up to ttl/3). A caller that finds Redis gone
        wakes the loop at once."""
        first_retry = min(0.5, self.beat_interval / 4)
        backoff = first_retry
        while not self._stopping:
            self._wake.clear()
            delay = self.beat_interval
            try:
                await self._beat()
                backoff = first_retry
            except asyncio.CancelledError:
                raise
            except REDIS_ERRORS as exc:
                self._down(exc)
                delay, backoff = backoff, min(backoff * 2, self.beat_interval)
            except Exception:
                log.exception("presence: heartbeat failed")
            if self._stopping:
                return
            self._wake.clear()  # not for the failure it just saw itself
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    async def _resync_node(self) -> None:
        """Write every connection of this node back to Redis and remove the ones Redis
        has for this node that it no longer has (after an outage, or after this node's
        heartbeat had expired and other nodes reaped it)."""
        assert self.redis is not None
        self._resync = False
        by_user: dict[int, list[str]] = {}
        for sid, (uid, _) in list(self._conns.items()):
            by_user.setdefault(uid, []).append(sid)
        for uid, sids in by_user.items():
            async with self._serial(uid):
                present = [(sid, self._conns[sid][1]) for sid in sids if sid in self._conns]
                if present:
                    await self._apply(uid, "set", present)
        stale: dict[int, list[str]] = {}
        try:
            async for field, value in self.redis.hscan_iter(self._key("conns"), match=f"{self.node}|*", count=1000):
                sid = field.partition("|")[2]
                if sid not in self._conns:
                    stale.setdefault(int(value.partition("|")[0]), []).append(sid)
        except REDIS_ERRORS as exc:
            self._down(exc)
            return
        for uid, sids in stale.items():
            async with self._serial(uid):
                await self._apply(uid, "set", [(sid, "") for sid in sids if sid not in self._conns])

    async def _reap_loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.reap_interval)
            if self._stopping or not self._healthy or self.redis is None:
                continue
            try:
                for node in await self._dead_script(keys=[], args=[self.prefix]):
                    if node != self.node:
                        await self._reap(node)
            except asyncio.CancelledError:
                raise
            except REDIS_ERRORS as exc:
                self._down(exc)
            except Exception:
                log.exception("presence: reaper failed")

    async def _reap(self, node: str) -> None:
        """Remove the connections of a dead node and announce who went offline (or away)."""
        assert self.redis is not None
        by_user: dict[int, list[tuple[str, str]]] = {}
        async for field, value in self.redis.hscan_iter(self._key("conns"), match=f"{node}|*", count=1000):
            by_user.setdefault(int(value.partition("|")[0]), []).append((field, ""))
        for uid, fields in by_user.items():
            args = [self.prefix, str(uid), "reap"]
            for field, status in fields:
                args += [field, status]
            old, new = (str(x) for x in await self._apply_script(keys=[], args=args))
            if old != new:
                await self._announce(uid, new)
        if by_user:
            log.info("presence: node %s stopped heartbeating; removed its %d users' connections", node, len(by_user))
        await self._forget_script(keys=[], args=[self.prefix, node])
