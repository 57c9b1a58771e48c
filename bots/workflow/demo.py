"""The built-in flows (bots/flows/*.yaml), for `changtong serve --demo`."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from hub.auth import Principal
from hub.db import DATABASE

from . import service

FLOWS = Path(__file__).resolve().parent.parent / "flows"


async def seed(app: web.Application, admin: Principal) -> None:
    for path in sorted(FLOWS.glob("*.yaml")):
        await app[DATABASE].write(service.import_definition, path.read_text(encoding="utf-8"))
