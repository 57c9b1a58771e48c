"""Import every package's table module so `hub.db.metadata` is complete (Alembic's
autogenerate and tests need it). Like hub/app.py, this names the feature packages."""

from __future__ import annotations

import importlib

TABLE_MODULES = ("hub.schema", "rooms.schema", "exchange_bridge.transport.tables", "exchange_bridge.desk_tables")


def import_all_tables() -> None:
    for name in TABLE_MODULES:
        importlib.import_module(name)
