"""Effects: a transactional outbox for work that is slow or talks to the outside (signing
and writing a receipt, HTTP to a peer or a webhook, a media job, a notification).

A transaction that decides such work does not do it: it writes an effect row with
`enqueue(conn, kind, payload)` beside its own rows, so the work is decided exactly when
the rows commit and the write lock is never held while it runs. A worker in every hub
process (`Effects`) then runs the handler registered for the kind:

* after the commit that queued it (a wake-up in this process; other nodes find it
  within `effects_poll_seconds`), and again after a restart: the row is the truth;
* at least once: a run claims its row by pushing `due_at` past a lease (the handler's
  timeout); a node that dies mid-run leaves the row to be claimed again after the lease.
  A handler gets the effect's id as an idempotency key (a webhook's delivery id, a
  receipt's file name);
* a handler may return `finish(conn)`, a synchronous function run in the transaction
  that deletes the row (through `hub.db.write`, like a send: on SQLite in the writer
  thread, so effects never contend with sends for the lock): the effect's own writes
  then happen exactly once;
* a failure is retried with backoff (from `effects_retry_base_seconds`, doubling, at
  most `effects_retry_max_seconds`); after `effects_max_attempts` the row stays with
  `failed_at` and its last error, for an administrator to see.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import sqlalchemy as sa
from aiohttp import web

from .config import Config
from .db import Database, after_commit, now
from .schema import effects

__all__ = ["EFFECTS", "Effect", "Effects", "Later", "enqueue", "enqueue_all"]

log = logging.getLogger("changtong.effects")

Finish = Callable[[sa.Connection], None]
Handler = Callable[["Effect"], Awaitable[Finish | None]]

_WORKERS: weakref.WeakSet[Effects] = weakref.WeakSet()


@dataclass(frozen=True, slots=True)
class Effect:
    id: int
    kind: str
    payload: dict[str, Any]
    attempt: int  # 1 on the first run


@dataclass(frozen=True, slots=True)
class Later:
    """An effect to queue: what a decision (a card handler, say) returns instead of doing
    the slow or outside work itself; the caller queues it in the same transaction."""

    kind: str
    payload: dict[str, Any]
    delay_seconds: float = 0


def enqueue_all(conn: sa.Connection, later: Iterable[Later]) -> list[int]:
    return [enqueue(conn, e.kind, e.payload, delay_seconds=e.delay_seconds) for e in later]


def enqueue(conn: sa.Connection, kind: str, payload: dict[str, Any], *, delay_seconds: float = 0) -> int:
    """Queue an effect in the caller's transaction (a synchronous connection: the one
    `Database.write` gives, or `await aconn.run_sync(enqueue, …)`); returns its id. The
    workers of this process wake after the commit."""
    at = now()
    effect_id = conn.execute(
        effects.insert()
        .values(kind=kind, payload=payload, created_at=at, due_at=at + timedelta(seconds=delay_seconds))
        .returning(effects.c.id)
    ).scalar_one()
    after_commit(conn, _wake_all)
    return int(effect_id)


async def _wake_all() -> None:
    for worker in list(_WORKERS):
        worker.wake()


class Effects:
    def __init__(self, db: Database, config: Config) -> None:
        self.db = db
        self.poll = config.effects_poll_seconds
        self.timeout = config.effects_timeout_seconds
        self.base = config.effects_retry_base_seconds
        self.cap = config.effects_retry_max_seconds
        self.max_attempts = config.effects_max_attempts
        self.concurrency = config.effects_concurrency
        self.handlers: dict[str, Handler] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._stopping = False

    def register(self, kind: str, handler: Handler) -> None:
        if kind in self.handlers:
            raise ValueError(f"effect handler {kind!r} registered twice")
        self.handlers[kind] = handler

    def wake(self) -> None:
        self._wake.set()

    # ---- lifecycle ------------------------------------------------------------------

    async def lifetime(self, app: web.Application) -> Any:
        """For `app.cleanup_ctx`."""
        _WORKERS.add(self)
        self._task = asyncio.create_task(self._loop(), name="effects")
        try:
            yield
        finally:
            self._stopping = True
            self._wake.set()
            _WORKERS.discard(self)
            self._task.cancel()
            for task in list(self._running):
                task.cancel()
            await asyncio.gather(self._task, *self._running, return_exceptions=True)

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is down, say: try again at the next poll
                log.warning("effects: could not look for due work (%s)", str(exc) or type(exc).__name__)
            try:
                async with asyncio.timeout(self.poll):
                    await self._wake.wait()
            except TimeoutError:
                pass

    # ---- running --------------------------------------------------------------------

    async def run_due(self) -> int:
        """Claim what is due, as many as there are free slots, in one transaction, and
        start them; returns how many were started."""
        free = self.concurrency - len(self._running)
        if free <= 0 or self._stopping or not self.handlers:
            return 0
        lease = timedelta(seconds=self.timeout * 2 + 5)
        claimed = await self.db.write(_claim_due, sorted(self.handlers), free, lease)
        for effect in claimed:
            task = asyncio.create_task(self._run(effect), name=f"effect-{effect.kind}-{effect.id}")
            self._running.add(task)
            task.add_done_callback(self._done)
        return len(claimed)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not self._stopping:
            self._wake.set()  # a slot is free: look again

    async def run_until_idle(self) -> int:
        """Run what is due now and wait for it (tests; tools without a worker loop)."""
        started = await self.run_due()
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)
        return started

    async def _run(self, effect: Effect) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                finish = await self.handlers[effect.kind](effect)
            await self.db.write(_retire, effect.id, finish)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._failed(effect, exc)

    async def _failed(self, effect: Effect, exc: BaseException) -> None:
        error = (str(exc) or type(exc).__name__)[:2000]
        values: dict[str, Any] = {"last_error": error}
        if effect.attempt >= self.max_attempts:
            values["failed_at"] = now()
            log.error("effects: %s #%d failed for good after %d attempts: %s", effect.kind, effect.id, effect.attempt, error)
        else:
            delay = min(self.cap, self.base * 2 ** (effect.attempt - 1))
            values["due_at"] = now() + timedelta(seconds=delay)
            log.warning("effects: %s #%d failed (attempt %d), again in %.1f s: %s", effect.kind, effect.id, effect.attempt, delay, error)
        update = effects.update().where(effects.c.id == effect.id).values(**values)
        try:
            await self.db.write(lambda conn: conn.execute(update))
        except Exception:  # the lease brings it back anyway
            log.exception("effects: could not record the failure of #%d", effect.id)


def _claim_due(conn: sa.Connection, kinds: list[str], limit: int, lease: timedelta) -> list[Effect]:
    """Take up to `limit` due effects of `kinds`: each row's `due_at` moves past the lease
    only if no other node moved it first (the conditional update is the claim)."""
    at = now()
    rows = conn.execute(
        sa.select(effects.c.id, effects.c.due_at)
        .where(effects.c.due_at <= at, effects.c.failed_at.is_(None), effects.c.kind.in_(kinds))
        .order_by(effects.c.due_at, effects.c.id)
        .limit(limit)
    ).all()
    claimed = []
    for r in rows:
        row = conn.execute(
            effects.update()
            .where(effects.c.id == r.id, effects.c.due_at == r.due_at, effects.c.failed_at.is_(None))
            .values(due_at=at + lease, attempts=effects.c.attempts + 1)
            .returning(effects.c.id, effects.c.kind, effects.c.payload, effects.c.attempts)
        ).first()
        if row is not None:
            claimed.append(Effect(row.id, row.kind, row.payload, row.attempts))
    return claimed


def _retire(conn: sa.Connection, effect_id: int, finish: Finish | None) -> None:
    """Delete the done effect and, if it was still there, make its own writes."""
    gone = conn.execute(effects.delete().where(effects.c.id == effect_id))
    if gone.rowcount and finish is not None:
        finish(conn)


EFFECTS: Final = web.AppKey("effects", Effects)
