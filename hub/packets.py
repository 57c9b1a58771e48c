"""The hub's Socket.IO packet class (`AsyncServer(serializer=HubPacket)`).

Two changes from python-socketio's default `Packet`, both on the hot paths of pushes and
catch-up pages:

* JSON through hub/jsoncodec.py (orjson, UTF-8 as it is). The standard library escapes
  every Chinese character as `\\uXXXX` (6 bytes on the wire instead of 3) and encodes a
  500-message `sync` page in 6-9 ms; orjson in under 1 ms.
* No walk for binary attachments. The default class walks every list and dict of every
  outgoing payload looking for `bytes` (5 ms for the same page). The hub sends JSON only:
  files go over HTTP. Bytes in a payload would raise a TypeError at `encode`, loudly,
  rather than become an attachment.

Incoming packets decode through the same codec. A client may still send binary events:
the packet type says so, not a walk.

Oversized events: the transport accepts frames up to `max_frame_bytes` (2 MiB), but an
event's payload is refused past `max_payload_bytes` (256 KiB). Such a
packet is not parsed: its event name and ack id are read off its head and its payload
becomes `OVERSIZED`, which the dispatcher answers with `too_large` through the ack.
The connection stays open, so a pasted 200,000-character text costs one refused send,
not every later event on that connection.
"""

from __future__ import annotations

import re
from typing import Any, Final

from socketio import packet

from . import jsoncodec

__all__ = ["OVERSIZED", "HubPacket", "packet_class"]


class _Oversized:
    """The payload of an event whose packet was over the limit (never parsed)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "OVERSIZED"


OVERSIZED: Final = _Oversized()

# The head of an EVENT packet's data: `["name"` (a JSON string without escapes is enough
# to route it; anything else is refused under the name `unknown`).
_EVENT_NAME = re.compile(r'\[\s*"([^"\\]{1,64})"')


class HubPacket(packet.Packet):
    json = jsoncodec
    max_data_bytes = 0  # 0: no limit of its own (the transport's frame limit still holds)

    @classmethod
    def data_is_binary(cls, data: Any) -> bool:
        return False

    def decode(self, encoded_packet: Any) -> int:
        limit = self.max_data_bytes
        if limit and isinstance(encoded_packet, str) and _over(encoded_packet, limit) and encoded_packet[:1] == "2":
            head = encoded_packet[:200]
            bracket = head.find("[")
            if bracket > 0:
                # parse the header (namespace, ack id) as usual, leaving out the payload
                self.attachment_count = super().decode(head[:bracket]) or 0
                match = _EVENT_NAME.match(head, bracket)
                self.data = [match.group(1) if match else "unknown", OVERSIZED]
                return self.attachment_count
        return super().decode(encoded_packet) or 0


def _over(text: str, limit: int) -> bool:
    """Whether `text` is longer than `limit` bytes in UTF-8 (without encoding it when
    its length alone decides)."""
    if len(text) > limit:
        return True
    return len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit


def packet_class(max_data_bytes: int) -> type[HubPacket]:
    """HubPacket with this server's payload limit."""
    return type("HubPacket", (HubPacket,), {"max_data_bytes": max_data_bytes})
