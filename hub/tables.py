"""Every table module, the kernel's and each feature's (`Feature.tables`), so that
`hub.db.metadata` is complete for Alembic's autogenerate, `db migrate-to` and tests."""

from __future__ import annotations

import importlib

from .features import FEATURES

TABLE_MODULES = ("hub.schema", *(module for feature in FEATURES for module in feature.tables))


def import_all_tables() -> None:
    for name in TABLE_MODULES:
        importlib.import_module(name)
