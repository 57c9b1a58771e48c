"""Named queries of the exchange tables (SQLAlchemy Core; SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.db import now

from .tables import (
    exchange_inbox, exchange_outbox, exchange_peers, exchange_quarantine, exchange_received, exchange_tracking,
)

# The sender's tracking moves forward only; returned, quarantined and failed are final.
ORDER = {"queued": 0, "sent": 1, "delivered": 2, "signed": 3, "read": 4}
FINAL = ("returned", "quarantined", "failed")


def advances(current: str, new: str) -> bool:
    if current in FINAL:
        return False
    if new in FINAL:
        return True
    return ORDER.get(new, -1) > ORDER.get(current, -1)


async def peers(conn: AsyncConnection) -> dict[str, dict[str, Any]]:
    rows = (await conn.execute(sa.select(exchange_peers))).mappings().all()
    return {r["name"]: dict(r) for r in rows}


async def peer_by_fingerprint(conn: AsyncConnection, fp: str) -> dict[str, Any] | None:
    row = (await conn.execute(sa.select(exchange_peers).where(exchange_peers.c.fingerprint == fp))).mappings().first()
    return dict(row) if row else None


async def upsert_peer(conn: AsyncConnection, name: str, url: str, via: str | None, cert_pem: str, fp: str) -> None:
    await conn.execute(sa.delete(exchange_peers).where(sa.or_(exchange_peers.c.name == name, exchange_peers.c.fingerprint == fp)))
    await conn.execute(
        sa.insert(exchange_peers).values(name=name, url=url, via=via, cert_pem=cert_pem, fingerprint=fp, created_at=now())
    )


def enqueue_statement(
    *, kind: str, message_id: str, hop: str, sender: str, units: list[str], path: str, relayed: bool = False,
) -> sa.Insert:
    """The outbox row of one message to one neighbour (for an async or a sync connection)."""
    t = now()
    return sa.insert(exchange_outbox).values(
        kind=kind, message_id=message_id, hop=hop, sender=sender, units=units, path=path, relayed=relayed,
        state="pending", attempts=0, next_attempt_at=t, created_at=t,
    )


async def enqueue(conn: AsyncConnection, **row: Any) -> None:
    await conn.execute(enqueue_statement(**row))


async def claim_due(conn: AsyncConnection, limit: int, lease: timedelta) -> list[dict[str, Any]]:
    """Due rows, each claimed for `lease` so that another process skips it."""
    t = now()
    o = exchange_outbox.c
    rows = (
        await conn.execute(
            sa.select(exchange_outbox)
            .where(o.state == "pending", o.next_attempt_at <= t, sa.or_(o.claimed_until.is_(None), o.claimed_until < t))
            .order_by(o.next_attempt_at, o.id)
            .limit(limit)
        )
    ).mappings().all()
    claimed = []
    for r in rows:
        res = await conn.execute(
            sa.update(exchange_outbox)
            .where(o.id == r["id"], o.state == "pending", sa.or_(o.claimed_until.is_(None), o.claimed_until < t))
            .values(claimed_until=t + lease)
        )
        if res.rowcount == 1:
            claimed.append(dict(r))
    return claimed


async def outbox_done(conn: AsyncConnection, row_id: int, outcome: str, state: str = "done", error: str = "") -> None:
    await conn.execute(
        sa.update(exchange_outbox)
        .where(exchange_outbox.c.id == row_id)
        .values(state=state, outcome=outcome, done_at=now(), claimed_until=None, last_error=error[:500])
    )


async def outbox_retry(conn: AsyncConnection, row_id: int, attempts: int, at: datetime, error: str) -> None:
    await conn.execute(
        sa.update(exchange_outbox)
        .where(exchange_outbox.c.id == row_id)
        .values(attempts=attempts, next_attempt_at=at, claimed_until=None, last_error=error[:500])
    )


async def retry_now(conn: AsyncConnection, hop: str | None = None) -> int:
    """Make pending rows (to `hop`, or all) due at once; returns how many."""
    o = exchange_outbox.c
    q = sa.update(exchange_outbox).where(o.state == "pending")
    if hop:
        q = q.where(o.hop == hop)
    return (await conn.execute(q.values(next_attempt_at=now(), claimed_until=None))).rowcount


async def next_due(conn: AsyncConnection) -> datetime | None:
    o = exchange_outbox.c
    return (await conn.execute(sa.select(sa.func.min(o.next_attempt_at)).where(o.state == "pending"))).scalar()


async def track(conn: AsyncConnection, package_id: str, units: list[str], title: str) -> None:
    t = now()
    for unit in units:
        await conn.execute(
            sa.insert(exchange_tracking).values(
                package_id=package_id, unit=unit, title=title, status="queued", created_at=t, updated_at=t
            )
        )


async def move_tracking(
    conn: AsyncConnection, package_id: str, units: list[str], status: str, reason: str = "", by: str = "",
) -> list[str]:
    """Move each unit's tracking forward to `status` (`by`: who there acted, from the
    receipt; kept from an earlier receipt when this one names nobody); returns the units that moved.
    One conditional UPDATE per unit (compare-and-set), so two receipts committing at
    once cannot move a status backwards on PostgreSQL's read-committed either."""
    tr = exchange_tracking.c
    before = [s for s in (*ORDER, *FINAL) if advances(s, status)]
    moved = []
    for unit in units:
        res = await conn.execute(
            sa.update(exchange_tracking)
            .where(tr.package_id == package_id, tr.unit == unit, tr.status.in_(before))
            .values(status=status, reason=reason[:500], updated_at=now(), **({"acted_by": by[:100]} if by else {}))
        )
        if res.rowcount == 1:
            moved.append(unit)
    return moved


