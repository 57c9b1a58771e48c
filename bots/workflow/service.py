"""Workflows around the pure engine: definitions and instances in the database, the
transactions that start one and act on it, and what people see of them.

Every change of an instance is one write transaction (`hub.db.write`): read the row,
let the engine decide, write the new state only if nobody changed it meanwhile
(`revision`), update the task index, and queue effects for what must follow the commit
(the new assignees' cards, the refreshed cards of the instance). Two people acting at
once on one task: one wins, the other gets `conflict`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.db import now
from hub.i18n import translate
from hub.effects import enqueue
from hub.errors import BadRequest, Conflict, FieldErrors, Forbidden, HubError, NotFound
from hub.schema import posts, units, users

from ..clock import OFFICE_TZ, moment, office_time
from ..forms import fields as forms
from ..schema import flow_counters, flow_definitions, flow_instances, flow_tasks
from . import audit, bookings, engine, proxies, state
from .definition import DefinitionError, FlowDefinition, Node, load_definition

NOTIFY_EFFECT = "flow.notify"  # post a new task's card to its assignee
CARDS_EFFECT = "flow.cards"  # bring every card of an instance up to date
URGE_EFFECT = "flow.urge"  # 催办: tell a task's holder it waits (the initiator's, or a deadline's)
TIMEOUT_EFFECT = "flow.timeout"  # a task's deadline falls: the engine's `timeout`, as the clock
HOOK_EFFECT = "flow.hook"  # an automatic step another feature runs (dispatch: the exchange)
MEETING_EFFECT = "flow.meeting"  # 会议通知: remind those coming, `remind_before` the meeting starts

_REFUSALS = {"forbidden": Forbidden, "conflict": Conflict, "bad_request": BadRequest}


@functools.lru_cache(maxsize=256)
def definition_from_source(source: str) -> FlowDefinition:
    return load_definition(source)


def refused(exc: engine.Refused | forms.Invalid) -> HubError:
    if isinstance(exc, forms.Invalid):
        return FieldErrors("error.form_invalid", exc.problems)
    return _REFUSALS[exc.code](exc.key)


# ---- definitions ---------------------------------------------------------------------


def import_definition(conn: sa.Connection, source: str) -> tuple[FlowDefinition, bool]:
    """Store a definition's version; an identical re-import changes nothing, another
    text under an existing version is refused (a version is immutable)."""
    defn = load_definition(source)
    row = conn.execute(
        sa.select(flow_definitions.c.source).where(flow_definitions.c.key == defn.key, flow_definitions.c.version == defn.version)
    ).first()
    if row is not None:
        if row.source != source:
            raise Conflict("error.flow_version_exists", flow=defn.key, version=defn.version)
        return defn, False
    conn.execute(flow_definitions.insert().values(key=defn.key, version=defn.version, name=defn.name, source=source, created_at=now()))
    return defn, True


def latest_definition(conn: sa.Connection, key: str) -> FlowDefinition:
    row = conn.execute(
        sa.select(flow_definitions.c.source).where(flow_definitions.c.key == key).order_by(flow_definitions.c.version.desc()).limit(1)
    ).first()
    if row is None:
        raise NotFound("error.flow_not_found", flow=key)
    return definition_from_source(row.source)


def definition_of(conn: sa.Connection, key: str, version: int) -> FlowDefinition:
    source = conn.execute(
        sa.select(flow_definitions.c.source).where(flow_definitions.c.key == key, flow_definitions.c.version == version)
    ).scalar_one()
    return definition_from_source(source)


def list_definitions(conn: sa.Connection) -> list[dict[str, Any]]:
    """The latest version of each flow, with the form its start fills (the fields the
    start may edit, as the browser renders them)."""
    newest = sa.select(flow_definitions.c.key, sa.func.max(flow_definitions.c.version).label("version")).group_by(flow_definitions.c.key).subquery()
    rows = conn.execute(
        sa.select(flow_definitions.c.source)
        .join(newest, sa.and_(newest.c.key == flow_definitions.c.key, newest.c.version == flow_definitions.c.version))
        .order_by(flow_definitions.c.key)
    )
    return [
        {"key": d.key, "version": d.version, "name": d.name, "form": [forms.public(f) for f in d.form if f.name in d.editable(d.start.id)]}
        for d in (definition_from_source(r.source) for r in rows)
    ]


# ---- who is assigned ----------------------------------------------------------------


def _resolver(conn: sa.Connection, initiator: int, form: dict[str, Any]) -> engine.Resolver:
    """The engine's resolver: a spec is looked up in the open transaction the first time
    the engine enters a step that names it (not every step's, on every action)."""
    found: dict[str, list[int | tuple[int, int]]] = {}

    def resolve(spec: dict[str, Any], inst: engine.Instance) -> list[int | tuple[int, int]]:
        if "handler_of" in spec:  # who acted on an earlier step, the last first
            acted = [s.user for s in reversed(inst.trail) if s.node == spec["handler_of"] and s.user != engine.SYSTEM and s.operation in ("approve", "read")]
            return list(dict.fromkeys(acted))[:1]
        key = json.dumps(spec, sort_keys=True)
        if key not in found:
            found[key] = _lookup(conn, spec, initiator, form)
        return found[key]

    return resolve


def _in_units_of(conn: sa.Connection, person: int, role: str | None = None) -> list[tuple[int, int]]:
    """Everyone else holding a post in one of the person's units (with `role`, only its
    holders), each as (user, unit): the unit they share with the person, the person's
    primary one first — the post the task is given in (一人多岗)."""
    theirs = posts.alias("theirs")
    mine = [int(r.unit_id) for r in conn.execute(
        sa.select(posts.c.unit_id).where(posts.c.user_id == person).order_by(posts.c.is_primary.desc(), posts.c.sort, posts.c.unit_id)
    )]
    if not mine:
        return []
    q = (
        sa.select(theirs.c.user_id, theirs.c.unit_id, users.c.roles)
        .join(users, users.c.id == theirs.c.user_id)
        .where(theirs.c.unit_id.in_(mine), theirs.c.user_id != person, users.c.disabled == sa.false(), users.c.is_bot == sa.false())
    )
    if role is not None:  # roles are one space-separated column: narrow in SQL, decide exactly below
        q = q.where(users.c.roles.contains(role, autoescape=True))
    found: dict[int, int] = {}
    for r in sorted(conn.execute(q), key=lambda r: (int(r.user_id), mine.index(int(r.unit_id)))):
        if role is None or role in (r.roles or "").split():
            found.setdefault(int(r.user_id), int(r.unit_id))
    return list(found.items())


def _in_unit(conn: sa.Connection, named: str, role: str | None) -> list[int | tuple[int, int]]:
    """The people holding a post in the unit of that code (or else that name), each with
    it as the post their task is given in; with `role`, only its holders."""
    if not named:
        return []
    unit_id = conn.execute(sa.select(units.c.id).where(units.c.code == named, units.c.disabled == sa.false())).scalar()
    if unit_id is None:
        unit_id = conn.execute(sa.select(units.c.id).where(units.c.name == named, units.c.disabled == sa.false()).order_by(units.c.id).limit(1)).scalar()
    if unit_id is None:
        return []
    q = (
        sa.select(users.c.id, users.c.roles).join(posts, posts.c.user_id == users.c.id)
        .where(posts.c.unit_id == unit_id, users.c.disabled == sa.false(), users.c.is_bot == sa.false()).order_by(posts.c.sort, users.c.id)
    )
    return [(int(r.id), int(unit_id)) for r in conn.execute(q) if role is None or role in (r.roles or "").split()]


def _lookup(conn: sa.Connection, spec: dict[str, Any], initiator: int, form: dict[str, Any]) -> list[int | tuple[int, int]]:
    """A spec's people; those found through a unit come with it, as (user, unit)."""
    active = users.c.disabled == sa.false()
    if spec.get("initiator"):
        return [initiator]
    if "leader_of" in spec:  # an escalation: the holder's leader
        return list(_in_units_of(conn, int(spec["leader_of"]), "leader"))
    if spec.get("leader") == "initiator":  # 发起人的领导
        return list(_in_units_of(conn, initiator, "leader"))
    name = spec.get("user") or (form.get(spec["field"]) if "field" in spec else None)
    if name is not None:
        col = users.c.id if isinstance(name, int) else users.c.username
        return [int(r.id) for r in conn.execute(sa.select(users.c.id).where(col == name, active))]
    if "unit_field" in spec:  # the unit a form field names (承办单位), by code or name: its people, or a role's holders
        return _in_unit(conn, str(form.get(spec["unit_field"]) or ""), spec.get("role"))
    if spec.get("unit") == "initiator":  # the initiator's units: everyone there, or a role's holders
        return list(_in_units_of(conn, initiator, spec.get("role")))
    if "role" in spec:  # anywhere
        q = sa.select(users.c.id, users.c.roles).where(active, users.c.roles.contains(spec["role"], autoescape=True)).order_by(users.c.id)
        return [int(r.id) for r in conn.execute(q) if spec["role"] in (r.roles or "").split() and r.id != initiator]
    return []


# ---- starting and acting ------------------------------------------------------------------


def _stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _index_tasks(conn: sa.Connection, inst: engine.Instance) -> None:
    """flow_tasks follows the instance's people's tasks (new ones inserted, closed ones marked)."""
    known = {r.task_id: r.status for r in conn.execute(sa.select(flow_tasks.c.task_id, flow_tasks.c.status).where(flow_tasks.c.instance_id == inst.id))}
    at = now()
    for t in inst.tasks:
        if t.user == engine.SYSTEM:  # a sub-flow step waiting for its child: nobody's to-do
            continue
        if t.id not in known:
            conn.execute(flow_tasks.insert().values(
                instance_id=inst.id, task_id=t.id, user_id=t.user, node=t.node, status=t.status, kind=t.kind, post_unit_id=t.post, updated_at=at,
            ))
        elif known[t.id] != t.status:
            conn.execute(
                flow_tasks.update().where(flow_tasks.c.instance_id == inst.id, flow_tasks.c.task_id == t.id).values(status=t.status, updated_at=at)
            )


def _follow(conn: sa.Connection, defn: FlowDefinition, inst: engine.Instance, effects: list[engine.Effect]) -> None:
    """Queue what the engine decided, in the transaction that stores its state."""
    for e in effects:
        if e.kind == "task_assigned":
            enqueue(conn, NOTIFY_EFFECT, {"instance_id": inst.id, "task_id": e.task_id})
        elif e.kind == "urged":
            enqueue(conn, URGE_EFFECT, {"instance_id": inst.id, "task_id": e.task_id, "seq": len(inst.trail)})
        elif e.kind == "schedule":
            task = next(t for t in inst.tasks if t.id == e.task_id)
            payload = {"instance_id": inst.id, "task_id": task.id, "timeouts": task.timeouts}
            enqueue(conn, TIMEOUT_EFFECT, payload, delay_seconds=float(e.seconds or 0))
        elif e.kind == "auto" and defn.nodes[e.node or ""].action in ("dispatch", "publish"):
            enqueue(conn, HOOK_EFFECT, {"instance_id": inst.id, "node": e.node, "action": defn.nodes[e.node or ""].action})
        elif e.kind == "auto" and defn.nodes[e.node or ""].action == "archive":
            conn.execute(flow_instances.update().where(flow_instances.c.id == inst.id).values(archived_at=now()))
    _meeting_reminders(conn, defn, inst, effects)
    closed = sorted({e.task_id for e in effects if e.kind == "task_closed" and e.task_id is not None})
    by_id = {t.id: t.user for t in inst.tasks}
    touched = sorted({by_id[e.task_id] for e in effects if e.kind in ("task_assigned", "task_closed") and e.task_id in by_id})
    # the cards to bring up to date, and whose to-do counts changed
    enqueue(conn, CARDS_EFFECT, {"instance_id": inst.id, "closed": closed, "users": touched})


def meeting_start(form: dict[str, Any], field: str) -> datetime | None:
    """The meeting's start from its form field: ISO 8601, the office's zone when it has
    none (2026-12-08T09:00 is 09:00 in 东营); None when the form has no such field."""
    value = form.get(field)
    if value in (None, ""):
        return None
    try:
        return office_time(str(value))
    except ValueError:
        raise BadRequest("error.flow_bad_time", field=field) from None


def _meeting_reminders(conn: sa.Connection, defn: FlowDefinition, inst: engine.Instance, effects: list[engine.Effect]) -> None:
    """An invitation step just entered: a reminder to those coming, before it starts."""
    by_id = {t.id: t for t in inst.tasks}
    entered = {(by_id[e.task_id].node, by_id[e.task_id].round) for e in effects if e.kind == "task_assigned" and e.task_id in by_id}
    for node_id, round_ in sorted(entered):
        node = defn.nodes[node_id]
        if node.type != "rsvp" or not node.remind_before:
            continue
        starts = meeting_start(inst.form, node.starts_field)
        if starts is None:
            continue
        delay = (starts - datetime.now(UTC)).total_seconds() - node.remind_before
        if delay > 0:  # a meeting about to start gets no reminder of itself
            enqueue(conn, MEETING_EFFECT, {"instance_id": inst.id, "node": node_id, "round": round_}, delay_seconds=delay)


# ---- automatic steps run in the transaction --------------------------------------------


def _unit_of(conn: sa.Connection, user_id: int) -> int:
    """The unit a person's 文号 counts in: their primary post's (0 without a post)."""
    row = conn.execute(
        sa.select(posts.c.unit_id).where(posts.c.user_id == user_id).order_by(posts.c.is_primary.desc(), posts.c.sort, posts.c.unit_id).limit(1)
    ).scalar()
    return int(row or 0)


def next_number(conn: sa.Connection, name: str, unit_id: int, year: int) -> int:
    """The counter's next value, one statement that inserts or increments and returns it:
    concurrent takers queue on the row (PostgreSQL) or the write lock (SQLite); a
    transaction that rolls back gives its number back."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(flow_counters).values(name=name, unit_id=unit_id, year=year, value=1)
    stmt = stmt.on_conflict_do_update(index_elements=["name", "unit_id", "year"], set_={"value": flow_counters.c.value + 1})
    return int(conn.execute(stmt.returning(flow_counters.c.value)).scalar_one())


def _numbered(conn: sa.Connection, defn: FlowDefinition, inst: engine.Instance, effects: list[engine.Effect]) -> engine.Instance:
    """Each `auto: number` step passed: the next 文号 into its form field, and beside its step."""
    for e in effects:
        node: Node | None = defn.nodes.get(e.node or "") if e.kind == "auto" else None
        if node is None or node.action != "number":
            continue
        year = datetime.now(OFFICE_TZ).year
        n = next_number(conn, node.counter, _unit_of(conn, inst.initiator), year)
        number = node.format.format(counter=node.counter, year=year, n=n)
        trail = list(inst.trail)
        at = max(i for i, st in enumerate(trail) if st.node == node.id and st.operation == "number")
        trail[at] = dataclasses.replace(trail[at], target=number)
        inst = dataclasses.replace(inst, form={**inst.form, node.field or "number": number}, trail=tuple(trail))
    return inst


def _store(conn: sa.Connection, defn: FlowDefinition, inst: engine.Instance, effects: list[engine.Effect]) -> engine.Instance:
    """After the state row is written: the task index, the 流转记录 and the effects."""
    _index_tasks(conn, inst)
    audit.append(conn, inst.id, inst.trail)
    _follow(conn, defn, inst, effects)
    return inst


def start_tx(conn: sa.Connection, who: int, key: str, title: str, form: dict[str, Any]) -> dict[str, Any]:
    defn = latest_definition(conn, key)
    inst = _begin(conn, who, defn, title, form)
    return view(defn, inst, title, names_of(conn, inst), unit_names_of(conn, inst))


def _begin(conn: sa.Connection, who: int, defn: FlowDefinition, title: str, form: dict[str, Any]) -> engine.Instance:
    at = now()
    instance_id = conn.execute(
        flow_instances.insert()
        .values(flow_key=defn.key, version=defn.version, title=title, initiator_id=who, status="running", state={}, created_at=at, updated_at=at)
        .returning(flow_instances.c.id)
    ).scalar_one()
    try:
        inst, effects = engine.start(defn, int(instance_id), who, form, _resolver(conn, who, form), _stamp())
    except (engine.Refused, forms.Invalid) as exc:
        raise refused(exc) from None
    bookings.check_periods(defn, inst.form)
    inst = _children(conn, defn, inst, effects, title)
    inst = _numbered(conn, defn, proxies.apply_proxies(conn, inst, effects), effects)
    conn.execute(flow_instances.update().where(flow_instances.c.id == instance_id).values(state=state.dump(inst), status=inst.status))
    _store(conn, defn, inst, effects)
    return inst


# ---- sub-flows: a step whose child instance runs a flow of its own -------------------------

MAX_DEPTH = 3  # a child's child's child at most (a flow that names itself stops there)


def _children(conn: sa.Connection, defn: FlowDefinition, inst: engine.Instance, effects: list[engine.Effect], title: str) -> engine.Instance:
    """Each sub-flow step just entered gets its child, started here by the parent's
    initiator with the parent's form (the fields the child declares, if it declares a
    form); a child that ends at once settles its step at once. `effects` grows with
    what that settling decides."""
    i = 0
    while i < len(effects):
        e, i = effects[i], i + 1
        if e.kind != "subflow":
            continue
        node = defn.nodes[e.node or ""]
        depth = int(inst.form.get("_depth", 0)) + 1
        if depth > MAX_DEPTH:
            raise Conflict("error.flow_subflow_depth", flow=node.flow)
        try:
            child_defn = latest_definition(conn, node.flow)
        except NotFound:
            raise Conflict("error.flow_subflow_missing", flow=node.flow) from None
        declared = {f.name for f in child_defn.form}
        given = {k: v for k, v in inst.form.items() if not str(k).startswith("_") and (not declared or k in declared)}
        child = _begin(conn, inst.initiator, child_defn, title, {**given, "_parent": [inst.id, e.task_id], "_depth": depth})
        inst = dataclasses.replace(inst, tasks=tuple(dataclasses.replace(t, child=child.id) if t.id == e.task_id else t for t in inst.tasks))
        if child.status != "running":
            inst, more = engine.apply(defn, inst, engine.Operation("child_done", e.task_id, to=child.status), engine.SYSTEM, _resolver(conn, inst.initiator, inst.form), _stamp())
            effects.extend(more)
    return inst


def _after_children(conn: sa.Connection, before: engine.Instance, after: engine.Instance) -> None:
    """After an instance's step is stored: a child that just ended tells its parent's
    step (which passes, or ends the parent); a parent that just let go of a sub-flow
    step (withdrawn, terminated, taken back, jumped over) terminates that child."""
    parent = after.form.get("_parent")
    if before.status == "running" and after.status != "running" and isinstance(parent, list) and len(parent) == 2:
        row = conn.execute(sa.select(flow_instances.c.state).where(flow_instances.c.id == int(parent[0]))).first()
        waiting = next((t for t in state.load(row.state).tasks if t.id == int(parent[1])), None) if row else None
        if waiting is not None and waiting.status == "open" and waiting.child == after.id:
            act(conn, engine.SYSTEM, int(parent[0]), engine.Operation("child_done", waiting.id, to=after.status))
    now_of = {t.id: t for t in after.tasks}
    for t in before.tasks:
        if t.kind == "subflow" and t.status == "open" and t.child and now_of[t.id].status == "cancelled":
            child = conn.execute(sa.select(flow_instances.c.status).where(flow_instances.c.id == t.child)).scalar()
            if child == "running":
                act(conn, engine.SYSTEM, t.child, engine.Operation("terminate", opinion=translate("flow.subflow.parent_ended")), admin=True)


def act(conn: sa.Connection, actor: int, instance_id: int, op: engine.Operation, admin: bool = False) -> tuple[FlowDefinition, engine.Instance, str]:
    """One operation in the caller's transaction: the definition, the new state, the title."""
    row = conn.execute(sa.select(flow_instances).where(flow_instances.c.id == instance_id)).first()
    if row is None:
        raise NotFound("error.flow_instance_not_found")
    defn = definition_of(conn, row.flow_key, row.version)  # the version it started with
    inst = state.load(row.state)
    try:
        new, effects = engine.apply(defn, inst, op, actor, _resolver(conn, inst.initiator, inst.form), _stamp(), admin=admin)
    except (engine.Refused, forms.Invalid) as exc:
        raise refused(exc) from None
    _booked(conn, defn, inst, new, op, row.title)
    new = _children(conn, defn, new, effects, row.title)
    new = _numbered(conn, defn, proxies.apply_proxies(conn, new, effects), effects)  # rolled back with the rest if the write below finds it moved
    moved = conn.execute(
        flow_instances.update()
        .where(flow_instances.c.id == instance_id, flow_instances.c.revision == row.revision)
        .values(state=state.dump(new), status=new.status, revision=row.revision + 1, updated_at=now())
    )
    if moved.rowcount != 1:
        raise Conflict("error.flow_task_done")  # someone acted first
    _store(conn, defn, new, effects)
    _after_children(conn, inst, new)
    return defn, new, row.title


