"""Workflows over Socket.IO, the same operations as REST (api.py): flow:list,
flow:start, flow:instance, flow:act, flow:tasks. The hub pushes `task` {todo} to a person
whenever their to-do count may have changed (a task given to them, or closed)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.db import DATABASE
from hub.realtime import REALTIME, EventContext

from . import service
from .rules import FlowEvent, InstanceRef, NoArgs, StartEvent, TaskQuery

__all__ = ["register"]


def register(app: web.Application) -> None:
    on, db = app[REALTIME].on, app[DATABASE]

    @on("flow:list")
    async def flow_list(ctx: EventContext, data: Any) -> dict[str, Any]:
        NoArgs.model_validate(data)
        return {"flows": await db.read(service.list_definitions)}

    @on("flow:start")
    async def flow_start(ctx: EventContext, data: Any) -> dict[str, Any]:
        body = StartEvent.model_validate(data)
        return {"instance": await db.write(service.start_tx, ctx.user_id, body.key, body.title, body.form)}

    @on("flow:instance")
    async def flow_instance(ctx: EventContext, data: Any) -> dict[str, Any]:
        ref = InstanceRef.model_validate(data)
        return {"instance": await db.read(service.visible_view, ctx.user_id, ctx.principal.is_admin, ref.instance_id)}

    @on("flow:act")
    async def flow_act(ctx: EventContext, data: Any) -> dict[str, Any]:
        body = FlowEvent.model_validate(data)
        op = body.operation()
        return {"instance": await db.write(service.act_tx, ctx.user_id, body.instance_id, op, ctx.principal.is_admin)}

    @on("flow:tasks")
    async def flow_tasks(ctx: EventContext, data: Any) -> dict[str, Any]:
        q = TaskQuery.model_validate(data)
        return {"tasks": await db.read(service.tasks_of, ctx.user_id, q.box)}
