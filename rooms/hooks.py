"""What was posted and acted on, for features that react without rooms knowing them
(a bot that reads "同意" in its DM, a search index, a webhook).

Hooks run after the commit, each in a task of its own, so a slow listener never holds a
sender's ack or another listener. They are live and best effort: a process that dies
between the commit and the hook loses that call. A listener that must not miss one reads
its channels through `sync` at start, or queues its work as an effect (hub/effects.py)
inside the transaction instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from hub.cards import CardActionContext

__all__ = ["RoomHooks"]

log = logging.getLogger(__name__)

MessagePosted = Callable[[dict[str, Any]], Awaitable[None]]
CardActed = Callable[[dict[str, Any], CardActionContext], Awaitable[None]]


class RoomHooks:
    def __init__(self) -> None:
        self.message_posted: list[MessagePosted] = []  # the new message's view
        self.card_acted: list[CardActed] = []  # the card message's new view, and who did what
        self._tasks: set[asyncio.Task[None]] = set()

    def posted(self, view: dict[str, Any]) -> None:
        for fn in self.message_posted:
            self._spawn(fn(view), "message_posted")

    def acted(self, view: dict[str, Any], ctx: CardActionContext) -> None:
        for fn in self.card_acted:
            self._spawn(fn(view, ctx), "card_acted")

    def _spawn(self, call: Awaitable[None], name: str) -> None:
        async def run() -> None:
            try:
                await call
            except Exception:
                log.exception("%s hook failed", name)

        task = asyncio.get_running_loop().create_task(run(), name=f"rooms-hook-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float = 5) -> None:
        """Wait for running hooks (app cleanup; tests)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
