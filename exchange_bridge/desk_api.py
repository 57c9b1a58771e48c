"""REST edge of the 收发 desk (/api/v1/exchange/…): read a Word file into fields,
send a document to units, list the units this node reaches, and look at an arrived
document in its conventional layout or as a red-header Word file.

Who may: the desk's channel members (clerks, administrators) — the same people who see
its cards; everyone else gets not_found for documents and forbidden for sending.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.auth import Principal

from hub.errors import BadRequest, Forbidden, NotFound
from hub.http import json_body, json_response, principal, read_body
from hub.i18n import translate as t
from rooms import store as room_store

from .desk import DESK_ROLES, Desk
from .docx_import import import_docx_bytes
from .model import FIELD_LABELS, UP, Document
from .transport import store as xstore
from .xml_codec import load_xml

MAX_DOCX_BYTES = 20 * 1024 * 1024
PACKAGE_ID = r"{package_id:[0-9a-f]{32}}"
TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def _templates() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined)


def document_page(doc: Document, links: list[dict[str, str]]) -> str:
    """The document in the conventional layout of its direction, as one HTML page:
    上行文 put 签发人 beside the number, others centre the number. Every value is escaped."""
    missing = [FIELD_LABELS[f] for f in doc.lacking()]  # only what its kind and direction require
    return _templates().get_template("document.html").render(
        doc=doc, up=doc.direction == UP, links=links, page_title=t("desk.view"),
        missing=t("desk.view_missing", fields="、".join(missing)) if missing else "",
    )


class SendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: dict[str, Any]
    recipients: list[str] = Field(min_length=1, max_length=100)


def routes(desk: Desk) -> list[web.RouteDef]:
    async def may_see_desk(who: Principal) -> bool:
        channel_id = await desk.channel("in")
        async with desk.db.connect() as conn:
            return who.is_admin or await room_store.membership(conn, channel_id, who.user_id) is not None

    async def arrived(request: web.Request) -> tuple[dict[str, Any], Document]:
        """The arrival (its inbox row) and its document, for someone on the desk."""
        who = await principal(request)
        package_id = request.match_info["package_id"]
        async with desk.db.connect() as conn:
            row = await xstore.arrival(conn, package_id)
        if row is None or not await may_see_desk(who):
            raise NotFound("error.not_found")
        content = await desk.exchange.open_arrival(package_id)
        return row, await asyncio.to_thread(load_xml, content.document)

    async def view(request: web.Request) -> web.Response:
        row, doc = await arrived(request)
        package_id = row["package_id"]
        if row["status"] == "signed":
            await desk.exchange.mark_read(package_id)  # the recipient read what it signed for
        links = [{"text": t("desk.download_docx"), "url": f"/api/v1/exchange/documents/{package_id}/redhead.docx"}]
        page = document_page(doc, links)
        return web.Response(text=page, content_type="text/html", headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'",
            "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
        })

    async def redhead(request: web.Request) -> web.Response:
        from .render import render_docx

        row, doc = await arrived(request)
        data = await asyncio.to_thread(render_docx, doc)
        name = f"{(doc.title or row['package_id'])[:80]}.docx"
        return web.Response(body=data, headers={
            "Content-Type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "Content-Disposition": f"attachment; filename=\"document.docx\"; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "private, no-store",
        })

    async def import_word(request: web.Request) -> web.Response:
        """A .docx in the body → the fields it yields, and the ones it does not."""
        who = await principal(request)
        if not DESK_ROLES & set(who.roles):
            raise Forbidden("error.desk_not_clerk")
        data = await read_body(request, MAX_DOCX_BYTES)
        doc = await asyncio.to_thread(import_docx_bytes, data)
        return json_response({"document": doc.to_json(), "missing": doc.missing, "lacking": doc.lacking(), "labels": dict(FIELD_LABELS)})

    async def send(request: web.Request) -> web.Response:
        who = await principal(request)
        body = await json_body(request, SendBody)
        try:
            doc = Document.from_json(body.document)
        except ValidationError as exc:
            raise BadRequest("error.bad_request") from exc
        result = await desk.send(who, doc, body.recipients)
        return json_response(result, status=201)

    async def peers(request: web.Request) -> web.Response:
        who = await principal(request)
        if not DESK_ROLES & set(who.roles):
            raise Forbidden("error.desk_not_clerk")
        async with desk.db.connect() as conn:
            known = await xstore.peers(conn)
            names = await desk.unit_names(conn, list(known))
        units = [{"code": code, "name": names.get(code, code), "via": p["via"]} for code, p in sorted(known.items())]
        return json_response({"units": units})

    return [
        web.get(f"/api/v1/exchange/documents/{PACKAGE_ID}/view", view),
        web.get(f"/api/v1/exchange/documents/{PACKAGE_ID}/redhead.docx", redhead),
        web.post("/api/v1/exchange/import", import_word),
        web.post("/api/v1/exchange/send", send),
        web.get("/api/v1/exchange/units", peers),
    ]


__all__ = ["document_page", "routes"]
