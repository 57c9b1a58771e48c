"""Flow definitions: YAML in, a validated `FlowDefinition` out, or every error at once
with the line it is on (JSON Schema for the shape, then the graph's own rules).

    key: leave
    name: 请假
    version: 1
    nodes:
      - {id: start, type: start, next: dept}
      - {id: dept, type: task, name: 部门负责人审批, assignee: {role: leader, unit: initiator}, next: days}
      - {id: days, type: exclusive, branches: [{when: "days > 3", to: office}, {to: end}]}
      - {id: office, type: countersign, mode: all, assignees: [{user: wangjianguo}, {user: lihaiyan}], next: end}
      - {id: end, type: end}
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from simpleeval import EvalWithCompoundTypes, InvalidExpression

from ..forms.fields import Field, field_from

__all__ = ["HUMAN", "DefinitionError", "FlowDefinition", "Node", "compile_condition", "load_definition"]

SCHEMA = json.loads((Path(__file__).parent / "flow.schema.json").read_text(encoding="utf-8"))
_VALIDATOR = Draft202012Validator(SCHEMA)
MAX_BYTES = 256 * 1024


class DefinitionError(ValueError):
    """Every problem found, each `{line, path, message}` (line 0: the file as a whole)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"line {e['line']}: {e['path'] or '/'}: {e['message']}" for e in errors))
        self.errors = errors


HUMAN = ("start", "task", "countersign", "circulate", "rsvp")  # the steps people hold
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    name: str = ""
    next: str | None = None
    mode: str = "any"  # countersign: all | any | sequential | vote; a task with several people: any
    assignees: tuple[dict[str, Any], ...] = ()
    opinion: str = "optional"
    branches: tuple[tuple[str | None, str], ...] = ()  # gateways: (condition, target), in order
    pass_ratio: float = 0.5  # vote 票签: the share of yes votes that passes
    claim: bool = False  # 认领: the candidates see it; one takes it
    deadline: int | None = None  # seconds a task may stay open before on_timeout
    on_timeout: str = "escalate"  # remind | escalate (remind, then the holder's leader) | pass | reject
    join: str | None = None  # parallel / inclusive: the join its branches meet at
    action: str = ""  # auto: number | dispatch | archive | publish
    channel: str = ""  # auto publish: the channel (by name) the 通知 goes into
    starts_field: str = ""  # rsvp: the form field with the meeting's start (ISO 8601)
    remind_before: int | None = None  # rsvp: seconds before that start to remind those coming
    counter: str = ""  # auto number: the counter's name (东政办发), per unit and year
    field: str = ""  # auto number: the form field that receives it
    format: str = "{counter}〔{year}〕{n}号"
    fields: tuple[tuple[str, str], ...] = ()  # the form's fields here: (name, edit | read); the rest read only (at start: editable)
    book: tuple[str, str, str] | None = None  # (field, from field, to field): the choice is a booking no other may overlap
    phrases: tuple[str, ...] = ()  # 常用意见 offered when approving here (else the flow's, else the hub's)
    flow: str = ""  # subflow: the key of the flow its child runs (its latest version)
    continue_if_rejected: bool = False  # subflow: a child not approved still lets the parent go on


@dataclass(frozen=True)
class FlowDefinition:
    key: str
    name: str
    version: int
    nodes: dict[str, Node] = field(default_factory=dict)
    skip_same_handler: bool = False  # a step whose only handler just acted passes by itself
    starters: tuple[dict[str, Any], ...] = ()  # who may start it (assignee specs); empty: anyone
    form: tuple[Field, ...] = ()  # the form's fields; none declared: any plain values are taken
    channel: str = ""  # the channel (by name) that follows each instance on a progress card
    phrases: tuple[str, ...] = ()  # 常用意见 for every step that names none

    @property
    def start(self) -> Node:
        return next(n for n in self.nodes.values() if n.type == "start")

    def form_field(self, name: str) -> Field | None:
        return next((f for f in self.form if f.name == name), None)

    def editable(self, node_id: str) -> frozenset[str]:
        """The fields a holder of this node may fill: at the start every field its rules
        do not make read only; elsewhere those its rules say `edit`."""
        node = self.nodes[node_id]
        rules = dict(node.fields)
        if node.type == "start":
            return frozenset(f.name for f in self.form if rules.get(f.name, "edit") == "edit")
        return frozenset(name for name, rule in rules.items() if rule == "edit")


def _lines(text: str) -> dict[tuple[Any, ...], int]:
    """JSON path (as a tuple) -> 1-based line, from YAML's node marks."""
    out: dict[tuple[Any, ...], int] = {}

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        out.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                out[(*path, k.value)] = k.start_mark.line + 1
                walk(v, (*path, k.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, (*path, i))

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, ())
    return out


def _line(lines: dict[tuple[Any, ...], int], path: tuple[Any, ...]) -> int:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 0)


