"""The Socket.IO edge: python-socketio's AsyncServer on aiohttp (protocol v5, path
/socket.io, websocket and long-polling), token auth on connect, and one dispatcher
for every client event.

Feature packages register handlers with `Realtime.on("message:send")`; a handler takes
an `EventContext` and the payload and returns a dict. The dispatcher turns that into the
ack `{ok: true, ...}`, and every failure into `{ok: false, error: {code, message}}` —
unknown events, malformed payloads and internal errors included; nothing is dropped
silently and no stack trace reaches a client.

Rooms: every connection joins `u:<user_id>` (all of a user's tabs) and `c:<channel_id>`
for each channel it belongs to (from the connect hooks). Pushes go to rooms, and the
`FastEmitManager` encodes a push once and writes the same websocket frame bytes to every
recipient's transport without a task per recipient (hub/fanout.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import socketio
from aiohttp import web
from engineio import packet as eio_packet
from pydantic import ValidationError
from socketio import packet as sio_packet

from . import fanout
from .auth import AUTH, Principal
from .bus import make_bus
from .config import CONFIG
from .errors import BadRequest, Forbidden, HubError, RateLimited, TooLarge, Unavailable
from .http import REQUEST_ID, error_body
from .i18n import negotiate, translate
from .metrics import METRICS, Metrics
from .packets import OVERSIZED, packet_class
from .ratelimit import TokenBucket
from .session_cookie import SESSION_COOKIE, same_origin

__all__ = ["REALTIME", "EventContext", "FastAckServer", "FastEmitManager", "Realtime", "channel_room", "user_room"]

log = logging.getLogger("changtong.realtime")

Handler = Callable[["EventContext", Any], Awaitable[dict[str, Any]]]
ConnectHook = Callable[[Principal, str], Awaitable[list[str]]]  # -> rooms to join
DisconnectHook = Callable[[Principal, str], Awaitable[None]]

PRESENCE_ROOM = "presence"


def user_room(user_id: int) -> str:
    return f"u:{user_id}"


def channel_room(channel_id: int) -> str:
    return f"c:{channel_id}"


class FastEmitManager(socketio.AsyncManager):
    """Room emits without a task per recipient (python-socketio's AsyncManager creates
    one per recipient). The packet is encoded once, into websocket frame bytes; a
    recipient on an upgraded websocket whose writer is idle gets the shared bytes
    written straight to its transport, any other recipient (long-polling, upgrading,
    busy or slow) gets shared Engine.IO packets on its queue, whose writer task sends
    them in order (hub/fanout.py says when a direct write keeps the order).

    Held rooms (`hold(room, seconds)`): pushes to such a room wait up to that long and
    go out together, each still its own event, in one write per recipient. Presence
    uses it: when a thousand people connect in the morning, every connect changes one
    status that everyone must see; sent one by one that is N²/2 writes, held for a
    quarter second it is one write per recipient per quarter second."""

    metrics: Metrics | None = None
    direct = True  # False: every recipient through its queue (the older, slower path)
    batched = True  # False: write each push at once instead of once per loop turn
    compress_min_bytes = 0  # queued packets shorter than this go uncompressed (fanout.FanoutWebSocket.send)

    def set_server(self, server):
        super().set_server(server)
        self.direct = fanout.install(server.eio, self.compress_min_bytes) and type(self).direct
        self._batch = fanout.Batch() if self.batched else None
        self._hold_seconds: dict[str, float] = {}
        self._held: dict[str, list[tuple[str, list[str | bytes]]]] = {}

    def hold(self, room: str, seconds: float) -> None:
        """Hold this room's pushes (those without a skip or callback) for `seconds`."""
        if seconds > 0:
            self._hold_seconds[room] = seconds
        else:
            self._hold_seconds.pop(room, None)

    async def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        if callback is not None:
            return await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to, **kwargs)
        room = to or room
        if namespace not in self.rooms:
            return
        args = list(data) if isinstance(data, tuple) else ([] if data is None else [data])
        encoded = self.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, *args]).encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        if skip_sid is None and namespace == "/" and room in self._hold_seconds:
            held = self._held.get(room)
            if held is None:
                held = self._held[room] = []
                asyncio.get_running_loop().call_later(self._hold_seconds[room], self._release, room)
            held.append((event, parts))
            return
        skip = skip_sid if isinstance(skip_sid, list) else ([skip_sid] if skip_sid is not None else None)
        self._deliver(namespace, room, skip, [(event, parts)])

    def _release(self, room: str) -> None:
        held = self._held.pop(room, None)
        if held and "/" in self.rooms:
            self._deliver("/", room, None, held)

    def _deliver(self, namespace: str, room: Any, skip: Any, pushes: list[tuple[str, list[str | bytes]]]) -> None:
        sockets = self.server.eio.sockets
        participants = self.get_participants(namespace, room)
        if self.direct:
            frames = b"".join(fanout.ws_frames(parts) for _, parts in pushes)
            delivered, queued = fanout.write_many(participants, sockets, skip, frames, self._batch)
        else:
            queued = [s for sid, e in participants if not (skip and sid in skip) and (s := sockets.get(e)) and not s.closed]
            delivered = len(queued)
        if queued:
            packets = [eio_packet.Packet(eio_packet.MESSAGE, p) for _, parts in pushes for p in parts]
            for sock in queued:
                for pkt in packets:
                    sock.queue.put_nowait(pkt)
        if self.metrics is not None and delivered:
            for event, _ in pushes:
                self.metrics.deliveries.labels(event).inc(delivered)


