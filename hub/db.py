"""Storage kernel: one SQLAlchemy MetaData for every package's tables, the async
engine, and the translation of driver failures into the hub's `unavailable` error.

SQLite (the embedded default) runs in WAL mode with foreign keys on; PostgreSQL is the
scale-out engine. Queries stay portable: SQLAlchemy Core only, no dialect SQL.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import queue
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .config import Config
from .errors import Unavailable

__all__ = ["DATABASE", "BigId", "Database", "after_commit", "close_database", "create_engine", "metadata", "now", "upgrade"]

log = logging.getLogger(__name__)

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# 64-bit ids on PostgreSQL; SQLite's INTEGER PRIMARY KEY is already 64-bit rowid.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")




def now() -> datetime:
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
    dbapi_conn.isolation_level = None  # SQLAlchemy, not the driver, emits BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn):  # pragma: no cover - trivial
    # Write transactions take SQLite's write lock up front (BEGIN IMMEDIATE), so a
    # read-then-write never fails with SQLITE_BUSY; reads stay deferred.
    immediate = conn.get_execution_options().get("write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    # Fail fast when PostgreSQL is unreachable: callers get `unavailable`, never a hang.
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        pool_timeout=5,
        connect_args={"timeout": 5, "command_timeout": 30},
    )


_DRIVER_ERRORS: tuple[type[BaseException], ...] = (sa.exc.OperationalError, sa.exc.InterfaceError, OSError, asyncio.TimeoutError)
try:  # asyncpg raises its own connection errors before SQLAlchemy wraps them
    import asyncpg

    _DRIVER_ERRORS += (asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError)
except ImportError:  # pragma: no cover
    pass


AfterCommit = Callable[[], Awaitable[None]]


def after_commit(conn: AsyncConnection | sa.Connection, fn: AfterCommit) -> None:
    """Run `fn` once the transaction of `conn` (opened by `Database.write` or `.begin`) has committed:
    pushes and room changes happen only for what is durably stored."""
    conn.info.setdefault("after_commit", []).append(fn)


@contextlib.contextmanager
def _unavailable_when_down() -> Iterator[None]:
    """A database that is down or unreachable becomes `Unavailable` (retryable);
    other database errors (a constraint, say) pass through."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        if exc.connection_invalidated or isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
            raise Unavailable("error.database_unavailable") from exc
        raise
    except _DRIVER_ERRORS as exc:
        raise Unavailable("error.database_unavailable") from exc


# ---- the write path of hot, short transactions: one synchronous function per transaction ----

T = TypeVar("T")
WriteFn = Callable[..., T]


class _Job:
    __slots__ = ("fn", "args", "future", "after", "result", "error")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], future: asyncio.Future[Any]) -> None:
        self.fn, self.args, self.future = fn, args, future
        self.after: list[AfterCommit] = []
        self.result: Any = None
        self.error: BaseException | None = None


def _resolve(jobs: list[_Job]) -> None:
    for job in jobs:
        if not job.future.done():  # the awaiting task may have been cancelled
            if job.error is not None:
                job.future.set_exception(job.error)
            else:
                job.future.set_result((job.result, job.after))