def compile_condition(expression: str) -> Any:
    """A gateway's condition in simpleeval's safe expression language (comparisons,
    and/or/not, arithmetic, `in`, over the form's fields): never Python's eval."""
    evaluator = EvalWithCompoundTypes(functions={})
    parsed = evaluator.parse(expression)
    return evaluator, parsed


def load_definition(text: str | bytes) -> FlowDefinition:
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise DefinitionError([{"line": 0, "path": "", "message": f"larger than {MAX_BYTES // 1024} KiB"}])
        text = text.decode("utf-8")
    if len(text) > MAX_BYTES:
        raise DefinitionError([{"line": 0, "path": "", "message": f"larger than {MAX_BYTES // 1024} KiB"}])
    try:
        data = yaml.safe_load(text)
        lines = _lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DefinitionError([{"line": mark.line + 1 if mark else 0, "path": "", "message": f"not YAML: {getattr(exc, 'problem', exc)}"}]) from None
    errors = [_schema_error(e, lines) for e in sorted(_VALIDATOR.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))]
    if errors:
        raise DefinitionError(errors)
    nodes: dict[str, Node] = {}
    for i, raw in enumerate(data["nodes"]):
        where = {"line": _line(lines, ("nodes", i)), "path": f"/nodes/{i}"}
        if raw["id"] in nodes:
            errors.append({**where, "message": f"node id {raw['id']!r} used twice"})
            continue
        assignees = tuple(raw.get("assignees") or ([raw["assignee"]] if "assignee" in raw else []))
        branches = tuple((b.get("when"), b["to"]) for b in raw.get("branches", []))
        deadline, remind = raw.get("deadline"), raw.get("remind_before")
        extra = {k: raw[k] for k in ("pass_ratio", "claim", "on_timeout", "join", "action", "counter", "field", "format", "channel", "starts_field", "flow", "continue_if_rejected") if k in raw}
        if "fields" in raw:
            extra["fields"] = tuple(raw["fields"].items())
        if "phrases" in raw:
            extra["phrases"] = tuple(raw["phrases"])
        if "book" in raw:
            extra["book"] = (raw["book"]["field"], raw["book"]["from"], raw["book"]["to"])
        nodes[raw["id"]] = Node(
            raw["id"], raw["type"], raw.get("name", ""), raw.get("next"), raw.get("mode", "any"), assignees,
            raw.get("opinion", "optional"), branches,
            deadline=int(deadline[:-1]) * _UNIT_SECONDS[deadline[-1]] if deadline else None,
            remind_before=int(remind[:-1]) * _UNIT_SECONDS[remind[-1]] if remind else None, **extra,
        )
    form = tuple(field_from(raw) for raw in data.get("form", ()))
    errors += _form_errors(form, nodes, lines, data)
    errors += _graph_errors(nodes, lines, data["nodes"])
    if errors:
        raise DefinitionError(errors)
    return FlowDefinition(
        data["key"], data["name"], data["version"], nodes,
        skip_same_handler=bool(data.get("skip_same_handler")), starters=tuple(data.get("starters", ())), form=form,
        channel=str(data.get("channel", "")), phrases=tuple(data.get("phrases", ())),
    )


def _form_errors(form: tuple[Field, ...], nodes: dict[str, Node], lines: dict[tuple[Any, ...], int], data: dict[str, Any]) -> list[dict[str, Any]]:
    """The form's own rules, and the nodes' rules about it."""
    errors: list[dict[str, Any]] = []
    by_name: dict[str, Field] = {}
    for i, f in enumerate(form):
        path = ("form", i)
        if f.name in by_name:
            errors.append({"line": _line(lines, path), "path": f"/form/{i}", "message": f"field {f.name!r} named twice"})
        by_name[f.name] = f
        if f.kind in ("select", "multiselect") and not f.options:
            errors.append({"line": _line(lines, path), "path": f"/form/{i}", "message": f"a {f.kind} field needs options"})
        if f.min is not None and f.max is not None and f.min > f.max:
            errors.append({"line": _line(lines, path), "path": f"/form/{i}", "message": "min is above max"})
    index = {r["id"]: i for i, r in enumerate(data["nodes"])}
    for n in nodes.values():
        path = ("nodes", index[n.id])
        where = {"line": _line(lines, path), "path": f"/nodes/{index[n.id]}"}
        for name, _ in n.fields:
            if name not in by_name:
                errors.append({**where, "message": f"fields: {name!r} is not a field of the form"})
        if n.fields and n.type not in ("start", "task"):
            errors.append({**where, "message": "field rules are for a start or a task step"})
        if n.book:
            booked, starts, ends = n.book
            if by_name.get(booked) is None or by_name[booked].kind != "select":
                errors.append({**where, "message": f"book: {booked!r} must be a select field of the form (what is booked)"})
            elif dict(n.fields).get(booked) != "edit":
                errors.append({**where, "message": f"book: {booked!r} must be editable at this step (fields: {{{booked}: edit}})"})
            for name in (starts, ends):
                if by_name.get(name) is None or by_name[name].kind not in ("date", "datetime"):
                    errors.append({**where, "message": f"book: {name!r} must be a date or datetime field of the form"})
    return errors


