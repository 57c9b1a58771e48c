"""The effects outbox: work decided in a transaction runs after its commit, at least
once, with retries, never for a transaction that rolled back, and its own writes once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from hub.db import DATABASE
from hub.effects import EFFECTS, Effect, enqueue
from hub.schema import effects, units


@pytest.fixture
def hub_settings() -> dict[str, Any]:
    return {"effects_retry_base_seconds": 0.05, "effects_retry_max_seconds": 0.2, "effects_poll_seconds": 0.1, "effects_max_attempts": 3}


async def _until(pred, timeout: float = 5) -> None:
    for _ in range(int(timeout / 0.02)):
        if await pred():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not in time")


async def _rows(hub) -> list[Any]:
    return await hub.app[DATABASE].read(lambda c: c.execute(sa.select(effects).order_by(effects.c.id)).all())


async def test_an_effect_runs_after_its_commit_and_never_for_a_rollback(hub):
    ran: list[tuple[str, int]] = []

    async def handler(effect: Effect) -> None:
        ran.append((effect.payload["text"], effect.attempt))

    hub.app[EFFECTS].register("test.note", handler)
    db = hub.app[DATABASE]

    def decide_then_fail(conn: sa.Connection) -> None:
        enqueue(conn, "test.note", {"text": "回滚"})
        raise RuntimeError("the deciding transaction failed")

    with pytest.raises(RuntimeError):
        await db.write(decide_then_fail)
    await db.write(lambda conn: enqueue(conn, "test.note", {"text": "提交"}))

    async def done() -> bool:
        return bool(ran) and not await _rows(hub)

    await _until(done)
    assert ran == [("提交", 1)]


async def test_a_failing_effect_is_retried_then_kept_with_its_error(hub):
    calls: list[int] = []

    async def flaky(effect: Effect) -> None:
        calls.append(effect.attempt)
        if effect.payload["fails"] >= effect.attempt:
            raise ConnectionError(f"peer down (attempt {effect.attempt})")

    hub.app[EFFECTS].register("test.flaky", flaky)
    db = hub.app[DATABASE]
    await db.write(lambda conn: enqueue(conn, "test.flaky", {"fails": 2}))  # succeeds on the third
    await db.write(lambda conn: enqueue(conn, "test.flaky", {"fails": 99}))  # never

    async def settled() -> bool:
        rows = await _rows(hub)
        return len(rows) == 1 and rows[0].failed_at is not None

    await _until(settled)
    (kept,) = await _rows(hub)
    assert kept.payload == {"fails": 99} and kept.attempts == 3
    assert kept.last_error == "peer down (attempt 3)"
    assert sorted(calls) == [1, 1, 2, 2, 3, 3]


async def test_finish_writes_in_the_transaction_that_retires_the_effect(hub):
    async def make_unit(effect: Effect):
        def finish(conn: sa.Connection) -> None:
            conn.execute(units.insert().values(code=effect.payload["code"], name="效果单位", created_at=sa.func.now()))

        return finish

    hub.app[EFFECTS].register("test.unit", make_unit)
    await hub.app[DATABASE].write(lambda conn: enqueue(conn, "test.unit", {"code": "fx-1"}))

    async def made() -> bool:
        found = await hub.app[DATABASE].read(lambda c: c.execute(sa.select(units.c.code).where(units.c.code == "fx-1")).all())
        return bool(found) and not await _rows(hub)

    await _until(made)


async def test_work_queued_before_a_handler_exists_runs_once_it_does(hub):
    """As after a restart: the row is the truth, whoever queued it."""
    db = hub.app[DATABASE]
    await db.write(lambda conn: enqueue(conn, "test.later", {"n": 1}))
    await asyncio.sleep(0.3)
    assert len(await _rows(hub)) == 1  # no handler here yet: it waits
    ran: list[int] = []

    async def handler(effect: Effect) -> None:
        ran.append(effect.payload["n"])

    hub.app[EFFECTS].register("test.later", handler)

    async def done() -> bool:
        return ran == [1] and not await _rows(hub)

    await _until(done)
