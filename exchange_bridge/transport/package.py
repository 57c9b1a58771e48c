"""What travels between exchange nodes, as pure functions over bytes (no I/O).

A **package** is a zip (`manifest.json`, `document.xml`, `attachments/<name>`), signed
by the sending unit (CMS SignedData) and then enveloped to every recipient unit (CMS
EnvelopedData). Only `Header` travels in the clear (HTTP headers): the ids and unit
codes a relay needs to route it; the title and everything else are inside.

A **receipt** (签收回执) is a small JSON document signed by the recipient unit (not
encrypted): which package, which unit, which status (delivered, signed, read, returned)
and the reason of a return.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "Content", "Header", "PackageError", "Receipt", "build_content", "new_id", "parse_content", "RECEIPT_STATUSES",
]

ID = re.compile(r"^[0-9a-f]{32}$")
UNIT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ATTACHMENT_NAME = re.compile(r"^[^/\\\x00-\x1f]{1,200}$")
KINDS = ("package", "receipt")
RECEIPT_STATUSES = ("delivered", "signed", "read", "returned")
RELAY_STATUSES = ("quarantined", "failed")
MAX_RECIPIENTS = 200
MAX_FILES = 500


class PackageError(ValueError):
    """Malformed package or receipt; `reason` is a stable code, `detail` says what."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Header:
    """The clear-text routing header (HTTP `Changtong-*` headers)."""

    kind: str
    message_id: str
    sender: str
    units: tuple[str, ...]

    def to_http(self) -> dict[str, str]:
        return {
            "Changtong-Kind": self.kind,
            "Changtong-Id": self.message_id,
            "Changtong-From": self.sender,
            "Changtong-To": ",".join(self.units),
        }

    @classmethod
    def from_http(cls, headers: Any) -> Header:
        kind = headers.get("Changtong-Kind", "")
        message_id = headers.get("Changtong-Id", "")
        sender = headers.get("Changtong-From", "")
        units = tuple(u.strip() for u in headers.get("Changtong-To", "").split(",") if u.strip())
        if kind not in KINDS:
            raise PackageError("bad_header", f"Changtong-Kind must be one of {', '.join(KINDS)}")
        if not ID.match(message_id):
            raise PackageError("bad_header", "Changtong-Id must be 32 lower-case hex digits")
        if not UNIT.match(sender):
            raise PackageError("bad_header", "Changtong-From must be a unit code")
        if not units or len(units) > MAX_RECIPIENTS or not all(UNIT.match(u) for u in units):
            raise PackageError("bad_header", f"Changtong-To must list 1 to {MAX_RECIPIENTS} unit codes")
        return cls(kind, message_id, sender, tuple(dict.fromkeys(units)))


