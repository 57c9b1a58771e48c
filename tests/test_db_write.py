"""Database.write: one synchronous function per write transaction (SQLite: the writer
thread with group commit; PostgreSQL: run_sync). Jobs that
share a SQLite transaction fail alone: a refused job or a duplicate rolls back only its
own savepoint."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.db import Database, after_commit
from hub.errors import BadRequest, Unavailable

meta = sa.MetaData()
items = sa.Table(
    "items",
    meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(10), nullable=False, unique=True),
)
counter = sa.Table("counter", meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("n", sa.Integer, nullable=False))


def _insert(conn: sa.Connection, key: str, pushed: list[str]) -> int:
    n = conn.execute(counter.update().where(counter.c.id == 1).values(n=counter.c.n + 1).returning(counter.c.n)).scalar_one()
    if key.startswith("bad"):
        raise BadRequest("error.bad_request")
    conn.execute(items.insert().values(key=key))

    async def push() -> None:
        pushed.append(key)

    after_commit(conn, push)
    return n


@pytest.fixture
async def db(tmp_path: Path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    async with db.begin() as conn:
        await conn.run_sync(meta.create_all)
        await conn.execute(counter.insert().values(id=1, n=0))
    yield db
    await db.close()


async def test_a_batch_keeps_the_good_jobs_and_a_gap_free_counter(db):
    pushed: list[str] = []
    keys = ["a", "b", "bad1", "a", "c", "bad2", "d"]
    writer = db.writer
    # the thread is busy: the next jobs queue up and share a transaction, a savepoint each
    busy = asyncio.ensure_future(db.write(lambda conn: time.sleep(0.3)))
    await asyncio.sleep(0.05)
    results = await asyncio.gather(*[db.write(_insert, k, pushed) for k in keys], return_exceptions=True)
    await busy
    assert isinstance(results[2], BadRequest) and isinstance(results[5], BadRequest)
    assert isinstance(results[3], sa.exc.IntegrityError)  # the twin of "a"
    assert [r for r in results if isinstance(r, int)] == [1, 2, 3, 4]  # refused jobs returned their number
    assert pushed == ["a", "b", "c", "d"]  # after commit, in order, none for failed jobs
    async with db.connect() as conn:
        assert (await conn.execute(sa.select(counter.c.n))).scalar_one() == 4
        assert sorted((await conn.execute(sa.select(items.c.key))).scalars()) == ["a", "b", "c", "d"]
    # one transaction for the seven (after the busy one)
    assert (writer.batches, writer.jobs) == (2, 1 + len(keys))


async def test_an_operational_error_is_unavailable_and_the_writer_recovers(db, tmp_path: Path):
    pushed: list[str] = []
    assert await db.write(_insert, "x", pushed) == 1
    writer = db.writer

    def broken(conn: sa.Connection) -> None:
        conn.exec_driver_sql("SELECT * FROM no_such_table_and_no_database")

    with pytest.raises(Unavailable):
        await db.write(broken)
    # the writer recovers: the next transaction opens a fresh connection
    assert await db.write(_insert, "y", pushed) == 2
    assert writer.conn is not None


async def test_a_write_lock_held_by_a_begin_transaction_is_waited_for_in_the_thread(db):
    pushed: list[str] = []
    async with db.begin() as conn:  # another connection holds SQLite's write lock
        await conn.execute(items.insert().values(key="held"))
        task = asyncio.ensure_future(db.write(_insert, "after", pushed))
        await asyncio.sleep(0.3)
        assert not task.done()  # the loop was not blocked meanwhile, and the job waits
    assert await task == 1 and pushed == ["after"]
    assert await db.write(_insert, "again", pushed) == 2
    assert db.writer.batches == 2


async def test_a_write_lock_held_by_another_process_is_waited_for_in_the_thread(db, tmp_path: Path):
    import sqlite3

    other = sqlite3.connect(tmp_path / "w.db", isolation_level=None)  # as another process would
    other.execute("BEGIN IMMEDIATE")
    pushed: list[str] = []
    task = asyncio.ensure_future(db.write(_insert, "x", pushed))
    await asyncio.sleep(0.3)
    assert not task.done()
    other.execute("COMMIT")
    other.close()
    assert await task == 1 and pushed == ["x"]
    assert db.writer.batches == 1


async def test_work_after_close_is_unavailable_not_a_wait_for_ever(tmp_path: Path):
    """A shutdown that closed the database before a worker stopped left that worker's
    write waiting for a writer thread that was gone (serve --demo hung on Ctrl+C)."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    async with db.begin() as conn:
        await conn.run_sync(meta.create_all)
        await conn.execute(counter.insert().values(id=1, n=0))
    assert await db.write(_insert, "a", []) == 1
    await db.close()
    with pytest.raises(Unavailable):
        await asyncio.wait_for(db.write(_insert, "b", []), 5)
