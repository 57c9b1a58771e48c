"""REST endpoints of the kernel (/api/v1): login and logout, the caller's profile and
password, the directory, personal contacts and groups, and the administrator API.
Handlers are thin: parse, authorise, call hub.directory / hub.auth, answer JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from . import directory, session_cookie
from .auth import AUTH, Principal
from .config import CONFIG
from .db import DATABASE
from .ids import MAX_ID, DbId
from .directory import DIRECTORY_HOOKS
from .errors import BadRequest, Forbidden, Unauthorized
from .http import json_body, json_response, principal
from .realtime import REALTIME

OPENAPI = Path(__file__).parent / "static" / "openapi.json"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(Strict):
    username: str = Field(max_length=200)
    password: str = Field(max_length=1000)
    # "cookie": the browser keeps the session in an HttpOnly cookie and the body holds
    # no token (hub/session_cookie.py).
    session: Literal["token", "cookie"] = "token"


class PasswordBody(Strict):
    old_password: str = Field(max_length=1000)
    new_password: str = Field(min_length=8, max_length=200)


class ProfileBody(Strict):
    display_name: str | None = Field(None, max_length=100)
    title: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=200)


class ContactBody(Strict):
    user_id: DbId
    note: str = Field("", max_length=200)


class GroupBody(Strict):
    name: str = Field(min_length=1, max_length=100)
    member_ids: list[DbId] = Field(default_factory=list, max_length=500)


class UnitCreate(Strict):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    parent_code: str | None = None
    sort: int = 0


class UnitPatch(Strict):
    name: str | None = Field(None, max_length=200)
    parent_id: DbId | None = None
    make_root: bool = False
    disabled: bool | None = None


class PostBody(Strict):
    unit_id: DbId
    title: str = Field("", max_length=100)


class UserCreate(Strict):
    username: str = Field(max_length=64)
    password: str = Field(min_length=8, max_length=200)
    display_name: str | None = Field(None, max_length=100)
    unit_codes: list[str] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)
    title: str = Field("", max_length=100)


class UserPatch(Strict):
    display_name: str | None = Field(None, max_length=100)
    title: str | None = Field(None, max_length=100)
    roles: list[str] | None = None
    disabled: bool | None = None
    posts: list[PostBody] | None = None
    password: str | None = Field(None, min_length=8, max_length=200)


def _int(request: web.Request, name: str) -> int:
    try:
        value = int(request.match_info.get(name) or request.query.get(name, ""))
    except ValueError:
        raise BadRequest("error.bad_request") from None
    if not 0 < value <= MAX_ID:
        raise BadRequest("error.bad_request")
    return value


async def _admin(request: web.Request) -> Principal:
    who = await principal(request)
    if not who.is_admin:
        raise Forbidden("error.admin_only")
    return who


# ---- auth -------------------------------------------------------------------


async def login(request: web.Request) -> web.Response:
    body = await json_body(request, LoginBody)
    auth = request.app[AUTH]
    address = request.remote or "-"
    token, user_id = await auth.login(body.username, body.password, address, request.headers.get("User-Agent", ""))
    async with request.app[DATABASE].connect() as conn:
        user = await directory.user_view(conn, user_id)
    if body.session == "token":
        return json_response({"token": token, "user": user})
    response = json_response({"user": user, "csrf_token": session_cookie.csrf_token(token)})
    session_cookie.set_session(response, request, token, max_age=int(request.app[CONFIG].token_ttl_hours * 3600))
    return response


async def session(request: web.Request) -> web.Response:
    """The browser's session after a reload: who is logged in, and the CSRF value; with
    no session, `{user: null}` (a probe before the login page is no error)."""
    try:
        who = await principal(request)
    except Unauthorized:
        return json_response({"user": None, "csrf_token": None})
    token = request.cookies.get(session_cookie.SESSION_COOKIE)
    async with request.app[DATABASE].connect() as conn:
        user = await directory.user_view(conn, who.user_id)
    return json_response({"user": user, "csrf_token": session_cookie.csrf_token(token) if token else None})


async def logout(request: web.Request) -> web.Response:
    who = await principal(request)
    await request.app[AUTH].revoke(who.token_id)
    await request.app[REALTIME].disconnect_user(who.user_id, token_id=who.token_id)
    response = json_response({"ok": True})
    session_cookie.clear_session(response)
    return response


async def me(request: web.Request) -> web.Response:
    who = await principal(request)
    async with request.app[DATABASE].connect() as conn:
        return json_response({"user": await directory.user_view(conn, who.user_id)})


async def update_me(request: web.Request) -> web.Response:
    """Phone and e-mail are one's own; 姓名 and 职务 are the organisation's (administrators
    change them): a change of either by anyone else is refused, the same value is not."""
    who = await principal(request)
    body = await json_body(request, ProfileBody)
    async with request.app[DATABASE].begin() as conn:
        if not who.is_admin:
            current = await directory.user_view(conn, who.user_id)
            if any(getattr(body, k) is not None and getattr(body, k) != current[k] for k in ("display_name", "title")):
                raise Forbidden("error.profile_set_by_organisation")
        user = await directory.update_user(conn, who.user_id, **body.model_dump(exclude_none=True))
    return json_response({"user": user})


async def change_password(request: web.Request) -> web.Response:
    """密码修改: needs the old password; every other session of the user ends."""
    who = await principal(request)
    body = await json_body(request, PasswordBody)
    auth = request.app[AUTH]
    await auth.check_current_password(who.username, body.old_password)
    new_hash = await auth.passwords.hash_async(body.new_password)
    async with request.app[DATABASE].begin() as conn:
        await directory.update_user(conn, who.user_id, password_hash=new_hash)
        await auth.revoke_all(conn, who.user_id)
    token = await auth.issue_token(who.user_id, request.headers.get("User-Agent", ""))
    await request.app[REALTIME].disconnect_user(who.user_id)
    if "Authorization" in request.headers or session_cookie.SESSION_COOKIE not in request.cookies:
        return json_response({"token": token})
    # A browser session stays a cookie session: the new token goes into the cookie, never
    # into the body where page scripts could read it.
    response = json_response({"csrf_token": session_cookie.csrf_token(token)})
    session_cookie.set_session(response, request, token, max_age=int(request.app[CONFIG].token_ttl_hours * 3600))
    return response


# ---- directory ----------------------------------------------------------------


async def units_tree(request: web.Request) -> web.Response:
    await principal(request)
    async with request.app[DATABASE].connect() as conn:
        return json_response({"units": await directory.unit_tree(conn)})


async def users_search(request: web.Request) -> web.Response:
    await principal(request)
    q = request.query.get("q", "")[:100]
    unit_id = _int(request, "unit_id") if request.query.get("unit_id") else None
    try:
        limit = max(1, min(int(request.query.get("limit", "50")), 200))
        offset = min(max(0, int(request.query.get("offset", "0"))), MAX_ID)
    except ValueError:
        raise BadRequest("error.bad_request") from None
    async with request.app[DATABASE].connect() as conn:
        found, total = await directory.search_users(conn, q, unit_id, limit, offset)
    return json_response({"users": found, "total": total})


async def user_detail(request: web.Request) -> web.Response:
    await principal(request)
    async with request.app[DATABASE].connect() as conn:
        return json_response({"user": await directory.user_view(conn, _int(request, "user_id"))})


# ---- personal contacts and groups ---------------------------------------------


async def contacts_list(request: web.Request) -> web.Response:
    who = await principal(request)
    async with request.app[DATABASE].connect() as conn:
        return json_response({"contacts": await directory.list_contacts(conn, who.user_id)})


async def contacts_add(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await json_body(request, ContactBody)
    async with request.app[DATABASE].begin() as conn:
        await directory.add_contact(conn, who.user_id, body.user_id, body.note)
    return json_response({"ok": True}, status=201)


async def contacts_remove(request: web.Request) -> web.Response:
    who = await principal(request)
    async with request.app[DATABASE].begin() as conn:
        await directory.remove_contact(conn, who.user_id, _int(request, "user_id"))
    return json_response({"ok": True})


async def groups_list(request: web.Request) -> web.Response:
    who = await principal(request)
    async with request.app[DATABASE].connect() as conn:
        return json_response({"groups": await directory.list_groups(conn, who.user_id)})


async def groups_save(request: web.Request) -> web.Response:
    who = await principal(request)
    body = await json_body(request, GroupBody)
    group_id = _int(request, "group_id") if "group_id" in request.match_info else None
    async with request.app[DATABASE].begin() as conn:
        gid = await directory.save_group(conn, who.user_id, body.name, body.member_ids, group_id)
    return json_response({"id": gid}, status=200 if group_id else 201)


async def groups_delete(request: web.Request) -> web.Response:
    who = await principal(request)
    async with request.app[DATABASE].begin() as conn:
        await directory.delete_group(conn, who.user_id, _int(request, "group_id"))
    return json_response({"ok": True})


# ---- administrators -------------------------------------------------------------


async def admin_unit_create(request: web.Request) -> web.Response:
    await _admin(request)
    body = await json_body(request, UnitCreate)
    async with request.app[DATABASE].begin() as conn:
        unit = await directory.add_unit(conn, request.app[DIRECTORY_HOOKS], body.code, body.name, body.parent_code, body.sort)
    return json_response({"unit": unit}, status=201)


async def admin_unit_update(request: web.Request) -> web.Response:
    await _admin(request)
    body = await json_body(request, UnitPatch)
    parent: Any = None if body.make_root else (body.parent_id if body.parent_id is not None else ...)
    async with request.app[DATABASE].begin() as conn:
        unit = await directory.update_unit(
            conn, request.app[DIRECTORY_HOOKS], _int(request, "unit_id"), name=body.name, parent_id=parent, disabled=body.disabled
        )
    return json_response({"unit": unit})


async def admin_user_create(request: web.Request) -> web.Response:
    await _admin(request)
    body = await json_body(request, UserCreate)
    password_hash = await request.app[AUTH].passwords.hash_async(body.password)
    async with request.app[DATABASE].begin() as conn:
        user = await directory.add_user(
            conn,
            request.app[DIRECTORY_HOOKS],
            username=body.username,
            password_hash=password_hash,
            display_name=body.display_name,
            unit_codes=body.unit_codes,
            roles=body.roles,
            title=body.title,
        )
    return json_response({"user": user}, status=201)


async def admin_user_update(request: web.Request) -> web.Response:
    """Edit, move (posts) or disable a user. Disabling ends their sessions at once."""
    await _admin(request)
    body = await json_body(request, UserPatch)
    user_id = _int(request, "user_id")
    auth = request.app[AUTH]
    password_hash = await auth.passwords.hash_async(body.password) if body.password else None
    async with request.app[DATABASE].begin() as conn:
        await directory.user_view(conn, user_id)
        if body.posts is not None:
            await directory.set_posts(conn, request.app[DIRECTORY_HOOKS], user_id, [p.model_dump() for p in body.posts])
        user = await directory.update_user(
            conn,
            user_id,
            display_name=body.display_name,
            title=body.title,
            roles=body.roles,
            disabled=body.disabled,
            password_hash=password_hash,
        )
        if body.disabled or password_hash:
            await auth.revoke_all(conn, user_id)
    if body.disabled or password_hash:
        await request.app[REALTIME].disconnect_user(user_id)
    elif body.roles is not None:
        # Live connections hold the roles they connected with: close them, and the
        # client's reconnect (same token) carries the new roles.
        await request.app[REALTIME].disconnect_user(user_id)
    return json_response({"user": user})


async def openapi(request: web.Request) -> web.Response:
    return json_response(json.loads(OPENAPI.read_text(encoding="utf-8")))


async def healthz(request: web.Request) -> web.Response:
    async with request.app[DATABASE].connect() as conn:
        await conn.exec_driver_sql("SELECT 1")
    return json_response({"status": "ok"})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/healthz", healthz),
        web.get("/api/v1/openapi.json", openapi),
        web.post("/api/v1/auth/login", login),
        web.post("/api/v1/auth/logout", logout),
        web.get("/api/v1/auth/session", session),
        web.get("/api/v1/me", me),
        web.patch("/api/v1/me", update_me),
        web.post("/api/v1/me/password", change_password),
        web.get("/api/v1/directory/units", units_tree),
        web.get("/api/v1/directory/users", users_search),
        web.get("/api/v1/directory/users/{user_id}", user_detail),
        web.get("/api/v1/contacts", contacts_list),
        web.post("/api/v1/contacts", contacts_add),
        web.delete("/api/v1/contacts/{user_id}", contacts_remove),
        web.get("/api/v1/contact-groups", groups_list),
        web.post("/api/v1/contact-groups", groups_save),
        web.put("/api/v1/contact-groups/{group_id}", groups_save),
        web.delete("/api/v1/contact-groups/{group_id}", groups_delete),
        web.post("/api/v1/admin/units", admin_unit_create),
        web.patch("/api/v1/admin/units/{unit_id}", admin_unit_update),
        web.post("/api/v1/admin/users", admin_user_create),
        web.patch("/api/v1/admin/users/{user_id}", admin_user_update),
    ]
