"""The directory (通讯录) over real HTTP: the unit tree, staff search by name, pinyin
and unit, personal contacts and groups, and the administrator API — whose changes
reach live Socket.IO sessions (unit channel membership, disabling a user)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import pytest
import socketio

from hub.auth import AUTH
from hub.db import DATABASE
from hub.directory import DIRECTORY_HOOKS, add_unit, add_user
from hub.pinyin import search_keys

PASSWORD = "secret-pw-1"  # what tests/conftest.py's hub.user() uses

UNITS = "/api/v1/directory/units"
USERS = "/api/v1/directory/users"
FORBIDDEN_ZH = {"error": {"code": "forbidden", "message": "仅系统管理员可以执行此操作"}}


async def get(hub, path: str, token: str, **query: Any) -> Any:
    status, body = await hub.request("GET", path + ("?" + urlencode(query) if query else ""), token)
    assert status == 200, body
    return body


async def search(hub, token: str, **query: Any) -> list[str]:
    """Display names the directory search returns, in order."""
    return [u["display_name"] for u in (await get(hub, USERS, token, **query))["users"]]


def shape(nodes: list[dict[str, Any]]) -> list[tuple[str, int, list[Any]]]:
    """The tree as (code, member_count, children) for exact comparison."""
    return [(n["code"], n["member_count"], shape(n["children"])) for n in nodes]


async def city(hub) -> dict[str, Any]:
    """A four-level organisation with staff; returns units by code and users (with a
    login token) by username. Built in one transaction: many tests start from it."""
    engine, hooks, auth = hub.app[DATABASE], hub.app[DIRECTORY_HOOKS], hub.app[AUTH]
    password_hash = auth.passwords.hash(PASSWORD)
    units, people = {}, {}
    async with engine.begin() as conn:
        for code, name, parent in [
            ("dy", "东营市", None),
            ("dy-zf", "东营市人民政府", "dy"),
            ("dy-jyj", "市教育局", "dy-zf"),
            ("dy-jyj-bgs", "市教育局办公室", "dy-jyj"),
            ("dy-gaj", "市公安局", "dy-zf"),
            ("sd", "山东省", None),
        ]:
            units[code] = await add_unit(conn, hooks, code, name, parent)
        for username, name, posts, roles in [
            ("admin", "系统管理员", ("dy",), ("admin",)),
            ("zhangsan", "张三", ("dy-jyj-bgs",), ()),
            ("zhangwei", "张伟", ("dy-jyj-bgs", "dy-gaj"), ()),  # two posts
            ("lisi", "李四", ("dy-gaj",), ()),
            ("wangwu", "王五", ("dy-gaj",), ()),
        ]:
            people[username] = await add_user(
                conn, hooks, username=username, password_hash=password_hash, display_name=name, unit_codes=posts, roles=roles
            )
    for user in people.values():
        user["token"] = await auth.issue_token(user["id"])
    return {"units": units, "users": people}


async def admin(hub, method: str, path: str, token: str, body: Any = None, locale: str = "zh-CN") -> tuple[int, Any]:
    return await hub.request(method, "/api/v1/admin" + path, token, json=body, headers={"Accept-Language": locale})


async def disable(hub, token: str, user_id: int, disabled: bool = True) -> None:
    status, body = await admin(hub, "PATCH", f"/users/{user_id}", token, {"disabled": disabled})
    assert status == 200 and body["user"]["disabled"] is disabled, body


async def unit_channels(client) -> dict[int, dict[str, Any]]:
    """The caller's unit channels, by unit id."""
    answer = await client.call("channel:list")
    assert answer["ok"], answer
    return {c["unit_id"]: c for c in answer["channels"] if c["kind"] == "unit"}


# ---- the unit tree ----------------------------------------------------------------------------


async def test_unit_tree_nests_to_any_depth_with_member_counts(hub):
    org = await city(hub)
    await disable(hub, org["users"]["admin"]["token"], org["users"]["wangwu"]["id"])  # no longer counted
    tree = (await get(hub, UNITS, org["users"]["zhangsan"]["token"]))["units"]
    assert shape(tree) == [
        ("dy", 1, [
            ("dy-zf", 0, [
                ("dy-jyj", 0, [("dy-jyj-bgs", 2, [])]),
                ("dy-gaj", 2, []),
            ]),
        ]),
        ("sd", 0, []),
    ]
    leaf = tree[0]["children"][0]["children"][0]["children"][0]
    assert (leaf["name"], leaf["id"], leaf["parent_id"], leaf["disabled"]) == (
        "市教育局办公室", org["units"]["dy-jyj-bgs"]["id"], org["units"]["dy-jyj"]["id"], False,
    )


