"""Move a hub's data from one database to another (`changtong db migrate-to URL`):
typically from the embedded SQLite file to PostgreSQL when a city outgrows one node.

The target is migrated to the same schema first and must be empty. Rows are copied
table by table in foreign-key order, in batches, inside one transaction on the target;
PostgreSQL's id sequences are then moved past the copied ids. The source is only read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from .db import create_engine, metadata
from .errors import Conflict
from .tables import import_all_tables

__all__ = ["copy_database"]

BATCH = 2000


async def copy_database(source_url: str, target_url: str, progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copy every table; returns rows copied per table."""
    import_all_tables()
    source, target = create_engine(source_url), create_engine(target_url)
    try:
        return await _copy(source, target, progress)
    finally:
        await source.dispose()
        await target.dispose()


async def _copy(source: AsyncEngine, target: AsyncEngine, progress: Callable[[str, int], None] | None) -> dict[str, int]:
    tables = metadata.sorted_tables
    counts: dict[str, int] = {}
    async with target.begin() as dst:
        for table in tables:
            if (await dst.execute(sa.select(sa.func.count()).select_from(table))).scalar_one():
                raise Conflict("error.target_not_empty", table=table.name)
        async with source.connect() as src:
            for table in tables:
                copied = 0
                result = await src.stream(sa.select(table).order_by(*table.primary_key.columns))
                async for rows in result.partitions(BATCH):
                    batch: list[dict[str, Any]] = [dict(r._mapping) for r in rows]
                    await dst.execute(table.insert(), batch)
                    copied += len(batch)
                    if progress:
                        progress(table.name, copied)
                counts[table.name] = copied
        if dst.dialect.name == "postgresql":
            for table in tables:
                pk = list(table.primary_key.columns)
                if len(pk) == 1 and isinstance(pk[0].type, sa.Integer):
                    column = pk[0]
                    await dst.execute(
                            sa.text(
                                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                                f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"
                            )
                        )
    return counts