class SQLiteWriter:
    """One thread that owns a synchronous SQLite connection (the standard sqlite3
    driver) and runs write functions in it: a transaction costs one thread hop, not one
    per statement (aiosqlite) plus SQLAlchemy's greenlet hops per statement, and
    SQLite's own work (the GIL released) overlaps the loop's.

    Group commit: jobs that arrive while a transaction runs are taken together into the
    next one, each in its own SAVEPOINT when there are several, so one job's failure (a
    duplicate client_msg_id, a refused send) rolls back only that job. Jobs run in the
    order submitted. A write lock held elsewhere (a `begin()` transaction, another
    process) is waited for in the thread, up to the connection's busy timeout (30 s),
    after which the jobs fail as `unavailable`. Running the transactions on the loop
    itself was measured too: no cheaper per delivery and a worse p99 (bench/README.md)."""

    MAX_BATCH = 64

    def __init__(self, engine: AsyncEngine) -> None:
        url = engine.url.set(drivername="sqlite")
        self.engine = sa.create_engine(url, poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False})
        event.listen(self.engine, "connect", _sqlite_pragmas)
        event.listen(self.engine, "begin", _sqlite_begin)
        self.queue: queue.SimpleQueue[tuple[_Job, asyncio.AbstractEventLoop] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self.conn: sa.Connection | None = None
        self.batches = 0
        self.jobs = 0
        self.thread.start()

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> asyncio.Future[Any]:
        if not self.thread.is_alive():  # closed: a job queued now would wait for ever
            raise Unavailable("error.database_unavailable")
        loop = asyncio.get_running_loop()
        job = _Job(fn, args, loop.create_future())
        self.queue.put((job, loop))
        return job.future

    def close(self) -> None:
        """Finish the queued jobs, then end the thread (it disposes its engine)."""
        self.queue.put(None)
        self.thread.join(10)

    def _run(self) -> None:
        q = self.queue
        stop = False
        while not stop:
            item = q.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < self.MAX_BATCH:
                try:
                    nxt = q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._transaction([j for j, _ in batch])
            by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
            for job, loop in batch:
                by_loop.setdefault(loop, []).append(job)
            for loop, js in by_loop.items():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(_resolve, js)
        self._drop_conn()
        self.engine.dispose()

    def _drop_conn(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None

    def _transaction(self, jobs: list[_Job]) -> None:
        """Run `jobs` in one transaction; their results or errors are set on them."""
        try:
            if self.conn is None:
                self.conn = self.engine.connect().execution_options(write=True)
            conn = self.conn
            self.batches += 1
            self.jobs += len(jobs)
            with conn.begin():
                if len(jobs) == 1:
                    job = jobs[0]
                    conn.info["after_commit"] = job.after
                    job.result = job.fn(conn, *job.args)
                else:
                    for job in jobs:
                        conn.info["after_commit"] = job.after
                        sp = conn.begin_nested()
                        try:
                            job.result = job.fn(conn, *job.args)
                        except Exception as exc:
                            if isinstance(exc, sa.exc.DBAPIError) and not isinstance(exc, sa.exc.IntegrityError):
                                raise  # the database itself failed: the whole batch fails
                            sp.rollback()
                            job.error, job.result, job.after[:] = exc, None, []
                        else:
                            sp.commit()
        except BaseException as exc:  # noqa: BLE001 - every job of the batch learns why
            for job in jobs:
                if job.error is None:
                    job.error, job.result = exc, None
                job.after.clear()
            broken = isinstance(exc, sa.exc.DBAPIError) and not isinstance(exc, sa.exc.IntegrityError)
            if broken or (self.conn is not None and self.conn.invalidated):
                self._drop_conn()
        finally:
            if self.conn is not None:
                self.conn.info.pop("after_commit", None)


def _after_orphan(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is None:
        _, after = future.result()
        if after:
            task = asyncio.ensure_future(_run_after(after))
            _ORPHANS.add(task)
            task.add_done_callback(_ORPHANS.discard)


_ORPHANS: set[asyncio.Future[None]] = set()


async def _run_after(callbacks: list[AfterCommit]) -> None:
    for fn in callbacks:
        try:
            await fn()
        except Exception:  # a failed push must not undo a committed write
            log.exception("after-commit callback failed")


def _new_reader(engine: AsyncEngine) -> sa.Engine:
    # As many pooled connections as asyncio's default executor has threads (a smaller
    # pool opened and closed overflow connections all through a connect storm), and no
    # BEGIN: each statement reads its own consistent snapshot, as on PostgreSQL's READ
    # COMMITTED, and a read saves the BEGIN and ROLLBACK round (103 µs against 181).
    reader = sa.create_engine(
        engine.url.set(drivername="sqlite"),
        pool_size=min(32, (os.cpu_count() or 1) + 4),
        max_overflow=8,
        connect_args={"check_same_thread": False},
    )
    event.listen(reader, "connect", _sqlite_pragmas)
    return reader


def _read_sync(reader: sa.Engine, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    with reader.connect() as conn:
        return fn(conn, *args)


class Database:
    """The app's storage, one object in its state (`app[DATABASE]`): the async engine
    and, on a SQLite file, the writer thread and the pool of synchronous readers, made on
    first use and closed with it.

    One idiom: `read(fn, …)` and `write(fn, …)` run a synchronous function of SQLAlchemy
    Core statements as one unit of work — every hot path (send, sync, history, connect)
    and every new feature uses them. The one exception, named as such: `begin()` and
    `connect()`, async units of work for code that awaits other things between its
    statements (auth's login, the exchange's desk and transport, migrations of data);
    they take SQLite's write lock like `write` does and run `after_commit` callbacks."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self._file = self.engine.dialect.name == "sqlite" and self.engine.url.database not in (None, "", ":memory:")
        self._writer: SQLiteWriter | None = None
        self._reader: sa.Engine | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def writer(self) -> SQLiteWriter | None:
        """The SQLite writer thread (None on PostgreSQL or in memory)."""
        if self._closed:
            raise Unavailable("error.database_unavailable")
        if self._writer is None and self._file:
            with self._lock:
                if self._writer is None:
                    writer = SQLiteWriter(self.engine)
                    weakref.finalize(self, writer.queue.put, None)  # a dropped Database still ends its thread
                    self._writer = writer
        return self._writer

    @property
    def reader(self) -> sa.Engine | None:
        """The pooled synchronous SQLite readers (None on PostgreSQL or in memory)."""
        if self._reader is None and self._file:
            with self._lock:
                if self._reader is None:
                    self._reader = _new_reader(self.engine)
        return self._reader

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` — a synchronous function of SQLAlchemy Core statements on
        a sync `Connection` — as one write transaction and return its result once
        committed. Callbacks it registers with `after_commit(conn, …)` run here, after the
        commit.

        SQLite: SQLiteWriter (BEGIN IMMEDIATE, group commit) in its writer thread.
        PostgreSQL: `AsyncConnection.run_sync` inside `begin()` — the same function, the
        same statements, one transaction per call. A dead database raises `Unavailable`;
        other errors (an IntegrityError, a HubError) pass through after the rollback."""
        writer = self.writer
        if writer is None:
            async with self.begin() as conn:
                return await conn.run_sync(fn, *args)
        future = writer.submit(fn, args)
        try:
            with _unavailable_when_down():
                result, after = await asyncio.shield(future)
        except asyncio.CancelledError:
            # The transaction may still commit; what it stored is then pushed all the same.
            future.add_done_callback(_after_orphan)
            raise
        await _run_after(after)
        return result

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` — a synchronous function of SQLAlchemy Core reads on a
        sync `Connection` — and return its result. Each statement sees a consistent
        snapshot; several statements need not see the same one (on either engine). On
        SQLite the whole function runs in one worker thread on a pooled synchronous
        connection (WAL: readers never wait for the writer), one thread hop instead of
        aiosqlite's hop per cursor call (measured 120 µs of CPU against 1.25 ms for the
        same query); on PostgreSQL `AsyncConnection.run_sync`. A dead database raises
        `Unavailable`."""
        reader = self.reader
        with _unavailable_when_down():
            if reader is None:
                async with self.engine.connect() as conn:
                    return await conn.run_sync(fn, *args)
            return await asyncio.to_thread(_read_sync, reader, fn, args)

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """An async write transaction (the named exception to `write`). Callbacks
        registered with `after_commit` run after the commit, in order."""
        pending: list[AfterCommit] = []
        with _unavailable_when_down():
            async with self.engine.connect() as conn:
                await conn.execution_options(write=True)
                conn.info["after_commit"] = pending
                try:
                    async with conn.begin():
                        yield conn
                finally:
                    conn.info.pop("after_commit", None)
        await _run_after(pending)

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """An async read-only unit of work (the named exception to `read`)."""
        with _unavailable_when_down():
            async with self.engine.connect() as conn:
                yield conn

    async def close(self) -> None:
        """Finish queued writes, end the writer thread, close every pool. Later work is
        `unavailable` (never a job that waits for a thread that is gone)."""
        self._closed = True
        writer, self._writer = self._writer, None
        if writer is not None:
            await asyncio.to_thread(writer.close)
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.dispose()
        await self.engine.dispose()


DATABASE: Final = web.AppKey("database", Database)


def upgrade(config: Config, revision: str = "heads") -> None:
    """Apply Alembic migrations (blocking; call before the loop or in a thread)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from pathlib import Path

    config.data_dir.mkdir(parents=True, exist_ok=True)
    cfg = AlembicConfig()
    from .features import FEATURES

    here = Path(__file__).parent / "migrations"
    cfg.set_main_option("script_location", str(here))
    # every feature's versions beside the kernel's; one chain or branches that depend on it
    locations = [here / "versions", *(f.migrations for f in FEATURES if f.migrations)]
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(str(p) for p in locations))
    cfg.attributes["database_url"] = config.effective_database_url
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(cfg, revision)
        return
    # Called from async code: env.py runs its own event loop, so give it a thread
    # (this blocks the caller's loop for the duration of the migration).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(command.upgrade, cfg, revision).result()


@contextlib.asynccontextmanager
async def close_database(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: close the database when the app stops (it connects lazily)."""
    yield
    await app[DATABASE].close()
