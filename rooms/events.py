"""Socket.IO handlers of rooms: validate the payload, call the action, shape the ack."""

from __future__ import annotations

from typing import Any

from hub.errors import NotFound
from hub.realtime import EventContext, Realtime, channel_room

from . import rules
from .actions import Rooms
from .cards import CardActions


def register(realtime: Realtime, rooms: Rooms, cards: CardActions) -> None:
    on = realtime.on

    @on("card:action")
    async def card_action(ctx: EventContext, data: Any) -> dict[str, Any]:
        return {"message": await cards.act(ctx.principal, rules.CardAct.model_validate(data))}

    @on("channel:create")
    async def channel_create(ctx: EventContext, data: Any) -> dict[str, Any]:
        return {"channel": await rooms.create_channel(ctx.principal, rules.ChannelCreate.model_validate(data))}

    @on("channel:list")
    async def channel_list(ctx: EventContext, data: Any) -> dict[str, Any]:
        return {"channels": await rooms.list_channels(ctx.principal, rules.ChannelList.model_validate(data))}

    @on("channel:join")
    async def channel_join(ctx: EventContext, data: Any) -> dict[str, Any]:
        return {"channel": await rooms.join(ctx.principal, rules.ChannelRef.model_validate(data).channel_id)}

    @on("channel:leave")
    async def channel_leave(ctx: EventContext, data: Any) -> dict[str, Any]:
        await rooms.leave(ctx.principal, rules.ChannelRef.model_validate(data).channel_id)
        return {}

    @on("channel:members")
    async def channel_members(ctx: EventContext, data: Any) -> dict[str, Any]:
        return {"members": await rooms.members(ctx.principal, rules.ChannelRef.model_validate(data).channel_id)}

    @on("channel:add_members")
    async def channel_add_members(ctx: EventContext, data: Any) -> dict[str, Any]:
        return await rooms.add_members(ctx.principal, rules.ChannelAddMembers.model_validate(data))

    @on("channel:update")
    async def channel_update(ctx: EventContext, data: Any) -> dict[str, Any]:
        return {"channel": await rooms.update_channel(ctx.principal, rules.ChannelUpdate.model_validate(data))}

    @on("channel:set_role")
    async def channel_set_role(ctx: EventContext, data: Any) -> dict[str, Any]:
        await rooms.set_role(ctx.principal, rules.ChannelSetRole.model_validate(data))
        return {}

    @on("dm:open")
    async def dm_open(ctx: EventContext, data: Any) -> dict[str, Any]:
        return {"channel": await rooms.open_dm(ctx.principal, rules.DmOpen.model_validate(data))}

    @on("message:send")
    async def message_send(ctx: EventContext, data: Any) -> dict[str, Any]:
        return {"message": await rooms.send(ctx.principal, rules.MessageSend.model_validate(data))}

    @on("message:edit")
    async def message_edit(ctx: EventContext, data: Any) -> dict[str, Any]:
        return {"message": await rooms.edit(ctx.principal, rules.MessageEdit.model_validate(data))}

    @on("message:recall")
    async def message_recall(ctx: EventContext, data: Any) -> dict[str, Any]:
        return {"message": await rooms.recall(ctx.principal, rules.MessageRef.model_validate(data).message_id)}

    @on("history")
    async def history(ctx: EventContext, data: Any) -> dict[str, Any]:
        return await rooms.history(ctx.principal, rules.History.model_validate(data))

    @on("sync")
    async def sync(ctx: EventContext, data: Any) -> dict[str, Any]:
        return await rooms.sync(ctx.principal, rules.Sync.model_validate(data))

    @on("read")
    async def read(ctx: EventContext, data: Any) -> dict[str, Any]:
        return await rooms.mark_read(ctx.principal, rules.Read.model_validate(data))

    @on("typing")
    async def typing(ctx: EventContext, data: Any) -> dict[str, Any]:
        req = rules.Typing.model_validate(data)
        # Socket rooms mirror membership, so this needs no database round trip.
        if not realtime.in_room(ctx.sid, channel_room(req.channel_id)):
            raise NotFound("error.channel_not_found")
        event = {"channel_id": req.channel_id, "user_id": ctx.user_id, "display_name": ctx.principal.display_name}
        await realtime.emit_to_channel(req.channel_id, "typing", event, skip_sid=ctx.sid)
        return {}