class FastAckServer(socketio.AsyncServer):
    """Acks written straight to the caller's websocket when its writer is idle
    (`fanout.try_write`), instead of through its Engine.IO queue, whose writer task
    would run only after this turn's batched pushes: the sender of a message to a
    thousand members has its ack before the fan-out to the others, not after it. What
    was already batched for the sender's own socket (its push of the message) is
    written first, in the same write, so the socket's order holds. A long ack (a
    `sync` or `history` page) to a connection that negotiated permessage-deflate still
    goes through the queue, to be compressed."""

    async def _send_packet(self, eio_sid, pkt):
        manager = self.manager
        encoded = pkt.encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        if pkt.packet_type == sio_packet.ACK and getattr(manager, "direct", False):
            sock = self.eio.sockets.get(eio_sid)
            if sock is not None:
                frames = fanout.ws_frames(parts)
                if (len(frames) < manager.compress_min_bytes or not fanout.compressing(sock)) and fanout.try_write(
                    sock, frames, manager._batch
                ):
                    return
        for part in parts:
            await self.eio.send(eio_sid, part)


class RedisFanoutManager(socketio.AsyncRedisManager, FastEmitManager):
    """Scale-out: python-socketio's AsyncRedisManager (redis-py's asyncio client)
    publishes every emit to the other nodes; each node, the sender's included, then
    delivers to its own recipients through FastEmitManager's write path (the MRO puts
    FastEmitManager.emit where AsyncPubSubManager calls `super().emit`)."""

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__(url, channel=f"{prefix}:socketio")


def _connect_token(auth: dict[str, Any], request: web.Request | None) -> str | None:
    """`auth: {token}`, else the browser's session cookie from a page of this very
    origin (a page on another site could otherwise ride the cookie)."""
    if auth.get("token") is not None or request is None:
        return auth.get("token")
    token = request.cookies.get(SESSION_COOKIE)
    if token and not same_origin(request.headers):
        raise Forbidden("error.csrf")
    return token


@dataclass(slots=True)
class EventContext:
    """What a handler knows about the caller."""

    sid: str
    principal: Principal
    locale: str
    realtime: "Realtime"

    @property
    def user_id(self) -> int:
        return self.principal.user_id


