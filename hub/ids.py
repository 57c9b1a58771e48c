"""Ids as requests name them: a row id is 1 … 2**63 − 1 (64-bit on PostgreSQL, SQLite's
rowid). A larger number names no row, and the drivers would fail on it (found by
schemathesis as 500s): models take `DbId`, path and query parsers check `MAX_ID`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

__all__ = ["MAX_ID", "DbId"]

MAX_ID = 2**63 - 1
DbId = Annotated[int, Field(gt=0, le=MAX_ID)]
