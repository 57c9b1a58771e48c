"""The built-in flows (bots/flows/*.yaml), for `changtong serve --demo`, and what they
need beyond the directory's leaders: 市政府办公室's 科员 is the city's 车管员 (the role
`fleet` that 车辆申请's 派车 goes to), with the private 车辆调度 channel that follows the
requests; 市财政局's 科长 does 出差审批's 财务审核 (the role `finance`)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from aiohttp import web

from hub.auth import Principal
from hub.db import DATABASE
from hub.schema import posts, units, users
from rooms.rules import ChannelCreate
from rooms.wiring import ROOMS

from . import service

FLOWS = Path(__file__).resolve().parent.parent / "flows"
ROLES = (("dy-bgs", "科员", "fleet", "车管员"), ("dy-czj", "科长", "finance", "财务审核"))  # unit, title, role, shown as


def _give_role(conn: sa.Connection, unit_code: str, title: str, role: str) -> tuple[int, str, str] | None:
    row = conn.execute(
        sa.select(users.c.id, users.c.username, users.c.display_name, users.c.roles)
        .join(posts, posts.c.user_id == users.c.id).join(units, units.c.id == posts.c.unit_id)
        .where(units.c.code == unit_code, users.c.title == title).order_by(users.c.id).limit(1)
    ).first()
    if row is None:
        return None
    if role not in (row.roles or "").split():
        conn.execute(users.update().where(users.c.id == row.id).values(roles=" ".join([*(row.roles or "").split(), role])))
    return int(row.id), row.username, row.display_name


async def seed(app: web.Application, admin: Principal) -> list[tuple[str, str, str]]:
    for path in sorted(FLOWS.glob("*.yaml")):
        await app[DATABASE].write(service.import_definition, path.read_text(encoding="utf-8"))
    logins = []
    for unit_code, title, role, shown in ROLES:
        person = await app[DATABASE].write(_give_role, unit_code, title, role)
        if person is None:
            continue
        logins.append((person[1], person[2], shown))
        if role == "fleet":
            await app[ROOMS].create_channel(admin, ChannelCreate(name="车辆调度", kind="private", member_ids=[person[0]], topic="车辆申请的办理进度"))
    return logins
