"""备忘提醒 over real sockets: `/remind 2秒后 回电话` is confirmed in the caller's DM with
提醒助手 and the reminder follows there when it is due; bad input answers why and how;
`/remind 列表` shows one's own pending reminders; a reminder set before a restart
arrives after it, once. On both engines."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta


from bots.integrations import COMMAND_EFFECT
from bots.wiring import INTEGRATIONS
from bots.clock import OFFICE_TZ, moment
from hub.effects import Effect
from tests.conftest import Client, hub_config, serve

FROM_BOT = "tixing-bot"


async def remind(client: Client, channel_id: int, args: str) -> dict:
    """Run `/remind args` and return the bot's answer (a DM to the caller)."""
    seen = len([m for m in client.received("message") if m["sender"]["username"] == FROM_BOT])
    ack = await client.call("command:run", {"channel_id": channel_id, "text": f"/remind {args}"})
    assert ack["ok"] and ack["command"] == "remind", ack
    await client.wait_for("message", lambda m: len([x for x in client.received("message") if x["sender"]["username"] == FROM_BOT]) > seen)
    return [m for m in client.received("message") if m["sender"]["username"] == FROM_BOT][seen]


async def a_channel(client: Client) -> int:
    return (await client.call("channel:create", {"name": "办公室", "kind": "private", "member_ids": []}))["channel"]["id"]


async def test_a_reminder_arrives_in_the_dm_when_it_is_due(hub):
    zhang = await hub.user("zhangsan", "张三")
    z = await hub.client(zhang)
    ch = await a_channel(z)
    asked = asyncio.get_running_loop().time()
    confirmed = await remind(z, ch, "2秒后 回电话")
    assert re.fullmatch(r"好的，将在 \d{1,2}月\d{1,2}日（周[一二三四五六日]）\d\d:\d\d 提醒您：回电话", confirmed["text"]), confirmed["text"]
    assert confirmed["sender"]["display_name"] == "提醒助手" and confirmed["sender"]["is_bot"] is True
    due = await z.wait_for("message", lambda m: m["sender"]["username"] == FROM_BOT and m["text"].startswith("⏰"), timeout=10)
    assert due["text"] == "⏰ 提醒：回电话" and due["channel_id"] == confirmed["channel_id"]
    assert asyncio.get_running_loop().time() - asked >= 1.9


async def test_bad_input_answers_why_and_how(hub):
    z = await hub.client(await hub.user("zhangsan", "张三"))
    ch = await a_channel(z)
    usage = "用法：/remind 明天9点 参加安全生产会议 · /remind 30分钟后 回电话 · /remind 列表"
    assert (await remind(z, ch, "回电话"))["text"] == f"没有看懂提醒时间：请以时间开头，如“明天9点”“30分钟后”“周五下午3点”\n{usage}"
    assert (await remind(z, ch, "明天9点"))["text"] == f"请在时间后面写上要提醒的事，如“明天9点 参加安全生产会议”\n{usage}"
    assert (await remind(z, ch, "明天25点 开会"))["text"].startswith("提醒时间不对")
    assert (await remind(z, ch, "400天后 开会"))["text"] == f"提醒最多只能设在一年以内\n{usage}"


async def test_the_list_shows_ones_own_pending_reminders(hub):
    z = await hub.client(await hub.user("zhangsan", "张三"))
    li = await hub.client(await hub.user("lisi", "李四"))
    ch = await a_channel(z)
    today = datetime.now(OFFICE_TZ).replace(second=0, microsecond=0)
    tomorrow_9, after_tomorrow_15 = today.replace(hour=9, minute=0) + timedelta(days=1), today.replace(hour=15, minute=0) + timedelta(days=2)
    assert (await remind(z, ch, "后天下午3点 报送月度统计"))["text"] == f"好的，将在 {moment(after_tomorrow_15)} 提醒您：报送月度统计"
    assert (await remind(z, ch, "明天9点 参加安全生产会议"))["text"] == f"好的，将在 {moment(tomorrow_9)} 提醒您：参加安全生产会议"
    listed = await remind(z, ch, "列表")
    assert listed["text"] == f"您有 2 条待发的提醒：\n1. {moment(tomorrow_9)} 参加安全生产会议\n2. {moment(after_tomorrow_15)} 报送月度统计"
    assert (await remind(li, await a_channel(li), "list"))["text"] == "您目前没有待发的提醒"


async def test_a_reminder_set_before_a_restart_arrives_after_it_once(data_dir, tmp_path):
    config = hub_config(tmp_path, data_dir[1])

    first, runner = await serve(config)
    z = await first.client(await first.user("zhangsan", "张三"))
    confirmed = await remind(z, await a_channel(z), "3秒后 参加安全生产会议")
    assert confirmed["text"].endswith("提醒您：参加安全生产会议")
    await first.close()
    await runner.cleanup()  # the hub goes away before the reminder is due
    second, runner = await serve(config)
    try:
        z = await second.client(await second.login("zhangsan"))

        async def reminders() -> list[str]:
            page = await z.call("history", {"channel_id": confirmed["channel_id"]})
            return [m["text"] for m in page["messages"] if m["text"].startswith("⏰")]

        deadline = asyncio.get_running_loop().time() + 10
        while not await reminders():
            assert asyncio.get_running_loop().time() < deadline, "no reminder after the restart"
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)
        assert await reminders() == ["⏰ 提醒：参加安全生产会议"]  # once
    finally:
        await second.close()
        await runner.cleanup()


async def test_a_retried_command_sets_one_reminder(hub):
    """The command's effect may run twice (the hub stopped after the timer was written,
    before the effect row went): the second run answers again but sets no second timer."""
    zhang = await hub.user("zhangsan", "张三")
    z = await hub.client(zhang)
    ch = await a_channel(z)
    user = {"id": zhang["id"], "username": "zhangsan", "display_name": "张三"}
    effect = Effect(987654, COMMAND_EFFECT, {"trigger": "remind", "args": "明天9点 参加安全生产会议", "channel_id": ch, "user": user}, 1)
    await hub.app[INTEGRATIONS].command_effect(effect)
    await hub.app[INTEGRATIONS].command_effect(effect)
    listed = await remind(z, ch, "列表")
    assert listed["text"].count("参加安全生产会议") == 1 and listed["text"].startswith("您有 1 条待发的提醒"), listed["text"]