def _booked(conn: sa.Connection, defn: FlowDefinition, before: engine.Instance, after: engine.Instance, op: engine.Operation, title: str) -> None:
    """An approval at a `book:` step holds what it chose (bookings.py)."""
    task = next((x for x in before.tasks if x.id == op.task_id), None)
    node = defn.nodes[task.node] if task else None
    if node is not None and node.book and any(s.node == node.id and s.operation == "approve" for s in after.trail[len(before.trail):]):
        bookings.book(conn, defn, after, node, title)


def act_tx(conn: sa.Connection, actor: int, instance_id: int, op: engine.Operation, admin: bool = False) -> dict[str, Any]:
    """`act`, answered as REST and Socket.IO show an instance."""
    defn, new, title = act(conn, actor, instance_id, op, admin)
    return view(defn, new, title, names_of(conn, new), unit_names_of(conn, new))


def timeout_tx(conn: sa.Connection, instance_id: int, task_id: int, timeouts: int) -> None:
    """A deadline fell: the engine's `timeout` as the clock, if the task still waits on
    the deadline that was set (a task done since, or one whose deadline was already
    counted, leaves the timer with nothing to do)."""
    row = conn.execute(sa.select(flow_instances.c.state, flow_instances.c.status).where(flow_instances.c.id == instance_id)).first()
    if row is None or row.status != "running":
        return
    task = next((t for t in state.load(row.state).tasks if t.id == task_id), None)
    if task is None or task.status != "open" or task.timeouts != timeouts:
        return
    act(conn, engine.SYSTEM, instance_id, engine.Operation("timeout", task_id))


