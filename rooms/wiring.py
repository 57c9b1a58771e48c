"""How rooms plugs into the app: its app keys (ROOMS, CARDS) and `setup(app)`, which
registers its Socket.IO handlers, routes, connect hooks and directory hooks."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from hub.auth import Principal
from hub.cards import CARD_HANDLERS
from hub.config import CONFIG
from hub.db import DATABASE
from hub.directory import DIRECTORY_HOOKS
from hub.metrics import METRICS
from hub.realtime import REALTIME, channel_room

from . import events, files_api, notices, store
from .actions import Rooms
from .cards import CardActions

__all__ = ["CARDS", "ROOMS", "CardActions", "Rooms", "setup"]

ROOMS: Final = web.AppKey("rooms", Rooms)
CARDS: Final = web.AppKey("cards", CardActions)


def setup(app: web.Application) -> None:
    realtime = app[REALTIME]
    rooms = Rooms(app[DATABASE], realtime, app[CONFIG], app[METRICS])
    app[ROOMS] = rooms
    cards = CardActions(rooms, app[CARD_HANDLERS])
    app[CARDS] = cards
    app[CARD_HANDLERS].register(notices.HANDLER, notices.on_action)

    async def join_channel_rooms(who: Principal, sid: str) -> list[str]:
        return [channel_room(cid) for cid in await app[DATABASE].read(store.channel_ids_of, who.user_id)]

    realtime.connect_hooks.append(join_channel_rooms)
    hooks = app[DIRECTORY_HOOKS]
    hooks.unit_added.append(rooms.on_unit_added)
    hooks.unit_changed.append(rooms.on_unit_changed)
    hooks.post_added.append(rooms.on_post_added)
    hooks.post_removed.append(rooms.on_post_removed)
    events.register(realtime, rooms, cards)
    app.add_routes(files_api.routes())
    app.add_routes(notices.routes(cards))

    async def drain_hooks(app: web.Application) -> None:
        await rooms.hooks.drain()

    app.on_cleanup.append(drain_hooks)
