"""Ids as requests name them: a row id is 1 … 2**63 − 1 (64-bit on PostgreSQL, SQLite's
rowid). A larger number names no row, and the drivers would fail on it (found by
schemathesis as 500s): models take `DbId`, path and query parsers check `MAX_ID`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

__all__ = ["MAX_ID", "DbId", "path_id"]

MAX_ID = 2**63 - 1
DbId = Annotated[int, Field(gt=0, le=MAX_ID)]


def path_id(digits: str) -> int:
    """A route's `{…:\\d+}` as an id; 0 (no row) past 64 bits, without converting a
    thousand-digit number."""
    if len(digits) > 19:
        return 0
    value = int(digits)
    return value if value <= MAX_ID else 0
