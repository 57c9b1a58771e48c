"""Pure rules of rooms: payload validation models and @mention parsing.
No I/O here; tested without a server."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.ids import DbId

__all__ = ["mentioned_usernames"]

MENTION = re.compile(r"(?<![\w@.])@([a-z0-9][a-z0-9._-]{1,63})", re.IGNORECASE)


def mentioned_usernames(text: str) -> list[str]:
    """`@username` tokens in order of first appearance, lower-cased, unique."""
    seen: dict[str, None] = {}
    for m in MENTION.finditer(text or ""):
        seen.setdefault(m.group(1).lower().rstrip("._-"), None)
    return list(seen)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, v: object) -> object:
        """Strings must be storable on every engine: no NUL (PostgreSQL refuses it) and
        valid UTF-8 (no lone surrogates)."""
        if isinstance(v, str):
            if "\x00" in v:
                raise ValueError("NUL character")
            v.encode("utf-8")  # UnicodeEncodeError is a ValueError
        return v


def _not_blank(v: str | None) -> str | None:
    if v is None:
        return v
    v = v.strip()
    if not v:
        raise ValueError("empty")
    return v


# Every id and seq fits a signed 64-bit column; anything else is a bad request, not a
# database error.
Seq = Annotated[int, Field(ge=0, lt=2**63)]


class ChannelCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["public", "private"] = "public"
    topic: str = Field("", max_length=500)
    member_ids: list[DbId] = Field(default_factory=list, max_length=1000)
    read_only: bool = False

    _name = field_validator("name")(_not_blank)


class ChannelRef(Strict):
    channel_id: DbId


class ChannelList(Strict):
    scope: Literal["joined", "public"] = "joined"


class ChannelUpdate(Strict):
    channel_id: DbId
    name: str | None = Field(None, min_length=1, max_length=100)
    topic: str | None = Field(None, max_length=500)
    read_only: bool | None = None

    _name = field_validator("name")(_not_blank)


class ChannelAddMembers(Strict):
    channel_id: DbId
    user_ids: list[DbId] = Field(min_length=1, max_length=1000)


class ChannelSetRole(Strict):
    channel_id: DbId
    user_id: DbId
    role: Literal["member", "admin"]


class DmOpen(Strict):
    user_id: DbId | None = None
    user_ids: list[DbId] | None = Field(None, min_length=1, max_length=19)


class MessageSend(Strict):
    channel_id: DbId
    client_msg_id: str = Field(min_length=1, max_length=64)
    text: str = ""
    file_id: str | None = Field(None, pattern="^[0-9a-f]{1,32}$")
    thread_root_id: DbId | None = None


class MessageEdit(Strict):
    message_id: DbId
    text: str


class MessageRef(Strict):
    message_id: DbId


class History(Strict):
    channel_id: DbId
    before_seq: DbId | None = None
    limit: int = Field(50, gt=0)
    thread_root_id: DbId | None = None


class Sync(Strict):
    cursors: dict[DbId, Seq] = Field(default_factory=dict)
    limit: int = Field(500, gt=0)

    @field_validator("cursors")
    @classmethod
    def _cursors(cls, v: dict[int, int]) -> dict[int, int]:
        if len(v) > 10_000:
            raise ValueError("bad cursors")
        return v


class Read(Strict):
    channel_id: DbId
    seq: Seq


class Typing(Strict):
    channel_id: DbId


class CardAct(Strict):
    """`card:action`: press an action button on a card message."""

    message_id: DbId
    action: str = Field(min_length=1, max_length=32)
    comment: str = Field("", max_length=2000)
    choice: str = Field("", max_length=100)  # for an action that offers choices: the one picked


class NoticePost(Strict):
    """`POST /api/v1/channels/{id}/notices`: a 通知 card members confirm with 已阅."""

    title: str = Field(min_length=1, max_length=200)
    body: str = Field("", max_length=10_000)
    client_msg_id: str | None = Field(None, min_length=1, max_length=64)

    _title = field_validator("title")(_not_blank)
