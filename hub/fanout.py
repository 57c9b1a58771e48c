"""The fan-out write path: one room push encoded once into websocket frame bytes and
written straight to every recipient's transport.

python-socketio's AsyncManager creates one task per recipient; queuing one Engine.IO
packet per recipient (the first FastEmitManager) still costs every recipient a wake-up
of its writer task, a `wait_for` (a task and a timer in Python 3.11), the str->bytes
encoding, the websocket framing and, where permessage-deflate was negotiated, a zlib
compression of the same bytes. Here the frames are built once per emit and each
recipient costs one `transport.write` of the shared bytes; with a `Batch`, the writes
of all pushes made in one turn of the event loop are coalesced into one write per
transport at the next turn (under load, several pushes per system call).

Ordering: a socket's Engine.IO queue (acks, pings, pushes queued earlier) and the
direct write must not overtake each other. A frame is written directly only when the
socket's writer task is idle: its queue holds no unfinished packet (`_unfinished_tasks`
counts a packet from `put` until the writer's `task_done`, which covers the moment
between the writer taking a packet and writing it) and it is not inside a `send` (it
can wait there for a slow reader's drain, or for compressing a large message). Then
everything queued before has reached the transport, and the transport keeps the order
of writes. Otherwise — long-polling, an upgrade in progress, a busy writer, a slow
reader whose transport buffer is above `HIGH_WATER`, a closing socket — the packet is
queued as before, behind whatever is already there.

Direct frames are never compressed: RFC 7692 lets a sender choose per message (RSV1
clear means uncompressed), so a connection that negotiated permessage-deflate still
gets its acks and queued packets compressed as before, and its room pushes plain.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from aiohttp.web import WebSocketResponse
from engineio.async_drivers import aiohttp as eio_aiohttp

__all__ = ["HIGH_WATER", "Batch", "FanoutWebSocket", "compressing", "install", "try_write", "write_many", "ws_frames"]

# Above this many bytes waiting in a transport's buffer the reader is slow: fall back
# to the socket's queue, whose writer waits for the drain (backpressure).
HIGH_WATER = 256 * 1024

_LEN1 = struct.Struct("!BB").pack
_LEN2 = struct.Struct("!BBH").pack
_LEN3 = struct.Struct("!BBQ").pack


def _frame(payload: bytes, opcode: int) -> bytes:
    n = len(payload)
    b0 = 0x80 | opcode  # FIN, no RSV bits: an uncompressed, unfragmented message
    if n < 126:
        return _LEN1(b0, n) + payload
    if n < 65536:
        return _LEN2(b0, 126, n) + payload
    return _LEN3(b0, 127, n) + payload


def ws_frames(encoded: str | bytes | list[str | bytes]) -> bytes:
    """Server-to-client websocket frames carrying the Engine.IO MESSAGE packets of an
    encoded Socket.IO packet (a str, or a list of a str and binary attachments)."""
    parts = encoded if isinstance(encoded, list) else [encoded]
    out = b""
    for p in parts:
        if isinstance(p, str):
            out += _frame(b"4" + p.encode("utf-8"), 0x1)
        else:  # binary attachment: a binary frame holding the raw bytes
            out += _frame(bytes(p), 0x2)
    return out


class FanoutWebSocket(eio_aiohttp.WebSocket):
    """engineio's aiohttp websocket wrapper that registers itself on its Engine.IO
    socket (`socket.fanout_ws`) while it serves it and counts sends in progress."""

    def __init__(self, handler: Any, server: Any) -> None:
        super().__init__(handler, server)
        self.sending = 0
        self.compress_min = getattr(server, "changtong_compress_min_bytes", 0)
        self.writer: Any = None
        self.transport: Any = None
        self.eio_socket = getattr(handler, "__self__", None)

    async def __call__(self, environ: dict[str, Any]) -> WebSocketResponse:
        request = environ["aiohttp.request"]
        self._sock = WebSocketResponse(max_msg_size=self.server.max_http_buffer_size)
        await self._sock.prepare(request)
        self.environ = environ
        self.writer = self._sock._writer
        self.transport = getattr(self.writer, "transport", None)
        sock = self.eio_socket
        if sock is not None and self.transport is not None:
            sock.fanout_ws = self
        try:
            await self.handler(self)
        finally:
            if sock is not None and getattr(sock, "fanout_ws", None) is self:
                sock.fanout_ws = None
        return self._sock

    async def send(self, message: str | bytes) -> None:
        """A packet from the socket's queue (acks, pings, pushes that could not be written
        directly). Below `compress_min` bytes it goes uncompressed even where
        permessage-deflate was negotiated: compressing a 60-byte ack costs more than it
        saves, and a connection that never gets a large message never allocates a zlib
        compressor (about 100 KB of memory each)."""
        self.sending += 1
        try:
            writer = self.writer
            if writer is not None and writer.compress and len(message) < self.compress_min and _raw_frames(writer):
                text = isinstance(message, str)
                data = message.encode("utf-8") if text else bytes(message)
                if len(data) < self.compress_min:
                    writer._write_websocket_frame(data, 0x1 if text else 0x2, 0)
                    if writer.protocol._paused:  # a slow reader: wait for the drain, as aiohttp does
                        await writer.protocol._drain_helper()
                    return
            await super().send(message)
        finally:
            self.sending -= 1


def _raw_frames(writer: Any) -> bool:
    """aiohttp's writer can write one uncompressed frame on a compressing connection
    (aiohttp 3.12 and later)."""
    return hasattr(writer, "_write_websocket_frame")


class Batch:
    """Frames for each transport, written with one `transport.write` per transport at the
    next turn of the event loop: pushes that fan out in the same turn (a burst of
    messages) cost one system call per recipient instead of one per push. A batch is
    written before any task that was woken after it was started, so a packet queued on
    a socket after a frame was batched for it is written after that frame.

    `pending` maps a transport to its frames: bytes for one push (the common case, no
    list per recipient), a list once a second push joins it."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending: dict[Any, bytes | list[bytes]] = {}

    def add(self, transport: Any, frames: bytes) -> None:
        pending = self.pending
        if not pending:
            asyncio.get_running_loop().call_soon(self.flush)
        _add(pending, transport, frames)

    def flush(self) -> None:
        pending, self.pending = self.pending, {}
        for transport, frames in pending.items():
            if not transport.is_closing():
                transport.write(frames if frames.__class__ is bytes else b"".join(frames))