def instance_tx(conn: sa.Connection, instance_id: int) -> tuple[FlowDefinition, engine.Instance, str]:
    row = conn.execute(sa.select(flow_instances).where(flow_instances.c.id == instance_id)).first()
    if row is None:
        raise NotFound("error.flow_instance_not_found")
    return definition_of(conn, row.flow_key, row.version), state.load(row.state), row.title


def unit_names_of(conn: sa.Connection, inst: engine.Instance) -> dict[int, str]:
    """Names of the units of the posts its tasks were given in."""
    ids = {x.post for x in inst.tasks if x.post} | {s.post for s in inst.trail if s.post}
    return {int(r.id): r.name for r in conn.execute(sa.select(units.c.id, units.c.name).where(units.c.id.in_(ids)))} if ids else {}


def names_of(conn: sa.Connection, inst: engine.Instance) -> dict[int, str]:
    """Display names of everyone the instance mentions."""
    ids = {inst.initiator, *(x.user for x in inst.tasks), *(s.user for s in inst.trail)}
    ids |= {x.proxy_for for x in inst.tasks if x.proxy_for} | {s.proxy_for for s in inst.trail if s.proxy_for}
    return {r.id: r.display_name for r in conn.execute(sa.select(users.c.id, users.c.display_name).where(users.c.id.in_(ids)))}


