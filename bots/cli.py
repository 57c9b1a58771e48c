"""`changtong bot add NAME [--display-name 名称]`: an external bot's account and a token
(printed once; keep it like a password). `changtong bot token NAME`: a new token for it."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

COMMANDS = frozenset({"bot"})


def add_commands(sub: Any) -> None:
    bot = sub.add_parser("bot", help="bots: external bot accounts and their tokens").add_subparsers(dest="action", required=True)
    add = bot.add_parser("add", help="add a bot account and print its token")
    add.add_argument("username", help="the bot's login name, e.g. weather-bot")
    add.add_argument("--display-name", help="the name people see (default: the username)")
    token = bot.add_parser("token", help="print a new token for an existing bot")
    token.add_argument("username")


def run(args: argparse.Namespace, config: Any) -> int:
    from hub.cli import with_app
    from hub.errors import BadRequest

    from .integrations import BOT_NAME, issue_bot

    import re

    if not re.match(BOT_NAME, args.username):
        raise BadRequest("error.bad_username")

    async def issue(app: Any) -> int:
        from hub.db import ENGINE, connect
        from hub.directory import user_by_username

        if args.action == "token":
            async with connect(app[ENGINE]) as conn:
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
