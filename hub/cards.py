"""Cards: the one shape of an actionable message, and the registry of their handlers.

A card message (`kind: "card"`) carries a `Card`. Every client draws every card with
one renderer; features (notices, workflows, the exchange bridge, media) only fill in
content and register a handler under the card's `handler` name. When a member presses
an action button, rooms checks the request against the card (the action is offered,
a required comment is there) and calls the handler inside the write transaction; the
handler answers `Acted`: the card's new state, which every member then sees through
`message:update` and `sync`, and the effects to queue in that same transaction (slow
or outside work — a reprocessing, a request to another node — done by the effects
worker after the commit, at least once, never while the write lock is held). A handler
refuses by raising a HubError.

Pure: no I/O beyond what a handler does with the connection it is given.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy.ext.asyncio import AsyncConnection

from .auth import Principal
from .effects import Later

__all__ = ["CARD_HANDLERS", "Acted", "Card", "CardActionContext", "CardHandlers"]

NAME = r"^[a-z][a-z0-9_.:-]{0,63}$"


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, v: object) -> object:
        if isinstance(v, str) and "\x00" in v:
            raise ValueError("NUL character")
        return v


class CardStatus(_Part):
    text: str = Field(min_length=1, max_length=50)
    tone: Literal["info", "success", "warning", "danger"] = "info"


class CardField(_Part):
    label: str = Field(min_length=1, max_length=50)
    value: str = Field(max_length=2000)


class CardLink(_Part):
    text: str = Field(min_length=1, max_length=100)
    # Only web links and the hub's own paths: never javascript: or data: URLs.
    url: str = Field(max_length=2000, pattern=r"^(https?://|/[^/\s])[^\s]*$")


class CardAction(_Part):
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    label: str = Field(min_length=1, max_length=20)
    style: Literal["primary", "danger", "default"] = "default"
    comment: Literal["none", "optional", "required"] = "none"
    confirm: str | None = Field(None, max_length=200)
    # one of these must be picked to press it (派车: the cars free then); shown as a list
    choices: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] | None = Field(None, min_length=1, max_length=30)
    choice_label: str | None = Field(None, max_length=50)
    # 常用意见: opinions offered beside the comment box, one press to fill it in
    phrases: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] | None = Field(None, min_length=1, max_length=12)


class Card(_Part):
    handler: str = Field(pattern=NAME)
    title: str = Field(min_length=1, max_length=200)
    status: CardStatus | None = None
    fields: list[CardField] = Field(default_factory=list, max_length=30)
    body: str = Field("", max_length=10_000)
    links: list[CardLink] = Field(default_factory=list, max_length=20)
    actions: list[CardAction] = Field(default_factory=list, max_length=8)
    footer: str = Field("", max_length=500)
    # The handler's own state (shown to members: never put secrets here).
    data: dict[str, Any] = Field(default_factory=dict)

    def action(self, action_id: str) -> CardAction | None:
        return next((a for a in self.actions if a.id == action_id), None)

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


@dataclass(frozen=True, slots=True)
class CardActionContext:
    """What a handler is told: who pressed which button on which card."""

    message: dict[str, Any]
    card: Card
    actor: Principal
    member_role: str
    action: str
    comment: str
    choice: str = ""  # the pick, for an action with choices


@dataclass(frozen=True, slots=True)
class Acted:
    """A handler's answer: the card's new state and the effects its action causes."""

    card: Card
    effects: tuple[Later, ...] = ()


CardHandler = Callable[[AsyncConnection, CardActionContext], Awaitable[Acted]]


class CardHandlers:
    """Handlers by card `handler` name; a feature registers its own in `setup(app)`."""

    def __init__(self) -> None:
        self._handlers: dict[str, CardHandler] = {}

    def register(self, name: str, handler: CardHandler) -> None:
        if name in self._handlers:
            raise ValueError(f"card handler {name!r} registered twice")
        self._handlers[name] = handler

    def get(self, name: str) -> CardHandler | None:
        return self._handlers.get(name)


CARD_HANDLERS: Final = web.AppKey("card_handlers", CardHandlers)
