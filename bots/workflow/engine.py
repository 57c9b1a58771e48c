"""An instance's transitions, pure: `start(...)` and `apply(...)` take the definition,
the instance state and who acts, and answer the new state and the effects (whom to tell,
what ended) without doing any of it. A refused operation raises `Refused` and changes
nothing (the functions never mutate what they are given).

Nodes: `task` (one person, or several of whom any one acts), `countersign` 会签 (`all`:
everyone; `any` 或签: the first to act decides; `sequential`: one after another),
`exclusive` gateways (the first branch whose condition holds over the form, else the
default), `start` (the initiator's own step: a returned instance comes back there to be
resubmitted) and `end`.

Operations: `approve` 同意, `reject` 不同意 (the instance ends rejected), `return` 退回
(to the previous step, to the initiator, or to any step already passed), `transfer` 转办
(the task goes to someone else), `take_back` 拿回 (the last to act takes the step back
while nobody after them has acted), `withdraw` 撤销 (the initiator, while it runs).
Every operation that is taken appends one entry to the trail (流转记录) with its opinion.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from simpleeval import NameNotDefined

from .definition import FlowDefinition, Node, compile_condition

__all__ = ["Effect", "Instance", "Operation", "Refused", "Task", "apply", "open_tasks", "start"]

# Who may act at a node: the assignee specs of the definition, made user ids by the caller
# (the directory knows roles, units and leaders; the engine does not).
Resolver = Callable[[dict[str, Any], "Instance"], Sequence[int]]


class Refused(Exception):
    """An operation that is not allowed now. `code` is the hub's error code."""

    def __init__(self, code: Literal["forbidden", "conflict", "bad_request"], key: str) -> None:
        super().__init__(key)
        self.code = code
        self.key = key


@dataclass(frozen=True)
class Task:
    id: int
    node: str
    user: int
    status: Literal["open", "done", "cancelled"] = "open"
    decision: str = ""  # approve | reject | return | transfer | taken_back | cancelled
    place_of: int | None = None  # 转办: the assignee whose place in the step this task holds


@dataclass(frozen=True)
class Step:
    """One entry of the trail: who did what where, when, and the opinion they gave."""

    at: str
    user: int
    node: str
    operation: str
    opinion: str = ""
    target: str = ""


@dataclass(frozen=True)
class Instance:
    id: int
    flow: str
    version: int
    initiator: int
    form: dict[str, Any]
    status: Literal["running", "approved", "rejected", "withdrawn"] = "running"
    tasks: tuple[Task, ...] = ()
    trail: tuple[Step, ...] = ()
    passed: tuple[str, ...] = ()  # the steps completed, in order (退回 targets, 拿回)
    next_task: int = 1


@dataclass(frozen=True)
class Operation:
    kind: Literal["approve", "reject", "return", "transfer", "take_back", "withdraw"]
    task_id: int | None = None
    opinion: str = ""
    to: str | int | None = None  # return: "previous" | "initiator" | a node id; transfer: a user id


@dataclass(frozen=True)
class Effect:
    """What the caller must do after storing the new state."""

    kind: Literal["task_assigned", "task_closed", "ended"]
    user: int | None = None
    task_id: int | None = None
    status: str | None = None


def open_tasks(instance: Instance, node: str | None = None) -> list[Task]:
    return [t for t in instance.tasks if t.status == "open" and (node is None or t.node == node)]


# ---- starting ----------------------------------------------------------------------


def start(defn: FlowDefinition, instance_id: int, initiator: int, form: dict[str, Any], resolve: Resolver, now: str) -> tuple[Instance, list[Effect]]:
    inst = Instance(instance_id, defn.key, defn.version, initiator, dict(form))
    inst = _log(inst, Step(now, initiator, defn.start.id, "start"))
    inst = dataclasses.replace(inst, passed=(defn.start.id,))
    return _enter(defn, inst, defn.nodes[defn.start.next or ""], resolve, [], now)


# ---- acting -------------------------------------------------------------------------


