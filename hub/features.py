"""The composition root's list of features: the one module of hub/ that names feature
packages (a test holds every other module of hub/ to that). Adding a feature is adding
its `FEATURE` here; the kernel's app factory, CLI, table list, migrations and web
routing read this list."""

from __future__ import annotations

from bots.feature import FEATURE as BOTS
from exchange_bridge.feature import FEATURE as EXCHANGE
from rooms.feature import FEATURE as ROOMS

from .feature import Feature

__all__ = ["FEATURES"]

# In order of setup: a feature's setup may use what an earlier one put in the app.
FEATURES: tuple[Feature, ...] = (ROOMS, EXCHANGE, BOTS)