class Realtime:
    def __init__(self, app: web.Application) -> None:
        config = app[CONFIG]
        self.app = app
        self.metrics = app[METRICS]
        manager: socketio.AsyncManager
        server_class: type[socketio.AsyncServer]
        if config.fast_fanout:
            manager = RedisFanoutManager(config.redis, config.redis_prefix) if config.redis else FastEmitManager()
            manager.metrics = self.metrics
            manager.compress_min_bytes = config.websocket_compress_min_bytes
            server_class = FastAckServer
        else:  # python-socketio as it comes: no private attribute of engineio or aiohttp is touched
            redis_channel = f"{config.redis_prefix}:socketio"
            manager = socketio.AsyncRedisManager(config.redis, channel=redis_channel) if config.redis else socketio.AsyncManager()
            server_class = socketio.AsyncServer
        self.sio = server_class(
            async_mode="aiohttp",
            client_manager=manager,
            serializer=packet_class(config.max_payload_bytes),
            cors_allowed_origins=[],
            max_http_buffer_size=max(config.max_frame_bytes, config.max_payload_bytes),
            ping_interval=config.ping_interval_seconds,
            ping_timeout=config.ping_timeout_seconds,
            logger=False,
            engineio_logger=False,
        )
        if isinstance(manager, FastEmitManager):
            manager.hold(PRESENCE_ROOM, config.presence_push_window_seconds)
        self.sio.attach(app, socketio_path="socket.io")
        self.bus = make_bus(config.redis, config.redis_prefix)
        self.bus.on("join", self._apply_join)
        self.bus.on("leave", self._apply_leave)
        self.bus.on("disconnect", self._apply_disconnect)
        app.cleanup_ctx.append(self._bus_lifetime)
        self.handlers: dict[str, Handler] = {}
        self.connect_hooks: list[ConnectHook] = []
        self.disconnect_hooks: list[DisconnectHook] = []
        self._buckets: dict[str, TokenBucket] = {}
        self._rate = config.events_per_second
        self._payload_kib = config.max_payload_bytes // 1024
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("*", self._dispatch)

    async def _bus_lifetime(self, app: web.Application) -> AsyncIterator[None]:
        await self.bus.start()
        yield
        await self.bus.stop()

    # ---- registration ----------------------------------------------------

    def on(self, event: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            if event in self.handlers:
                raise RuntimeError(f"two handlers for {event}")
            self.handlers[event] = fn
            return fn

        return register

    # ---- connection lifecycle -------------------------------------------

    def _refuse_fake(self, sid: str, event: str) -> dict[str, Any] | None:
        """python-socketio routes a client *event* named `connect` or `disconnect` to the
        lifecycle handlers; only a live connection can send one, so refuse it."""
        if not self.sio.manager.is_connected(sid, "/"):
            return None
        self.metrics.events.labels("unknown", "bad_request").inc()
        err = BadRequest("error.unknown_event", event=event)
        return {"ok": False, "error": {"code": err.code, "message": translate(err.key, "zh_CN", **err.params)}}

    async def _on_connect(self, sid: str, environ: Any = None, auth: Any = None, *_: Any) -> dict[str, Any] | None:
        if (fake := self._refuse_fake(sid, "connect")) is not None:
            return fake
        environ = environ if isinstance(environ, dict) else {}
        auth = auth if isinstance(auth, dict) else {}
        request = environ.get("aiohttp.request")
        locale = negotiate(auth.get("locale") or (request.headers.get("Accept-Language") if request else None))
        try:
            who = await self.app[AUTH].principal(_connect_token(auth, request))
        except HubError as exc:
            self.metrics.events.labels("connect", exc.code).inc()
            message = translate(exc.key, locale, **exc.params)
            raise socketio.exceptions.ConnectionRefusedError(message, {"code": exc.code, "message": message}) from None
        await self.sio.save_session(sid, {"principal": who, "locale": locale})
        rooms = [user_room(who.user_id), PRESENCE_ROOM]
        try:
            for hook in self.connect_hooks:
                rooms.extend(await hook(who, sid))
        except Exception as exc:
            # Undo what hooks did (presence counted the connection): no ghost stays online.
            log.exception("connect hook failed")
            await self._run_disconnect_hooks(who, sid)
            err = exc if isinstance(exc, HubError) else Unavailable()
            self.metrics.events.labels("connect", err.code).inc()
            message = translate(err.key, locale, **err.params)
            raise socketio.exceptions.ConnectionRefusedError(message, {"code": err.code, "message": message}) from None
        for room in rooms:
            await self.sio.enter_room(sid, room)
        self._buckets[sid] = TokenBucket(self._rate, self._rate * 2)
        self.metrics.connections.inc()
        self.metrics.events.labels("connect", "ok").inc()
        return None

    async def _run_disconnect_hooks(self, who: Principal, sid: str) -> None:
        for hook in self.disconnect_hooks:
            try:
                await hook(who, sid)
            except Exception:
                log.exception("disconnect hook failed")

    async def _on_disconnect(self, sid: str, reason: Any = None, *_: Any) -> dict[str, Any] | None:
        if (fake := self._refuse_fake(sid, "disconnect")) is not None:
            return fake
        self._buckets.pop(sid, None)
        # engineio leaves a long-polling client's pending GET open until it times out
        # (~20 s) when the client closes; end it now so the client and the request go.
        sock = self.sio.eio.sockets.get(self.sio.manager.eio_sid_from_sid(sid, "/") or "")
        if sock is not None and not sock.upgraded:
            sock.queue.put_nowait(None)
        try:
            session = await self.sio.get_session(sid)
        except KeyError:
            return None
        who = session.get("principal")
        if who is None:
            return None
        self.metrics.connections.dec()
        await self._run_disconnect_hooks(who, sid)
        return None

    # ---- events -----------------------------------------------------------

    async def _dispatch(self, event: str, sid: str, *args: Any) -> dict[str, Any]:
        started = time.perf_counter()
        REQUEST_ID.set(f"{sid[:8]}:{str(event)[:32]}")
        locale = "zh_CN"
        outcome = "ok"
        try:
            session = await self.sio.get_session(sid)
            locale = session["locale"]
            bucket = self._buckets.get(sid)
            if bucket is not None and not bucket.take():
                raise RateLimited("error.rate_limited")
            handler = self.handlers.get(event)
            if handler is None:
                raise BadRequest("error.unknown_event", event=str(event)[:64])
            if len(args) > 1:
                raise BadRequest("error.bad_request")
            payload = args[0] if args else {}
            if payload is OVERSIZED:
                raise TooLarge("error.payload_too_large", limit_kib=self._payload_kib)
            ctx = EventContext(sid, session["principal"], locale, self)
            result = await handler(ctx, payload if payload is not None else {})
            return {"ok": True, **(result or {})}
        except HubError as exc:
            outcome = exc.code
            return {"ok": False, **error_body(exc, locale)}
        except ValidationError:
            outcome = "bad_request"
            return {"ok": False, "error": {"code": "bad_request", "message": translate("error.bad_request", locale)}}
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("event %s failed", event)
            outcome = "unavailable"
            err = Unavailable()
            return {"ok": False, "error": {"code": err.code, "message": translate(err.key, locale)}}
        finally:
            name = event if event in self.handlers else "unknown"
            self.metrics.events.labels(name, outcome).inc()
            self.metrics.event_seconds.labels(name).observe(time.perf_counter() - started)

    # ---- pushes and rooms ---------------------------------------------------

    async def emit_to_channel(self, channel_id: int, event: str, data: Any, skip_sid: str | None = None) -> None:
        await self.sio.emit(event, data, room=channel_room(channel_id), skip_sid=skip_sid)

    async def emit_to_user(self, user_id: int, event: str, data: Any) -> None:
        await self.sio.emit(event, data, room=user_room(user_id))

    async def emit_to_all(self, event: str, data: Any) -> None:
        await self.sio.emit(event, data, room=PRESENCE_ROOM)

    def in_room(self, sid: str, room: str) -> bool:
        """Whether this node's connection `sid` is in `room` (one dict lookup)."""
        return sid in self.sio.manager.rooms.get("/", {}).get(room, {})

    def user_sids(self, user_id: int) -> list[str]:
        """This node's connections of a user."""
        return [sid for sid, _ in self.sio.manager.get_participants("/", user_room(user_id))]

    async def join_user(self, user_id: int, room: str, push: tuple[str, Any] | None = None) -> None:
        """Every connection of the user, on every node, joins `room`; then `push` (an
        event and its data) goes to those connections — after the join, so a client that
        has seen the push receives the room's next messages."""
        await self.bus.publish("join", user_id=user_id, room=room, push=list(push) if push else None)

    async def leave_user(self, user_id: int, room: str, push: tuple[str, Any] | None = None) -> None:
        await self.bus.publish("leave", user_id=user_id, room=room, push=list(push) if push else None)

    async def disconnect_user(self, user_id: int, token_id: int | None = None) -> None:
        """End a user's connections on every node (only those opened with `token_id`, if given)."""
        await self.bus.publish("disconnect", user_id=user_id, token_id=token_id)

    # ---- control commands, applied by every node to its own connections ------

    async def _local_push(self, sids: list[str], push: list[Any] | None) -> None:
        if push:
            event, data = push
            for sid in sids:
                await self.sio.emit(event, data, to=sid, ignore_queue=True)

    async def _apply_join(self, cmd: dict[str, Any]) -> None:
        sids = self.user_sids(cmd["user_id"])
        for sid in sids:
            await self.sio.enter_room(sid, cmd["room"])
        await self._local_push(sids, cmd.get("push"))

    async def _apply_leave(self, cmd: dict[str, Any]) -> None:
        sids = self.user_sids(cmd["user_id"])
        for sid in sids:
            await self.sio.leave_room(sid, cmd["room"])
        await self._local_push(sids, cmd.get("push"))

    async def _apply_disconnect(self, cmd: dict[str, Any]) -> None:
        token_id = cmd.get("token_id")
        for sid in self.user_sids(cmd["user_id"]):
            if token_id is not None:
                try:
                    session = await self.sio.get_session(sid)
                except KeyError:  # already gone
                    continue
                if session["principal"].token_id != token_id:
                    continue
            await self.sio.disconnect(sid)


REALTIME: Final = web.AppKey("realtime", Realtime)
