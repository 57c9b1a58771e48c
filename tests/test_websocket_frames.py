"""What a browser that negotiated permessage-deflate receives, frame by frame: room
pushes and short acks uncompressed (RSV1 clear), a long `history` page compressed, and
every frame decodes on one connection whose compressor keeps its context between the
compressed ones (RFC 7692 lets a sender choose per message). Chinese text travels as
UTF-8, not as JSON escapes."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import zlib
from urllib.parse import urlsplit

TAIL = b"\x00\x00\xff\xff"


class RawSocketIO:
    """Engine.IO v4 / Socket.IO v5 over a websocket read frame by frame."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.inflate = zlib.decompressobj(-15)
        self.frames: list[tuple[bool, str]] = []  # (compressed, text)

    @classmethod
    async def open(cls, url: str, token: str) -> "RawSocketIO":
        u = urlsplit(url)
        reader, writer = await asyncio.open_connection(u.hostname, u.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
            ).encode()
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        assert " 101 " in head.split("\r\n", 1)[0] and "permessage-deflate" in head, head
        conn = cls(reader, writer)
        assert (await conn.recv()).startswith("0{")  # Engine.IO open
        conn.send("40" + json.dumps({"token": token}))
        assert (await conn.recv()).startswith("40{")  # Socket.IO connected
        return conn

    def send(self, text: str) -> None:
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
        self.writer.write(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    async def recv(self) -> str:
        while True:
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(await self.reader.readexactly(2), "big")
            elif n == 127:
                n = int.from_bytes(await self.reader.readexactly(8), "big")
            payload = await self.reader.readexactly(n)
            compressed = bool(b0 & 0x40)
            if compressed:
                payload = self.inflate.decompress(payload + TAIL)
            text = payload.decode()
            if text == "2":  # Engine.IO ping
                self.send("3")
                continue
            self.frames.append((compressed, text))
            return text

    async def until(self, prefix: str) -> str:
        while not (text := await asyncio.wait_for(self.recv(), 5)).startswith(prefix):
            pass
        return text

    def close(self) -> None:
        self.writer.close()


async def test_short_packets_go_plain_and_long_pages_compressed_on_one_connection(hub):
    alice, bob = await hub.user("alice", "艾丽丝"), await hub.user("bob", "鲍勃")
    a = await hub.client(alice)
    cid = (await a.call("channel:create", {"name": "压缩", "kind": "private", "member_ids": [bob["id"]]}))["channel"]["id"]
    raw = await RawSocketIO.open(hub.url, bob["token"])
    try:
        for i in range(3):
            await a.call("message:send", {"channel_id": cid, "client_msg_id": f"m{i}", "text": f"第{i}条：请各单位报送材料"})
            frame = await raw.until('42["message"')
            assert "请各单位报送材料" in frame  # UTF-8 as it is: 3 bytes a character, not a 6-byte \uXXXX
            push = json.loads(frame[2:])
            assert push[1]["text"] == f"第{i}条：请各单位报送材料"
            raw.send(f'42{10 + i}["history",{{"channel_id":{cid},"limit":50}}]')
            page = json.loads((await raw.until(f"43{10 + i}"))[2 + len(str(10 + i)) :])[0]
            assert [m["seq"] for m in page["messages"]] == list(range(1, i + 2))
        raw.send(f'4220["read",{{"channel_id":{cid},"seq":3}}]')
        small_ack = json.loads((await raw.until("4320"))[4:])[0]
        assert small_ack["ok"]
        raw.send(f'4221["history",{{"channel_id":{cid},"limit":50}}]')
        await raw.until("4321")
    finally:
        raw.close()
    by_kind = {}
    for compressed, text in raw.frames:
        kind = "push" if text.startswith('42["message"') else "ack" if text.startswith("43") else "other"
        by_kind.setdefault(kind, []).append((compressed, len(text.encode())))
    assert all(not c for c, _ in by_kind["push"])  # room pushes: always plain
    assert [c for c, n in by_kind["ack"] if n < 1024] and all(not c for c, n in by_kind["ack"] if n < 1024)
    long_acks = [c for c, n in by_kind["ack"] if n >= 1024]
    assert len(long_acks) >= 2 and all(long_acks)  # two or more compressed pages, decoded in turn
