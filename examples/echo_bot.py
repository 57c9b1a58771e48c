"""A runnable external bot: a python-socketio client that answers in its DMs.

    changtong bot add echo-bot --display-name 回声机器人     # prints the token
    CHANGTONG_URL=http://127.0.0.1:8080 CHANGTONG_BOT_TOKEN=… python examples/echo_bot.py

Add it to a conversation like any colleague (it is the user `echo-bot`); in a DM it
answers "收到：<your text>", in a channel when @-mentioned. It catches up with `sync`
after every (re)connect, so nothing sent while it was away goes unanswered, and its
replies carry a client_msg_id derived from the message they answer, so a reply is never
sent twice. tests/test_bots.py starts this very file.
"""

from __future__ import annotations

import asyncio
import os
import sys

import aiohttp
import socketio

URL = os.environ.get("CHANGTONG_URL", "http://127.0.0.1:8080")
TOKEN = os.environ.get("CHANGTONG_BOT_TOKEN", "")


async def main() -> None:
    if not TOKEN:
        sys.exit("CHANGTONG_BOT_TOKEN is not set (changtong bot add NAME prints one)")
    sio = socketio.AsyncClient(reconnection=True)
    me: dict = {}
    kinds: dict[int, str] = {}  # channel id -> kind
    cursors: dict[str, int] = {}

    async def answer(message: dict) -> None:
        if message["sender"]["id"] == me.get("id") or message["sender"].get("is_bot") or message.get("recalled"):
            return
        kind = kinds.get(message["channel_id"])
        mentioned = me.get("id") in (message.get("mentions") or [])
        if kind != "direct" and not mentioned:
            return
        reply = {"channel_id": message["channel_id"], "client_msg_id": f"echo-{message['id']}", "text": f"收到：{message['text']}"}
        await sio.call("message:send", reply)

    async def catch_up() -> None:
        while True:
            page = await sio.call("sync", {"cursors": cursors})
            for m in page.get("messages", []):
                if m["seq"] == m["change_seq"]:  # new messages, not edits of old ones
                    await answer(m)
            cursors.update(page.get("cursors", {}))
            for c in page.get("channels", []):
                kinds[c["id"]] = c["kind"]
            if not page.get("has_more"):
                return

    @sio.on("connect")
    async def connected() -> None:
        listed = await sio.call("channel:list", {})
        for c in listed.get("channels", []):
            kinds[c["id"]] = c["kind"]
        asyncio.ensure_future(catch_up())

    @sio.on("channel")
    async def joined(channel: dict) -> None:
        kinds[channel["id"]] = channel["kind"]

    @sio.on("message")
    async def on_message(message: dict) -> None:
        cursors[str(message["channel_id"])] = max(cursors.get(str(message["channel_id"]), 0), message["change_seq"])
        await answer(message)

    async with aiohttp.ClientSession() as http:
        async with http.get(URL + "/api/v1/me", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            me.update((await r.json())["user"])
    await sio.connect(URL, auth={"token": TOKEN}, transports=["websocket"])
    print(f"echo bot {me.get('username')} connected to {URL}", flush=True)
    await sio.wait()


if __name__ == "__main__":
    asyncio.run(main())