def _add(pending: dict[Any, bytes | list[bytes]], transport: Any, frames: bytes) -> None:
    had = pending.get(transport)
    if had is None:
        pending[transport] = frames
    elif had.__class__ is bytes:
        pending[transport] = [had, frames]  # type: ignore[list-item]
    else:
        had.append(frames)  # type: ignore[union-attr]


def try_write(sock: Any, frames: bytes, batch: Batch | None = None) -> bool:
    """Write `frames` to an Engine.IO socket's websocket now, ahead of the pushes
    batched for other sockets in this turn (an ack: its sender should not wait for a
    fan-out to a thousand members to finish), if nothing sent to this socket before is
    still on the way. Pushes batched for this very socket go first, in the same write,
    so its order holds. False if the caller must queue the packet."""
    ws: FanoutWebSocket | None = getattr(sock, "fanout_ws", None)
    if ws is None or ws.sending or not sock.upgraded or sock.upgrading or sock.closing:
        return False
    if getattr(sock.queue, "_unfinished_tasks", 1):  # a packet not yet written by the writer
        return False
    transport = ws.transport
    if ws.writer._closing or transport.is_closing() or transport.get_write_buffer_size() > HIGH_WATER:
        return False
    had = batch.pending.pop(transport, None) if batch is not None else None
    if had is not None:
        frames = (had if had.__class__ is bytes else b"".join(had)) + frames  # type: ignore[operator, arg-type]
    transport.write(frames)
    return True


def compressing(sock: Any) -> bool:
    """Whether the socket's websocket negotiated permessage-deflate."""
    ws: FanoutWebSocket | None = getattr(sock, "fanout_ws", None)
    return bool(ws is not None and ws.writer is not None and ws.writer.compress)


def write_many(
    participants: Any, sockets: dict[str, Any], skip: Any, frames: bytes, batch: Batch | None
) -> tuple[int, list[Any]]:
    """`try_write` for every recipient of a room push, with the checks inlined (the
    per-recipient Python is what a push costs besides the system call). `participants`
    yields (sid, eio_sid); `skip` is a container of sids or None. Returns how many
    recipients there were and the Engine.IO sockets the caller must queue the packet on."""
    delivered = 0
    fallback: list[Any] = []
    high = HIGH_WATER
    pending = None
    if batch is not None:
        pending = batch.pending
        if not pending:
            asyncio.get_running_loop().call_soon(batch.flush)
    for sid, eio_sid in participants:
        if skip and sid in skip:
            continue
        sock = sockets.get(eio_sid)
        if sock is None or sock.closed:
            continue
        delivered += 1
        ws = getattr(sock, "fanout_ws", None)
        if (
            ws is None
            or ws.sending
            or not sock.upgraded
            or sock.upgrading
            or sock.closing
            or getattr(sock.queue, "_unfinished_tasks", 1)
            or ws.writer._closing
        ):
            fallback.append(sock)
            continue
        transport = ws.transport
        if transport.is_closing() or transport.get_write_buffer_size() > high:
            fallback.append(sock)
            continue
        if pending is None:
            transport.write(frames)
        else:
            had = pending.get(transport)
            if had is None:
                pending[transport] = frames
            else:
                _add(pending, transport, frames)
    return delivered, fallback


def install(eio_server: Any, compress_min_bytes: int = 0) -> bool:
    """Serve websockets of this Engine.IO server with FanoutWebSocket (aiohttp only;
    other async modes keep their driver and every push goes through the queue).
    Queued packets shorter than `compress_min_bytes` are sent uncompressed."""
    drivers = getattr(eio_server, "_async", None)
    if not drivers or drivers.get("websocket") is not eio_aiohttp.WebSocket:
        return False
    eio_server.changtong_compress_min_bytes = compress_min_bytes
    eio_server._async = {**drivers, "websocket": FanoutWebSocket}  # a copy: the module's dict is shared
    return True
