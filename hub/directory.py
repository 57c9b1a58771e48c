"""The city-wide directory (全市机关工作人员通讯录): units nested to any depth, staff
holding posts in one or more units, pinyin search, personal contacts and groups.

Functions take an open connection; callers own the transaction. Changes that other
packages follow (a unit channel's membership follows posts) are announced on
`DirectoryHooks` inside the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from .db import now
from .errors import BadRequest, Conflict, NotFound
from .pinyin import search_keys
from .schema import contact_group_members, contact_groups, contacts, posts, units, users

__all__ = [
    "DIRECTORY_HOOKS",
    "DirectoryHooks",
    "add_unit",
    "add_user",
    "get_unit_by_code",
    "search_users",
    "set_posts",
    "unit_subtree",
    "unit_subtree_ids",
    "unit_tree",
    "user_by_username",
    "user_views",
]

PostHook = Callable[[AsyncConnection, int, int], Awaitable[None]]  # (conn, user_id, unit_id)
UnitHook = Callable[[AsyncConnection, dict[str, Any]], Awaitable[None]]


@dataclass
class DirectoryHooks:
    """Subscribers run inside the directory's transaction, so what follows the
    directory (unit channels) changes atomically with it."""

    post_added: list[PostHook] = field(default_factory=list)
    post_removed: list[PostHook] = field(default_factory=list)
    unit_added: list[UnitHook] = field(default_factory=list)
    unit_changed: list[UnitHook] = field(default_factory=list)


DIRECTORY_HOOKS: Final = web.AppKey("directory_hooks", DirectoryHooks)

USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


def check_username(username: str) -> str:
    name = (username or "").strip().lower()
    if not (2 <= len(name) <= 64) or not set(name) <= USERNAME_CHARS:
        raise BadRequest("error.bad_username")
    return name


def _name_keys(table: sa.Table, name: str, person: bool = False) -> tuple[str, str]:
    """Pinyin search keys cut to their columns (a long name's pinyin is longer than it)."""
    full, initials = search_keys(name, person=person)
    return full[: table.c.pinyin.type.length], initials[: table.c.initials.type.length]


# ---- units ---------------------------------------------------------------


def unit_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "code": row.code,
        "name": row.name,
        "parent_id": row.parent_id,
        "disabled": bool(row.disabled),
    }


async def get_unit_by_code(conn: AsyncConnection, code: str) -> Any:
    row = (await conn.execute(sa.select(units).where(units.c.code == code))).first()
    if row is None:
        raise NotFound("error.unit_not_found", code=code)
    return row


async def get_unit(conn: AsyncConnection, unit_id: int) -> Any:
    row = (await conn.execute(sa.select(units).where(units.c.id == unit_id))).first()
    if row is None:
        raise NotFound("error.unit_not_found", code=unit_id)
    return row


async def add_unit(
    conn: AsyncConnection, hooks: DirectoryHooks, code: str, name: str, parent_code: str | None = None, sort: int = 0
) -> dict[str, Any]:
    code, name = (code or "").strip(), (name or "").strip()
    if not code or not name or len(code) > 64 or len(name) > 200:
        raise BadRequest("error.bad_unit")
    if (await conn.execute(sa.select(units.c.id).where(units.c.code == code))).first():
        raise Conflict("error.unit_exists", code=code)
    parent_id = (await get_unit_by_code(conn, parent_code)).id if parent_code else None
    full, initials = _name_keys(units, name)
    unit_id = (
        await conn.execute(
            units.insert()
            .values(code=code, name=name, parent_id=parent_id, sort=sort, pinyin=full, initials=initials, created_at=now())
            .returning(units.c.id)
        )
    ).scalar_one()
    view = unit_view(await get_unit(conn, unit_id))
    for hook in hooks.unit_added:
        await hook(conn, view)
    return view


async def update_unit(
    conn: AsyncConnection,
    hooks: DirectoryHooks,
    unit_id: int,
    *,
    name: str | None = None,
    parent_id: int | None | type[...] = ...,
    disabled: bool | None = None,
) -> dict[str, Any]:
    """Rename, move (parent_id; None makes it a root) or disable a unit."""
    await get_unit(conn, unit_id)
    values: dict[str, Any] = {}
    if name is not None:
        name = name.strip()
        if not name or len(name) > 200:
            raise BadRequest("error.bad_unit")
        values["name"] = name
        values["pinyin"], values["initials"] = _name_keys(units, name)
    if parent_id is not ...:
        if parent_id is not None:
            await get_unit(conn, parent_id)
            if parent_id in await unit_subtree_ids(conn, unit_id):
                raise BadRequest("error.unit_cycle")
        values["parent_id"] = parent_id
    if disabled is not None:
        values["disabled"] = disabled
    if values:
        await conn.execute(units.update().where(units.c.id == unit_id).values(**values))
    view = unit_view(await get_unit(conn, unit_id))
    for hook in hooks.unit_changed:
        await hook(conn, view)
    return view