_SHOWN_STEPS = ("start", "task", "countersign", "circulate", "auto", "end")


def positions(defn: FlowDefinition, inst: engine.Instance) -> list[dict[str, Any]]:
    """Where the instance stands: each step of the flow, in the definition's order, as
    done, current (someone holds it) or pending (a gateway may yet pass it by)."""
    holding = {t.node for t in engine.held(inst)}
    out = []
    for node in defn.nodes.values():
        if node.type not in _SHOWN_STEPS:
            continue
        at = "current" if node.id in holding else "done" if node.id in inst.passed else "pending"
        out.append({"id": node.id, "name": node.name or node.id, "type": node.type, "state": at})
    return out


def shown_fields(form: dict[str, Any], fields: list[dict[str, Any]] | None = None) -> list[tuple[str, str]]:
    """The form's fields as people read them (on a card, on the 办理单): the declared ones
    first, in their order, under their labels, a time as 12月8日（周二）09:00 and a
    multiselect's picks joined; then any other plain value — never a document, nor the
    flow's own bookkeeping (a key starting with `_`)."""
    out: list[tuple[str, str]] = []
    declared = {f["name"]: f for f in fields or []}
    for name, f in declared.items():
        value = form.get(name)
        if value in (None, "", []):
            continue
        if f["kind"] == "datetime":
            try:
                value = moment(office_time(str(value)))
            except ValueError:
                pass
        elif f["kind"] == "money" and isinstance(value, (int, float)):
            value = translate("form.money", amount=f"{value:,.2f}")
        elif isinstance(value, list):
            value = "、".join(map(str, value))
        out.append((f["label"], str(value)))
    plain = (str, int, float)
    return out + [(k, str(v)) for k, v in form.items() if k not in declared and not str(k).startswith("_") and isinstance(v, plain) and not isinstance(v, bool)]