def apply(defn: FlowDefinition, inst: Instance, op: Operation, actor: int, resolve: Resolver, now: str) -> tuple[Instance, list[Effect]]:
    if inst.status != "running":
        raise Refused("conflict", "error.flow_ended")
    if op.kind == "withdraw":
        if actor != inst.initiator:
            raise Refused("forbidden", "error.flow_not_initiator")
        inst = _log(inst, Step(now, actor, _current(inst), "withdraw", op.opinion))
        return _end(inst, "withdrawn", [])
    if op.kind == "take_back":
        return _take_back(defn, inst, actor, op.opinion, resolve, now)
    task = next((t for t in inst.tasks if t.id == op.task_id), None)
    if task is None:
        raise Refused("bad_request", "error.flow_no_such_task")
    if task.user != actor:
        raise Refused("forbidden", "error.flow_not_your_task")
    if task.status != "open":
        raise Refused("conflict", "error.flow_task_done")
    node = defn.nodes[task.node]
    if op.kind in ("reject", "return") and not op.opinion.strip():
        raise Refused("bad_request", "error.flow_opinion_required")
    if op.kind == "approve" and node.opinion == "required" and not op.opinion.strip():
        raise Refused("bad_request", "error.flow_opinion_required")
    effects: list[Effect] = []
    if op.kind == "approve":
        inst = _close(inst, task, "approve", effects)
        inst = _log(inst, Step(now, actor, node.id, "approve", op.opinion))
        return _after_approval(defn, inst, node, resolve, effects, now)
    if op.kind == "reject":
        inst = _close(inst, task, "reject", effects)
        inst = _log(inst, Step(now, actor, node.id, "reject", op.opinion))
        return _end(inst, "rejected", effects)
    if op.kind == "transfer":
        if not isinstance(op.to, int) or op.to == actor:
            raise Refused("bad_request", "error.flow_bad_transfer")
        if any(t.user == op.to for t in open_tasks(inst, node.id)):
            raise Refused("conflict", "error.flow_already_assigned")
        inst = _close(inst, task, "transfer", effects)
        inst = _log(inst, Step(now, actor, node.id, "transfer", op.opinion, str(op.to)))
        return _assign(inst, node.id, [op.to], effects, place_of=task.place_of or task.user)
    if op.kind == "return":
        target = _return_target(defn, inst, node, op.to)
        for t in open_tasks(inst):
            inst = _close(inst, t, "return" if t.id == task.id else "cancelled", effects)
        inst = _log(inst, Step(now, actor, node.id, "return", op.opinion, target))
        inst = dataclasses.replace(inst, passed=inst.passed[: inst.passed.index(target)])
        return _enter(defn, inst, defn.nodes[target], resolve, effects, now)
    raise Refused("bad_request", "error.bad_request")


def _after_approval(defn: FlowDefinition, inst: Instance, node: Node, resolve: Resolver, effects: list[Effect], now: str) -> tuple[Instance, list[Effect]]:
    still = open_tasks(inst, node.id)
    if node.type == "countersign" and node.mode == "all" and still:
        return inst, effects
    if node.type == "countersign" and node.mode == "sequential":
        users = _resolve_all(node, inst, resolve)
        approved = next(t for t in reversed(inst.tasks) if t.node == node.id and t.decision == "approve")
        place = approved.place_of or approved.user
        after = users[users.index(place) + 1:] if place in users else []
        if after:
            return _assign(inst, node.id, [after[0]], effects)
    for t in still:  # or签, or several people on one task: the first decides
        inst = _close(inst, t, "cancelled", effects)
    inst = dataclasses.replace(inst, passed=(*inst.passed, node.id))
    return _enter(defn, inst, defn.nodes[node.next or ""], resolve, effects, now)


def _enter(defn: FlowDefinition, inst: Instance, node: Node, resolve: Resolver, effects: list[Effect], now: str) -> tuple[Instance, list[Effect]]:
    for _ in range(len(defn.nodes) + 1):  # gateways chain; a definition's graph is checked to end
        if node.type == "end":
            inst = dataclasses.replace(inst, passed=(*inst.passed, node.id))
            return _end(inst, "approved", effects)
        if node.type == "exclusive":
            inst = dataclasses.replace(inst, passed=(*inst.passed, node.id))
            node = defn.nodes[_branch(node, inst.form)]
            continue
        if node.type == "start":  # back to the initiator, to resubmit
            return _assign(inst, node.id, [inst.initiator], effects)
        users = _resolve_all(node, inst, resolve)
        if not users:
            raise Refused("conflict", "error.flow_no_assignee")
        if node.type == "countersign" and node.mode == "sequential":
            users = users[:1]
        return _assign(inst, node.id, users, effects)
    raise Refused("conflict", "error.flow_loop")


