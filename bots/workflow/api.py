"""REST for workflows: the flows one may start, starting one, an instance and its 办理单,
acting on it, one's tasks, standing proxies (代理). events.py carries the same over
Socket.IO; both take the bodies of rules.py."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from aiohttp import web

from hub.db import DATABASE
from hub.errors import BadRequest, Forbidden, NotFound
from hub.http import json_body, json_response, principal, read_body
from hub.i18n import translate as t
from hub.ids import path_id
from hub.schema import users

from . import audit, proxies, service
from .definition import DefinitionError
from .record import record_docx
from .rules import OperationBody, ProxyBody, StartBody, TaskQuery


def routes(assistant: Any) -> list[web.RouteDef]:
    """`assistant`: the workflow bot's BotHub (its identity: where the task cards come from)."""
    async def flows(request: web.Request) -> web.Response:
        await principal(request)
        me = await assistant.identity()
        return json_response({
            "flows": await request.app[DATABASE].read(service.list_definitions),
            "assistant": {"id": me.user_id, "username": me.username, "display_name": me.display_name, "is_bot": True},
        })

    async def import_flow(request: web.Request) -> web.Response:
        who = await principal(request)
        if not who.is_admin:
            raise Forbidden("error.admin_only")
        raw = await read_body(request, 256 * 1024)
        try:
            source = raw.decode("utf-8")
            defn, created = await request.app[DATABASE].write(service.import_definition, source)
        except (UnicodeDecodeError, DefinitionError) as exc:
            errors = getattr(exc, "errors", [{"line": 0, "path": "", "message": "not UTF-8"}])
            return json_response({"error": {"code": "bad_request", "message": str(exc)[:2000], "errors": errors}}, status=400)
        return json_response({"flow": {"key": defn.key, "version": defn.version, "name": defn.name}, "created": created}, status=201 if created else 200)

    async def start(request: web.Request) -> web.Response:
        who = await principal(request)
        body = await json_body(request, StartBody)
        key = request.match_info["key"]
        instance = await request.app[DATABASE].write(service.start_tx, who.user_id, key, body.title, body.form)
        return json_response({"instance": instance}, status=201)

    async def instance(request: web.Request) -> web.Response:
        who = await principal(request)
        instance_id = path_id(request.match_info["instance_id"])
        return json_response({"instance": await request.app[DATABASE].read(service.visible_view, who.user_id, who.is_admin, instance_id)})

    async def record(request: web.Request) -> web.Response:
        """办理单 as Word: the head, the form, the 流转记录 and its chain's check."""
        who = await principal(request)
        instance_id = path_id(request.match_info["instance_id"])

        def both(conn: sa.Connection) -> tuple[dict[str, Any], dict[str, Any]]:
            return service.visible_view(conn, who.user_id, who.is_admin, instance_id), audit.verify(conn, instance_id)

        view, chain = await request.app[DATABASE].read(both)
        body = await asyncio.to_thread(record_docx, view, chain)
        name = t("flow.record.filename", title=view["title"][:60], id=instance_id)
        return web.Response(body=body, headers={
            "Content-Type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "Content-Disposition": f"attachment; filename=\"record-{instance_id}.docx\"; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
        })

    async def operate(request: web.Request) -> web.Response:
        who = await principal(request)
        instance_id = path_id(request.match_info["instance_id"])
        body = await json_body(request, OperationBody)
        op = body.operation()
        instance = await request.app[DATABASE].write(service.act_tx, who.user_id, instance_id, op, who.is_admin)
        return json_response({"instance": instance})

    async def tasks(request: web.Request) -> web.Response:
        who = await principal(request)
        try:
            q = TaskQuery.model_validate(dict(request.query))
        except ValueError as exc:
            raise BadRequest("error.bad_request") from exc
        return json_response({"tasks": await request.app[DATABASE].read(service.tasks_of, who.user_id, q.box)})

    async def list_proxies(request: web.Request) -> web.Response:
        who = await principal(request)
        return json_response({"proxies": await request.app[DATABASE].read(proxies.list_proxies, who.user_id)})

    async def add_proxy(request: web.Request) -> web.Response:
        who = await principal(request)
        body = await json_body(request, ProxyBody)
        if body.user is not None and body.user != who.username and not who.is_admin:
            raise Forbidden("error.admin_only")

        def tx(conn: sa.Connection) -> dict[str, Any]:
            ids = {r.username: int(r.id) for r in conn.execute(sa.select(users.c.id, users.c.username).where(users.c.username.in_({body.proxy, body.user or who.username})))}
            if body.proxy not in ids or (body.user or who.username) not in ids:
                raise NotFound("error.flow_proxy_user_not_found")
            return proxies.add_proxy(conn, who.user_id, ids[body.user or who.username], ids[body.proxy], body.starts_at.astimezone(UTC), body.ends_at.astimezone(UTC))

        return json_response({"proxy": await request.app[DATABASE].write(tx)}, status=201)

    async def remove_proxy(request: web.Request) -> web.Response:
        who = await principal(request)
        await request.app[DATABASE].write(proxies.remove_proxy, who.user_id, who.is_admin, path_id(request.match_info["proxy_id"]))
        return json_response({"ok": True})

    return [
        web.get("/api/v1/flows", flows),
        web.get("/api/v1/flows/proxies", list_proxies),
        web.post("/api/v1/flows/proxies", add_proxy),
        web.delete(r"/api/v1/flows/proxies/{proxy_id:\d+}", remove_proxy),
        web.post("/api/v1/flows", import_flow),
        web.post(r"/api/v1/flows/{key}/instances", start),
        web.get(r"/api/v1/flows/instances/{instance_id:\d+}", instance),
        web.post(r"/api/v1/flows/instances/{instance_id:\d+}/operations", operate),
        web.get(r"/api/v1/flows/instances/{instance_id:\d+}/record.docx", record),
        web.get("/api/v1/tasks", tasks),
    ]
