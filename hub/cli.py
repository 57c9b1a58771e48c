"""The `changtong` command: serve, user, unit, db, and each feature's sub-commands.

Global options come before the sub-command (`changtong --data-dir DIR user add ...`);
every setting can also come from `CHANGTONG_*` variables or the TOML file (hub/config.py).

A command imports what it needs when it runs: `changtong --help` reads only argparse and
the feature list, and a feature's sub-commands are parsed by its own parser, imported
only when one of them is named (`Feature.commands`, `Feature.cli`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .feature import Feature, load
from .features import FEATURES

if TYPE_CHECKING:
    from aiohttp import web

    from .config import Config


def _parser(full: Feature | None = None) -> argparse.ArgumentParser:
    """The parser; `full`'s sub-commands in full, every other feature's as a name and help."""
    p = argparse.ArgumentParser(prog="changtong", description="畅通 — 政务协同办公平台 (Changtong collaboration hub)")
    p.add_argument("--data-dir", help="data directory (default ./data or $CHANGTONG_DATA_DIR)")
    p.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in the data directory)")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the hub")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--data-dir", dest="sub_data_dir", help=argparse.SUPPRESS)
    serve.add_argument("--demo", action="store_true", help="load the 东营市 demo organisation")

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    add = user.add_parser("add", help="add a user")
    add.add_argument("username")
    add.add_argument("--password", required=True)
    add.add_argument("--display-name")
    add.add_argument("--unit", action="append", default=[], help="unit code (repeat for several posts)")
    add.add_argument("--role", action="append", default=[], help="role, e.g. admin (repeatable)")
    add.add_argument("--title", default="")

    unit = sub.add_parser("unit", help="manage units").add_subparsers(dest="action", required=True)
    uadd = unit.add_parser("add", help="add a unit")
    uadd.add_argument("code")
    uadd.add_argument("name")
    uadd.add_argument("--parent", help="parent unit code")

    back = sub.add_parser("backup", help="a consistent online snapshot of this node: database and files (docs/operations.md)")
    back.add_argument("dir", type=Path, help="a new or empty directory")
    back_in = sub.add_parser("restore", help="put a backup back into a fresh data directory (and an empty database)")
    back_in.add_argument("dir", type=Path, help="a directory written by `changtong backup`")

    db = sub.add_parser("db", help="database").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="apply migrations")
    move = db.add_parser("migrate-to", help="copy all data into another (empty) database, e.g. PostgreSQL")
    move.add_argument("url", help="target SQLAlchemy URL, e.g. postgresql+asyncpg://postgres@127.0.0.1/changtong")
    for feature in FEATURES:
        if feature is full and feature.cli:
            load(feature.cli).add_commands(sub)
            continue
        for name, help_text in feature.commands.items():
            sub.add_parser(name, help=help_text, add_help=False)  # parsed again by its owner's parser
    return p


def _owner(command: str) -> Feature | None:
    return next((f for f in FEATURES if command in f.commands), None)


def _config(args: argparse.Namespace) -> Config:
    from .config import load_config

    overrides: dict[str, Any] = {
        "data_dir": getattr(args, "sub_data_dir", None) or args.data_dir,
        "database_url": args.database_url,
    }
    if args.command == "serve":  # other commands' --host / --port mean their own things (ca issue --host)
        overrides |= {"host": args.host, "port": args.port}
    return load_config(**overrides)


async def with_app(config: Config, fn: Any) -> Any:
    """Run `fn(app)` against a fully set-up (but not listening) app."""
    from aiohttp import web

    from .app import create_app

    app = create_app(config)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        return await fn(app)
    finally:
        await runner.cleanup()


def _loop_factory(config: Config) -> Any:
    """uvloop's loop where the setting asks for it and uvloop is installed, else asyncio's."""
    if not config.uvloop:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _serve(config: Config, demo: bool) -> None:
    import asyncio
    import gc

    from aiohttp import web

    from .app import create_app
    from .demo import DEMO_PASSWORD, seed

    app = create_app(config, demo=demo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    if demo:
        result = await seed(app)
        print("演示数据已就绪 (demo data ready)." if result["created"] else "演示数据已存在 (demo data present).")
        print(f"演示账号 (demo logins), 密码 password: {DEMO_PASSWORD}")
        for username, name, title in result["logins"]:
            print(f"  {username:<16} {name} · {title}")
    # Long-lived objects made so far (the app, modules, demo data) leave the collector's
    # view, and young collections run less often: full collections over every
    # connection's objects were the p99 tail at 1,000 members (bench/README.md).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    site = web.TCPSite(runner, config.host, config.port)
    await site.start()
    print(f"畅通已启动: http://{config.host}:{config.port}/  (Ctrl+C 停止)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args, _ = _parser().parse_known_args(argv)
    owner = _owner(args.command)
    args = _parser(owner).parse_args(argv)
    try:
        config = _config(args)
    except Exception as exc:  # pydantic validation of settings
        print(f"配置错误 (bad settings): {exc}", file=sys.stderr)
        return 2
    import asyncio

    from . import logs
    from .db import upgrade
    from .errors import HubError
    from .i18n import translate

    logs.configure(config.log_level, config.log_json)
    try:
        if owner is not None and owner.cli:
            return load(owner.cli).run(args, config)
        if args.command in ("backup", "restore"):
            return _backup(config, args)
        if args.command == "db":
            upgrade(config)
            if args.action == "migrate-to":
                return _migrate_to(config, args.url)
            print("数据库已升级到最新版本 (database upgraded).")
            return 0
        upgrade(config)
        if args.command == "serve":
            try:
                with asyncio.Runner(loop_factory=_loop_factory(config)) as runner:
                    runner.run(_serve(config, args.demo))
            except KeyboardInterrupt:
                pass
            return 0
        if args.command == "user":
            return asyncio.run(with_app(config, lambda app: _user_add(app, args)))
        if args.command == "unit":
            return asyncio.run(with_app(config, lambda app: _unit_add(app, args)))
    except HubError as exc:
        print(f"{translate(exc.key, **exc.params)} ({exc.code})", file=sys.stderr)
        return 1
    return 2


def _backup(config: Config, args: argparse.Namespace) -> int:
    from .backup import backup, restore

    if args.command == "backup":
        done = backup(config, args.dir)
        print(f"已备份 (backed up): {done.databases} 个数据库, {done.files} 个文件, {done.bytes / 1e6:.1f} MB → {done.path}")
        print("备份含单位私钥和全部公文，请妥善保管 (it holds the unit's private key and every document: keep it safe).")
        return 0
    done = restore(config, args.dir)
    print(f"已恢复 (restored): {done.databases} 个数据库, {done.files} 个文件 → {config.data_dir}")
    return 0


def _migrate_to(config: Config, target_url: str) -> int:
    """Upgrade the target to the same schema, then copy every row into it."""
    from .transfer import copy_database

    import asyncio

    from .db import upgrade

    upgrade(config.model_copy(update={"database_url": target_url}))
    counts = asyncio.run(copy_database(config.effective_database_url, target_url))
    total = sum(counts.values())
    print(f"已复制 {total} 行到新数据库 (copied {total} rows):")
    for table, n in counts.items():
        print(f"  {table:<24} {n}")
    print("请把 CHANGTONG_DATABASE_URL 设为新地址后重启 (set CHANGTONG_DATABASE_URL to the new URL and restart).")
    return 0


async def _user_add(app: web.Application, args: argparse.Namespace) -> int:
    from .auth import AUTH
    from .db import DATABASE
    from .directory import DIRECTORY_HOOKS, add_user

    password_hash = await app[AUTH].passwords.hash_async(args.password)
    async with app[DATABASE].begin() as conn:
        user = await add_user(
            conn, app[DIRECTORY_HOOKS], username=args.username, password_hash=password_hash,
            display_name=args.display_name, unit_codes=args.unit, roles=args.role, title=args.title,
        )
    print(f"已添加用户 (user added): {user['username']} id={user['id']}")
    return 0


async def _unit_add(app: web.Application, args: argparse.Namespace) -> int:
    from .db import DATABASE
    from .directory import DIRECTORY_HOOKS, add_unit

    async with app[DATABASE].begin() as conn:
        unit = await add_unit(conn, app[DIRECTORY_HOOKS], args.code, args.name, args.parent)
    print(f"已添加单位 (unit added): {unit['code']} {unit['name']} id={unit['id']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
