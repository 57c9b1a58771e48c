"""Bots over real sockets: an in-process bot answering in its DM and when mentioned,
its card's button, its durable timer (across a restart), its slash command; external
bots with a token (the runnable examples/echo_bot.py), incoming webhooks and outgoing
slash commands with signed requests."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bots.runtime import Bot, Command, Incoming
from bots.wiring import BOTS
from hub.app import create_app
from hub.cards import Acted, Card, CardAction, CardActionContext, CardStatus
from hub.db import DATABASE
from tests.conftest import Hub, hub_config
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[1]


class Helper(Bot):
    username = "helper-bot"
    display_name = "小助手"
    commands = {"ping": "回答 pong"}

    async def on_message(self, incoming: Incoming) -> None:
        text = incoming.text
        if incoming.direct and text == "卡片":
            await self.hub.post_card(incoming.channel_id, Card(
                handler="x", title="请确认会议时间", status=CardStatus(text="待确认"),
                actions=[CardAction(id="ok", label="确认", style="primary")],
            ))
        elif incoming.direct and text.startswith("提醒"):
            await self.hub.schedule_later(0.3, {"user_id": incoming.sender["id"], "what": text[2:]})
        elif incoming.direct or incoming.mentioned:
            await self.hub.say(incoming.channel_id, f"收到：{text}", client_msg_id=f"re-{incoming.message['id']}")

    async def on_card_action(self, conn: Any, ctx: CardActionContext) -> Acted:
        return Acted(ctx.card.model_copy(update={"status": CardStatus(text=f"{ctx.actor.display_name}已确认", tone="success"), "actions": []}))

    async def on_timer(self, payload: dict[str, Any]) -> None:
        await self.hub.dm(payload["user_id"], f"提醒：{payload['what']}")

    async def on_command(self, command: Command) -> str | None:
        return f"pong {command.args}".strip()


@pytest.fixture
def hub_prepare():
    return lambda app: app[BOTS].register(Helper())


async def helper_id(hub: Hub) -> int:
    return (await hub.app[BOTS].bots["helper-bot"].hub.identity()).user_id


async def test_an_in_process_bot_answers_in_its_dm_and_when_mentioned(hub):
    bid = await helper_id(hub)
    zhang = await hub.user("zhangsan", "张三")
    li = await hub.user("lisi", "李四")
    z = await hub.client(zhang)
    dm = (await z.call("dm:open", {"user_id": bid}))["channel"]
    await z.call("message:send", {"channel_id": dm["id"], "client_msg_id": "1", "text": "你好"})
    reply = await z.wait_for("message", lambda m: m["sender"]["id"] == bid)
    assert reply["text"] == "收到：你好" and reply["sender"]["is_bot"] is True and reply["sender"]["display_name"] == "小助手"
    # in a channel it answers only when mentioned
    ch = (await z.call("channel:create", {"name": "办公室", "kind": "private", "member_ids": [li["id"], bid]}))["channel"]
    await z.call("message:send", {"channel_id": ch["id"], "client_msg_id": "2", "text": "今天开会"})
    await z.call("message:send", {"channel_id": ch["id"], "client_msg_id": "3", "text": "@helper-bot 几点开会"})
    answer = await z.wait_for("message", lambda m: m["sender"]["id"] == bid and m["channel_id"] == ch["id"])
    assert answer["text"] == "收到：@helper-bot 几点开会"
    await asyncio.sleep(0.3)
    assert [m["text"] for m in z.received("message") if m["sender"]["id"] == bid and m["channel_id"] == ch["id"]] == [answer["text"]]
    # a bot never logs in with a password
    status, body = await hub.request("POST", "/api/v1/auth/login", json={"username": "helper-bot", "password": "!"})
    assert status == 401


async def test_a_bots_card_button_is_answered_by_the_bot(hub):
    bid = await helper_id(hub)
    zhang = await hub.user("zhangsan", "张三")
    z = await hub.client(zhang)
    dm = (await z.call("dm:open", {"user_id": bid}))["channel"]
    await z.call("message:send", {"channel_id": dm["id"], "client_msg_id": "1", "text": "卡片"})
    card = await z.wait_for("message", lambda m: m["kind"] == "card")
    assert card["card"]["handler"] == "bot.helper-bot" and card["card"]["status"]["text"] == "待确认"
    pressed = await z.call("card:action", {"message_id": card["id"], "action": "ok"})
    assert pressed["ok"], pressed
    assert pressed["message"]["card"]["status"] == {"text": "张三已确认", "tone": "success"}


async def test_an_in_process_slash_command_answers_in_the_dm(hub):
    bid = await helper_id(hub)
    zhang = await hub.user("zhangsan", "张三")
    z = await hub.client(zhang)
    ch = (await z.call("channel:create", {"name": "值班", "kind": "private", "member_ids": []}))["channel"]
    ack = await z.call("command:run", {"channel_id": ch["id"], "text": "/ping 东营"})
    assert ack["ok"] and ack["command"] == "ping", ack
    answer = await z.wait_for("message", lambda m: m["sender"]["id"] == bid)
    assert answer["text"] == "pong 东营"
    unknown = await z.call("command:run", {"channel_id": ch["id"], "text": "/nosuch"})
    assert unknown["error"]["code"] == "not_found" and "/nosuch" in unknown["error"]["message"]
    assert (await z.call("command:run", {"channel_id": ch["id"], "text": "ping"}))["error"]["code"] == "bad_request"
    assert (await z.call("command:run", {"channel_id": ch["id"] + 99, "text": "/ping"}))["error"]["code"] == "not_found"


async def test_a_bots_timer_fires_after_a_restart(data_dir, tmp_path):
    config = hub_config(tmp_path, data_dir[1])

    async def start() -> tuple[Hub, web.AppRunner]:
        app = create_app(config)
        app[BOTS].register(Helper())
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return Hub(app, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"), runner  # type: ignore[union-attr]

    first, runner = await start()
    zhang = await first.user("zhangsan", "张三")
    helper = first.app[BOTS].bots["helper-bot"].hub
    # the timer is set, then the hub goes away before it is due
    await first.app[DATABASE].write(helper.schedule, 1.0, {"user_id": zhang["id"], "what": "参加安全生产会议"})
    await first.close()
    await runner.cleanup()
    second, runner = await start()
    try:
        z = await second.client(await second.login("zhangsan"))
        got = await z.wait_for("message", lambda m: m["sender"]["is_bot"], timeout=10)
        assert got["text"] == "提醒：参加安全生产会议"
        await asyncio.sleep(1.2)
        assert len([m for m in z.received("message") if m["sender"]["is_bot"]]) == 1  # once
    finally:
        await second.close()
        await runner.cleanup()


async def test_an_incoming_webhook_posts_into_its_channel(hub):
    admin = await hub.user("wangwu", "王五")
    member = await hub.user("lisi", "李四")
    a = await hub.client(admin)
    m = await hub.client(member)
    ch = (await a.call("channel:create", {"name": "监控告警", "kind": "private", "member_ids": [member["id"]]}))["channel"]
    status, refused = await hub.request("POST", f"/api/v1/channels/{ch['id']}/webhooks", token=member["token"], json={"name": "告警"})
    assert status == 403 and refused["error"]["code"] == "forbidden"
    status, made = await hub.request("POST", f"/api/v1/channels/{ch['id']}/webhooks", token=admin["token"], json={"name": "数据中心告警"})
    assert status == 201, made
    url = made["webhook"]["url"]
    assert url.startswith("/hooks/")
    status, posted = await hub.request("POST", url, json={"text": "东营数据中心 CPU 负载 92%"})
    assert status == 201, posted
    got = await m.wait_for("message", lambda x: x["text"] == "东营数据中心 CPU 负载 92%")
    assert got["sender"]["display_name"] == "数据中心告警" and got["sender"]["is_bot"] is True
    status, posted = await hub.request("POST", url, json={"card": {"handler": "x", "title": "磁盘将满", "actions": [{"id": "a", "label": "处理"}]}})
    assert status == 201 and posted["message"]["card"]["actions"] == [], posted
    assert (await hub.request("POST", "/hooks/nosuchtoken", json={"text": "x"}))[0] == 404
    assert (await hub.request("POST", url, json={"text": "  "}))[0] == 400
    assert (await hub.request("POST", url, json={"text": "x", "extra": 1}))[0] == 400
    assert (await hub.request("POST", url, data=b"{" + b" " * 70_000 + b"}", headers={"Content-Type": "application/json"}))[0] == 413


async def test_an_outgoing_slash_command_posts_a_signed_request_and_shows_the_answer(hub):
    admin = await hub.user("admin2", "管理员", roles=("admin",))
    zhang = await hub.user("zhangsan", "张三")
    seen: list[dict[str, Any]] = []
    secret_box: dict[str, str] = {}

    async def service(request: web.Request) -> web.Response:
        body = await request.read()
        stamp = request.headers["X-Changtong-Timestamp"]
        want = hmac.new(secret_box["secret"].encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        seen.append({"valid": request.headers["X-Changtong-Signature"] == f"sha256={want}", **json.loads(body)})
        if json.loads(body)["text"] == "坏":
            return web.Response(status=500)
        return web.json_response({"text": f"东营 晴 3°C（{json.loads(body)['text']}）"})

    svc = web.Application()
    svc.router.add_post("/weather", service)
    runner = web.AppRunner(svc)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        req = {"trigger": "weather", "url": f"http://127.0.0.1:{port}/weather", "display_name": "天气"}
        assert (await hub.request("POST", "/api/v1/admin/commands", token=zhang["token"], json=req))[0] == 403
        status, made = await hub.request("POST", "/api/v1/admin/commands", token=admin["token"], json=req)
        assert status == 201, made
        secret_box["secret"] = made["command"]["secret"]
        assert (await hub.request("POST", "/api/v1/admin/commands", token=admin["token"], json=req))[0] == 409
        assert (await hub.request("POST", "/api/v1/admin/commands", token=admin["token"], json={**req, "trigger": "ping"}))[0] == 409
        z = await hub.client(zhang)
        ch = (await z.call("channel:create", {"name": "值班", "kind": "private", "member_ids": []}))["channel"]
        assert (await z.call("command:run", {"channel_id": ch["id"], "text": "/weather 明天"}))["ok"]
        answer = await z.wait_for("message", lambda m: m["sender"]["is_bot"] and "晴" in m["text"])
        assert answer["text"] == "东营 晴 3°C（明天）" and answer["sender"]["display_name"] == "天气"
        assert seen[0]["valid"] and seen[0]["user"]["username"] == "zhangsan" and seen[0]["channel_id"] == ch["id"]
        assert (await z.call("command:run", {"channel_id": ch["id"], "text": "/weather 坏"}))["ok"]
        failed = await z.wait_for("message", lambda m: m["sender"]["is_bot"] and "无法执行" in m["text"])
        assert failed["text"] == "命令 /weather 暂时无法执行，请稍后再试"
    finally:
        await runner.cleanup()


async def test_the_example_external_bot_answers_in_its_dm(hub):
    admin = await hub.user("admin2", "管理员", roles=("admin",))
    zhang = await hub.user("zhangsan", "张三")
    assert (await hub.request("POST", "/api/v1/admin/bots", token=zhang["token"], json={"username": "echo-bot", "display_name": "回声"}))[0] == 403
    status, made = await hub.request("POST", "/api/v1/admin/bots", token=admin["token"], json={"username": "echo-bot", "display_name": "回声机器人"})
    assert status == 201, made
    z = await hub.client(zhang)
    dm = (await z.call("dm:open", {"user_id": made["bot"]["id"]}))["channel"]
    # sent while the bot is not running: it catches up through sync when it starts
    await z.call("message:send", {"channel_id": dm["id"], "client_msg_id": "early", "text": "在吗"})
    env = {**os.environ, "CHANGTONG_URL": hub.url, "CHANGTONG_BOT_TOKEN": made["token"]}
    proc = subprocess.Popen([sys.executable, str(ROOT / "examples" / "echo_bot.py")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        first = await z.wait_for("message", lambda m: m["sender"]["id"] == made["bot"]["id"], timeout=20)
        assert first["text"] == "收到：在吗"
        await z.call("message:send", {"channel_id": dm["id"], "client_msg_id": "live", "text": "请查收文件"})
        live = await z.wait_for("message", lambda m: m["sender"]["id"] == made["bot"]["id"] and m["text"] == "收到：请查收文件", timeout=10)
        assert live["sender"]["is_bot"] is True
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0].decode()
    assert "echo bot echo-bot connected" in out, out


async def test_changtong_bot_add_prints_a_token_that_connects(hub):
    from hub.cli import main

    import concurrent.futures
    import contextlib
    import io

    buf = io.StringIO()
    args = ["--data-dir", str(hub.config.data_dir)]
    if hub.config.database_url.get_secret_value():
        args += ["--database-url", hub.config.database_url.get_secret_value()]
    with contextlib.redirect_stdout(buf), concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert pool.submit(main, [*args, "bot", "add", "report-bot", "--display-name", "报送机器人"]).result() == 0
    token = next(line.split(": ", 1)[1] for line in buf.getvalue().splitlines() if line.startswith("令牌"))
    bot = await hub.client(token)
    assert (await bot.call("channel:list", {}))["ok"]
