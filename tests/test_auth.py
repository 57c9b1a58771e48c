"""Login and sessions over real HTTP and real Socket.IO: tokens, logout, expiry, login
rate limits, password change and the caller's own profile."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import socketio
import sqlalchemy as sa

from hub.db import DATABASE
from hub.ratelimit import FailureWindow
from hub.schema import tokens, users

LOGIN = "/api/v1/auth/login"
BAD_CREDENTIALS_ZH = "用户名或密码错误"
BAD_CREDENTIALS_EN = "Wrong username or password"


async def login(hub, username: str, password: str, **kw: Any) -> tuple[int, Any]:
    return await hub.request("POST", LOGIN, json={"username": username, "password": password}, **kw)


async def refused(hub, auth: Any) -> dict[str, Any]:
    """Connect over Socket.IO with `auth`; assert the hub refuses; return the connect_error data."""
    sio = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []

    @sio.on("connect_error")
    async def on_error(data: Any = None) -> None:
        errors.append(data)

    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(hub.url, auth=auth, transports=["websocket"], wait_timeout=5)
    assert not sio.connected
    assert errors, "no connect_error received"
    return errors[-1]


async def watch_disconnect(client) -> asyncio.Event:
    gone = asyncio.Event()

    @client.sio.on("disconnect")
    async def on_disconnect(*_: Any) -> None:
        gone.set()

    return gone


# ---- login ----------------------------------------------------------------------------


async def test_login_returns_token_and_user(hub):
    await hub.unit("dy", "东营市")
    await hub.user("zhangsan", "张三", units=("dy",))
    status, body = await login(hub, "zhangsan", "secret-pw-1")
    assert status == 200, body
    assert isinstance(body["token"], str) and len(body["token"]) >= 32
    user = body["user"]
    assert (user["username"], user["display_name"]) == ("zhangsan", "张三")
    assert [p["unit_code"] for p in user["posts"]] == ["dy"]
    assert "password_hash" not in user
    # the token works for REST and for Socket.IO
    status, me = await hub.request("GET", "/api/v1/me", body["token"])
    assert status == 200 and me["user"]["id"] == user["id"]
    client = await hub.client(body["token"])
    assert client.sio.connected
    # usernames are case-insensitive; each login is a new session
    status, again = await login(hub, "  ZhangSan ", "secret-pw-1")
    assert status == 200 and again["user"]["username"] == "zhangsan" and again["token"] != body["token"]


async def test_answers_write_chinese_as_utf8(hub):
    """JSON bodies carry 张三 as its UTF-8 bytes (3 a character), not as \\u5f20\\u4e09."""
    await hub.user("zhangsan", "张三")
    async with hub.http.post(hub.url + LOGIN, json={"username": "zhangsan", "password": "secret-pw-1"}) as resp:
        raw = await resp.read()
    assert resp.status == 200 and resp.charset == "utf-8"
    assert "张三".encode() in raw and b"\\u" not in raw


async def test_wrong_password_and_unknown_user_look_the_same(hub):
    await hub.user("zhangsan", "张三")
    wrong = await login(hub, "zhangsan", "not-the-password")
    unknown = await login(hub, "nobody", "secret-pw-1")
    assert wrong == unknown == (401, {"error": {"code": "unauthorized", "message": BAD_CREDENTIALS_ZH}})
    wrong_en = await login(hub, "zhangsan", "nope", headers={"Accept-Language": "en-US,en;q=0.9"})
    unknown_en = await login(hub, "nobody", "nope", headers={"Accept-Language": "en"})
    assert wrong_en == unknown_en == (401, {"error": {"code": "unauthorized", "message": BAD_CREDENTIALS_EN}})
    # a disabled user gets the very same answer, with the right password
    user = await hub.user("lisi", "李四")
    async with hub.app[DATABASE].begin() as conn:
        await conn.execute(users.update().where(users.c.id == user["id"]).values(disabled=True))
    assert await login(hub, "lisi", "secret-pw-1") == wrong


async def test_malformed_login_is_a_bad_request(hub):
    for body in ({}, {"username": "x"}, {"username": 5, "password": "p"}, {"username": "x", "password": "p", "extra": 1}):
        status, answer = await hub.request("POST", LOGIN, json=body)
        assert (status, answer["error"]["code"]) == (400, "bad_request"), body
    status, answer = await hub.request("POST", LOGIN, data=b"{not json", headers={"Content-Type": "application/json"})
    assert (status, answer["error"]["code"]) == (400, "bad_request")


async def test_tokens_are_stored_hashed_and_passwords_with_argon2id(hub):
    await hub.user("zhangsan", "张三")
    token = await hub.login("zhangsan")
    async with hub.app[DATABASE].connect() as conn:
        rows = (await conn.execute(sa.select(tokens))).mappings().all()
        password_hash = (await conn.execute(sa.select(users.c.password_hash).where(users.c.username == "zhangsan"))).scalar_one()
    assert len(rows) == 2  # hub.user() logged in once, then once more here
    assert all(token not in str(value) for row in rows for value in row.values())
    assert hashlib.sha256(token.encode()).hexdigest() in {row["token_hash"] for row in rows}
    assert password_hash.startswith("$argon2id$") and "secret-pw-1" not in password_hash


# ---- rate limits -------------------------------------------------------------------------


async def test_too_many_failures_lock_the_account_even_with_the_right_password(hub):
    await hub.user("zhangsan", "张三")
    await hub.user("lisi", "李四")
    limit = hub.config.login_attempts_per_account
    for _ in range(limit):
        assert (await login(hub, "zhangsan", "guess"))[0] == 401
    status, body = await login(hub, "ZhangSan", "secret-pw-1")  # any spelling of the account
    assert status == 429
    assert body == {"error": {"code": "rate_limited", "message": "登录失败次数过多，请稍后再试"}}
    # other accounts from the same address are unaffected
    assert (await login(hub, "lisi", "secret-pw-1"))[0] == 200


async def test_a_successful_login_resets_the_account_failures(hub):
    await hub.user("zhangsan", "张三")
    limit = hub.config.login_attempts_per_account
    for _ in range(limit - 1):
        assert (await login(hub, "zhangsan", "guess"))[0] == 401
    assert (await login(hub, "zhangsan", "secret-pw-1"))[0] == 200
    for _ in range(limit - 1):
        assert (await login(hub, "zhangsan", "guess"))[0] == 401
    assert (await login(hub, "zhangsan", "secret-pw-1"))[0] == 200


async def test_concurrent_guesses_cannot_exceed_the_account_limit(hub):
    await hub.user("zhangsan", "张三")
    limit = hub.config.login_attempts_per_account
    answers = await asyncio.gather(*[login(hub, "zhangsan", f"guess-{i}") for i in range(4 * limit)])
    statuses = [status for status, _ in answers]
    assert statuses.count(401) <= limit, statuses
    assert statuses.count(429) >= 3 * limit, statuses
    assert (await login(hub, "zhangsan", "secret-pw-1"))[0] == 429


@pytest.mark.parametrize("hub_settings", [{"login_attempts_per_address": 3}], ids=["3-per-address"])
async def test_too_many_failures_from_one_address_block_it(hub):
    await hub.user("zhangsan", "张三")
    for name in ("a1", "a2", "a3"):  # three different accounts: the per-account limit is not reached
        assert (await login(hub, name, "guess"))[0] == 401
    status, body = await login(hub, "zhangsan", "secret-pw-1", headers={"Accept-Language": "en"})
    assert status == 429
    assert body == {"error": {"code": "rate_limited", "message": "Too many failed logins; try again later"}}


def test_failure_window_forgets_old_failures():
    window = FailureWindow(limit=2, window=10)
    window.fail("k", at=100)
    window.fail("k", at=105)
    assert window.blocked("k", at=109.9)
    assert not window.blocked("k", at=110.1)  # the first failure left the window
    assert not window.blocked("other", at=109.9)
    window.forgive("k", at=105)  # an attempt counted up front that then succeeded
    assert not window.blocked("k", at=109.9)


# ---- logout, expiry, bad tokens ----------------------------------------------------------


async def test_logout_revokes_only_that_token(hub):
    user = await hub.user("zhangsan", "张三")
    other_session = await hub.login("zhangsan")
    status, body = await hub.request("POST", "/api/v1/auth/logout", user["token"])
    assert (status, body) == (200, {"ok": True})
    status, body = await hub.request("GET", "/api/v1/me", user["token"])
    assert status == 401 and body["error"]["code"] == "unauthorized"
    error = await refused(hub, {"token": user["token"]})
    assert error["data"]["code"] == "unauthorized"
    assert error["message"] == "未登录或登录已失效"
    # the user's other session carries on
    assert (await hub.request("GET", "/api/v1/me", other_session))[0] == 200
    assert (await hub.client(other_session)).sio.connected


async def test_logout_ends_the_live_connection_of_that_token(hub):
    user = await hub.user("zhangsan", "张三")
    other_session = await hub.login("zhangsan")
    mine = await hub.client(user["token"])
    other = await hub.client(other_session)
    gone = await watch_disconnect(mine)
    assert (await hub.request("POST", "/api/v1/auth/logout", user["token"]))[0] == 200
    await asyncio.wait_for(gone.wait(), 5)
    assert (await other.call("channel:list"))["ok"]  # the other session is still connected


async def test_expired_token_is_refused(hub):
    user = await hub.user("zhangsan", "张三")
    async with hub.app[DATABASE].begin() as conn:
        await conn.execute(
            tokens.update().where(tokens.c.user_id == user["id"]).values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    status, body = await hub.request("GET", "/api/v1/me", user["token"])
    assert (status, body) == (401, {"error": {"code": "unauthorized", "message": "登录已过期，请重新登录"}})
    status, body = await hub.request("GET", "/api/v1/me", user["token"], headers={"Accept-Language": "en"})
    assert body["error"]["message"] == "Your session has expired; please log in again"
    error = await refused(hub, {"token": user["token"]})
    assert error["data"] == {"code": "unauthorized", "message": "登录已过期，请重新登录"}
    # logging in again gives a fresh, working token
    assert (await hub.request("GET", "/api/v1/me", await hub.login("zhangsan")))[0] == 200


@pytest.mark.parametrize("hub_settings", [{"token_ttl_hours": 1e-9}], ids=["ttl-4us"])
async def test_token_ttl_setting_applies(hub):
    user = await hub.user("zhangsan", "张三")  # logging in works; the token is dead within microseconds
    status, body = await hub.request("GET", "/api/v1/me", user["token"])
    assert (status, body["error"]["message"]) == (401, "登录已过期，请重新登录")


async def test_socketio_connect_without_a_valid_token_is_refused(hub):
    await hub.user("zhangsan", "张三")
    for auth in (None, {}, {"token": ""}, {"token": "not-a-token"}, {"token": 12345}, {"token": "x" * 5000}):
        error = await refused(hub, auth)
        assert error["data"] == {"code": "unauthorized", "message": "未登录或登录已失效"}, auth
    error = await refused(hub, {"token": "nope", "locale": "en"})
    assert error["data"] == {"code": "unauthorized", "message": "Not logged in, or the session has ended"}


async def test_rest_without_a_valid_token_is_401(hub):
    for header in (None, "", "Bearer", "Bearer ", "Basic abc", "Bearer not-a-token", "Bearer " + "x" * 5000):
        headers = {} if header is None else {"Authorization": header}
        status, body = await hub.request("GET", "/api/v1/me", headers=headers)
        assert (status, body) == (401, {"error": {"code": "unauthorized", "message": "未登录或登录已失效"}}), header
    for method, path, body in [
        ("PATCH", "/api/v1/me", {"title": "x"}),
        ("POST", "/api/v1/me/password", {"old_password": "secret-pw-1", "new_password": "brand-new-pw"}),
        ("POST", "/api/v1/auth/logout", None),
    ]:
        status, answer = await hub.request(method, path, json=body)
        assert (status, answer["error"]["code"]) == (401, "unauthorized"), path


# ---- password change ------------------------------------------------------------------------


async def change_password(hub, token: str, old: str, new: str) -> tuple[int, Any]:
    return await hub.request("POST", "/api/v1/me/password", token, json={"old_password": old, "new_password": new})


async def test_password_change_with_the_wrong_old_password_is_refused(hub):
    user = await hub.user("zhangsan", "张三")
    status, body = await change_password(hub, user["token"], "wrong-old-pw", "brand-new-pw")
    assert (status, body) == (401, {"error": {"code": "unauthorized", "message": "原密码不正确"}})
    # nothing changed: the token and the old password still work
    assert (await hub.request("GET", "/api/v1/me", user["token"]))[0] == 200
    assert (await login(hub, "zhangsan", "secret-pw-1"))[0] == 200
    assert (await login(hub, "zhangsan", "brand-new-pw"))[0] == 401
    # a too short new password is refused (the old one being right)
    status, body = await change_password(hub, user["token"], "secret-pw-1", "short")
    assert (status, body["error"]["code"]) == (400, "bad_request")
    assert (await login(hub, "zhangsan", "secret-pw-1"))[0] == 200


@pytest.mark.parametrize("hub_settings", [{"login_attempts_per_account": 3}], ids=["3-per-account"])
async def test_a_stolen_token_cannot_guess_the_password(hub):
    user = await hub.user("zhangsan", "张三")
    for guess in ("guess-one", "guess-two", "guess-three"):
        status, body = await change_password(hub, user["token"], guess, "brand-new-pw")
        assert (status, body["error"]["code"]) == (401, "unauthorized")
    status, body = await change_password(hub, user["token"], "secret-pw-1", "brand-new-pw")  # right, but too late
    assert (status, body["error"]["code"]) == (429, "rate_limited")
    assert (await hub.request("GET", "/api/v1/me", user["token"]))[0] == 200  # nothing changed, no session ended
    assert (await login(hub, "zhangsan", "secret-pw-1"))[0] == 429  # the account is locked for logins too


async def test_password_change_ends_every_old_session(hub):
    user = await hub.user("zhangsan", "张三")
    other_session = await hub.login("zhangsan")
    live = await hub.client(other_session)
    gone = await watch_disconnect(live)
    status, body = await change_password(hub, user["token"], "secret-pw-1", "brand-new-pw")
    assert status == 200, body
    new_token = body["token"]
    assert new_token not in (user["token"], other_session)
    await asyncio.wait_for(gone.wait(), 5)  # the live connection is closed
    for old in (user["token"], other_session):
        assert (await hub.request("GET", "/api/v1/me", old))[0] == 401
        await refused(hub, {"token": old})
    status, me = await hub.request("GET", "/api/v1/me", new_token)
    assert status == 200 and me["user"]["id"] == user["id"]
    assert (await hub.client(new_token)).sio.connected
    assert (await login(hub, "zhangsan", "secret-pw-1"))[0] == 401
    status, body = await login(hub, "zhangsan", "brand-new-pw")
    assert status == 200 and body["user"]["id"] == user["id"]
    async with hub.app[DATABASE].connect() as conn:
        stored = (await conn.execute(sa.select(users.c.password_hash))).scalar_one()
    assert stored.startswith("$argon2id$")


# ---- profile -----------------------------------------------------------------------------------


async def test_profile_read_and_update(hub):
    await hub.unit("dy", "东营市")
    user = await hub.user("zhangsan", "张三", units=("dy",))
    status, body = await hub.request("GET", "/api/v1/me", user["token"])
    assert status == 200
    me = body["user"]
    assert (me["username"], me["display_name"], me["roles"]) == ("zhangsan", "张三", [])
    assert me["posts"] == [{"unit_id": me["posts"][0]["unit_id"], "unit_code": "dy", "unit_name": "东营市",
                            "title": "", "is_primary": True}]
    # 姓名 and 职务 are the organisation's: staff change their phone and e-mail only
    status, body = await hub.request("PATCH", "/api/v1/me", user["token"], json={"display_name": "张叁", "title": "科长"})
    assert status == 403 and body["error"]["message"] == "姓名和职务由单位设定，如需修改请联系管理员"
    status, body = await hub.request("PATCH", "/api/v1/me", user["token"], json={"display_name": "张三", "phone": "0546-1234567"})
    assert status == 200, body  # the same name again is no change
    async with hub.app[DATABASE].begin() as conn:
        await conn.execute(users.update().where(users.c.id == user["id"]).values(roles="admin"))
    patch = {"display_name": " 张叁 ", "title": "科长", "phone": "0546-1234567", "email": "zs@dongying.gov.cn"}
    status, body = await hub.request("PATCH", "/api/v1/me", user["token"], json=patch)
    assert status == 200, body
    updated = body["user"]
    assert (updated["display_name"], updated["title"], updated["phone"], updated["email"]) == (
        "张叁", "科长", "0546-1234567", "zs@dongying.gov.cn",
    )
    assert (await hub.request("GET", "/api/v1/me", user["token"]))[1]["user"] == updated
    status, body = await hub.request("PATCH", "/api/v1/me", user["token"], json={"display_name": "   "})
    assert status == 400, body  # nobody blanks a name
    # the new name is searchable by its pinyin
    found = (await hub.request("GET", "/api/v1/directory/users?q=zhangsan", user["token"]))[1]["users"]
    assert [u["display_name"] for u in found] == ["张叁"]


async def test_profile_cannot_grant_roles_or_blank_the_name(hub):
    user = await hub.user("zhangsan", "张三")
    for patch in ({"roles": ["admin"]}, {"disabled": True}, {"username": "root"},
                  {"display_name": "名" * 101}, {"phone": "1" * 41}):
        status, body = await hub.request("PATCH", "/api/v1/me", user["token"], json=patch)
        assert status == 400 and body["error"]["code"] == "bad_request", (patch, body)
    status, body = await hub.request("PATCH", "/api/v1/me", user["token"], json={"display_name": "   "})
    assert status == 403, body
    me = (await hub.request("GET", "/api/v1/me", user["token"]))[1]["user"]
    assert (me["roles"], me["display_name"], me["disabled"]) == ([], "张三", False)
    assert (await hub.request("POST", "/api/v1/admin/units", user["token"], json={"code": "x", "name": "x"}))[0] == 403


