"""Bookings (车辆申请's car): a `book:` step's choice holds its resource for the period the
form gives, and no two bookings of one resource overlap.

The check and the booking are one write transaction with the approval that makes them.
Two dispatchers booking one car at once queue on a transaction-scoped advisory lock
named after the car on PostgreSQL (SQLite has one writer at a time anyway), so the one
that comes second sees the first's booking and is refused. A booking counts while its
instance runs or has been approved: a rejected, withdrawn or terminated request frees
the car without anyone clearing it.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hub.errors import BadRequest, Conflict

from ..clock import moment, office_time
from ..schema import flow_bookings, flow_instances
from . import engine
from .definition import FlowDefinition, Node

__all__ = ["book", "check_periods", "free_choices"]

_HOLDING = ("running", "approved")


def _at(value: Any, *, end: bool) -> datetime | None:
    """A form's date or time as a moment in UTC (the office's zone when it has none); a
    bare date as an end means the whole of that day."""
    if value in (None, ""):
        return None
    try:
        at = office_time(str(value))
    except ValueError:
        return None  # a form that declares its fields never holds one; one that does not books nothing
    at = at + timedelta(days=1) if end and len(str(value)) == 10 else at
    return at.astimezone(UTC)  # stored and compared in UTC (SQLite keeps no offset)


def _period(form: dict[str, Any], node: Node) -> tuple[datetime, datetime] | None:
    assert node.book is not None
    _, starts_field, ends_field = node.book
    starts, ends = _at(form.get(starts_field), end=False), _at(form.get(ends_field), end=True)
    if starts is None or ends is None:
        return None
    if ends <= starts:
        raise BadRequest("error.flow_booking_period", starts_field=starts_field, ends_field=ends_field)
    return starts, ends


def check_periods(defn: FlowDefinition, form: dict[str, Any]) -> None:
    """At the start: each period a later step will book must run forwards."""
    for node in defn.nodes.values():
        if node.book:
            _period(form, node)


def _clashes(instance_id: int, field: str, period: tuple[datetime, datetime]) -> sa.Select[Any]:
    starts, ends = period
    return (
        sa.select(flow_bookings.c.resource, flow_bookings.c.starts_at, flow_bookings.c.ends_at, flow_instances.c.title)
        .join(flow_instances, flow_instances.c.id == flow_bookings.c.instance_id)
        .where(
            flow_bookings.c.field == field, flow_bookings.c.instance_id != instance_id, flow_instances.c.status.in_(_HOLDING),
            flow_bookings.c.starts_at < ends, flow_bookings.c.ends_at > starts,
        )
    )


def free_choices(conn: sa.Connection, defn: FlowDefinition, inst: engine.Instance, node: Node) -> list[str] | None:
    """The options of the step's booked field free for the form's period (what its card
    offers), or None for a step that books nothing."""
    if not node.book:
        return None
    field = defn.form_field(node.book[0])
    assert field is not None
    try:
        period = _period(inst.form, node)
    except BadRequest:
        period = None
    if period is None:
        return list(field.options)
    taken = {row.resource for row in conn.execute(_clashes(inst.id, field.name, period))}
    return [o for o in field.options if o not in taken]


def book(conn: sa.Connection, defn: FlowDefinition, inst: engine.Instance, node: Node, title: str) -> None:
    """The approval at a `book:` step chose a resource: hold it for the period, or refuse
    with the booking it would overlap."""
    assert node.book is not None
    field, *_ = node.book
    resource = inst.form.get(field)
    period = _period(inst.form, node)
    if not resource or period is None:
        return
    if conn.dialect.name == "postgresql":  # the second of two at once waits here, then sees the first's booking
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(zlib.crc32(f"book:{field}:{resource}".encode()))))
    clash = conn.execute(_clashes(inst.id, field, period).where(flow_bookings.c.resource == resource).limit(1)).first()
    if clash is not None:
        raise Conflict("error.flow_booked", resource=resource, starts=moment(clash.starts_at), ends=moment(clash.ends_at), title=clash.title)
    conn.execute(flow_bookings.delete().where(flow_bookings.c.instance_id == inst.id, flow_bookings.c.field == field))
    conn.execute(flow_bookings.insert().values(instance_id=inst.id, field=field, resource=resource, starts_at=period[0], ends_at=period[1]))
