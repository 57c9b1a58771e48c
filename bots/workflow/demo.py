"""The built-in flows (bots/flows/*.yaml), for `changtong serve --demo`, and the people
they need beyond the directory's leaders: 市政府办公室's 科员 is the city's 车管员 (the
role `fleet` that 车辆申请's 派车 goes to)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from aiohttp import web

from hub.auth import Principal
from hub.db import DATABASE
from hub.schema import posts, units, users

from . import service

FLOWS = Path(__file__).resolve().parent.parent / "flows"
FLEET_UNIT, FLEET_TITLE = "dy-bgs", "科员"


def _fleet(conn: sa.Connection) -> list[tuple[str, str, str]]:
    row = conn.execute(
        sa.select(users.c.id, users.c.username, users.c.display_name, users.c.roles)
        .join(posts, posts.c.user_id == users.c.id).join(units, units.c.id == posts.c.unit_id)
        .where(units.c.code == FLEET_UNIT, users.c.title == FLEET_TITLE).order_by(users.c.id).limit(1)
    ).first()
    if row is None:
        return []
    if "fleet" not in (row.roles or "").split():
        conn.execute(users.update().where(users.c.id == row.id).values(roles=" ".join([*(row.roles or "").split(), "fleet"])))
    return [(row.username, row.display_name, "车管员")]


async def seed(app: web.Application, admin: Principal) -> list[tuple[str, str, str]]:
    for path in sorted(FLOWS.glob("*.yaml")):
        await app[DATABASE].write(service.import_definition, path.read_text(encoding="utf-8"))
    return await app[DATABASE].write(_fleet)