def visible_view(conn: sa.Connection, user_id: int, admin: bool, instance_id: int) -> dict[str, Any]:
    """The instance for its initiator, its holders and administrators; a stranger learns
    nothing (404, as for no instance)."""
    defn, inst, title = instance_tx(conn, instance_id)
    holders = {int(u) for (u,) in conn.execute(sa.select(flow_tasks.c.user_id).where(flow_tasks.c.instance_id == instance_id))}
    if user_id != inst.initiator and user_id not in holders and not admin:
        raise NotFound("error.flow_instance_not_found")
    return {**view(defn, inst, title, names_of(conn, inst), unit_names_of(conn, inst)), "can_take_back": can_take_back(conn, defn, inst, user_id)}


def view(
    defn: FlowDefinition, inst: engine.Instance, title: str, names: dict[int, str] | None = None, unit_names: dict[int, str] | None = None,
) -> dict[str, Any]:
    """The instance as REST shows it; with `names` (and `unit_names`), people's display
    names (and their posts' units) beside the ids."""
    names, unit_names = names or {}, unit_names or {}

    def name(uid: int) -> str:
        return "" if uid == engine.SYSTEM else names.get(uid, "")

    fields = [forms.public(f) for f in defn.form]

    return {
        "id": inst.id, "flow": defn.key, "flow_name": defn.name, "version": inst.version, "title": title,
        "status": inst.status, "initiator_id": inst.initiator, "initiator_name": name(inst.initiator), "form": inst.form,
        "fields": fields,
        "shown": [list(pair) for pair in shown_fields(inst.form, fields)],
        "open_tasks": [
            {"id": t.id, "node": t.node, "node_name": defn.nodes[t.node].name, "user_id": t.user, "user_name": translate("flow.subflow.holder") if t.kind == "subflow" else name(t.user), "kind": t.kind,
             "editable": sorted(defn.editable(t.node)) if t.kind == "task" else [], "child_id": t.child,
             "proxy_for": t.proxy_for, "proxy_for_name": name(t.proxy_for) if t.proxy_for else "",
             "post": t.post, "post_name": unit_names.get(t.post, "") if t.post else ""}
            for t in engine.open_tasks(inst)
        ],
        "steps": positions(defn, inst),
        "trail": [
            {"at": s.at, "user_id": s.user, "user_name": name(s.user), "node": s.node, "node_name": defn.nodes[s.node].name if s.node in defn.nodes else s.node,
             "operation": s.operation, "opinion": s.opinion, "target": s.target, "post": s.post, "filled": s.form or {},
             "post_name": unit_names.get(s.post, "") if s.post else "",
             "proxy_for": s.proxy_for, "proxy_for_name": name(s.proxy_for) if s.proxy_for else ""}
            for s in inst.trail
        ],
    }