async def tracking(conn: AsyncConnection, package_id: str | None = None) -> list[dict[str, Any]]:
    q = sa.select(exchange_tracking).order_by(exchange_tracking.c.created_at, exchange_tracking.c.unit)
    if package_id:
        q = q.where(exchange_tracking.c.package_id == package_id)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def received(conn: AsyncConnection, message_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(sa.select(exchange_received).where(exchange_received.c.message_id == message_id))
    ).mappings().first()
    return dict(row) if row else None


async def mark_received(conn: AsyncConnection, message_id: str, kind: str, sha256: str, outcome: str, hop: str) -> None:
    await conn.execute(
        sa.insert(exchange_received).values(
            message_id=message_id, kind=kind, sha256=sha256, outcome=outcome, hop=hop, received_at=now()
        )
    )


async def quarantine(
    conn: AsyncConnection, *, message_id: str, kind: str, hop: str, sender: str, reason: str, detail: str, path: str
) -> int:
    """Keep a refused message with its reason; returns its quarantine id."""
    return (
        await conn.execute(
            sa.insert(exchange_quarantine)
            .values(
                message_id=message_id, kind=kind, hop=hop, sender=sender, reason=reason, detail=detail[:1000], path=path,
                received_at=now(),
            )
            .returning(exchange_quarantine.c.id)
        )
    ).scalar_one()


async def quarantined(conn: AsyncConnection) -> list[dict[str, Any]]:
    q = sa.select(exchange_quarantine).order_by(exchange_quarantine.c.id)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def quarantined_one(conn: AsyncConnection, quarantine_id: int) -> dict[str, Any] | None:
    q = sa.select(exchange_quarantine).where(exchange_quarantine.c.id == quarantine_id)
    row = (await conn.execute(q)).mappings().first()
    return dict(row) if row else None


async def add_arrival(conn: AsyncConnection, package_id: str, sender: str, title: str, manifest: dict[str, Any], path: str) -> None:
    t = now()
    await conn.execute(
        sa.insert(exchange_inbox).values(
            package_id=package_id, sender=sender, title=title, manifest=manifest, path=path, status="delivered",
            received_at=t, updated_at=t,
        )
    )


async def arrival(conn: AsyncConnection, package_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(sa.select(exchange_inbox).where(exchange_inbox.c.package_id == package_id))).mappings().first()
    return dict(row) if row else None


async def arrivals(conn: AsyncConnection) -> list[dict[str, Any]]:
    q = sa.select(exchange_inbox).order_by(exchange_inbox.c.received_at)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]


async def set_arrival_status(conn: AsyncConnection, package_id: str, status: str, reason: str) -> None:
    await conn.execute(
        sa.update(exchange_inbox)
        .where(exchange_inbox.c.package_id == package_id)
        .values(status=status, reason=reason[:500], updated_at=now())
    )


async def outbox(conn: AsyncConnection) -> list[dict[str, Any]]:
    q = sa.select(exchange_outbox).order_by(exchange_outbox.c.id)
    return [dict(r) for r in (await conn.execute(q)).mappings().all()]