async def test_the_directory_needs_a_login(hub):
    for path in (UNITS, USERS, f"{USERS}/1", "/api/v1/contacts", "/api/v1/contact-groups"):
        status, body = await hub.request("GET", path)
        assert (status, body["error"]["code"]) == (401, "unauthorized"), path


# ---- search ---------------------------------------------------------------------------------------


async def test_search_by_name_part_pinyin_initials_and_username(hub):
    org = await city(hub)
    token = org["users"]["lisi"]["token"]
    # any part of the Chinese name
    assert await search(hub, token, q="三") == ["张三"]
    assert sorted(await search(hub, token, q="张")) == ["张三", "张伟"]
    assert await search(hub, token, q="李四") == ["李四"]
    assert await search(hub, token, q="赵") == []
    # full pinyin (a prefix, any case) and initials
    assert await search(hub, token, q="zhangsan") == ["张三"]
    assert await search(hub, token, q="ZhangSan") == ["张三"]
    assert sorted(await search(hub, token, q="zhang")) == ["张三", "张伟"]
    assert await search(hub, token, q="zs") == ["张三"]
    assert await search(hub, token, q="zw") == ["张伟"]
    assert await search(hub, token, q="lis") == ["李四"]
    assert await search(hub, token, q="zhangsi") == []
    # the username
    assert await search(hub, token, q="wangw") == ["王五"]
    # LIKE wildcards are plain characters
    for q in ("%", "_", "\\", "张%", "z_"):
        assert await search(hub, token, q=q) == [], q


async def test_search_finds_polyphonic_surnames_by_their_surname_reading(hub):
    await hub.unit("dy", "东营市")
    me = await hub.user("viewer", "观察员")
    for username, name in [("u1", "曾国藩"), ("u2", "单田芳"), ("u3", "解晓东"), ("u4", "仇英")]:
        await hub.user(username, name)
    token = me["token"]
    assert await search(hub, token, q="zengguofan") == ["曾国藩"]
    assert await search(hub, token, q="zgf") == ["曾国藩"]
    assert await search(hub, token, q="shantianfang") == ["单田芳"]
    assert await search(hub, token, q="xiexiaodong") == ["解晓东"]
    assert await search(hub, token, q="qiuying") == ["仇英"]
    assert search_keys("解放路") == ("jiefanglu", "jfl")  # not a person's name: everyday reading


async def test_very_long_names_are_stored_and_found(hub):
    me = await hub.user("viewer", "观察员", roles=("admin",))  # names are the organisation's to set
    status, body = await hub.request("PATCH", "/api/v1/me", me["token"], json={"display_name": "双" * 100})
    assert status == 200, body  # 600 letters of pinyin for 100 characters
    assert await search(hub, me["token"], q="双双双") == ["双" * 100]
    assert await search(hub, me["token"], q="shuangshuang") == ["双" * 100]
    admin_user = await hub.user("boss", "管理员", roles=("admin",))
    status, body = await hub.request("POST", "/api/v1/admin/units", admin_user["token"], json={"code": "long", "name": "庄" * 100})
    assert status == 201, body
    assert body["unit"]["name"] == "庄" * 100


async def test_search_finds_latin_names_case_insensitively(hub):
    me = await hub.user("viewer", "观察员")
    await hub.user("alice", "Alice王")
    await hub.user("bob", "Bob Smith")
    token = me["token"]
    assert await search(hub, token, q="Alice") == ["Alice王"]
    assert await search(hub, token, q="ALICE") == ["Alice王"]
    assert await search(hub, token, q="alicew") == ["Alice王"]  # latin letters and pinyin together
    assert await search(hub, token, q="smith") == ["Bob Smith"]
    assert await search(hub, token, q="bs") == ["Bob Smith"]


async def test_search_by_unit_includes_sub_units(hub):
    org = await city(hub)
    token = org["users"]["lisi"]["token"]
    ids = {code: u["id"] for code, u in org["units"].items()}
    body = await get(hub, USERS, token, unit_id=ids["dy-zf"])
    assert sorted(u["display_name"] for u in body["users"]) == ["张三", "张伟", "李四", "王五"]
    assert body["total"] == 4  # 张伟 holds two posts below dy-zf but is one person
    assert sorted(await search(hub, token, unit_id=ids["dy-jyj"])) == ["张三", "张伟"]
    assert len(await search(hub, token, unit_id=ids["dy"])) == 5
    assert await search(hub, token, unit_id=ids["sd"]) == []
    assert sorted(await search(hub, token, unit_id=ids["dy-zf"], q="zhang")) == ["张三", "张伟"]
    assert await search(hub, token, unit_id=ids["dy-gaj"], q="zhangs") == []


