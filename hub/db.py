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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .config import Config
from .errors import Unavailable

__all__ = ["ENGINE", "BigId", "after_commit", "begin", "connect", "create_engine", "dispose_engine", "metadata", "now", "upgrade"]

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

ENGINE: Final = web.AppKey("engine", AsyncEngine)


def now() -> datetime:
    return datetime.now(UTC)


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            dbapi_conn.isolation_level = None  # SQLAlchemy, not the driver, emits BEGIN
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        # Write transactions take SQLite's write lock up front (BEGIN IMMEDIATE), so a
        # read-then-write never fails with SQLITE_BUSY; reads stay deferred.
        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - trivial
            immediate = conn.get_execution_options().get("write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

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


def after_commit(conn: AsyncConnection, fn: AfterCommit) -> None:
    """Run `fn` once the transaction of `conn` (opened by `begin`) has committed:
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


@contextlib.asynccontextmanager
async def begin(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A write transaction. Callbacks registered with `after_commit` run after the
    commit, in order."""
    pending: list[AfterCommit] = []
    with _unavailable_when_down():
        async with engine.connect() as conn:
            await conn.execution_options(write=True)
            conn.info["after_commit"] = pending
            try:
                async with conn.begin():
                    yield conn
            finally:
                conn.info.pop("after_commit", None)
    for fn in pending:
        try:
            await fn()
        except Exception:  # a failed push must not undo a committed write
            log.exception("after-commit callback failed")


@contextlib.asynccontextmanager
async def connect(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A read-only unit of work (no explicit write lock on SQLite)."""
    with _unavailable_when_down():
        async with engine.connect() as conn:
            yield conn


def upgrade(config: Config, revision: str = "head") -> None:
    """Apply Alembic migrations (blocking; call before the loop or in a thread)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from pathlib import Path

    config.data_dir.mkdir(parents=True, exist_ok=True)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
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
async def dispose_engine(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: close the pool when the app stops (the engine connects lazily)."""
    yield
    await app[ENGINE].dispose()
