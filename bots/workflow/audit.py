"""流转记录 as a hash chain: each step of an instance's trail is stored once, append-only,
with the SHA-256 of the one before it, so a changed, removed or inserted row breaks the
chain from there on and `changtong flow verify INSTANCE` names the first broken link.

A link's hash covers the instance, the step's place in the trail, the step itself (who,
in which post, when, where, the operation, the opinion, its target) and the previous
link's hash, in canonical JSON (sorted keys, UTF-8). The instance's own state carries the
same trail; verify also checks the two agree, so editing the state's copy shows too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, fields
from typing import Any

import sqlalchemy as sa

from ..schema import flow_audit, flow_instances
from .engine import Step

__all__ = ["GENESIS", "append", "link_hash", "verify"]

GENESIS = "0" * 64  # the previous hash of an instance's first step
_DEFAULTS = {f.name: f.default for f in fields(Step)}


def link_hash(instance_id: int, seq: int, step: dict[str, Any], prev_hash: str) -> str:
    body = json.dumps({"instance": instance_id, "seq": seq, "step": step, "prev": prev_hash}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append(conn: sa.Connection, instance_id: int, trail: tuple[Step, ...]) -> None:
    """Store the steps of `trail` not stored yet (in the instance's write transaction)."""
    last = conn.execute(
        sa.select(flow_audit.c.seq, flow_audit.c.hash).where(flow_audit.c.instance_id == instance_id).order_by(flow_audit.c.seq.desc()).limit(1)
    ).first()
    seq, prev = (int(last.seq), last.hash) if last else (0, GENESIS)
    rows = []
    for step in trail[seq:]:
        seq += 1
        data = asdict(step)
        digest = link_hash(instance_id, seq, data, prev)
        rows.append({"instance_id": instance_id, "seq": seq, "step": data, "prev_hash": prev, "hash": digest})
        prev = digest
    if rows:
        conn.execute(flow_audit.insert(), rows)


def verify(conn: sa.Connection, instance_id: int) -> dict[str, Any]:
    """{"ok", "steps", "broken_at" (the first bad link's seq, or None), "reason"}."""
    state = conn.execute(sa.select(flow_instances.c.state).where(flow_instances.c.id == instance_id)).scalar()
    if state is None:
        return {"ok": False, "steps": 0, "broken_at": None, "reason": "no_instance"}
    rows = conn.execute(sa.select(flow_audit).where(flow_audit.c.instance_id == instance_id).order_by(flow_audit.c.seq)).all()
    prev = GENESIS
    for expected, row in enumerate(rows, 1):
        if row.seq != expected:
            return {"ok": False, "steps": len(rows), "broken_at": expected, "reason": "missing"}
        if row.prev_hash != prev or link_hash(instance_id, row.seq, dict(row.step), prev) != row.hash:
            return {"ok": False, "steps": len(rows), "broken_at": row.seq, "reason": "changed"}
        prev = row.hash
    trail = state.get("trail", [])
    for seq, (row, step) in enumerate(zip(rows, trail, strict=False), 1):
        if {**_DEFAULTS, **row.step} != {**_DEFAULTS, **step}:  # a field added since reads as its default
            return {"ok": False, "steps": len(rows), "broken_at": seq, "reason": "state_differs"}
    if len(trail) != len(rows):
        return {"ok": False, "steps": len(rows), "broken_at": min(len(trail), len(rows)) + 1, "reason": "state_differs"}
    return {"ok": True, "steps": len(rows), "broken_at": None, "reason": ""}