async def test_a_person_with_two_posts_appears_under_both_units(hub):
    org = await city(hub)
    token = org["users"]["lisi"]["token"]
    ids = {code: u["id"] for code, u in org["units"].items()}
    assert "张伟" in await search(hub, token, unit_id=ids["dy-jyj-bgs"])
    assert "张伟" in await search(hub, token, unit_id=ids["dy-gaj"])
    found = (await get(hub, USERS, token, q="zw"))["users"][0]
    assert [(p["unit_code"], p["is_primary"]) for p in found["posts"]] == [("dy-jyj-bgs", True), ("dy-gaj", False)]
    detail = (await get(hub, f"{USERS}/{found['id']}", token))["user"]
    assert detail == found
    status, body = await hub.request("GET", f"{USERS}/999999", token)
    assert (status, body["error"]["code"]) == (404, "not_found")


async def test_disabled_users_do_not_appear(hub):
    org = await city(hub)
    token = org["users"]["zhangsan"]["token"]
    await disable(hub, org["users"]["admin"]["token"], org["users"]["lisi"]["id"])
    assert await search(hub, token, q="李四") == []
    assert await search(hub, token, q="ls") == []
    body = await get(hub, USERS, token, unit_id=org["units"]["dy-gaj"]["id"])
    assert sorted(u["display_name"] for u in body["users"]) == ["张伟", "王五"] and body["total"] == 2
    everyone = await get(hub, USERS, token)
    assert "李四" not in [u["display_name"] for u in everyone["users"]] and everyone["total"] == 4


async def test_search_pages_with_total(hub):
    org = await city(hub)
    token = org["users"]["lisi"]["token"]
    pages = [await get(hub, USERS, token, limit=2, offset=offset) for offset in (0, 2, 4)]
    assert [p["total"] for p in pages] == [5, 5, 5]
    names = [u["display_name"] for p in pages for u in p["users"]]
    assert [len(p["users"]) for p in pages] == [2, 2, 1]
    assert sorted(names) == sorted(["系统管理员", "张三", "张伟", "李四", "王五"])


async def test_search_rejects_bad_parameters(hub):
    user = await hub.user("zhangsan", "张三")
    for query in ("unit_id=abc", "unit_id=0", "unit_id=-1", "limit=x", "offset=x"):
        status, body = await hub.request("GET", f"{USERS}?{query}", user["token"])
        assert (status, body["error"]["code"]) == (400, "bad_request"), query


# ---- personal contacts --------------------------------------------------------------------------


async def test_personal_contacts(hub):
    org = await city(hub)
    me, other = org["users"]["zhangsan"], org["users"]["lisi"]
    lisi, wangwu = org["users"]["lisi"]["id"], org["users"]["wangwu"]["id"]
    for uid, note in ((lisi, "同事"), (wangwu, "")):
        status, body = await hub.request("POST", "/api/v1/contacts", me["token"], json={"user_id": uid, "note": note})
        assert (status, body) == (201, {"ok": True})
    mine = (await get(hub, "/api/v1/contacts", me["token"]))["contacts"]
    assert [(c["user"]["display_name"], c["note"]) for c in mine] == [("李四", "同事"), ("王五", "")]
    # adding again updates the note, no duplicate
    await hub.request("POST", "/api/v1/contacts", me["token"], json={"user_id": lisi, "note": "老同事"})
    mine = (await get(hub, "/api/v1/contacts", me["token"]))["contacts"]
    assert [(c["user"]["display_name"], c["note"]) for c in mine] == [("李四", "老同事"), ("王五", "")]
    # contacts are personal
    assert (await get(hub, "/api/v1/contacts", other["token"]))["contacts"] == []
    assert (await hub.request("DELETE", f"/api/v1/contacts/{wangwu}", other["token"]))[0] == 200
    assert len((await get(hub, "/api/v1/contacts", me["token"]))["contacts"]) == 2
    # removal
    assert (await hub.request("DELETE", f"/api/v1/contacts/{wangwu}", me["token"])) == (200, {"ok": True})
    mine = (await get(hub, "/api/v1/contacts", me["token"]))["contacts"]
    assert [c["user"]["display_name"] for c in mine] == ["李四"]