def unit_subtree(unit_id: int) -> sa.Select:
    """The ids of the unit and every unit below it (a recursive CTE, portable to both
    engines), as a statement to run or to use in `IN (…)`."""
    tree = sa.select(units.c.id).where(units.c.id == unit_id).cte("tree", recursive=True)
    tree = tree.union_all(sa.select(units.c.id).where(units.c.parent_id == tree.c.id))
    return sa.select(tree.c.id)


async def unit_subtree_ids(conn: AsyncConnection, unit_id: int) -> set[int]:
    return set((await conn.execute(unit_subtree(unit_id))).scalars())


async def unit_tree(conn: AsyncConnection, include_disabled: bool = False) -> list[dict[str, Any]]:
    """All units as a forest: [{id, code, name, member_count, children: [...]}, ...]."""
    rows = (await conn.execute(sa.select(units).order_by(units.c.sort, units.c.id))).all()
    counts = dict(
        (
            await conn.execute(
                sa.select(posts.c.unit_id, sa.func.count())
                .select_from(posts.join(users, users.c.id == posts.c.user_id))
                .where(users.c.disabled == sa.false())
                .group_by(posts.c.unit_id)
            )
        ).all()
    )
    nodes = {r.id: {**unit_view(r), "member_count": counts.get(r.id, 0), "children": []} for r in rows}
    roots = []
    for r in rows:
        if r.disabled and not include_disabled:
            continue  # hidden, and with it its sub-units (attached to a node no one sees)
        parent = nodes.get(r.parent_id) if r.parent_id else None
        (parent["children"] if parent else roots).append(nodes[r.id])
    return roots


# ---- users ---------------------------------------------------------------


ROLE = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def _roles_text(roles: Iterable[str]) -> str:
    """Roles as stored: validated names ("admin", "leader"), sorted, space-separated."""
    roles = set(roles)
    if len(roles) > 20 or not all(isinstance(r, str) and ROLE.fullmatch(r) for r in roles):
        raise BadRequest("error.bad_role")
    return " ".join(sorted(roles))


def parse_roles(text: str) -> list[str]:
    return [r for r in (text or "").split() if r]


async def user_by_username(conn: AsyncConnection, username: str) -> Any:
    return (await conn.execute(sa.select(users).where(users.c.username == username.strip().lower()))).first()


