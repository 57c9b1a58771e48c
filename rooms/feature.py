"""Rooms as the kernel sees it (hub/feature.py). Imports nothing heavy.

Its tables came with the kernel's first migration (hub/migrations/versions/0001), so it
has no versions directory of its own; a change to them would start one."""

from __future__ import annotations

from hub.feature import Feature

FEATURE = Feature(
    name="rooms",
    setup="rooms.wiring:setup",
    tables=("rooms.schema",),
    demo="rooms.demo:seed",
)
