"""The cards of the 收发 desk, pure: what an arriving document, a sent document's
tracking and a quarantined package look like in a channel.

They are ordinary cards (hub/cards.py), drawn by the one renderer; the handlers in
exchange_bridge/desk.py answer their buttons.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.cards import Card, CardAction, CardField, CardLink, CardStatus
from hub.i18n import translate as t

from .model import Document

INCOMING = "exchange.incoming"
OUTGOING = "exchange.outgoing"
QUARANTINED = "exchange.quarantined"

SIGN, RETURN, REPROCESS = "sign", "return", "reprocess"

# A recipient's state as the sender sees it, and its tone.
TRACKING_TONES = {
    "queued": "info", "sent": "info", "delivered": "info", "signed": "success", "read": "success",
    "returned": "danger", "failed": "danger", "quarantined": "danger",
}


# 公文 are dated in Beijing time, whatever the server's clock zone.
BEIJING = ZoneInfo("Asia/Shanghai")


def local_time(at: datetime) -> str:
    """12月3日 10:42, in Beijing time (a naive time is UTC, as SQLite gives it back)."""
    at = at if at.tzinfo else at.replace(tzinfo=ZoneInfo("UTC"))
    local = at.astimezone(BEIJING)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def receipt_line(unit: str, title: str, status: str, reason: str, by: str) -> str:
    """The line the 发文 channel gets when a recipient signs for or returns a document."""
    key = "desk.notify.signed" if status == "signed" else "desk.notify.returned"
    line = t(key, unit=unit, title=title or t("desk.untitled"), reason=reason)
    return line + (t("desk.notify.by", by=by) if by else "")


def view_url(package_id: str) -> str:
    return f"/api/v1/exchange/documents/{package_id}/view"


def document_fields(doc: Document, sender: str = "") -> list[CardField]:
    """The head of a document as label/value rows (only what it has)."""
    rows: list[tuple[str, str | None]] = [
        (t("desk.field.number"), doc.number.text if doc.number else None),
        (t("desk.field.issuer"), "、".join(doc.signed_by) or doc.issuer),
        (t("desk.field.sender"), sender or None),
        (t("desk.field.kind"), doc.kind),
        (t("desk.field.urgency"), doc.urgency),
        (t("desk.field.secrecy"), doc.secrecy),
        (t("desk.field.date"), doc.date.text if doc.date else None),
        (t("desk.field.attachments"), "；".join(a.name for a in doc.attachments) or None),
    ]
    return [CardField(label=label, value=value) for label, value in rows if value]


def incoming_card(doc: Document, package_id: str, sender: str, state: str = "delivered", reason: str = "") -> Card:
    """收文: 签收 or 退回 while it waits; 查看 always."""
    status = {
        "delivered": CardStatus(text=t("desk.in.waiting"), tone="warning"),
        "signed": CardStatus(text=t("desk.in.signed"), tone="success"),
        "read": CardStatus(text=t("desk.in.signed"), tone="success"),
        # the status stays a short label; the reason has a line of its own (the body)
        "returned": CardStatus(text=t("desk.in.returned"), tone="danger"),
    }[state]
    actions = (
        [
            CardAction(id=SIGN, label=t("desk.in.sign"), style="primary"),
            CardAction(id=RETURN, label=t("desk.in.return"), style="danger", comment="required"),
        ]
        if state == "delivered"
        else []
    )
    urgent = f"【{doc.urgency}】" if doc.urgency else ""
    return Card(
        handler=INCOMING,
        title=(urgent + (doc.title or t("desk.untitled")))[:200],
        status=status,
        fields=document_fields(doc, sender),
        links=[CardLink(text=t("desk.view"), url=view_url(package_id))],
        actions=actions,
        body=t("desk.in.reason", reason=reason) if state == "returned" and reason else "",
        footer=t("desk.in.footer", direction=doc.direction or "—"),
        data={"package_id": package_id, "sender": sender, "state": state},
    )


def outgoing_card(title: str, number: str | None, package_id: str, recipients: Iterable[dict[str, Any]]) -> Card:
    """发文 tracking: one row per recipient unit, and a summary."""
    rows = list(recipients)
    fields = []
    if number:
        fields.append(CardField(label=t("desk.field.number"), value=number))
    for r in rows:
        state = t(f"desk.track.{r['status']}")
        if r.get("reason"):
            reason = t(f"desk.reason.{r['reason']}") if r["reason"] in KNOWN_REASONS else r["reason"]
            state = f"{state}：{reason}"
        if r.get("by"):  # 签收人 / 退回人 and when
            state += t("desk.track.by", by=r["by"], at=r.get("at", ""))
        fields.append(CardField(label=(r.get("name") or r["unit"])[:50], value=state[:2000]))
    done = sum(1 for r in rows if r["status"] in ("signed", "read"))
    returned = sum(1 for r in rows if r["status"] == "returned")
    bad = sum(1 for r in rows if r["status"] in ("returned", "failed", "quarantined"))
    tone = "danger" if bad else ("success" if rows and done == len(rows) else "info")
    if rows and returned == len(rows):
        summary = t("desk.track.returned")
    elif returned:
        summary = t("desk.track.summary_returned", done=done, total=len(rows), returned=returned)
    else:
        summary = t("desk.track.summary", done=done, total=len(rows))
    return Card(
        handler=OUTGOING,
        title=title[:200] or t("desk.untitled"),
        status=CardStatus(text=summary, tone=tone),
        fields=fields,
        data={"package_id": package_id, "number": number, "recipients": rows},
    )


def quarantine_card(quarantine_id: int, message_id: str, sender: str, reason: str, detail: str, done: str = "") -> Card:
    """A package that failed verification: its reason, for the unit's administrators."""
    return Card(
        handler=QUARANTINED,
        title=t("desk.q.title", sender=sender)[:200],
        status=CardStatus(text=done or t("desk.q.held"), tone="success" if done else "danger"),
        fields=[
            CardField(label=t("desk.q.reason"), value=t(f"desk.reason.{reason}") if reason in KNOWN_REASONS else reason),
            CardField(label=t("desk.q.detail"), value=detail[:2000] or "—"),
            CardField(label=t("desk.q.id"), value=message_id),
        ],
        actions=[] if done else [CardAction(id=REPROCESS, label=t("desk.q.reprocess"), style="primary")],
        footer=t("desk.q.footer"),
        data={"quarantine_id": quarantine_id, "message_id": message_id, "sender": sender},
    )


# The transport's stable quarantine reasons (pki.CmsError, transport.PackageError, routing).
KNOWN_REASONS = frozenset({
    "malformed", "decrypt_failed", "untrusted_signer", "bad_signature", "verify_timeout", "unknown_signer",
    "bad_content", "bad_header", "header_mismatch", "bad_attachment_name", "no_route", "conflicting_duplicate",
    "schema",
})