def todo_counts(conn: sa.Connection, user_ids: list[int]) -> dict[int, int]:
    """How many open tasks each person has (for the `task` push)."""
    rows = conn.execute(
        sa.select(flow_tasks.c.user_id, sa.func.count()).where(flow_tasks.c.user_id.in_(user_ids), flow_tasks.c.status == "open").group_by(flow_tasks.c.user_id)
    )
    return {uid: 0 for uid in user_ids} | {int(r[0]): int(r[1]) for r in rows}


def tasks_of(conn: sa.Connection, user_id: int, box: str) -> list[dict[str, Any]]:
    """我的待办 (todo), 已办 (done), 我发起的 (started), 抄送我的 (cc: 传阅 given to them, read or not)."""
    if box == "started":
        rows = conn.execute(
            sa.select(flow_instances.c.id, flow_instances.c.title, flow_instances.c.status, flow_instances.c.flow_key, flow_instances.c.updated_at)
            .where(flow_instances.c.initiator_id == user_id)
            .order_by(flow_instances.c.id.desc())
            .limit(200)
        )
        return [{"instance_id": r.id, "title": r.title, "status": r.status, "flow": r.flow_key} for r in rows]
    status = {"todo": ["open"], "done": ["done"], "cc": ["open", "done"]}[box]
    rows = conn.execute(
        sa.select(flow_tasks.c.instance_id, flow_tasks.c.task_id, flow_tasks.c.node, flow_tasks.c.status, flow_instances.c.title,
                  flow_instances.c.flow_key, flow_instances.c.status.label("instance_status"),
                  flow_tasks.c.post_unit_id.label("post"), sa.func.coalesce(units.c.name, "").label("post_name"))
        .join(flow_instances, flow_instances.c.id == flow_tasks.c.instance_id)
        .outerjoin(units, units.c.id == flow_tasks.c.post_unit_id)
        .where(flow_tasks.c.user_id == user_id, flow_tasks.c.status.in_(status), *([flow_tasks.c.kind == "read"] if box == "cc" else []))
        .order_by(flow_tasks.c.updated_at, flow_tasks.c.instance_id, flow_tasks.c.task_id)
        .limit(200)
    )
    return [dict(r._mapping) for r in rows]


