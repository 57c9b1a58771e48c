"""The control bus between hub processes: small JSON commands that every node must apply
to its own connections ("user 7 joins room c:12", "end the sessions of user 9").

Embedded, the bus is a direct call. Scaled out (`redis_url`), commands are published on a
Redis channel and every node — the sender included — applies them; the listener
reconnects with a capped backoff when Redis restarts. Like python-socketio's pub/sub
manager, delivery is best effort: what must not be lost lives in the database, and a
reconnecting client's `sync` repairs any missed push.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Bus", "LocalBus", "RedisBus", "make_bus"]

log = logging.getLogger("changtong.bus")

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class Bus:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def on(self, op: str, handler: Handler) -> None:
        self._handlers[op] = handler

    async def _apply(self, command: dict[str, Any]) -> None:
        handler = self._handlers.get(command.get("op", ""))
        if handler is None:
            log.warning("no handler for control command %s", command.get("op"))
            return
        try:
            await handler(command)
        except Exception:
            log.exception("control command %s failed", command.get("op"))

    async def publish(self, op: str, **data: Any) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


class LocalBus(Bus):
    """One process: apply at once."""

    async def publish(self, op: str, **data: Any) -> None:
        await self._apply({"op": op, **data})


class RedisBus(Bus):
    def __init__(self, url: str, channel: str) -> None:
        super().__init__()
        import redis.asyncio as redis

        self._redis = redis.from_url(url, socket_connect_timeout=5, health_check_interval=10)
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def publish(self, op: str, **data: Any) -> None:
        message = json.dumps({"op": op, **data})
        try:
            await self._redis.publish(self._channel, message)
        except Exception:
            # Redis is down: apply here at least; other nodes' clients repair by `sync`.
            log.warning("control bus unavailable; applying %s on this node only", op)
            await self._apply(json.loads(message))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="control-bus")
        try:
            await asyncio.wait_for(self._ready.wait(), 5)
        except TimeoutError:
            log.warning("control bus: Redis not reachable yet; retrying in the background")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._redis.aclose()

    async def _listen(self) -> None:
        backoff = 0.5
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self._ready.set()
                backoff = 0.5
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        try:
                            command = json.loads(message["data"])
                        except (ValueError, TypeError):
                            continue
                        await self._apply(command)
            except asyncio.CancelledError:
                await pubsub.aclose()
                raise
            except Exception as exc:  # connection lost: resubscribe with a capped backoff
                log.warning("control bus: %s; resubscribing in %.1fs", exc.__class__.__name__, backoff)
                await pubsub.aclose()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10)


def make_bus(redis_url: str, prefix: str) -> Bus:
    return RedisBus(redis_url, f"{prefix}:control") if redis_url else LocalBus()
