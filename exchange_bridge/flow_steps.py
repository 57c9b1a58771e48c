"""The exchange bridge's part in workflows (docs/workflows.md, bots/flows/):

* 分发: the 发文 flow's `auto: dispatch` step sends the instance's `document` (the JSON
  the desk's Word import gives), under the 文号 its 编号 step took, to the unit codes in
  `recipients`, through the desk (signed, encrypted, tracked on a 发文 card) as the
  clerk whose 用印 led to it;
* 签收 starts 收文: a clerk's 签收 on an arriving document's card starts the built-in
  收文 flow (where it is imported) with the document's head as the form, the clerk as
  its initiator. It is an effect queued with the 签收, so the receipt never waits on the
  flow, and it starts at most one instance per package.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from aiohttp import web
from pydantic import ValidationError

from bots.schema import flow_definitions, flow_instances
from bots.workflow import service
from bots.workflow.definition import Node
from bots.workflow.hooks import flow_hooks
from hub.auth import Principal
from hub.db import DATABASE
from hub.effects import EFFECTS, Effect
from hub.errors import BadRequest, HubError
from hub.i18n import translate as t

from .model import Document

if TYPE_CHECKING:
    from .desk import Desk

__all__ = ["RECEIVE_FLOW", "START_RECEIPT_EFFECT", "receipt_flow_payload", "register"]

log = logging.getLogger(__name__)

RECEIVE_FLOW = "shouwen"  # bots/flows/shouwen.yaml
START_RECEIPT_EFFECT = "exchange.start_receipt_flow"


def document_of(form: dict[str, Any]) -> tuple[Document, list[str]]:
    """The document to send and its recipients, from a 发文 instance's form (pure)."""
    document, recipients = form.get("document"), form.get("recipients")
    if not isinstance(document, dict) or not isinstance(recipients, list) or not recipients:
        raise BadRequest("error.flow_dispatch_incomplete")
    number = form.get("文号")
    try:
        return Document.from_json({**document, **({"number": number} if number else {})}), [str(r) for r in recipients]
    except ValidationError:
        raise BadRequest("error.flow_dispatch_incomplete") from None


def receipt_flow_payload(card: Any, package_id: str, clerk: int, channel_id: int) -> dict[str, Any]:
    """What the 收文 instance starts with: the arriving card's head, as a form, and the
    desk channel it arrived in (where the instance's progress card follows it)."""
    form = {f.label: f.value for f in card.fields[:8]}
    return {"package_id": package_id, "clerk": clerk, "title": card.title, "form": {**form, "_package_id": package_id, "_channel_id": channel_id}}


def register(app: web.Application, desk: Desk) -> None:
    async def dispatch(instance: dict[str, Any], who: Principal, step: Node) -> None:
        doc, recipients = document_of(instance["form"])
        await desk.send(who, doc, recipients)

    async def start_receipt_flow(effect: Effect) -> None:
        p = effect.payload
        try:
            await app[DATABASE].write(_start_once, p)
        except HubError as exc:  # the flow cannot start (no leader in the unit, say): tell the clerk
            log.warning("收文 flow for package %s not started: %s", p["package_id"], exc.key)
            await desk.tell(int(p["clerk"]), t("desk.receipt_flow_failed", title=p["title"], reason=t(exc.key, **exc.params)))

    flow_hooks(app).register("dispatch", dispatch)
    app[EFFECTS].register(START_RECEIPT_EFFECT, start_receipt_flow)


def _start_once(conn: sa.Connection, p: dict[str, Any]) -> None:
    if conn.execute(sa.select(flow_definitions.c.key).where(flow_definitions.c.key == RECEIVE_FLOW).limit(1)).first() is None:
        return  # no 收文 flow imported here: 签收 is all there is
    started = conn.execute(
        sa.select(flow_instances.c.id).where(
            flow_instances.c.flow_key == RECEIVE_FLOW, flow_instances.c.state[("form", "_package_id")].as_string() == p["package_id"],
        ).limit(1)
    ).first()
    if started is None:  # a repeated run of the effect starts nothing more
        service.start_tx(conn, int(p["clerk"]), RECEIVE_FLOW, str(p["title"])[:200], p["form"])