async def test_contacts_refuse_unknown_users_and_oneself(hub):
    me = await hub.user("zhangsan", "张三")
    status, body = await hub.request("POST", "/api/v1/contacts", me["token"], json={"user_id": 999999})
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await hub.request("POST", "/api/v1/contacts", me["token"], json={"user_id": me["id"]})
    assert (status, body["error"]["code"]) == (400, "bad_request")
    status, body = await hub.request("POST", "/api/v1/contacts", me["token"], json={"user_id": "x"})
    assert (status, body["error"]["code"]) == (400, "bad_request")
    assert (await get(hub, "/api/v1/contacts", me["token"]))["contacts"] == []


# ---- contact groups ---------------------------------------------------------------------------------


async def test_contact_groups_lifecycle(hub):
    org = await city(hub)
    me = org["users"]["zhangsan"]
    ids = {name: u["id"] for name, u in org["users"].items()}
    status, body = await hub.request(
        "POST", "/api/v1/contact-groups", me["token"], json={"name": "应急小组", "member_ids": [ids["lisi"], ids["wangwu"]]}
    )
    assert status == 201, body
    gid = body["id"]
    groups = (await get(hub, "/api/v1/contact-groups", me["token"]))["groups"]
    assert [(g["id"], g["name"], sorted(m["display_name"] for m in g["members"])) for g in groups] == [
        (gid, "应急小组", ["李四", "王五"])
    ]
    status, body = await hub.request(
        "PUT", f"/api/v1/contact-groups/{gid}", me["token"], json={"name": "防汛小组", "member_ids": [ids["zhangwei"]]}
    )
    assert (status, body) == (200, {"id": gid})
    groups = (await get(hub, "/api/v1/contact-groups", me["token"]))["groups"]
    assert [(g["name"], [m["display_name"] for m in g["members"]]) for g in groups] == [("防汛小组", ["张伟"])]
    # a second group cannot take the same name; renaming to its own name is fine
    status, body = await hub.request("POST", "/api/v1/contact-groups", me["token"], json={"name": "防汛小组"})
    assert (status, body["error"]["code"]) == (409, "conflict")
    status, _ = await hub.request("PUT", f"/api/v1/contact-groups/{gid}", me["token"], json={"name": "防汛小组"})
    assert status == 200
    # unknown members are refused and nothing changes
    status, body = await hub.request(
        "PUT", f"/api/v1/contact-groups/{gid}", me["token"], json={"name": "改名", "member_ids": [999999]}
    )
    assert (status, body["error"]["code"]) == (404, "not_found")
    assert [g["name"] for g in (await get(hub, "/api/v1/contact-groups", me["token"]))["groups"]] == ["防汛小组"]
    # delete
    assert await hub.request("DELETE", f"/api/v1/contact-groups/{gid}", me["token"]) == (200, {"ok": True})
    assert (await get(hub, "/api/v1/contact-groups", me["token"]))["groups"] == []
    status, body = await hub.request("DELETE", f"/api/v1/contact-groups/{gid}", me["token"])
    assert (status, body["error"]["code"]) == (404, "not_found")


async def test_contact_group_needs_a_name(hub):
    me = await hub.user("zhangsan", "张三")
    for body in ({"name": ""}, {"name": "   "}, {"name": "组" * 101}, {"member_ids": []}, {"name": "x", "x": 1}):
        status, answer = await hub.request("POST", "/api/v1/contact-groups", me["token"], json=body)
        assert (status, answer["error"]["code"]) == (400, "bad_request"), body
    assert (await get(hub, "/api/v1/contact-groups", me["token"]))["groups"] == []


async def test_one_user_cannot_see_or_change_anothers_groups(hub):
    org = await city(hub)
    me, other = org["users"]["zhangsan"], org["users"]["lisi"]
    status, body = await hub.request(
        "POST", "/api/v1/contact-groups", me["token"], json={"name": "应急小组", "member_ids": [org["users"]["wangwu"]["id"]]}
    )
    gid = body["id"]
    assert (await get(hub, "/api/v1/contact-groups", other["token"]))["groups"] == []
    status, body = await hub.request(
        "PUT", f"/api/v1/contact-groups/{gid}", other["token"], json={"name": "被篡改", "member_ids": [other["id"]]}
    )
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await hub.request("DELETE", f"/api/v1/contact-groups/{gid}", other["token"])
    assert (status, body["error"]["code"]) == (404, "not_found")
    groups = (await get(hub, "/api/v1/contact-groups", me["token"]))["groups"]
    assert [(g["id"], g["name"], [m["display_name"] for m in g["members"]]) for g in groups] == [(gid, "应急小组", ["王五"])]
    # names are per owner: the other user may use the same name
    status, body = await hub.request("POST", "/api/v1/contact-groups", other["token"], json={"name": "应急小组"})
    assert status == 201 and body["id"] != gid


