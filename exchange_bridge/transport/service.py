"""The exchange service of one node: send a document, take in what arrives, move
receipts, relay what is addressed to others.

Sending: the document zip is signed with the node's unit key, enveloped to every
recipient's certificate, written under `<data_dir>/exchange/out/`, and queued in the
outbox once per neighbour (a county reached through the city is queued to the city).
Arriving (`receive`): the message id is checked against everything seen (a duplicate
is answered, never stored twice); units other than ours are relayed unopened; what is
ours is decrypted, verified with OpenSSL against our trusted roots, its signer matched
to the sender's pinned certificate, its manifest matched to the header. Anything that
fails is quarantined with its reason. An arrival answers the sender with a signed
receipt (`delivered`); `sign_for`, `mark_read` and `return_package` send the others.

Hooks for the rest of the hub (cards, the web client): `on_arrival`, `on_receipt`,
`on_quarantine`; each is a list of async callables run after the commit.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.exc import IntegrityError

from hub.db import Database, after_commit
from hub.effects import Effect
from hub.effects import enqueue as enqueue_effect
from hub.errors import BadRequest, Conflict, NotFound

from ..pki import CmsError, Identity, NodePki, check_chain, decrypt, envelope, fingerprint, sign, verify_async
from . import store
from .package import Content, Header, PackageError, Receipt, build_content, new_id, parse_content

__all__ = ["Arrival", "Exchange", "NoRoute"]

log = logging.getLogger(__name__)

RECEIPT_EFFECT = "exchange.receipt"  # hub/effects.py: sign and queue a receipt after the commit
RECEIPT_IDS = uuid.UUID("5d0c1f8e-6b1a-4c57-9a43-2f3c0e7b9d11")  # namespace of receipt ids derived from effects


class NoRoute(Exception):
    def __init__(self, unit: str) -> None:
        self.unit = unit
        super().__init__(unit)


@dataclass(frozen=True, slots=True)
class Arrival:
    """A package that reached its recipient here, verified."""

    package_id: str
    sender: str
    title: str
    content: Content


@dataclass(frozen=True, slots=True)
class ReceiptEvent:
    package_id: str
    unit: str
    status: str
    reason: str
    by: str = ""  # who at `unit` signed for or returned it


@dataclass(frozen=True, slots=True)
class QuarantineEvent:
    quarantine_id: int  # for `Exchange.reprocess`
    message_id: str
    kind: str
    hop: str
    sender: str
    reason: str
    detail: str


Hook = Callable[[Any], Awaitable[None]]

# What the recipient may do from which state: 签收 or 退回 a delivered document, read
# it once delivered or signed for; a returned document stays returned.
RECIPIENT_MOVES = {"signed": ("delivered",), "read": ("delivered", "signed"), "returned": ("delivered",)}


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def route(peers: dict[str, dict[str, Any]], unit: str) -> str:
    """The neighbour a message for `unit` is POSTed to."""
    peer = peers.get(unit)
    if peer is None:
        raise NoRoute(unit)
    if peer["url"]:
        return unit
    via = peers.get(peer["via"] or "")
    if via is None or not via["url"]:
        raise NoRoute(unit)
    return via["name"]


class ArrivalStore:
    """What stores an arrival's own rows in the transaction that stores the arrival (the
    desk: its 收文 card and the row that links it), so they commit together or not at
    all. `prepare` runs first, outside the transaction (slow work: parsing, lookups, a
    channel made on first use); `store` runs inside it with what `prepare` returned."""

    async def prepare(self, arrival: Arrival) -> Any:
        return None

    async def store(self, conn: Any, arrival: Arrival, prepared: Any) -> None:
        pass


class Exchange:
    def __init__(self, db: Database, data_dir: Path, max_package_bytes: int) -> None:
        self.db = db
        self.pki = NodePki.of(data_dir)
        self.root = Path(data_dir) / "exchange"
        self.max_package_bytes = max_package_bytes
        self.on_arrival: list[Hook] = []
        self.on_receipt: list[Hook] = []
        self.on_quarantine: list[Hook] = []
        self.arrival_store = ArrivalStore()  # the desk replaces it
        # Checks the document inside a verified package (the desk: our XML schema);
        # raises PackageError to quarantine it.
        self.check_document: Callable[[bytes], None] | None = None
        self.queued: list[Callable[[], None]] = []  # the outbox's wake-up
        self._identity: Identity | None = None

    # -- identity and files ----------------------------------------------------------

    @property
    def identity(self) -> Identity:
        if self._identity is None:
            if not self.pki.has_identity():
                raise NotFound("error.exchange_no_identity")
            self._identity = Identity.load(self.pki)
        return self._identity

    def _write(self, folder: str, name: str, data: bytes) -> str:
        d = self.root / folder
        d.mkdir(parents=True, exist_ok=True)
        path = d / name
        tmp = d / f".{name}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return str(path)

    async def write(self, folder: str, name: str, data: bytes) -> str:
        return await asyncio.to_thread(self._write, folder, name, data)

    def _wake(self) -> None:
        for fn in self.queued:
            fn()

    # -- sending ---------------------------------------------------------------------

    async def send_document(
        self, *, title: str, document: bytes, recipients: list[str], attachments: dict[str, bytes] | None = None,
        extra: dict[str, Any] | None = None, also: Callable[[Any, str], Awaitable[Any]] | None = None,
    ) -> str:
        """Sign, encrypt and queue a document for `recipients` (unit codes); returns the
        package id. Raises NotFound (`exchange_no_route`) for a unit we cannot reach.
        `also(conn, package_id)` runs inside the transaction that queues it (the desk's
        tracking card): both commit, or neither."""
        me = self.identity
        recipients = list(dict.fromkeys(recipients))
        if not recipients or me.unit in recipients:
            raise BadRequest("error.exchange_bad_package", detail="recipients")
        async with self.db.connect() as conn:
            peers = await store.peers(conn)
        try:
            hops: dict[str, list[str]] = {}
            for unit in recipients:
                hops.setdefault(route(peers, unit), []).append(unit)
        except NoRoute as exc:
            raise NotFound("error.exchange_no_route", unit=exc.unit) from exc
        certs = [x509.load_pem_x509_certificate(peers[u]["cert_pem"].encode()) for u in recipients]
        package_id = new_id()
        try:
            content = build_content(package_id, me.unit, recipients, title, document, attachments, extra)
        except PackageError as exc:
            raise BadRequest("error.exchange_bad_package", detail=exc.detail) from exc
        der = await asyncio.to_thread(lambda: envelope(sign(content, me.cert, me.key), certs))
        path = await self.write("out", f"{package_id}.p7m", der)
        async with self.db.begin() as conn:
            await store.track(conn, package_id, recipients, title)
            for hop, units in hops.items():
                await store.enqueue(conn, kind="package", message_id=package_id, hop=hop, sender=me.unit, units=units, path=path)
            if also is not None:
                await also(conn, package_id)
            after_commit(conn, self._after(self._wake))
        return package_id

    def _after(self, fn: Callable[[], None]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            fn()
        return run

    async def _queue_receipt(
        self, conn: Any, package_id: str, to: str, status: str, reason: str = "", about: str | None = None, by: str = "",
    ) -> None:
        """Decide a receipt for `to` in the caller's transaction. With `about` (another
        unit) it is a relay notice: this relay reports that the package for `about` went
        no further. Signing it and writing its file are slow, so they are an effect
        (`sign_receipt`, after the commit): the write lock is never held while signing."""
        payload = {"package_id": package_id, "to": to, "status": status, "reason": reason, "about": about, "by": by}
        await conn.run_sync(enqueue_effect, RECEIPT_EFFECT, payload)

    async def sign_receipt(self, effect: Effect) -> Any:
        """The effect of `_queue_receipt`: sign the receipt, write its file, then (in the
        transaction that retires the effect) queue it in the outbox. Its id derives from
        the effect's, so a second run rewrites the same file and queues nothing twice."""
        me = self.identity
        p = effect.payload
        about = p.get("about")
        receipt_id = uuid.uuid5(RECEIPT_IDS, f"{me.unit}:{effect.id}:{p['package_id']}:{p['status']}:{about or ''}").hex
        receipt = Receipt(
            receipt_id, p["package_id"], about or me.unit, p["status"], p["reason"], relay=me.unit if about else "", by=p.get("by", ""),
        )
        async with self.db.connect() as conn:
            peers = await store.peers(conn)
        try:
            hop = route(peers, p["to"])
        except NoRoute:
            log.warning("exchange: no route for the %s receipt of %s to %s", p["status"], p["package_id"], p["to"])
            return None
        der = await asyncio.to_thread(sign, receipt.to_bytes(), me.cert, me.key)
        path = await self.write("receipts", f"{receipt.receipt_id}.p7m", der)
        row = store.enqueue_statement(kind="receipt", message_id=receipt_id, hop=hop, sender=me.unit, units=[p["to"]], path=path)

        def finish(conn: Any) -> None:
            conn.execute(row)
            after_commit(conn, self._after(self._wake))

        return finish

    # -- the recipient's actions -----------------------------------------------------

    # Each takes the caller's transaction when given one (a card action stores the
    # card's new state in the same transaction), else its own.

    async def sign_for(self, package_id: str, conn: Any = None, by: str = "") -> None:
        """签收: the recipient unit acknowledges the document (`by`: who, named in the receipt)."""
        await self._act(package_id, "signed", conn=conn, by=by)

    async def mark_read(self, package_id: str, conn: Any = None) -> None:
        await self._act(package_id, "read", conn=conn)

    async def return_package(self, package_id: str, reason: str, conn: Any = None, by: str = "") -> None:
        """退回 with a reason."""
        if not reason.strip():
            raise BadRequest("error.exchange_bad_package", detail="reason")
        await self._act(package_id, "returned", reason.strip(), conn=conn, by=by)

    async def _act(self, package_id: str, status: str, reason: str = "", conn: Any = None, by: str = "") -> None:
        if conn is None:
            async with self.db.begin() as own:
                await self._act(package_id, status, reason, own, by)
            return
        row = await store.arrival(conn, package_id)
        if row is None:
            raise NotFound("error.exchange_unknown_package", package_id=package_id)
        if row["status"] not in RECIPIENT_MOVES[status]:
            raise Conflict("error.exchange_bad_status", current=row["status"], status=status)
        await store.set_arrival_status(conn, package_id, status, reason)
        await self._queue_receipt(conn, package_id, row["sender"], status, reason, by=by)

    async def open_arrival(self, package_id: str) -> Content:
        """Decrypt and verify a stored arrival again (for the card, the web client)."""
        async with self.db.connect() as conn:
            row = await store.arrival(conn, package_id)
        if row is None:
            raise NotFound("error.exchange_unknown_package", package_id=package_id)
        der = await asyncio.to_thread(Path(row["path"]).read_bytes)
        header = Header("package", package_id, row["sender"], (self.identity.unit,))
        content, _ = await self._open(header, der)
        return content

    # -- arriving --------------------------------------------------------------------

    async def receive(self, header: Header, body: bytes, hop: str) -> dict[str, Any]:
        """Take in one POSTed message from neighbour `hop`; returns the answer."""
        me = self.identity
        sha = hashlib.sha256(body).hexdigest()
        async with self.db.connect() as conn:
            seen = await store.received(conn, header.message_id)
            peers = await store.peers(conn)
        if seen is not None:
            if seen["sha256"] == sha:
                return {"status": "duplicate"}
            return await self._quarantine(header, body, hop, "conflicting_duplicate", "the same id with other bytes")
        mine = me.unit in header.units
        others = [u for u in header.units if u != me.unit]
        relay: dict[str, list[str]] = {}
        unroutable: list[str] = []
        for unit in others:
            try:
                next_hop = route(peers, unit)
            except NoRoute:
                unroutable.append(unit)
                continue
            if next_hop == hop:  # never send a message back where it came from
                unroutable.append(unit)
            else:
                relay.setdefault(next_hop, []).append(unit)
        if unroutable and not mine and not relay:
            return await self._quarantine(header, body, hop, "no_route", ",".join(unroutable))
        opened: Any = None
        if mine:
            try:
                opened = await self._open(header, body) if header.kind == "package" else await self._open_receipt(header, body)
                if header.kind == "package" and self.check_document is not None:
                    await asyncio.to_thread(self.check_document, opened[0].document)
            except (CmsError, PackageError) as exc:
                return await self._quarantine(header, body, hop, exc.reason, getattr(exc, "detail", ""))
        folder = "in" if mine and header.kind == "package" else ("receipts-in" if mine else "relay")
        path = await self.write(folder, f"{header.message_id}.p7m", body)
        arrival: Arrival | None = None
        prepared: Any = None
        if mine and header.kind == "package":
            content = opened[0]
            arrival = Arrival(header.message_id, header.sender, content.title, content)
            prepared = await self.arrival_store.prepare(arrival)
        outcome = ("arrival" if header.kind == "package" else "receipt") if mine else "relayed"
        try:
            async with self.db.begin() as conn:
                await store.mark_received(conn, header.message_id, header.kind, sha, outcome, hop)
                for next_hop, units in relay.items():
                    await store.enqueue(
                        conn, kind=header.kind, message_id=header.message_id, hop=next_hop, sender=header.sender,
                        units=units, path=path, relayed=True,
                    )
                    after_commit(conn, self._after(self._wake))
                if arrival is not None:
                    content = arrival.content
                    await store.add_arrival(conn, header.message_id, header.sender, content.title, content.manifest, path)
                    await self.arrival_store.store(conn, arrival, prepared)
                    await self._queue_receipt(conn, header.message_id, header.sender, "delivered")
                    after_commit(conn, self._hooks(self.on_arrival, arrival))
                elif mine:
                    receipt: Receipt = opened
                    moved = await store.move_tracking(
                        conn, receipt.package_id, [receipt.unit], receipt.status, receipt.reason, receipt.by,
                    )
                    if moved:
                        event = ReceiptEvent(receipt.package_id, receipt.unit, receipt.status, receipt.reason, receipt.by)
                        after_commit(conn, self._hooks(self.on_receipt, event))
        except IntegrityError:  # the same id arrived twice at once: the other one won
            return {"status": "duplicate"}
        if unroutable:
            log.warning("exchange: %s %s has no route to %s", header.kind, header.message_id, ",".join(unroutable))
        if mine:
            return {"status": "accepted" if header.kind == "package" else "receipt"}
        return {"status": "relayed"}

    async def _signer_is_sender(self, header: Header, signer: x509.Certificate) -> None:
        async with self.db.connect() as conn:
            peers = await store.peers(conn)
        peer = peers.get(header.sender)
        if peer is None or peer["fingerprint"] != fingerprint(signer):
            raise CmsError("unknown_signer", f"signed by {fingerprint(signer)[:16]}…, not the registered certificate of {header.sender}")

    async def _open(self, header: Header, der: bytes) -> tuple[Content, x509.Certificate]:
        me = self.identity
        signed = await asyncio.to_thread(decrypt, der, me.cert, me.key)
        verified = await verify_async(signed, self.pki.trust_file)
        await self._signer_is_sender(header, verified.signer)
        return parse_content(verified.content, header, self.max_package_bytes), verified.signer

    async def _open_receipt(self, header: Header, der: bytes) -> Receipt:
        verified = await verify_async(der, self.pki.trust_file)
        await self._signer_is_sender(header, verified.signer)
        return Receipt.from_bytes(verified.content, header)

    async def _quarantine(self, header: Header, body: bytes, hop: str, reason: str, detail: str) -> dict[str, Any]:
        log.warning("exchange: quarantined %s %s from %s via %s: %s %s", header.kind, header.message_id, header.sender, hop, reason, detail[:200])
        path = await self.write("quarantine", f"{header.message_id}-{new_id()[:8]}.p7m", body)
        async with self.db.begin() as conn:
            quarantine_id = await store.quarantine(
                conn, message_id=header.message_id, kind=header.kind, hop=hop, sender=header.sender, reason=reason,
                detail=detail, path=path,
            )
            event = QuarantineEvent(quarantine_id, header.message_id, header.kind, hop, header.sender, reason, detail)
            after_commit(conn, self._hooks(self.on_quarantine, event))
        return {"status": "quarantined", "reason": reason}

    def _hooks(self, hooks: list[Hook], event: Any) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            for hook in list(hooks):
                try:
                    await hook(event)
                except Exception:  # a failing listener must not undo a stored arrival
                    log.exception("exchange hook failed")
        return run

    # -- the sender's side of the outbox ---------------------------------------------

    async def hop_answered(self, row: dict[str, Any], answer: dict[str, Any]) -> None:
        status = answer.get("status", "")
        async with self.db.begin() as conn:
            await store.outbox_done(conn, row["id"], status)
            if row["kind"] == "package" and not row["relayed"]:
                moved: list[str] = []
                tracked, reason = ("quarantined", answer.get("reason", "")) if status == "quarantined" else ("sent", "")
                if status == "quarantined" or status in ("accepted", "relayed", "duplicate"):
                    moved = await store.move_tracking(conn, row["message_id"], row["units"], tracked, reason)
                self._tracking_moved(conn, row["message_id"], moved, tracked, reason)
            elif row["kind"] == "package" and status == "quarantined":
                await self._notify_sender(conn, row, "quarantined", answer.get("reason", ""))

    async def hop_refused(self, row: dict[str, Any], error: str) -> None:
        """A permanent refusal (malformed, too large): no retry."""
        async with self.db.begin() as conn:
            await store.outbox_done(conn, row["id"], "refused", state="failed", error=error)
            if row["kind"] == "package" and not row["relayed"]:
                moved = await store.move_tracking(conn, row["message_id"], row["units"], "failed", error)
                self._tracking_moved(conn, row["message_id"], moved, "failed", error)
            elif row["kind"] == "package":
                await self._notify_sender(conn, row, "failed", error)

    async def _notify_sender(self, conn: Any, row: dict[str, Any], status: str, reason: str) -> None:
        """A package we relayed was quarantined or refused further on: tell its sender,
        by a relay notice per recipient unit (the sender's tracking shows the reason)."""
        log.warning("exchange: relayed package %s for %s was %s by %s: %s", row["message_id"], ",".join(row["units"]), status, row["hop"], reason)
        for unit in row["units"]:
            await self._queue_receipt(conn, row["message_id"], row["sender"], status, reason, about=unit)

    def _tracking_moved(self, conn: Any, package_id: str, units: list[str], status: str, reason: str) -> None:
        """A hop's answer moved the sender's tracking: tell `on_receipt` listeners too."""
        for unit in units:
            after_commit(conn, self._hooks(self.on_receipt, ReceiptEvent(package_id, unit, status, reason)))

    async def reprocess(self, quarantine_id: int) -> dict[str, Any]:
        """Take a quarantined message in again, once its cause is fixed (the sender's
        certificate trusted, say). It is treated as addressed to this node; what fails
        again is quarantined again with its reason. Returns the answer `receive` gives."""
        async with self.db.connect() as conn:
            row = await store.quarantined_one(conn, quarantine_id)
        if row is None:
            raise NotFound("error.exchange_unknown_package", package_id=str(quarantine_id))
        body = await asyncio.to_thread(Path(row["path"]).read_bytes)
        header = Header(row["kind"], row["message_id"], row["sender"], (self.identity.unit,))
        return await self.receive(header, body, row["hop"])

    # -- operators -------------------------------------------------------------------

    async def retry_now(self, hop: str | None = None) -> int:
        """Send what waits for `hop` (or every neighbour) now, not at its backoff time:
        for an operator who has just brought a peer back. Returns how many rows."""
        async with self.db.begin() as conn:
            n = await store.retry_now(conn, hop)
            after_commit(conn, self._after(self._wake))
        return n

    async def add_peer(self, name: str, url: str, cert: x509.Certificate, via: str | None = None) -> None:
        if not url and not via:
            raise BadRequest("error.exchange_peer_needs_url", name=name)
        pem = cert.public_bytes(serialization.Encoding.PEM)
        try:
            await asyncio.to_thread(check_chain, pem, self.pki.trust_file)
        except CmsError as exc:
            raise BadRequest("error.exchange_untrusted_cert", path=name, detail=_last_line(exc.detail) or exc.reason) from exc
        async with self.db.begin() as conn:
            if via is not None and via not in await store.peers(conn):
                raise NotFound("error.exchange_unknown_peer", name=via)
            await store.upsert_peer(conn, name, url.rstrip("/"), via, pem.decode(), fingerprint(cert))

    async def state(self) -> dict[str, Any]:
        async with self.db.connect() as conn:
            return {
                "peers": [
                    {k: v for k, v in p.items() if k != "cert_pem"} for p in (await store.peers(conn)).values()
                ],
                "sent": await store.tracking(conn),
                "inbox": await store.arrivals(conn),
                "outbox": await store.outbox(conn),
                "quarantine": await store.quarantined(conn),
            }