def handed_on(conn: sa.Connection, user_id: int) -> list[tuple[int, str]]:
    """拿回's candidates: running instances where the person has done a task, the most
    recently done first, as (instance, title)."""
    rows = conn.execute(
        sa.select(flow_tasks.c.instance_id, flow_instances.c.title, sa.func.max(flow_tasks.c.updated_at).label("at"))
        .join(flow_instances, flow_instances.c.id == flow_tasks.c.instance_id)
        .where(flow_tasks.c.user_id == user_id, flow_tasks.c.status == "done", flow_instances.c.status == "running")
        .group_by(flow_tasks.c.instance_id, flow_instances.c.title)
        .order_by(sa.desc("at"), flow_tasks.c.instance_id.desc())
        .limit(20)
    )
    return [(int(r.instance_id), r.title) for r in rows]


def added_signer(conn: sa.Connection, actor: int, signer: int) -> tuple[int, int, str] | None:
    """减签's target: an open task of `signer` that `actor` added (加签), as (instance, task, title)."""
    rows = conn.execute(
        sa.select(flow_tasks.c.instance_id, flow_tasks.c.task_id, flow_instances.c.title, flow_instances.c.state)
        .join(flow_instances, flow_instances.c.id == flow_tasks.c.instance_id)
        .where(flow_tasks.c.user_id == signer, flow_tasks.c.status == "open", flow_instances.c.status == "running")
        .order_by(flow_tasks.c.updated_at.desc())
    )
    for r in rows:
        task = next((t for t in state.load(r.state).tasks if t.id == r.task_id), None)
        if task is not None and task.added_by == actor:
            return int(r.instance_id), int(r.task_id), r.title
    return None


def can_take_back(conn: sa.Connection, defn: FlowDefinition, inst: engine.Instance, user_id: int) -> bool:
    """Whether 拿回 would be allowed now (the engine asked, nothing stored)."""
    if inst.status != "running":
        return False
    try:
        engine.apply(defn, inst, engine.Operation("take_back"), user_id, _resolver(conn, inst.initiator, inst.form), _stamp())
    except (engine.Refused, forms.Invalid):
        return False
    return True


__all__ = [
    "CARDS_EFFECT", "HOOK_EFFECT", "MEETING_EFFECT", "NOTIFY_EFFECT", "TIMEOUT_EFFECT", "URGE_EFFECT", "DefinitionError",
    "act", "act_tx", "import_definition", "next_number", "start_tx", "tasks_of", "timeout_tx",
]