# ---- administrators: access --------------------------------------------------------------------------


async def test_admin_api_is_for_admins_only(hub):
    org = await city(hub)
    token = org["users"]["zhangsan"]["token"]
    before = (await get(hub, UNITS, token))["units"]
    dy, admin_id = org["units"]["dy"]["id"], org["users"]["admin"]["id"]
    for method, path, body in [
        ("POST", "/units", {"code": "x", "name": "某单位"}),
        ("PATCH", f"/units/{dy}", {"name": "改名"}),
        ("POST", "/users", {"username": "newbie", "password": "long-enough-pw"}),
        ("PATCH", f"/users/{admin_id}", {"disabled": True}),
    ]:
        assert await admin(hub, method, path, token, body) == (403, FORBIDDEN_ZH)
        status, answer = await admin(hub, method, path, "", body)
        assert (status, answer["error"]["code"]) == (401, "unauthorized")
    status, answer = await admin(hub, "PATCH", f"/units/{dy}", token, {"name": "改名"}, locale="en")
    assert (status, answer["error"]["message"]) == (403, "Only administrators can do this")
    # nothing happened
    assert (await get(hub, UNITS, token))["units"] == before
    assert await search(hub, token, q="newbie") == []
    assert (await hub.request("GET", "/api/v1/me", org["users"]["admin"]["token"]))[0] == 200


async def test_granting_admin_takes_effect_for_the_existing_token(hub):
    org = await city(hub)
    lisi = org["users"]["lisi"]
    assert (await admin(hub, "POST", "/units", lisi["token"], {"code": "t1", "name": "测试"}))[0] == 403
    status, body = await admin(hub, "PATCH", f"/users/{lisi['id']}", org["users"]["admin"]["token"], {"roles": ["admin"]})
    assert status == 200 and body["user"]["roles"] == ["admin"]
    assert (await admin(hub, "POST", "/units", lisi["token"], {"code": "t1", "name": "测试"}))[0] == 201
    await admin(hub, "PATCH", f"/users/{lisi['id']}", org["users"]["admin"]["token"], {"roles": []})
    assert (await admin(hub, "POST", "/units", lisi["token"], {"code": "t2", "name": "测试2"}))[0] == 403


# ---- administrators: units ------------------------------------------------------------------------------


async def test_admin_creates_units(hub):
    org = await city(hub)
    token = org["users"]["admin"]["token"]
    status, body = await admin(hub, "POST", "/units", token, {"code": "dy-gaj-jjzd", "name": "交警支队", "parent_code": "dy-gaj"})
    assert status == 201, body
    assert (body["unit"]["code"], body["unit"]["parent_id"]) == ("dy-gaj-jjzd", org["units"]["dy-gaj"]["id"])
    tree = (await get(hub, UNITS, token))["units"]
    assert shape(tree)[0][2][0][2][1] == ("dy-gaj", 3, [("dy-gaj-jjzd", 0, [])])
    status, body = await admin(hub, "POST", "/units", token, {"code": "dy-gaj-jjzd", "name": "重复"})
    assert (status, body["error"]["code"]) == (409, "conflict")
    assert "dy-gaj-jjzd" in body["error"]["message"]
    status, body = await admin(hub, "POST", "/units", token, {"code": "orphan", "name": "孤儿", "parent_code": "nope"})
    assert (status, body["error"]["code"]) == (404, "not_found")
    for bad in ({"code": "", "name": "x"}, {"code": "x", "name": "   "}, {"code": "x"}):
        status, body = await admin(hub, "POST", "/units", token, bad)
        assert (status, body["error"]["code"]) == (400, "bad_request"), bad
    codes = str(shape((await get(hub, UNITS, token))["units"]))
    assert "orphan" not in codes and "'x'" not in codes


