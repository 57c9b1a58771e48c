"""`changtong bot add NAME [--display-name 名称]`: an external bot's account and a token
(printed once; keep it like a password). `changtong bot token NAME`: a new token for it."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

COMMANDS = frozenset({"bot", "flow"})


def add_commands(sub: Any) -> None:
    bot = sub.add_parser("bot", help="bots: external bot accounts and their tokens").add_subparsers(dest="action", required=True)
    add = bot.add_parser("add", help="add a bot account and print its token")
    add.add_argument("username", help="the bot's login name, e.g. weather-bot")
    add.add_argument("--display-name", help="the name people see (default: the username)")
    token = bot.add_parser("token", help="print a new token for an existing bot")
    token.add_argument("username")
    flow = sub.add_parser("flow", help="workflows: import, validate, list flow definitions").add_subparsers(dest="action", required=True)
    flow.add_parser("import", help="store a flow definition (YAML) as a new version").add_argument("file")
    flow.add_parser("validate", help="check a flow definition; exit 1 with its errors").add_argument("file")
    flow.add_parser("list", help="the flows and their latest versions")
    verify = flow.add_parser("verify", help="check an instance's 流转记录 chain; exit 1 at the first broken link")
    verify.add_argument("instance", type=int, help="the instance's id")


def run(args: argparse.Namespace, config: Any) -> int:
    if args.command == "flow":
        return _flow(args, config)
    from hub.cli import with_app
    from hub.errors import BadRequest

    from .integrations import BOT_NAME, issue_bot

    import re

    if not re.match(BOT_NAME, args.username):
        raise BadRequest("error.bad_username")

    async def issue(app: Any) -> int:
        from hub.db import DATABASE
        from hub.directory import user_by_username

        if args.action == "token":
            async with app[DATABASE].connect() as conn:
                row = await user_by_username(conn, args.username)
            if row is None or not row.is_bot:
                from hub.errors import NotFound

                raise NotFound("error.user_not_found")
            display = row.display_name
        else:
            display = args.display_name or args.username
        bot, token = await issue_bot(app, args.username, display)
        print(f"机器人 (bot): {bot.username} id={bot.user_id}")
        print(f"令牌 (token, shown once): {token}")
        return 0

    from hub.db import upgrade

    upgrade(config)
    return asyncio.run(with_app(config, issue))


def _flow(args: argparse.Namespace, config: Any) -> int:
    import sys
    from pathlib import Path

    from .workflow.definition import DefinitionError, load_definition

    if args.action in ("import", "validate"):
        path = Path(args.file)
        try:
            source = path.read_text(encoding="utf-8")
            defn = load_definition(source)
        except OSError as exc:
            print(f"读取失败 (cannot read) {path}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        except (UnicodeDecodeError, DefinitionError) as exc:
            for e in getattr(exc, "errors", [{"line": 0, "path": "", "message": "not UTF-8"}]):
                print(f"{path}:{e['line']}: {e['path'] or '/'}: {e['message']}", file=sys.stderr)
            return 1
        if args.action == "validate":
            print(f"流程定义有效 (valid): {defn.key} v{defn.version} {defn.name}")
            return 0
    from hub.db import Database, upgrade

    from .workflow import audit, service

    upgrade(config)

    async def act() -> int:
        db = Database(config.effective_database_url)
        try:
            if args.action == "list":
                for f in await db.read(service.list_definitions):
                    print(f"{f['key']:<20} v{f['version']:<4} {f['name']}")
                return 0
            if args.action == "verify":
                return _report(await db.read(audit.verify, args.instance), args.instance)
            defn, created = await db.write(service.import_definition, source)
            print(("已导入 (imported)" if created else "未变化 (unchanged)") + f": {defn.key} v{defn.version} {defn.name}")
            return 0
        finally:
            await db.close()

    return asyncio.run(act())


_BROKEN = {
    "no_instance": "没有这个流程实例 (no such instance)",
    "missing": "记录缺失 (a step is missing)",
    "changed": "记录被改动 (a step was changed)",
    "state_differs": "实例状态中的记录与流转记录不一致 (the instance's own trail differs)",
}


def _report(result: dict[str, Any], instance: int) -> int:
    import sys

    if result["ok"]:
        print(f"流转记录完整 (intact): 实例 {instance}, {result['steps']} 条")
        return 0
    where = f"第 {result['broken_at']} 条 (step {result['broken_at']}): " if result["broken_at"] else ""
    print(f"流转记录校验失败 (broken): 实例 {instance}: {where}{_BROKEN[result['reason']]}", file=sys.stderr)
    return 1