def _schema_error(e: Any, lines: dict[tuple[Any, ...], int]) -> dict[str, Any]:
    path = tuple(e.absolute_path)
    if e.validator == "additionalProperties" and isinstance(e.instance, dict):  # point at the unexpected key
        extra = [k for k in e.instance if k not in e.schema.get("properties", {})]
        if extra:
            path = (*path, extra[0])
    return {"line": _line(lines, path), "path": "/" + "/".join(str(p) for p in path), "message": e.message}


def _format_ok(fmt: str) -> bool:
    try:
        names = {name for _, name, spec, conv in string.Formatter().parse(fmt) if name is not None}
        fmt.format(counter="x", year=2026, n=1)
    except (ValueError, KeyError, IndexError):
        return False
    return names <= {"counter", "year", "n"} and "n" in names


def _graph_errors(nodes: dict[str, Node], lines: dict[tuple[Any, ...], int], raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    index = {r["id"]: i for i, r in enumerate(raw)}

    def err(node_id: str, message: str, key: str | None = None) -> None:
        path = ("nodes", index[node_id]) + ((key,) if key else ())
        errors.append({"line": _line(lines, path), "path": "/" + "/".join(map(str, path)), "message": message})

    starts = [n for n in nodes.values() if n.type == "start"]
    if len(starts) != 1:
        errors.append({"line": _line(lines, ("nodes",)), "path": "/nodes", "message": f"needs exactly one start node, has {len(starts)}"})
    if not any(n.type == "end" for n in nodes.values()):
        errors.append({"line": _line(lines, ("nodes",)), "path": "/nodes", "message": "needs an end node"})
    for n in nodes.values():
        if n.type in ("start", "task", "countersign", "circulate", "rsvp", "join", "auto", "subflow") and (n.next is None or n.next not in nodes):
            err(n.id, f"next {n.next!r} is not a node" if n.next else "needs next", "next")
        if n.type in ("task", "countersign", "circulate", "rsvp") and not n.assignees:
            err(n.id, "needs assignee or assignees")
        if (n.remind_before or n.starts_field) and not (n.type == "rsvp" and n.remind_before and n.starts_field):
            err(n.id, "remind_before and starts_field go together, on an rsvp step")
        if n.type == "rsvp" and n.deadline and n.on_timeout in ("pass", "reject"):
            err(n.id, "an invitation's deadline reminds or escalates; it does not answer for anyone", "on_timeout")
        if n.type == "subflow" and not n.flow:
            err(n.id, "a subflow needs flow (the key of the flow its child runs)")
        if (n.flow or n.continue_if_rejected) and n.type != "subflow":
            err(n.id, "flow and continue_if_rejected are for a subflow step")
        if n.claim and n.type != "task":
            err(n.id, "claim is for a task step", "claim")
        if n.type == "auto" and not n.action:
            err(n.id, "needs action (number, dispatch, archive or publish)")
        if n.action == "publish" and not n.channel:
            err(n.id, "an auto publish needs channel (the name of the channel it posts into)")
        if n.action == "number" and not (n.counter and n.field):
            err(n.id, "an auto number needs counter and field")
        if n.action == "number" and not _format_ok(n.format):
            err(n.id, "format may use only {counter}, {year} and {n}", "format")
        if n.type in ("parallel", "inclusive") and (n.join is None or n.join not in nodes or nodes[n.join].type != "join"):
            err(n.id, f"join {n.join!r} is not a join node" if n.join else "needs join", "join")
        if n.type == "parallel" and any(when is not None for when, _ in n.branches):
            err(n.id, "a parallel gateway's branches have no conditions (all are taken)", "branches")
        if n.type in ("exclusive", "parallel", "inclusive"):
            if not n.branches:
                err(n.id, "needs branches")
            for j, (when, to) in enumerate(n.branches):
                if to not in nodes:
                    err(n.id, f"branch to {to!r}: no such node", "branches")
                if when is not None:
                    try:
                        compile_condition(when)
                    except (InvalidExpression, SyntaxError, ValueError) as exc:
                        err(n.id, f"branch {j}: condition {when!r} does not parse ({exc})", "branches")
            if n.type != "parallel" and n.branches and n.branches[-1][0] is not None:
                err(n.id, "the last branch must have no condition (the default)", "branches")
    if starts and not errors:
        seen, todo = set(), [starts[0].id]
        while todo:
            cur = nodes[todo.pop()]
            if cur.id in seen:
                continue
            seen.add(cur.id)
            todo += [cur.next] if cur.next else []
            todo += [to for _, to in cur.branches]
        if not any(nodes[s].type == "end" for s in seen):
            errors.append({"line": _line(lines, ("nodes",)), "path": "/nodes", "message": "no end is reachable from the start"})
        for n in nodes.values():
            if n.id not in seen:
                err(n.id, "not reachable from the start")
    return errors
