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
"""

from __future__ import annotations

from typing import Any

from socketio import packet

from . import jsoncodec


class HubPacket(packet.Packet):
    json = jsoncodec

    @classmethod
    def data_is_binary(cls, data: Any) -> bool:
        return False
