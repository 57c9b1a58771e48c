"""The bodies of the workflow requests, over REST and Socket.IO alike (pydantic: extra
keys refused, sizes bounded)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from rooms.rules import Strict

from . import engine

__all__ = ["FlowEvent", "InstanceRef", "NoArgs", "OperationBody", "ProxyBody", "StartBody", "StartEvent", "TaskQuery"]


def _people_keys(form: dict[str, Any] | None) -> dict[str, Any] | None:
    """A form as people send it: a key starting with `_` is a feature's own (the channel
    a 收文 follows, a sub-flow's parent) and never comes from a request."""
    if form and any(str(k).startswith("_") for k in form):
        raise ValueError("form keys starting with _ are the hub's own")
    return form


class StartBody(Strict):
    title: str = Field(min_length=1, max_length=200)
    form: dict[str, Any] = Field(default_factory=dict)

    _form = field_validator("form")(_people_keys)


class OperationBody(Strict):
    """The operations people carry out (the clock's timeout is the hub's own)."""

    kind: Literal[
        "approve", "reject", "return", "transfer", "delegate", "add_sign", "remove_sign", "read", "claim",
        "take_back", "withdraw", "urge", "jump", "terminate", "reopen", "attend", "decline",
    ]
    task_id: int | None = Field(default=None, ge=1, le=1_000_000)
    opinion: str = Field(default="", max_length=2000)
    to: Annotated[str, StringConstraints(max_length=64)] | int | None = None  # a node id or a user id
    position: Literal["before", "after"] = "after"
    form: dict[Annotated[str, StringConstraints(max_length=64)], Any] | None = Field(default=None, max_length=100)  # approve: the step's fields

    _form = field_validator("form")(_people_keys)

    def operation(self) -> engine.Operation:
        return engine.Operation(self.kind, self.task_id, self.opinion, self.to, self.position, self.form or None)


class ProxyBody(Strict):
    """代理: `proxy` (a username) holds the caller's tasks from `starts_at` to `ends_at`
    (ISO 8601 with an offset); an administrator may set one for `user` too."""

    proxy: str = Field(min_length=1, max_length=64)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    user: str | None = Field(default=None, min_length=1, max_length=64)


class TaskQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    box: Literal["todo", "done", "started", "cc"] = "todo"


class NoArgs(Strict):
    """An event that takes nothing: `{}` (anything else is refused like any bad payload)."""


class StartEvent(StartBody):
    """flow:start: the flow's key beside the body."""

    key: str = Field(min_length=1, max_length=64)


class InstanceRef(Strict):
    instance_id: int = Field(ge=1, le=2**63 - 1)


class FlowEvent(OperationBody):
    """flow:act: an operation on one instance."""

    instance_id: int = Field(ge=1, le=2**63 - 1)
