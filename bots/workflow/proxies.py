"""代理: a standing proxy for a period. While it runs, a task the engine gives to a person
goes to their proxy instead, who holds it in their place (`place_of`: a sequential
会签 counts it as theirs) and acts as `proxy_for` them — the card, the instance page
and the 流转记录 say "李四（代 王局长）". One hop: a proxy's own proxy is not followed.
Tasks given before the proxy starts stay where they are.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hub.db import now
from hub.errors import BadRequest, Conflict, Forbidden, NotFound
from hub.schema import users

from ..schema import flow_proxies
from . import engine

__all__ = ["LONGEST", "active_proxies", "add_proxy", "apply_proxies", "list_proxies", "remove_proxy"]

LONGEST = timedelta(days=366)


def active_proxies(conn: sa.Connection, user_ids: set[int], at: datetime) -> dict[int, int]:
    """person -> their proxy, for those of `user_ids` with one running at `at` (one query:
    a notice given to a whole unit asks once)."""
    if not user_ids:
        return {}
    rows = conn.execute(
        sa.select(flow_proxies.c.user_id, flow_proxies.c.proxy_id)
        .join(users, users.c.id == flow_proxies.c.proxy_id)
        .where(flow_proxies.c.user_id.in_(user_ids), flow_proxies.c.starts_at <= at, flow_proxies.c.ends_at > at, users.c.disabled == sa.false())
    )
    return {int(r.user_id): int(r.proxy_id) for r in rows}  # periods of one person never overlap


def apply_proxies(conn: sa.Connection, inst: engine.Instance, effects: list[engine.Effect]) -> engine.Instance:
    """Hand each task just given to someone with a running proxy to that proxy."""
    given = {e.task_id for e in effects if e.kind == "task_assigned"}
    fresh = [t for t in inst.tasks if t.id in given and t.proxy_for is None and t.status == "open"]
    running = active_proxies(conn, {t.user for t in fresh}, now())
    for task in fresh:
        proxy = running.get(task.user)
        holding = {t.user for t in engine.held(inst, task.node) if t.round == task.round}
        if proxy is None or proxy in holding:
            continue  # none, or the proxy holds this step already: the person keeps it
        moved = dataclasses.replace(task, user=proxy, place_of=task.place_of or task.user, proxy_for=task.user)
        inst = dataclasses.replace(inst, tasks=tuple(moved if t.id == task.id else t for t in inst.tasks))
    return inst


def _view(row: Any, names: dict[int, str], at: datetime) -> dict[str, Any]:
    return {
        "id": row.id, "user_id": row.user_id, "user_name": names.get(row.user_id, ""), "proxy_id": row.proxy_id,
        "proxy_name": names.get(row.proxy_id, ""), "starts_at": _aware(row.starts_at).isoformat(), "ends_at": _aware(row.ends_at).isoformat(),
        "active": _aware(row.starts_at) <= at < _aware(row.ends_at),
    }


def _aware(d: datetime) -> datetime:
    return d if d.tzinfo else d.replace(tzinfo=now().tzinfo)  # SQLite gives naive UTC back


def _names(conn: sa.Connection, ids: set[int]) -> dict[int, str]:
    return {int(r.id): r.display_name for r in conn.execute(sa.select(users.c.id, users.c.display_name).where(users.c.id.in_(ids)))}


def list_proxies(conn: sa.Connection, user_id: int) -> list[dict[str, Any]]:
    """The proxies a person set, or holds for others, not yet over."""
    at = now()
    rows = conn.execute(
        sa.select(flow_proxies)
        .where(sa.or_(flow_proxies.c.user_id == user_id, flow_proxies.c.proxy_id == user_id), flow_proxies.c.ends_at > at)
        .order_by(flow_proxies.c.starts_at, flow_proxies.c.id)
    ).all()
    names = _names(conn, {r.user_id for r in rows} | {r.proxy_id for r in rows})
    return [_view(r, names, at) for r in rows]


def add_proxy(conn: sa.Connection, by: int, user_id: int, proxy_id: int, starts_at: datetime, ends_at: datetime) -> dict[str, Any]:
    if proxy_id == user_id:
        raise BadRequest("error.flow_proxy_self")
    if ends_at <= starts_at or ends_at - starts_at > LONGEST or ends_at <= now():
        raise BadRequest("error.flow_proxy_period")
    found = {int(r.id) for r in conn.execute(sa.select(users.c.id).where(users.c.id.in_((user_id, proxy_id)), users.c.disabled == sa.false(), users.c.is_bot == sa.false()))}
    if found != {user_id, proxy_id}:
        raise NotFound("error.flow_proxy_user_not_found")
    overlap = conn.execute(
        sa.select(flow_proxies.c.id).where(flow_proxies.c.user_id == user_id, flow_proxies.c.starts_at < ends_at, flow_proxies.c.ends_at > starts_at).limit(1)
    ).first()
    if overlap is not None:
        raise Conflict("error.flow_proxy_overlap")
    proxy_row = conn.execute(
        flow_proxies.insert()
        .values(user_id=user_id, proxy_id=proxy_id, starts_at=starts_at, ends_at=ends_at, created_by=by, created_at=now())
        .returning(*flow_proxies.c)
    ).one()
    return _view(proxy_row, _names(conn, {user_id, proxy_id}), now())


def remove_proxy(conn: sa.Connection, by: int, admin: bool, proxy_id: int) -> None:
    row = conn.execute(sa.select(flow_proxies.c.user_id).where(flow_proxies.c.id == proxy_id)).first()
    if row is None:
        raise NotFound("error.flow_proxy_not_found")
    if row.user_id != by and not admin:
        raise Forbidden("error.forbidden")
    conn.execute(flow_proxies.delete().where(flow_proxies.c.id == proxy_id))
