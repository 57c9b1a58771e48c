"""The demo's channels (`changtong serve --demo`): two city-wide channels with everyone,
one read-only for announcements, with a greeting each and a 通知 card to confirm."""

from __future__ import annotations

import sqlalchemy as sa
from aiohttp import web

from hub.auth import Principal
from hub.db import DATABASE
from hub.schema import users

from .wiring import CARDS, ROOMS
from .notices import post_notice
from .rules import ChannelCreate, MessageSend, NoticePost


async def seed(app: web.Application, admin: Principal) -> None:
    rooms = app[ROOMS]
    async with app[DATABASE].begin() as conn:
        everyone = list((await conn.execute(
            sa.select(users.c.id).where(users.c.id != admin.user_id, users.c.is_bot == sa.false())
        )).scalars())
    talk = await rooms.create_channel(admin, ChannelCreate(name="全市工作交流", kind="public", member_ids=everyone))
    notice = await rooms.create_channel(
        admin, ChannelCreate(name="通知公告", kind="public", member_ids=everyone, read_only=True, topic="市政府办公室发布")
    )
    await rooms.send(admin, MessageSend(channel_id=notice["id"], client_msg_id="demo-1",
                                        text="欢迎使用畅通协同办公平台。请各单位及时维护通讯录信息。"))
    await rooms.send(admin, MessageSend(channel_id=talk["id"], client_msg_id="demo-2",
                                        text="大家好！这里是全市工作交流频道，有问题可以直接 @ 相关同志。"))
    await post_notice(app[CARDS], admin, notice["id"], NoticePost(
        title="关于做好岁末年初安全生产工作的通知", client_msg_id="demo-3",
        body="各单位：请于12月5日前完成本单位安全隐患自查，并将自查情况报市应急管理局。请阅后点击“已阅”。",
    ))
