"""Automatic steps another feature runs: `auto: dispatch` in a flow is the exchange
bridge's (it registers `dispatch` in its setup). A hook runs after the step's commit,
as an effect (at least once, retried on failure), with the instance as `service.view`
shows it, the person whose step led to it and the step itself (its `channel`, `field` …).
`publish` is the workflow bot's own: a 通知 card into the step's channel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from hub.auth import Principal

from .definition import Node

__all__ = ["FLOW_HOOKS", "FlowHooks", "Hook", "flow_hooks"]

Hook = Callable[[dict[str, Any], Principal, Node], Awaitable[None]]


class FlowHooks:
    def __init__(self) -> None:
        self._hooks: dict[str, Hook] = {}

    def register(self, action: str, hook: Hook) -> None:
        if action in self._hooks:
            raise ValueError(f"flow hook {action!r} registered twice")
        self._hooks[action] = hook

    def get(self, action: str) -> Hook | None:
        return self._hooks.get(action)


FLOW_HOOKS: Final = web.AppKey("flow_hooks", FlowHooks)


def flow_hooks(app: web.Application) -> FlowHooks:
    """The app's registry, made by whichever feature's setup asks first (the exchange is
    set up before the bots)."""
    if FLOW_HOOKS not in app:
        app[FLOW_HOOKS] = FlowHooks()
    return app[FLOW_HOOKS]
