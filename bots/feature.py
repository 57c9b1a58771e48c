"""Bots as the kernel sees it (hub/feature.py). Imports nothing heavy."""

from __future__ import annotations

from pathlib import Path

from hub.feature import Feature

FEATURE = Feature(
    name="bots",
    setup="bots.wiring:setup",
    tables=("bots.schema",),
    migrations=Path(__file__).parent / "migrations" / "versions",
    commands={"bot": "bots: external bot accounts and their tokens", "flow": "workflows: import, validate, list flow definitions"},
    cli="bots.cli",
    url_prefixes=("/hooks/",),
    demo="bots.workflow.demo:seed",
    settings="bots.settings:BotsSettings",
)