async def test_admin_renames_moves_and_makes_units_roots(hub):
    org = await city(hub)
    token = org["users"]["admin"]["token"]
    ids = {code: u["id"] for code, u in org["units"].items()}
    status, body = await admin(hub, "PATCH", f"/units/{ids['dy-jyj']}", token, {"name": "市教育和体育局"})
    assert status == 200 and body["unit"]["name"] == "市教育和体育局"
    # move 市公安局 from 市政府 to 山东省
    status, body = await admin(hub, "PATCH", f"/units/{ids['dy-gaj']}", token, {"parent_id": ids["sd"]})
    assert status == 200 and body["unit"]["parent_id"] == ids["sd"]
    tree = (await get(hub, UNITS, token))["units"]
    assert shape(tree) == [
        ("dy", 1, [("dy-zf", 0, [("dy-jyj", 0, [("dy-jyj-bgs", 2, [])])])]),
        ("sd", 0, [("dy-gaj", 3, [])]),
    ]
    assert tree[0]["children"][0]["children"][0]["name"] == "市教育和体育局"
    # the unit search follows the move
    assert sorted(await search(hub, token, unit_id=ids["sd"])) == ["张伟", "李四", "王五"]
    # make 市教育局 a root (its sub-unit comes along)
    status, body = await admin(hub, "PATCH", f"/units/{ids['dy-jyj']}", token, {"make_root": True})
    assert status == 200 and body["unit"]["parent_id"] is None
    tree = (await get(hub, UNITS, token))["units"]
    assert shape(tree) == [
        ("dy", 1, [("dy-zf", 0, [])]),
        ("dy-jyj", 0, [("dy-jyj-bgs", 2, [])]),
        ("sd", 0, [("dy-gaj", 3, [])]),
    ]


async def test_unit_rename_renames_its_channel(hub):
    org = await city(hub)
    client = await hub.client(org["users"]["lisi"])
    gaj = org["units"]["dy-gaj"]["id"]
    assert (await unit_channels(client))[gaj]["name"] == "市公安局"
    await admin(hub, "PATCH", f"/units/{gaj}", org["users"]["admin"]["token"], {"name": "东营市公安局"})
    assert (await unit_channels(client))[gaj]["name"] == "东营市公安局"


async def test_moving_a_unit_under_itself_is_refused(hub):
    org = await city(hub)
    token = org["users"]["admin"]["token"]
    ids = {code: u["id"] for code, u in org["units"].items()}
    before = (await get(hub, UNITS, token))["units"]
    for moved, target in [("dy-zf", "dy-jyj-bgs"), ("dy-zf", "dy-jyj"), ("dy", "dy-jyj-bgs"), ("dy", "dy")]:
        status, body = await admin(hub, "PATCH", f"/units/{ids[moved]}", token, {"parent_id": ids[target]})
        assert (status, body) == (400, {"error": {"code": "bad_request", "message": "不能把单位移到它自己的下级单位下"}})
    assert (await get(hub, UNITS, token))["units"] == before


async def test_unit_update_errors(hub):
    org = await city(hub)
    token = org["users"]["admin"]["token"]
    assert (await admin(hub, "PATCH", "/units/999999", token, {"name": "x"}))[0] == 404
    dy = org["units"]["dy"]["id"]
    assert (await admin(hub, "PATCH", f"/units/{dy}", token, {"parent_id": 999999}))[0] == 404
    assert (await admin(hub, "PATCH", f"/units/{dy}", token, {"name": "  "}))[0] == 400
    assert (await admin(hub, "PATCH", f"/units/{dy}", token, {"code": "new"}))[0] == 400
    assert (await admin(hub, "PATCH", "/units/abc", token, {"name": "x"}))[0] == 400
    assert [n["name"] for n in (await get(hub, UNITS, token))["units"]] == ["东营市", "山东省"]


async def test_disabling_a_unit_hides_it_and_its_sub_units(hub):
    org = await city(hub)
    token = org["users"]["admin"]["token"]
    ids = {code: u["id"] for code, u in org["units"].items()}
    status, body = await admin(hub, "PATCH", f"/units/{ids['dy-jyj']}", token, {"disabled": True})
    assert status == 200 and body["unit"]["disabled"] is True
    tree = (await get(hub, UNITS, token))["units"]
    assert shape(tree) == [("dy", 1, [("dy-zf", 0, [("dy-gaj", 3, [])])]), ("sd", 0, [])]
    # and back
    await admin(hub, "PATCH", f"/units/{ids['dy-jyj']}", token, {"disabled": False})
    tree = (await get(hub, UNITS, token))["units"]
    assert shape(tree)[0][2][0][2][0] == ("dy-jyj", 0, [("dy-jyj-bgs", 2, [])])


# ---- administrators: users -------------------------------------------------------------------------------


