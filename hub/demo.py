"""Demo data: the organisation of 东营市 with its staff; then each feature seeds its own
(`Feature.demo`: rooms adds channels and messages). Idempotent: seeding twice changes
nothing."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from .auth import AUTH, Principal
from .db import DATABASE
from .feature import load
from .features import FEATURES
from .directory import DIRECTORY_HOOKS, add_unit, add_user, get_unit_by_code, set_posts, user_by_username
from .pinyin import search_keys
from .schema import posts

DEMO_PASSWORD = "changtong"
ADMIN = ("admin", "系统管理员")

CITY_BODIES = [
    ("dy-sw", "中共东营市委", "书记"),
    ("dy-rd", "东营市人大常委会", "主任"),
    ("dy-zf", "东营市人民政府", "市长"),
    ("dy-zx", "政协东营市委员会", "主席"),
]
CITY_DEPARTMENTS = [
    ("dy-bgs", "市政府办公室", "主任"),
    ("dy-fgw", "市发展和改革委员会", "主任"),
    ("dy-jyj", "市教育局", "局长"),
    ("dy-gaj", "市公安局", "局长"),
    ("dy-czj", "市财政局", "局长"),
    ("dy-rsj", "市人力资源和社会保障局", "局长"),
    ("dy-zrj", "市自然资源和规划局", "局长"),
    ("dy-hbj", "市生态环境局", "局长"),
    ("dy-zjj", "市住房和城乡建设局", "局长"),
    ("dy-jtj", "市交通运输局", "局长"),
    ("dy-wjw", "市卫生健康委员会", "主任"),
    ("dy-yjj", "市应急管理局", "局长"),
    ("dy-dsj", "市大数据局", "局长"),
]
COUNTIES = [
    ("dyq", "东营区", "区长"),
    ("hkq", "河口区", "区长"),
    ("klq", "垦利区", "区长"),
    ("ljx", "利津县", "县长"),
    ("grx", "广饶县", "县长"),
]
COUNTY_DEPARTMENTS = [("bgs", "办公室", "主任"), ("jyj", "教育局", "局长"), ("czj", "财政局", "局长"), ("yjj", "应急管理局", "局长")]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = [
    "建国", "海燕", "志强", "丽娟", "晓东", "秀英", "伟", "静", "磊", "敏", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "文博", "雨桐", "子涵", "浩然", "欣怡", "俊杰", "梓萱",
    "宇航", "思远", "嘉怡", "晨阳", "佳琪", "国强", "春梅", "建华", "玉兰", "振华", "红梅", "立新", "淑珍",
]


@dataclass(frozen=True)
class DemoPerson:
    username: str
    display_name: str
    unit_code: str
    title: str


def _people() -> list[DemoPerson]:
    """Deterministic staff: a leader and two staff per unit, realistic names, unique logins."""
    names = (s + g for g, s in zip(itertools.cycle(GIVEN), itertools.cycle(SURNAMES)))
    units: list[tuple[str, str, str]] = [*CITY_BODIES, *CITY_DEPARTMENTS]
    for code, _, head in COUNTIES:
        units.append((code, "", head))
        units.extend((f"{code}-{c}", "", h) for c, _, h in COUNTY_DEPARTMENTS)
    used: set[str] = {ADMIN[0]}
    people = []
    for code, _, head in units:
        for title in (head, "科长", "科员"):
            name = next(names)
            base = search_keys(name)[0]
            login = base
            n = 2
            while login in used:
                login, n = f"{base}{n}", n + 1
            used.add(login)
            people.append(DemoPerson(login, name, code, title))
    return people


async def seed(app: web.Application) -> dict[str, Any]:
    """Load the demo organisation; returns a few logins to print."""
    db = app[DATABASE]
    hooks = app[DIRECTORY_HOOKS]
    auth = app[AUTH]
    async with db.begin() as conn:
        if await user_by_username(conn, ADMIN[0]) is not None:
            return {"created": False, "logins": _logins()}
    password_hash = await auth.passwords.hash_async(DEMO_PASSWORD)  # one hash for all demo staff
    async with db.begin() as conn:
        await add_unit(conn, hooks, "dy", "东营市")
        for code, name, _ in CITY_BODIES:
            await add_unit(conn, hooks, code, name, "dy")
        for i, (code, name, _) in enumerate(CITY_DEPARTMENTS):
            await add_unit(conn, hooks, code, name, "dy-zf", sort=i)
        for i, (code, name, _) in enumerate(COUNTIES):
            await add_unit(conn, hooks, code, name, "dy", sort=100 + i)
            for j, (sub, sub_name, _) in enumerate(COUNTY_DEPARTMENTS):
                await add_unit(conn, hooks, f"{code}-{sub}", f"{name}{sub_name}", code, sort=j)
        admin = await add_user(
            conn, hooks, username=ADMIN[0], password_hash=password_hash, display_name=ADMIN[1],
            unit_codes=["dy-dsj"], roles=["admin"], title="系统管理员",
        )
        for person in _people():
            await add_user(
                conn, hooks, username=person.username, password_hash=password_hash, display_name=person.display_name,
                unit_codes=[person.unit_code], title=person.title,
                roles=["leader"] if person.title not in ("科长", "科员") else [],
            )
        # 办公室 staff of the city also serve in the 大数据局 (a person with two posts).
        await _second_post(conn, hooks, "dy-bgs", "dy-dsj")
    principal = Principal(admin["id"], ADMIN[0], ADMIN[1], ("admin",), 0)
    logins = _logins()
    for feature in FEATURES:  # each feature's own demo data (rooms: channels, a 通知), and its logins to print
        if feature.demo:
            logins += await load(feature.demo)(app, principal) or []
    return {"created": True, "logins": logins}


async def _second_post(conn: Any, hooks: Any, from_code: str, to_code: str) -> None:
    unit = await get_unit_by_code(conn, from_code)
    extra = await get_unit_by_code(conn, to_code)
    user_id = (
        await conn.execute(sa.select(posts.c.user_id).where(posts.c.unit_id == unit.id).order_by(posts.c.user_id).limit(1).offset(2))
    ).scalar_one()
    await set_posts(conn, hooks, user_id, [{"unit_id": unit.id, "title": "科员"}, {"unit_id": extra.id, "title": "兼职数据专员"}])


def _logins() -> list[tuple[str, str, str]]:
    people = _people()
    picks = [people[0], people[1], people[len(CITY_BODIES) * 3 + 6]]
    return [(ADMIN[0], ADMIN[1], "管理员")] + [(p.username, p.display_name, p.title) for p in picks]