def _branch(node: Node, form: dict[str, Any]) -> str:
    for when, to in node.branches:
        if when is None:
            return to
        evaluator, parsed = compile_condition(when)
        evaluator.names = dict(form)
        try:
            if evaluator.eval(when, previously_parsed=parsed):
                return to
        except (NameNotDefined, TypeError, ValueError, ZeroDivisionError):
            continue  # a condition over a field the form lacks does not hold
    raise Refused("conflict", "error.flow_no_branch")


def _resolve_all(node: Node, inst: Instance, resolve: Resolver) -> list[int]:
    users: list[int] = []
    for spec in node.assignees:
        for u in resolve(spec, inst):
            if u not in users:
                users.append(u)
    return users


def _return_target(defn: FlowDefinition, inst: Instance, node: Node, to: str | int | None) -> str:
    steps = [p for p in inst.passed if defn.nodes[p].type in ("start", "task", "countersign")]
    if to in (None, "previous"):
        if not steps:
            raise Refused("conflict", "error.flow_bad_return")
        return steps[-1]
    if to == "initiator":
        to = defn.start.id
    if isinstance(to, str) and to in steps:
        return to
    raise Refused("bad_request", "error.flow_bad_return")


def _take_back(defn: FlowDefinition, inst: Instance, actor: int, opinion: str, resolve: Resolver, now: str) -> tuple[Instance, list[Effect]]:
    """拿回: the last step passed was the actor's, and at the current step nobody acted yet."""
    steps = [p for p in inst.passed if defn.nodes[p].type in ("start", "task", "countersign")]
    if not steps:
        raise Refused("conflict", "error.flow_cannot_take_back")
    last = steps[-1]
    acted_last = [s for s in inst.trail if s.node == last and s.operation in ("approve", "start")]
    current = _current(inst)
    acted_now = [t for t in inst.tasks if t.node == current and t.status == "done" and t.decision == "approve"]
    if not acted_last or acted_last[-1].user != actor or acted_now:
        raise Refused("conflict", "error.flow_cannot_take_back")
    effects: list[Effect] = []
    for t in open_tasks(inst):
        inst = _close(inst, t, "taken_back", effects)
    inst = _log(inst, Step(now, actor, last, "take_back", opinion, current))
    inst = dataclasses.replace(inst, passed=inst.passed[: inst.passed.index(last)])
    return _assign(inst, last, [actor], effects)


# ---- small pure helpers -----------------------------------------------------------------


def _current(inst: Instance) -> str:
    open_ = open_tasks(inst)
    return open_[0].node if open_ else (inst.passed[-1] if inst.passed else "")


def _log(inst: Instance, step: Step) -> Instance:
    return dataclasses.replace(inst, trail=(*inst.trail, step))


def _close(inst: Instance, task: Task, decision: str, effects: list[Effect]) -> Instance:
    status = "cancelled" if decision in ("cancelled", "taken_back") else "done"
    closed = dataclasses.replace(task, status=status, decision=decision)
    effects.append(Effect("task_closed", task.user, task.id))
    return dataclasses.replace(inst, tasks=tuple(closed if t.id == task.id else t for t in inst.tasks))


def _assign(inst: Instance, node: str, users: Sequence[int], effects: list[Effect], place_of: int | None = None) -> tuple[Instance, list[Effect]]:
    tasks = list(inst.tasks)
    next_id = inst.next_task
    for u in users:
        tasks.append(Task(next_id, node, u, place_of=place_of))
        effects.append(Effect("task_assigned", u, next_id))
        next_id += 1
    return dataclasses.replace(inst, tasks=tuple(tasks), next_task=next_id), effects


def _end(inst: Instance, status: str, effects: list[Effect]) -> tuple[Instance, list[Effect]]:
    for t in open_tasks(inst):
        inst = _close(inst, t, "cancelled", effects)
    effects.append(Effect("ended", inst.initiator, status=status))
    return dataclasses.replace(inst, status=status), effects  # type: ignore[arg-type]