async def user_views(conn: AsyncConnection, user_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Public views of users with their posts, keyed by id."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = (await conn.execute(sa.select(users).where(users.c.id.in_(ids)))).all()
    post_rows = (
        await conn.execute(
            sa.select(posts.c.user_id, posts.c.title, posts.c.is_primary, units.c.id, units.c.code, units.c.name)
            .join(units, units.c.id == posts.c.unit_id)
            .where(posts.c.user_id.in_(ids))
            .order_by(posts.c.user_id, posts.c.is_primary.desc(), posts.c.sort)
        )
    ).all()
    by_user: dict[int, list[dict[str, Any]]] = {}
    for p in post_rows:
        by_user.setdefault(p.user_id, []).append(
            {"unit_id": p.id, "unit_code": p.code, "unit_name": p.name, "title": p.title, "is_primary": bool(p.is_primary)}
        )
    return {
        r.id: {
            "id": r.id,
            "username": r.username,
            "display_name": r.display_name,
            "title": r.title,
            "phone": r.phone,
            "email": r.email,
            "roles": parse_roles(r.roles),
            "is_bot": bool(r.is_bot),
            "disabled": bool(r.disabled),
            "posts": by_user.get(r.id, []),
        }
        for r in rows
    }


async def user_view(conn: AsyncConnection, user_id: int) -> dict[str, Any]:
    views = await user_views(conn, [user_id])
    if user_id not in views:
        raise NotFound("error.user_not_found")
    return views[user_id]


async def add_user(
    conn: AsyncConnection,
    hooks: DirectoryHooks,
    *,
    username: str,
    password_hash: str,
    display_name: str | None = None,
    unit_codes: Iterable[str] = (),
    roles: Iterable[str] = (),
    title: str = "",
    phone: str = "",
    email: str = "",
    is_bot: bool = False,
) -> dict[str, Any]:
    username = check_username(username)
    display_name = (display_name or username).strip()
    if not display_name or len(display_name) > 100:
        raise BadRequest("error.bad_display_name")
    if await user_by_username(conn, username):
        raise Conflict("error.user_exists", username=username)
    full, initials = _name_keys(users, display_name, person=True)
    user_id = (
        await conn.execute(
            users.insert()
            .values(
                username=username,
                password_hash=password_hash,
                display_name=display_name,
                pinyin=full,
                initials=initials,
                title=title,
                phone=phone,
                email=email,
                roles=_roles_text(roles),
                is_bot=is_bot,
                created_at=now(),
            )
            .returning(users.c.id)
        )
    ).scalar_one()
    unit_ids = [(await get_unit_by_code(conn, code)).id for code in unit_codes]
    if unit_ids:
        await set_posts(conn, hooks, user_id, [{"unit_id": u, "title": title} for u in unit_ids])
    return await user_view(conn, user_id)


async def set_posts(conn: AsyncConnection, hooks: DirectoryHooks, user_id: int, new_posts: list[dict[str, Any]]) -> None:
    """Replace a user's posts (move between units); the first one is primary."""
    seen: set[int] = set()
    wanted: list[dict[str, Any]] = []
    for p in new_posts:
        unit_id = int(p["unit_id"])
        if unit_id not in seen:
            await get_unit(conn, unit_id)
            seen.add(unit_id)
            wanted.append({"unit_id": unit_id, "title": str(p.get("title") or "")[:100]})
    old = set((await conn.execute(sa.select(posts.c.unit_id).where(posts.c.user_id == user_id))).scalars())
    await conn.execute(posts.delete().where(posts.c.user_id == user_id))
    for i, p in enumerate(wanted):
        await conn.execute(posts.insert().values(user_id=user_id, unit_id=p["unit_id"], title=p["title"], is_primary=i == 0, sort=i))
    for unit_id in old - seen:
        for hook in hooks.post_removed:
            await hook(conn, user_id, unit_id)
    for unit_id in [p["unit_id"] for p in wanted if p["unit_id"] not in old]:
        for hook in hooks.post_added:
            await hook(conn, user_id, unit_id)


async def update_user(conn: AsyncConnection, user_id: int, **values: Any) -> dict[str, Any]:
    """Profile fields (display_name, title, phone, email), roles, disabled, password_hash."""
    allowed = {"display_name", "title", "phone", "email", "roles", "disabled", "password_hash"}
    values = {k: v for k, v in values.items() if k in allowed and v is not None}
    if "display_name" in values:
        name = str(values["display_name"]).strip()
        if not name or len(name) > 100:
            raise BadRequest("error.bad_display_name")
        values["display_name"] = name
        values["pinyin"], values["initials"] = _name_keys(users, name, person=True)
    for key, limit in (("title", 100), ("phone", 40), ("email", 200)):
        if key in values and len(str(values[key])) > limit:
            raise BadRequest("error.bad_request")
    if "roles" in values:
        values["roles"] = _roles_text(values["roles"])
    if values:
        await conn.execute(users.update().where(users.c.id == user_id).values(**values))
    return await user_view(conn, user_id)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_users(
    conn: AsyncConnection, q: str = "", unit_id: int | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Search staff by name (any part), pinyin or pinyin initials (prefix), username,
    and/or unit (the unit and its sub-units). Returns (page, total)."""
    cond = [users.c.disabled == sa.false(), users.c.is_bot == sa.false()]
    q = (q or "").strip()
    if q:
        esc = _like_escape(q.lower())
        cond.append(
            sa.or_(
                sa.func.lower(users.c.display_name).like(f"%{esc}%", escape="\\"),  # case-blind on both engines
                users.c.pinyin.like(f"{esc}%", escape="\\"),
                users.c.initials.like(f"{esc}%", escape="\\"),
                users.c.username.like(f"{esc}%", escape="\\"),
            )
        )
    if unit_id is not None:
        subtree = await unit_subtree_ids(conn, unit_id)
        cond.append(users.c.id.in_(sa.select(posts.c.user_id).where(posts.c.unit_id.in_(subtree))))
    total = (await conn.execute(sa.select(sa.func.count()).select_from(users).where(*cond))).scalar_one()
    ids = (
        await conn.execute(
            sa.select(users.c.id).where(*cond).order_by(users.c.initials, users.c.id).limit(limit).offset(offset)
        )
    ).scalars()
    ids = list(ids)
    views = await user_views(conn, ids)
    return [views[i] for i in ids], total


# ---- personal contacts and groups -------------------------------------------


async def list_contacts(conn: AsyncConnection, owner_id: int) -> list[dict[str, Any]]:
    rows = (
        await conn.execute(
            sa.select(contacts.c.contact_id, contacts.c.note).where(contacts.c.owner_id == owner_id).order_by(contacts.c.created_at)
        )
    ).all()
    views = await user_views(conn, [r.contact_id for r in rows])
    return [{"user": views[r.contact_id], "note": r.note} for r in rows if r.contact_id in views]


async def add_contact(conn: AsyncConnection, owner_id: int, contact_id: int, note: str = "") -> None:
    await user_view(conn, contact_id)
    if contact_id == owner_id:
        raise BadRequest("error.bad_request")
    exists = (
        await conn.execute(sa.select(contacts.c.owner_id).where(contacts.c.owner_id == owner_id, contacts.c.contact_id == contact_id))
    ).first()
    if exists:
        await conn.execute(
            contacts.update().where(contacts.c.owner_id == owner_id, contacts.c.contact_id == contact_id).values(note=note[:200])
        )
    else:
        await conn.execute(contacts.insert().values(owner_id=owner_id, contact_id=contact_id, note=note[:200], created_at=now()))


async def remove_contact(conn: AsyncConnection, owner_id: int, contact_id: int) -> None:
    await conn.execute(contacts.delete().where(contacts.c.owner_id == owner_id, contacts.c.contact_id == contact_id))


async def list_groups(conn: AsyncConnection, owner_id: int) -> list[dict[str, Any]]:
    groups = (
        await conn.execute(sa.select(contact_groups).where(contact_groups.c.owner_id == owner_id).order_by(contact_groups.c.id))
    ).all()
    members = (
        await conn.execute(
            sa.select(contact_group_members).where(contact_group_members.c.group_id.in_([g.id for g in groups]))
        )
    ).all()
    views = await user_views(conn, [m.user_id for m in members])
    by_group: dict[int, list[dict[str, Any]]] = {}
    for m in members:
        if m.user_id in views:
            by_group.setdefault(m.group_id, []).append(views[m.user_id])
    return [{"id": g.id, "name": g.name, "members": by_group.get(g.id, [])} for g in groups]


async def save_group(
    conn: AsyncConnection, owner_id: int, name: str, member_ids: Iterable[int], group_id: int | None = None
) -> int:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise BadRequest("error.bad_group")
    member_ids = sorted(set(int(m) for m in member_ids))
    found = set(await user_views(conn, member_ids))
    if found != set(member_ids):
        raise NotFound("error.user_not_found")
    clash = (
        await conn.execute(
            sa.select(contact_groups.c.id).where(contact_groups.c.owner_id == owner_id, contact_groups.c.name == name)
        )
    ).scalar()
    if clash is not None and clash != group_id:
        raise Conflict("error.group_exists")
    if group_id is None:
        group_id = (
            await conn.execute(
                contact_groups.insert().values(owner_id=owner_id, name=name, created_at=now()).returning(contact_groups.c.id)
            )
        ).scalar_one()
    else:
        owned = (
            await conn.execute(
                sa.select(contact_groups.c.id).where(contact_groups.c.id == group_id, contact_groups.c.owner_id == owner_id)
            )
        ).first()
        if owned is None:
            raise NotFound("error.group_not_found")
        await conn.execute(contact_groups.update().where(contact_groups.c.id == group_id).values(name=name))
        await conn.execute(contact_group_members.delete().where(contact_group_members.c.group_id == group_id))
    for uid in member_ids:
        await conn.execute(contact_group_members.insert().values(group_id=group_id, user_id=uid))
    return group_id


async def delete_group(conn: AsyncConnection, owner_id: int, group_id: int) -> None:
    result = await conn.execute(
        contact_groups.delete().where(contact_groups.c.id == group_id, contact_groups.c.owner_id == owner_id)
    )
    if result.rowcount == 0:
        raise NotFound("error.group_not_found")
