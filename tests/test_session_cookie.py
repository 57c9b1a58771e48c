"""The browser's session: an HttpOnly cookie beside the bearer token, CSRF protection
for cookie-authenticated changes, and Socket.IO connections that ride the cookie only
from the hub's own origin."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import socketio
from yarl import URL

from tests.conftest import PASSWORD


async def browser_login(hub, username: str) -> tuple[aiohttp.ClientSession, dict[str, Any], aiohttp.ClientResponse]:
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    resp = await session.post(
        hub.url + "/api/v1/auth/login", json={"username": username, "password": PASSWORD, "session": "cookie"}
    )
    body = await resp.json()
    return session, body, resp


async def test_cookie_login_hides_the_token_from_page_scripts(hub) -> None:
    await hub.user("zhangsan", "张三")
    session, body, resp = await browser_login(hub, "zhangsan")
    async with session:
        assert resp.status == 200
        assert "token" not in body and body["user"]["username"] == "zhangsan"
        cookies = resp.cookies
        assert cookies["ct_session"]["httponly"] and cookies["ct_session"]["samesite"] == "Strict"
        assert not cookies["ct_csrf"]["httponly"] and cookies["ct_csrf"].value == body["csrf_token"]
        # The cookie alone identifies the caller on reads; a reload learns the CSRF value again.
        async with session.get(hub.url + "/api/v1/me") as me:
            assert me.status == 200 and (await me.json())["user"]["display_name"] == "张三"
        async with session.get(hub.url + "/api/v1/auth/session") as again:
            assert (await again.json())["csrf_token"] == body["csrf_token"]


async def test_a_change_by_cookie_needs_the_csrf_header(hub) -> None:
    await hub.user("zhangsan", "张三")
    session, body, _ = await browser_login(hub, "zhangsan")
    async with session:
        # What a forged cross-site form could send: the cookie, but no header.
        async with session.patch(hub.url + "/api/v1/me", json={"phone": "0546-8888888"}) as forged:
            assert forged.status == 403
            assert (await forged.json())["error"]["code"] == "forbidden"
        async with session.patch(hub.url + "/api/v1/me", json={"phone": "0546-8888888"}, headers={"X-CSRF-Token": "0" * 40}) as wrong:
            assert wrong.status == 403
        async with session.patch(
            hub.url + "/api/v1/me", json={"phone": "0546-8888888"}, headers={"X-CSRF-Token": body["csrf_token"]}
        ) as ok:
            assert ok.status == 200 and (await ok.json())["user"]["phone"] == "0546-8888888"


async def test_logout_by_cookie_ends_the_session(hub) -> None:
    await hub.user("zhangsan", "张三")
    session, body, _ = await browser_login(hub, "zhangsan")
    async with session:
        token = session.cookie_jar.filter_cookies(URL(hub.url))["ct_session"].value
        async with session.post(hub.url + "/api/v1/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]}) as out:
            assert out.status == 200
        assert "ct_session" not in session.cookie_jar.filter_cookies(URL(hub.url))
        status, err = await hub.request("GET", "/api/v1/me", token=token)
        assert status == 401 and err["error"]["code"] == "unauthorized"


async def cookie_connect(hub, token: str, origin: str | None) -> tuple[socketio.AsyncClient, list[Any]]:
    sio = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    sio.on("connect_error", lambda data=None: errors.append(data))
    headers = {"Cookie": f"ct_session={token}"}
    if origin:
        headers["Origin"] = origin
    try:
        await sio.connect(hub.url, headers=headers, transports=["websocket"], wait_timeout=5)
    except socketio.exceptions.ConnectionError:
        pass
    return sio, errors


async def test_socket_rides_the_cookie_only_from_the_hubs_own_origin(hub) -> None:
    await hub.user("zhangsan", "张三")
    session, _, _ = await browser_login(hub, "zhangsan")
    async with session:
        token = session.cookie_jar.filter_cookies(URL(hub.url))["ct_session"].value
    sio, errors = await cookie_connect(hub, token, hub.url)
    try:
        assert sio.connected, errors
        answer = await sio.call("channel:list", {}, timeout=5)
        assert answer["ok"] is True
    finally:
        await sio.disconnect()
    for origin in ("http://evil.example", None):
        sio, errors = await cookie_connect(hub, token, origin)
        assert not sio.connected
        assert errors, "no connect_error"
        assert errors[-1]["data"]["code"] == "forbidden", errors


async def test_no_cookie_no_session(hub) -> None:
    status, body = await hub.request("GET", "/api/v1/me")
    assert status == 401 and body["error"]["code"] == "unauthorized"
    # the login page's probe is no error (no 401 in the browser's console on every visit)
    status, body = await hub.request("GET", "/api/v1/auth/session")
    assert status == 200 and body == {"user": None, "csrf_token": None}


async def test_a_password_change_keeps_the_browser_session_in_the_cookie(hub) -> None:
    await hub.user("zhangsan", "张三")
    session, body, _ = await browser_login(hub, "zhangsan")
    async with session:
        old = session.cookie_jar.filter_cookies(URL(hub.url))["ct_session"].value
        async with session.post(
            hub.url + "/api/v1/me/password", json={"old_password": PASSWORD, "new_password": "N3w-secret-pw"},
            headers={"X-CSRF-Token": body["csrf_token"]},
        ) as changed:
            assert changed.status == 200
            answer = await changed.json()
        assert "token" not in answer
        new = session.cookie_jar.filter_cookies(URL(hub.url))["ct_session"].value
        assert new != old and answer["csrf_token"] != body["csrf_token"]
        async with session.get(hub.url + "/api/v1/me") as me:  # still logged in, on the new token
            assert me.status == 200
        status, _ = await hub.request("GET", "/api/v1/me", token=old)  # the old session ended
        assert status == 401