async def test_admin_creates_users_who_can_log_in(hub):
    org = await city(hub)
    token = org["users"]["admin"]["token"]
    status, body = await admin(hub, "POST", "/users", token, {
        "username": "Zhaoliu", "password": "initial-pw-1", "display_name": "赵六",
        "unit_codes": ["dy-gaj", "dy-jyj"], "roles": ["leader"], "title": "副局长",
    })
    assert status == 201, body
    user = body["user"]
    assert (user["username"], user["display_name"], user["roles"], user["title"]) == ("zhaoliu", "赵六", ["leader"], "副局长")
    assert [(p["unit_code"], p["is_primary"]) for p in user["posts"]] == [("dy-gaj", True), ("dy-jyj", False)]
    new_token = await hub.login("zhaoliu", "initial-pw-1")
    assert await search(hub, new_token, q="zl") == ["赵六"]
    # their unit channels are theirs at once
    client = await hub.client(new_token)
    assert set(await unit_channels(client)) == {org["units"]["dy-gaj"]["id"], org["units"]["dy-jyj"]["id"]}


async def test_role_names_are_validated(hub):
    org = await city(hub)
    token = org["users"]["admin"]["token"]
    status, body = await admin(hub, "POST", "/users", token, {
        "username": "qianqi", "password": "initial-pw-1", "roles": ["foo admin"],
    })
    assert (status, body["error"]["code"]) == (400, "bad_request")  # not two roles "foo" and "admin"
    assert "角色名" in body["error"]["message"]
    uid = org["users"]["admin"]["id"]
    status, body = await admin(hub, "PATCH", f"/users/{uid}", token, {"roles": ["Admin!"]})
    assert (status, body["error"]["code"]) == (400, "bad_request")
    status, body = await admin(hub, "PATCH", f"/users/{uid}", token, {"roles": ["admin", "leader"]})
    assert status == 200 and body["user"]["roles"] == ["admin", "leader"]


async def test_admin_user_creation_errors(hub):
    org = await city(hub)
    token = org["users"]["admin"]["token"]
    status, body = await admin(hub, "POST", "/users", token, {"username": "lisi", "password": "long-enough-pw"})
    assert (status, body) == (409, {"error": {"code": "conflict", "message": "用户名 lisi 已存在"}})
    for bad in (
        {"username": "张三丰", "password": "long-enough-pw"},
        {"username": "a b", "password": "long-enough-pw"},
        {"username": "x", "password": "long-enough-pw"},
        {"username": "okname", "password": "short"},
        {"username": "okname", "password": "long-enough-pw", "display_name": "   "},
    ):
        status, body = await admin(hub, "POST", "/users", token, bad)
        assert (status, body["error"]["code"]) == (400, "bad_request"), bad
    # an unknown unit refuses the whole request: the user is not half-created
    status, body = await admin(hub, "POST", "/users", token,
                               {"username": "okname", "password": "long-enough-pw", "unit_codes": ["nope"]})
    assert (status, body["error"]["code"]) == (404, "not_found")
    assert (await login_status(hub, "okname", "long-enough-pw")) == 401
    status, body = await admin(hub, "POST", "/users", token,
                               {"username": "okname", "password": "long-enough-pw", "unit_codes": ["dy"]})
    assert status == 201, body


async def login_status(hub, username: str, password: str) -> int:
    return (await hub.request("POST", "/api/v1/auth/login", json={"username": username, "password": password}))[0]


async def test_moving_a_user_moves_their_unit_channel(hub):
    org = await city(hub)
    admin_token = org["users"]["admin"]["token"]
    units = org["units"]
    lisi, zhangsan = org["users"]["lisi"], org["users"]["zhangsan"]
    client = await hub.client(lisi)
    colleague = await hub.client(zhangsan)  # in 市教育局办公室
    assert set(await unit_channels(client)) == {units["dy-gaj"]["id"]}
    old_channel = (await unit_channels(client))[units["dy-gaj"]["id"]]["id"]
    new_channel = (await unit_channels(colleague))[units["dy-jyj-bgs"]["id"]]["id"]

    status, body = await admin(hub, "PATCH", f"/users/{lisi['id']}", admin_token,
                               {"posts": [{"unit_id": units["dy-jyj-bgs"]["id"], "title": "科员"}]})
    assert status == 200, body
    assert [(p["unit_code"], p["title"]) for p in body["user"]["posts"]] == [("dy-jyj-bgs", "科员")]

    mine = await unit_channels(client)
    assert set(mine) == {units["dy-jyj-bgs"]["id"]} and mine[units["dy-jyj-bgs"]["id"]]["id"] == new_channel
    pushed = await client.wait_for("channel", lambda c: c["id"] == new_channel)
    assert pushed["kind"] == "unit"
    # the live connection now gets the new unit's messages, and not the old unit's
    sent = await colleague.call("message:send", {"channel_id": new_channel, "client_msg_id": "m1", "text": "欢迎李四"})
    assert sent["ok"], sent
    await client.wait_for("message", lambda m: m["id"] == sent["message"]["id"])
    wangwu = await hub.client(org["users"]["wangwu"])
    observer = await hub.client(org["users"]["zhangwei"])  # still in 市公安局
    old = await wangwu.call("message:send", {"channel_id": old_channel, "client_msg_id": "m2", "text": "公安局内部"})
    assert old["ok"], old
    await observer.wait_for("message", lambda m: m["id"] == old["message"]["id"])  # it has been pushed
    marker = await colleague.call("message:send", {"channel_id": new_channel, "client_msg_id": "m3", "text": "之后"})
    await client.wait_for("message", lambda m: m["id"] == marker["message"]["id"])
    assert old["message"]["id"] not in [m["id"] for m in client.received("message")]
    denied = await client.call("history", {"channel_id": old_channel})
    assert denied["ok"] is False
    # the directory follows too
    assert "李四" in await search(hub, admin_token, unit_id=units["dy-jyj"]["id"])
    assert "李四" not in await search(hub, admin_token, unit_id=units["dy-gaj"]["id"])


