"""Pure rules of rooms: payload validation models, @mention parsing, cursor maths.
No I/O here; tested without a server."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Cursor", "mentioned_usernames", "owed"]

MENTION = re.compile(r"(?<![\w@.])@([a-z0-9][a-z0-9._-]{1,63})", re.IGNORECASE)


def mentioned_usernames(text: str) -> list[str]:
    """`@username` tokens in order of first appearance, lower-cased, unique."""
    seen: dict[str, None] = {}
    for m in MENTION.finditer(text or ""):
        seen.setdefault(m.group(1).lower().rstrip("._-"), None)
    return list(seen)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Position just after change `seq` in `channel_id`; seq=0 is before the first change.
    A client holding cursor s has seen every change with change_seq <= s."""

    channel_id: int
    seq: int


def owed(cursor: Cursor, head: int) -> bool:
    """Whether changes exist past the cursor."""
    return head > cursor.seq


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


Id = Field(gt=0, lt=2**63)


class ChannelCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["public", "private"] = "public"
    topic: str = Field("", max_length=500)
    member_ids: list[int] = Field(default_factory=list, max_length=1000)
    read_only: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("empty")
        return v


class ChannelRef(Strict):
    channel_id: int = Id


class ChannelList(Strict):
    scope: Literal["joined", "public"] = "joined"


class ChannelUpdate(Strict):
    channel_id: int = Id
    name: str | None = Field(None, min_length=1, max_length=100)
    topic: str | None = Field(None, max_length=500)
    read_only: bool | None = None


class ChannelAddMembers(Strict):
    channel_id: int = Id
    user_ids: list[int] = Field(min_length=1, max_length=1000)


class ChannelSetRole(Strict):
    channel_id: int = Id
    user_id: int = Id
    role: Literal["member", "admin"]


class DmOpen(Strict):
    user_id: int | None = Field(None, gt=0)
    user_ids: list[int] | None = Field(None, min_length=1, max_length=19)


class MessageSend(Strict):
    channel_id: int = Id
    client_msg_id: str = Field(min_length=1, max_length=64)
    text: str = ""
    file_id: str | None = Field(None, max_length=32)
    thread_root_id: int | None = Field(None, gt=0)


class MessageEdit(Strict):
    message_id: int = Id
    text: str


class MessageRef(Strict):
    message_id: int = Id


class History(Strict):
    channel_id: int = Id
    before_seq: int | None = Field(None, gt=0)
    limit: int = Field(50, gt=0)
    thread_root_id: int | None = Field(None, gt=0)


class Sync(Strict):
    cursors: dict[int, int] = Field(default_factory=dict)
    limit: int = Field(500, gt=0)

    @field_validator("cursors")
    @classmethod
    def _cursors(cls, v: dict[int, int]) -> dict[int, int]:
        if len(v) > 10_000 or any(k <= 0 or s < 0 for k, s in v.items()):
            raise ValueError("bad cursors")
        return v


class Read(Strict):
    channel_id: int = Id
    seq: int = Field(ge=0)


class Typing(Strict):
    channel_id: int = Id
