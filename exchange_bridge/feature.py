"""The exchange bridge as the kernel sees it (hub/feature.py). Imports nothing heavy."""

from __future__ import annotations

from pathlib import Path

from hub.feature import Feature

FEATURE = Feature(
    name="exchange",
    setup="exchange_bridge.wiring:setup",
    tables=("exchange_bridge.transport.tables", "exchange_bridge.desk_tables"),
    migrations=Path(__file__).parent / "migrations" / "versions",
    commands={
        "doc": "official documents (公文): import, export, validate, render",
        "ca": "a small certificate authority for exchange nodes (tests, pilots)",
        "exchange": "document exchange between nodes",
    },
    cli="exchange_bridge.cli",
    url_prefixes=("/exchange/",),
    settings="exchange_bridge.settings:ExchangeSettings",
    demo="exchange_bridge.demo:seed",
)