async def test_user_update_with_an_unknown_unit_changes_nothing(hub):
    org = await city(hub)
    admin_token = org["users"]["admin"]["token"]
    lisi = org["users"]["lisi"]
    status, body = await admin(hub, "PATCH", f"/users/{lisi['id']}", admin_token,
                               {"display_name": "李四四", "posts": [{"unit_id": 999999}]})
    assert (status, body["error"]["code"]) == (404, "not_found")
    me = (await get(hub, "/api/v1/me", lisi["token"]))["user"]
    assert me["display_name"] == "李四" and [p["unit_code"] for p in me["posts"]] == ["dy-gaj"]
    assert (await admin(hub, "PATCH", "/users/999999", admin_token, {"title": "x"}))[0] == 404


async def test_disabling_a_user_ends_their_sessions_at_once(hub):
    org = await city(hub)
    admin_token = org["users"]["admin"]["token"]
    lisi = org["users"]["lisi"]
    client = await hub.client(lisi)
    gone = asyncio.Event()

    @client.sio.on("disconnect")
    async def on_disconnect(*_: Any) -> None:
        gone.set()

    await disable(hub, admin_token, lisi["id"])
    await asyncio.wait_for(gone.wait(), 5)
    assert not client.sio.connected
    status, body = await hub.request("GET", "/api/v1/me", lisi["token"])
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    retry = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await retry.connect(hub.url, auth={"token": lisi["token"]}, transports=["websocket"], wait_timeout=5)
    assert await login_status(hub, "lisi", "secret-pw-1") == 401
    # enabling again lets them log in anew; the old token stays dead
    await disable(hub, admin_token, lisi["id"], disabled=False)
    assert await login_status(hub, "lisi", "secret-pw-1") == 200
    assert (await hub.request("GET", "/api/v1/me", lisi["token"]))[0] == 401


async def test_admin_password_reset_ends_sessions(hub):
    org = await city(hub)
    lisi = org["users"]["lisi"]
    status, _ = await admin(hub, "PATCH", f"/users/{lisi['id']}", org["users"]["admin"]["token"], {"password": "reset-pw-123"})
    assert status == 200
    assert (await hub.request("GET", "/api/v1/me", lisi["token"]))[0] == 401
    assert await login_status(hub, "lisi", "secret-pw-1") == 401
    assert await login_status(hub, "lisi", "reset-pw-123") == 200


async def test_a_demoted_admin_loses_admin_powers_on_live_connections(hub):
    root = await hub.user("root", "系统管理员", roles=("admin",))
    boss = await hub.user("boss", "原管理员", roles=("admin",))
    alice = await hub.user("alice", "艾丽丝")
    a = await hub.client(alice)
    ch = (await a.call("channel:create", {"name": "科室群", "kind": "public"}))["channel"]
    b = await hub.client(boss)
    await b.call("channel:join", {"channel_id": ch["id"]})
    rename = {"channel_id": ch["id"], "name": "科室群（管理员改）"}
    assert (await b.call("channel:update", rename))["ok"]  # a hub admin may administer any channel
    gone = asyncio.Event()
    b.sio.on("disconnect", lambda *_: gone.set())
    status, body = await admin(hub, "PATCH", f"/users/{boss['id']}", root["token"], {"roles": []})
    assert status == 200 and body["user"]["roles"] == []
    await asyncio.wait_for(gone.wait(), 5)
    again = await hub.client(boss)  # the token is still good: only the roles changed
    refused = await again.call("channel:update", {"channel_id": ch["id"], "name": "再改"})
    assert refused["error"]["code"] == "forbidden"