@dataclass(frozen=True, slots=True)
class Content:
    """The signed inside of a package."""

    manifest: dict[str, Any]
    document: bytes
    attachments: dict[str, bytes] = field(default_factory=dict)

    @property
    def package_id(self) -> str:
        return str(self.manifest["package_id"])

    @property
    def title(self) -> str:
        return str(self.manifest.get("title", ""))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_content(
    package_id: str, sender: str, recipients: list[str], title: str, document: bytes,
    attachments: dict[str, bytes] | None = None, extra: dict[str, Any] | None = None,
) -> bytes:
    """The zip that gets signed. Entries are stored in a fixed order with a fixed date."""
    attachments = attachments or {}
    for name in attachments:
        if not ATTACHMENT_NAME.match(name) or name in (".", ".."):
            raise PackageError("bad_attachment_name", name)
    manifest = {
        "version": 1,
        "package_id": package_id,
        "sender": sender,
        "recipients": list(recipients),
        "title": title,
        "created_at": datetime.now(UTC).isoformat(),
        "document": {"name": "document.xml", "sha256": _sha(document), "size": len(document)},
        "attachments": [{"name": n, "sha256": _sha(b), "size": len(b)} for n, b in attachments.items()],
        **(extra or {}),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        entries = [("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode()), ("document.xml", document)]
        entries += [(f"attachments/{n}", b) for n, b in attachments.items()]
        for i, (name, data) in enumerate(entries):
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            # the XML compresses well; attachments (PDF, DOCX, images) mostly are compressed already
            info.compress_type = zipfile.ZIP_DEFLATED if i < 2 else zipfile.ZIP_STORED
            info.flag_bits |= 0x800  # UTF-8 names
            z.writestr(info, data)
    return buf.getvalue()


def parse_content(data: bytes, header: Header, max_bytes: int) -> Content:
    """Open a verified zip and check it against the header it came with: the same
    package id, sender and recipients, every file present with its stated hash, and
    no more than `max_bytes` unpacked (zip bombs)."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = z.infolist()
        if len(infos) > MAX_FILES + 2:
            raise PackageError("bad_content", "too many files")
        if sum(i.file_size for i in infos) > max_bytes:
            raise PackageError("bad_content", "unpacks past the size limit")
        manifest = json.loads(z.read("manifest.json"))
        document = z.read("document.xml")
        attachments = {a["name"]: z.read(f"attachments/{a['name']}") for a in manifest.get("attachments", [])}
    except PackageError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
        raise PackageError("bad_content", f"{exc.__class__.__name__}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("version") != 1:
        raise PackageError("bad_content", "unknown manifest version")
    if manifest.get("package_id") != header.message_id or manifest.get("sender") != header.sender:
        raise PackageError("header_mismatch", "the signed manifest names another package or sender")
    if not set(header.units) <= set(manifest.get("recipients", [])):
        raise PackageError("header_mismatch", "the header names units the signed manifest does not")
    if _sha(document) != manifest.get("document", {}).get("sha256"):
        raise PackageError("bad_content", "document.xml does not match its hash")
    for a in manifest.get("attachments", []):
        if _sha(attachments[a["name"]]) != a.get("sha256"):
            raise PackageError("bad_content", f"attachment {a['name']} does not match its hash")
    return Content(manifest, document, attachments)


@dataclass(frozen=True, slots=True)
class Receipt:
    """Signed by the recipient `unit` itself; or, for a package a relay could not hand
    over, a **relay notice** signed by the relay (`relay`), which may only say that the
    package was quarantined or refused further on."""

    receipt_id: str
    package_id: str
    unit: str  # the recipient unit the receipt is about
    status: str
    reason: str = ""
    at: str = ""
    relay: str = ""  # set on a relay notice: the relay unit that signed it
    by: str = ""  # who signed for or returned it (a name, for the sender's clerk to read)

    def to_bytes(self) -> bytes:
        obj = {"version": 1, "receipt_id": self.receipt_id, "package_id": self.package_id, "unit": self.unit,
               "status": self.status, "reason": self.reason, "at": self.at or datetime.now(UTC).isoformat()}
        if self.relay:
            obj["relay"] = self.relay
        if self.by:
            obj["by"] = self.by
        return json.dumps(obj, ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, data: bytes, header: Header) -> Receipt:
        """Parse a receipt whose CMS signature (by `header.sender`) is already verified."""
        try:
            obj = json.loads(data)
            r = cls(obj["receipt_id"], obj["package_id"], obj["unit"], obj["status"], obj.get("reason", ""),
                    obj.get("at", ""), obj.get("relay", ""), str(obj.get("by", ""))[:100])
        except (ValueError, KeyError, TypeError) as exc:
            raise PackageError("bad_content", f"receipt: {exc}") from exc
        if r.receipt_id != header.message_id:
            raise PackageError("header_mismatch", "the signed receipt names another id")
        if r.relay:
            if r.relay != header.sender or r.status not in RELAY_STATUSES:
                raise PackageError("header_mismatch", "a relay may only report a package quarantined or refused")
        elif r.unit != header.sender:
            raise PackageError("header_mismatch", "the receipt is not signed by the unit it is about")
        if r.status not in (*RECEIPT_STATUSES, *RELAY_STATUSES) or not ID.match(str(r.package_id)):
            raise PackageError("bad_content", "receipt status or package id")
        return r
