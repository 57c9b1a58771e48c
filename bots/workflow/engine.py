"""An instance's transitions, pure: `start(...)` and `apply(...)` take the definition,
the instance state and who acts, and answer the new state and the effects (whom to tell,
what to schedule, which automatic step to run) without doing any of it. A refused
operation raises `Refused` and changes nothing (the functions never mutate what they are
given). Every operation taken appends its step to the trail (流转记录) with its opinion.

Steps people hold: `start` (the initiator's own: a returned instance comes back there),
`task` (one person, or several of whom the first to act decides; with `claim`, one of
them takes it first), `countersign` 会签 (`all`, `any` 或签, `sequential`, `vote` 票签
with a pass ratio), `circulate` 传阅 (everyone reads; no decision) and `rsvp` 会议通知
(every invitee answers 参加 or 请假 with a reason; the step passes when all have). Gateways:
`exclusive` (the first branch whose condition holds), `parallel` (every branch) and
`inclusive` (every branch whose condition holds), the last two meeting at a `join`.
`auto` steps (take a document number, dispatch, archive) are run by the caller.

Operations, by the task's holder: approve 同意, reject 不同意, return 退回 (to the
previous step, the initiator or any step passed), transfer 转办, delegate 委派 (the
delegate answers, then it comes back), add_sign 加签 (`before`: the added person first,
then back; `after`: after one's own approval), read 已阅, claim 认领. By the one who
added a signer (or an administrator): remove_sign 减签. By the last to act: take_back
拿回 while nobody after them has acted. By the initiator: withdraw 撤销, urge 催办.
By an administrator: jump 跳转, terminate 终止, reopen 唤醒. By the clock (actor 0):
timeout, as the step's `on_timeout` says.

A 退回, 拿回 or 跳转 out of a parallel block cancels the block's other branches, and
its join then waits for nobody.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, Literal

from simpleeval import NameNotDefined

from ..forms import fields as forms
from .definition import HUMAN, FlowDefinition, Node, compile_condition

__all__ = ["SYSTEM", "Effect", "Instance", "Operation", "Refused", "Step", "Task", "apply", "open_tasks", "start"]

SYSTEM = 0  # the actor of what the clock and automatic steps do
URGE_GAP_SECONDS = 600  # 催办 at most once in ten minutes

# Who may act at a node: the assignee specs of the definition, made user ids — or
# (user id, post unit id) for a person acting in one of their posts (一人多岗) — by the
# caller (the directory knows roles, units and leaders; the engine does not).
Resolver = Callable[[dict[str, Any], "Instance"], Sequence["int | tuple[int, int]"]]


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
    status: Literal["open", "waiting", "done", "cancelled"] = "open"  # waiting: for a delegate or a signer before
    decision: str = ""  # approve | reject | return | transfer | read | delegate | cancelled | …
    place_of: int | None = None  # whose place in the step this task holds (转办, 加签, escalation)
    kind: Literal["task", "read", "rsvp", "delegated", "before", "subflow"] = "task"  # subflow: held by SYSTEM while its child runs
    back_to: int | None = None  # delegated / before: the waiting task that reopens when this one is done
    added_by: int | None = None  # 加签: who added this signer (they may 减签)
    pair: int | None = None  # an escalation's twin: acting on one closes the other
    pool: bool = False  # 认领: a candidate who has not taken it yet
    round: int = 0  # which entry of its node it belongs to
    timeouts: int = 0  # deadlines passed
    post: int | None = None  # the unit of the post it was given in
    proxy_for: int | None = None  # 代理: held by a standing proxy in this person's place (the caller sets it)
    child: int | None = None  # subflow: the child instance it waits for (the caller sets it)


@dataclass(frozen=True)
class Step:
    """One entry of the trail: who did what where, when, and the opinion they gave."""

    at: str
    user: int
    node: str
    operation: str
    opinion: str = ""
    target: str = ""
    post: int | None = None
    proxy_for: int | None = None  # acted as this person's standing proxy (代理)
    form: dict[str, Any] | None = None  # the form's values this step filled or changed


@dataclass(frozen=True)
class Instance:
    id: int
    flow: str
    version: int
    initiator: int
    form: dict[str, Any]
    status: Literal["running", "approved", "rejected", "withdrawn", "terminated"] = "running"
    tasks: tuple[Task, ...] = ()
    trail: tuple[Step, ...] = ()
    passed: tuple[str, ...] = ()  # the steps completed, in order (退回 targets, 拿回)
    next_task: int = 1
    next_round: int = 1
    joins: tuple[tuple[str, int], ...] = ()  # join id -> branches still to arrive


OperationKind = Literal[
    "approve", "reject", "return", "transfer", "delegate", "add_sign", "remove_sign", "read", "claim",
    "take_back", "withdraw", "urge", "jump", "terminate", "reopen", "timeout", "attend", "decline", "child_done",
]


@dataclass(frozen=True)
class Operation:
    kind: OperationKind
    task_id: int | None = None
    opinion: str = ""
    to: str | int | None = None  # return / jump / reopen: a node id ("previous", "initiator"); transfer, delegate, add_sign: a user id
    position: Literal["before", "after"] = "after"  # add_sign
    form: dict[str, Any] | None = None  # approve: values of the fields this node may fill (车辆 at 派车)


@dataclass(frozen=True)
class Effect:
    """What the caller must do after storing the new state."""

    kind: Literal["task_assigned", "task_closed", "ended", "urged", "schedule", "auto", "subflow"]
    user: int | None = None
    task_id: int | None = None
    status: str | None = None
    seconds: int | None = None  # schedule: when the task's deadline falls
    node: str | None = None  # auto: the step to run


def open_tasks(instance: Instance, node: str | None = None) -> list[Task]:
    return [t for t in instance.tasks if t.status == "open" and (node is None or t.node == node)]


def held(instance: Instance, node: str | None = None) -> list[Task]:
    """Open and waiting: the tasks a step still has."""
    return [t for t in instance.tasks if t.status in ("open", "waiting") and (node is None or t.node == node)]


@dataclass
class _Move:
    """One transition being worked out: the definition, the resolver, the clock, the
    effects so far and who acted (for skipping a step they would act on again)."""

    defn: FlowDefinition
    resolve: Resolver
    now: str
    actor: int
    effects: list[Effect] = dataclasses.field(default_factory=list)
    just_acted: int | None = None  # who passed the step just left (skip_same_handler)
    filled: dict[str, Any] | None = None  # what this approval wrote into the form


# ---- starting ----------------------------------------------------------------------


def start(defn: FlowDefinition, instance_id: int, initiator: int, form: dict[str, Any], resolve: Resolver, now: str) -> tuple[Instance, list[Effect]]:
    """Raises forms.Invalid when a flow that declares its form is given values that do not fit it."""
    mv = _Move(defn, resolve, now, initiator, just_acted=initiator)
    if defn.form:  # a feature's own keys (`_channel_id`, a sub-flow's `_parent`) are not the form's to check
        own = {k: v for k, v in form.items() if str(k).startswith("_")}
        form = {**forms.check(defn.form, {k: v for k, v in form.items() if k not in own}, defn.editable(defn.start.id)), **own}
    inst = Instance(instance_id, defn.key, defn.version, initiator, dict(form))
    inst = _log(inst, Step(now, initiator, defn.start.id, "start"))
    inst = dataclasses.replace(inst, passed=(defn.start.id,))
    return _enter(mv, inst, defn.nodes[defn.start.next or ""]), mv.effects


# ---- acting -------------------------------------------------------------------------


def apply(
    defn: FlowDefinition, inst: Instance, op: Operation, actor: int, resolve: Resolver, now: str, *, admin: bool = False,
) -> tuple[Instance, list[Effect]]:
    mv = _Move(defn, resolve, now, actor)
    if op.kind == "reopen":
        return _reopen(mv, inst, op, admin), mv.effects
    if inst.status != "running":
        raise Refused("conflict", "error.flow_ended")
    instance_ops = {"withdraw": _withdraw, "urge": _urge, "take_back": _take_back, "jump": _jump, "terminate": _terminate}
    if op.kind in instance_ops:
        return instance_ops[op.kind](mv, inst, op, admin), mv.effects
    task = next((t for t in inst.tasks if t.id == op.task_id), None)
    if task is None:
        raise Refused("bad_request", "error.flow_no_such_task")
    if op.kind == "child_done":  # the clock's kin: the caller saw a sub-flow's child end
        if actor != SYSTEM:
            raise Refused("forbidden", "error.forbidden")
        if task.kind != "subflow" or task.status != "open":
            raise Refused("conflict", "error.flow_task_done")
        return _child_done(mv, inst, task, op), mv.effects
    if task.kind == "subflow":  # only its child's end moves it (or an instance operation)
        raise Refused("bad_request", "error.flow_operation_not_here")
    if op.kind == "timeout":
        if actor != SYSTEM:
            raise Refused("forbidden", "error.forbidden")
        if task.status != "open":
            raise Refused("conflict", "error.flow_task_done")  # a timer that came too late
        return _timeout(mv, inst, task), mv.effects
    if op.kind == "remove_sign":
        return _remove_sign(mv, inst, task, op, admin), mv.effects
    if task.user != actor:
        raise Refused("forbidden", "error.flow_not_your_task")
    if task.status != "open":
        raise Refused("conflict", "error.flow_task_done")
    node = defn.nodes[task.node]
    kind = "read" if task.kind == "read" and op.kind == "approve" else op.kind  # 同意 on a 传阅 reads it
    if task.kind == "rsvp" and op.kind in ("approve", "reject"):  # 同意 / 不同意 on an invitation: 参加 / 请假
        kind = "attend" if op.kind == "approve" else "decline"
    allowed = {"read": {"read", "transfer", "add_sign"}, "rsvp": {"attend", "decline"}, "delegated": {"approve"}, "before": {"approve", "reject"}}
    if task.kind in allowed and kind not in allowed[task.kind] or task.kind == "task" and kind in ("read", "attend", "decline"):
        raise Refused("bad_request", "error.flow_operation_not_here")
    if kind in ("reject", "return", "decline") and not op.opinion.strip():
        raise Refused("bad_request", "error.flow_opinion_required")
    if kind == "approve" and node.opinion == "required" and not op.opinion.strip() and task.kind == "task":
        raise Refused("bad_request", "error.flow_opinion_required")
    if task.pool and kind not in ("claim", "approve", "reject", "return"):
        raise Refused("conflict", "error.flow_claim_first")
    if kind == "approve" and task.kind == "task" and (op.form or _fills(defn, node)):
        inst = _fill(mv, inst, node, op.form or {})
    elif op.form:
        raise Refused("bad_request", "error.flow_form_not_here")
    if task.pool:  # acting on a pooled task takes it
        inst = _claim(inst, task, mv)
        task = _task(inst, task.id)
        if kind == "claim":
            return _log(inst, _step(mv, task, "claim", op.opinion)), mv.effects
    elif kind == "claim":
        raise Refused("conflict", "error.flow_not_claimable")
    handlers = {
        "approve": _approve, "read": _approve, "reject": _reject, "return": _return, "transfer": _transfer,
        "delegate": _delegate, "add_sign": _add_sign, "attend": _answer, "decline": _answer,
    }
    if kind not in handlers:
        raise Refused("bad_request", "error.bad_request")
    return handlers[kind](mv, inst, task, node, op), mv.effects


# ---- a holder's operations -------------------------------------------------------------


def _fills(defn: FlowDefinition, node: Node) -> bool:
    """Whether approving here must fill something: a required field this node may edit."""
    editable = defn.editable(node.id)
    return any(f.required and f.name in editable for f in defn.form)


def _fill(mv: _Move, inst: Instance, node: Node, values: dict[str, Any]) -> Instance:
    """The node's editable fields, checked (forms.Invalid when they do not fit) into the form."""
    form = forms.check(mv.defn.form, values, mv.defn.editable(node.id), base=inst.form)
    mv.filled = {k: v for k, v in form.items() if inst.form.get(k) != v} or None
    return dataclasses.replace(inst, form=form)


def _approve(mv: _Move, inst: Instance, task: Task, node: Node, op: Operation) -> Instance:
    decision = "read" if task.kind == "read" else "approve"
    inst = _close(mv, inst, task, decision)
    inst = _log(inst, dataclasses.replace(_step(mv, task, decision, op.opinion), form=mv.filled))
    if task.back_to is not None:  # a delegate or an earlier signer is done: back to who asked
        return _reopen_task(mv, inst, task.back_to)
    if task.pair is not None:
        inst = _cancel(mv, inst, [_task(inst, task.pair)], "cancelled")
    if _first_decides(node):
        inst = _cancel(mv, inst, [t for t in held(inst, node.id) if t.round == task.round], "cancelled")
    return _settle(mv, inst, node, task)


def _child_done(mv: _Move, inst: Instance, task: Task, op: Operation) -> Instance:
    """A sub-flow's child ended (`op.to`: how): approved passes the step; otherwise the
    parent ends rejected, unless the step says to go on (`continue_if_rejected`)."""
    node = mv.defn.nodes[task.node]
    outcome = str(op.to or "")
    passes = outcome == "approved" or node.continue_if_rejected
    inst = _close(mv, inst, task, "approve" if passes else "reject")
    inst = _log(inst, Step(mv.now, SYSTEM, node.id, "subflow_done", op.opinion, outcome))
    return _settle(mv, inst, node, task) if passes else _end(mv, inst, "rejected")


def _answer(mv: _Move, inst: Instance, task: Task, node: Node, op: Operation) -> Instance:
    """参加 or 请假 (with its reason): the invitee's answer; the step passes when all have."""
    kind = "attend" if op.kind in ("attend", "approve") else "decline"
    inst = _close(mv, inst, task, kind)
    inst = _log(inst, _step(mv, task, kind, op.opinion))
    return _settle(mv, inst, node, task)


def _reject(mv: _Move, inst: Instance, task: Task, node: Node, op: Operation) -> Instance:
    inst = _close(mv, inst, task, "reject")
    inst = _log(inst, _step(mv, task, "reject", op.opinion))
    if node.type == "countersign" and node.mode == "vote" and task.kind == "task":
        return _settle(mv, inst, node, task)  # a vote against, counted
    return _end(mv, inst, "rejected")


def _return(mv: _Move, inst: Instance, task: Task, node: Node, op: Operation) -> Instance:
    target = _return_target(mv.defn, inst, op.to)
    inst = _cancel(mv, inst, held(inst), "cancelled", keep=task.id)
    inst = _close(mv, inst, task, "return")
    inst = _log(inst, _step(mv, task, "return", op.opinion, target))
    inst = dataclasses.replace(inst, passed=inst.passed[: inst.passed.index(target)], joins=())
    return _enter(mv, inst, mv.defn.nodes[target])


def _transfer(mv: _Move, inst: Instance, task: Task, node: Node, op: Operation) -> Instance:
    newcomer = _newcomer(inst, task, op.to, mv.actor)
    inst = _close(mv, inst, task, "transfer")
    inst = _log(inst, _step(mv, task, "transfer", op.opinion, str(newcomer)))
    inst = _add(mv, inst, node, [newcomer], place_of=task.place_of or task.user, kind=task.kind, added_by=task.added_by, round=task.round, pair=task.pair)
    if task.pair is not None:  # an escalation's twin now pairs with the newcomer
        inst = _replace_task(inst, dataclasses.replace(_task(inst, task.pair), pair=inst.next_task - 1))
    return inst


def _delegate(mv: _Move, inst: Instance, task: Task, node: Node, op: Operation) -> Instance:
    if task.back_to is not None:
        raise Refused("bad_request", "error.flow_operation_not_here")  # one level: a delegate answers
    delegate = _newcomer(inst, task, op.to, mv.actor)
    inst = _replace_task(inst, dataclasses.replace(task, status="waiting"))
    inst = _log(inst, _step(mv, task, "delegate", op.opinion, str(delegate)))
    return _add(mv, inst, node, [delegate], kind="delegated", back_to=task.id, round=task.round)


def _add_sign(mv: _Move, inst: Instance, task: Task, node: Node, op: Operation) -> Instance:
    signer = _newcomer(inst, task, op.to, mv.actor)
    if op.position == "before":
        if task.back_to is not None or task.kind == "read":
            raise Refused("bad_request", "error.flow_operation_not_here")
        inst = _replace_task(inst, dataclasses.replace(task, status="waiting"))
        inst = _log(inst, _step(mv, task, "add_sign_before", op.opinion, str(signer)))
        return _add(mv, inst, node, [signer], kind="before", back_to=task.id, added_by=mv.actor, round=task.round)
    # after: one's own approval (or reading), then the signer's, in the same step
    decision = "read" if task.kind == "read" else "approve"
    inst = _close(mv, inst, task, decision)
    inst = _log(inst, _step(mv, task, "add_sign_after", op.opinion, str(signer)))
    if _first_decides(node):
        inst = _cancel(mv, inst, [t for t in held(inst, node.id) if t.round == task.round], "cancelled")
    return _add(mv, inst, node, [signer], kind=task.kind, added_by=mv.actor, place_of=task.place_of or task.user, round=task.round)


def _claim(inst: Instance, task: Task, mv: _Move) -> Instance:
    others = [t for t in open_tasks(inst, task.node) if t.pool and t.id != task.id]
    inst = _cancel(mv, inst, others, "claimed")
    return _replace_task(inst, dataclasses.replace(task, pool=False))


def _remove_sign(mv: _Move, inst: Instance, task: Task, op: Operation, admin: bool) -> Instance:
    """减签: take an added signer (or, for an administrator, any co-signer) off a step."""
    if task.status != "open":
        raise Refused("conflict", "error.flow_task_done")
    if not (admin or task.added_by == mv.actor):
        raise Refused("forbidden", "error.flow_not_your_signer")
    node = mv.defn.nodes[task.node]
    if task.kind == "before" and task.back_to is not None:  # 前加签 taken back: it is the asker's again
        inst = _close(mv, inst, task, "removed")
        inst = _log(inst, Step(mv.now, mv.actor, node.id, "remove_sign", op.opinion, str(task.user)))
        return _reopen_task(mv, inst, task.back_to)
    if len(held(inst, node.id)) <= 1 or task.back_to is not None:
        raise Refused("conflict", "error.flow_last_holder")  # a step never loses its last holder
    inst = _close(mv, inst, task, "removed")
    inst = _log(inst, Step(mv.now, mv.actor, node.id, "remove_sign", op.opinion, str(task.user)))
    return _settle(mv, inst, node, task)


# ---- the initiator's, the last actor's, an administrator's --------------------------------


def _withdraw(mv: _Move, inst: Instance, op: Operation, admin: bool) -> Instance:
    if mv.actor != inst.initiator:
        raise Refused("forbidden", "error.flow_not_initiator")
    inst = _log(inst, Step(mv.now, mv.actor, _current(inst), "withdraw", op.opinion))
    return _end(mv, inst, "withdrawn")


def _urge(mv: _Move, inst: Instance, op: Operation, admin: bool) -> Instance:
    if mv.actor != inst.initiator and not admin:
        raise Refused("forbidden", "error.flow_not_initiator")
    last = next((s for s in reversed(inst.trail) if s.operation == "urge"), None)
    if last is not None and _seconds_between(last.at, mv.now) < URGE_GAP_SECONDS:
        raise Refused("conflict", "error.flow_urge_too_soon")
    inst = _log(inst, Step(mv.now, mv.actor, _current(inst), "urge", op.opinion))
    for t in open_tasks(inst):
        mv.effects.append(Effect("urged", t.user, t.id))
    return inst


def _take_back(mv: _Move, inst: Instance, op: Operation, admin: bool) -> Instance:
    """拿回: the last step passed was the actor's, and at the current step nobody acted yet."""
    steps = [p for p in inst.passed if mv.defn.nodes[p].type in HUMAN]
    if not steps:
        raise Refused("conflict", "error.flow_cannot_take_back")
    last = steps[-1]
    acted_last = [s for s in inst.trail if s.node == last and s.operation in ("approve", "start", "read", "add_sign_after")]
    current = _current(inst)
    acted_now = [t for t in inst.tasks if t.node == current and t.status == "done" and t.round == _latest_round(inst, current)]
    if not acted_last or acted_last[-1].user != mv.actor or acted_now:
        raise Refused("conflict", "error.flow_cannot_take_back")
    inst = _cancel(mv, inst, held(inst), "taken_back")
    inst = _log(inst, Step(mv.now, mv.actor, last, "take_back", op.opinion, current, acted_last[-1].post))
    inst = dataclasses.replace(inst, passed=inst.passed[: inst.passed.index(last)], joins=())
    return _add(mv, inst, mv.defn.nodes[last], [(mv.actor, acted_last[-1].post) if acted_last[-1].post else mv.actor])


def _jump(mv: _Move, inst: Instance, op: Operation, admin: bool) -> Instance:
    if not admin:
        raise Refused("forbidden", "error.admin_only")
    target = mv.defn.nodes.get(str(op.to))
    if target is None or target.type not in HUMAN:
        raise Refused("bad_request", "error.flow_bad_jump")
    inst = _cancel(mv, inst, held(inst), "cancelled")
    inst = _log(inst, Step(mv.now, mv.actor, _current(inst), "jump", op.opinion, target.id))
    passed = inst.passed[: inst.passed.index(target.id)] if target.id in inst.passed else inst.passed
    return _enter(mv, dataclasses.replace(inst, passed=passed, joins=()), target)


def _terminate(mv: _Move, inst: Instance, op: Operation, admin: bool) -> Instance:
    if not admin:
        raise Refused("forbidden", "error.admin_only")
    if not op.opinion.strip():
        raise Refused("bad_request", "error.flow_opinion_required")
    inst = _log(inst, Step(mv.now, mv.actor, _current(inst), "terminate", op.opinion))
    return _end(mv, inst, "terminated")


def _reopen(mv: _Move, inst: Instance, op: Operation, admin: bool) -> Instance:
    """唤醒: an ended instance runs again, at the step named or at its last one."""
    if not admin:
        raise Refused("forbidden", "error.admin_only")
    if inst.status == "running":
        raise Refused("conflict", "error.flow_still_running")
    steps = [p for p in inst.passed if mv.defn.nodes[p].type in HUMAN]
    last_step = next((s.node for s in reversed(inst.trail) if s.node in mv.defn.nodes and mv.defn.nodes[s.node].type in HUMAN), None)
    target = str(op.to) if op.to not in (None, "previous") else last_step
    if target not in mv.defn.nodes or mv.defn.nodes[target].type not in HUMAN:
        raise Refused("bad_request", "error.flow_bad_jump")
    passed = inst.passed[: inst.passed.index(target)] if target in steps else inst.passed
    inst = dataclasses.replace(inst, status="running", passed=passed, joins=())
    inst = _log(inst, Step(mv.now, mv.actor, target, "reopen", op.opinion, target))
    return _enter(mv, inst, mv.defn.nodes[target])


# ---- the clock --------------------------------------------------------------------------


def _timeout(mv: _Move, inst: Instance, task: Task) -> Instance:
    """A deadline passed: remind (and wait again), escalate to the holder's leader on the
    second, or decide as the step says."""
    node = mv.defn.nodes[task.node]
    inst = _replace_task(inst, dataclasses.replace(task, timeouts=task.timeouts + 1))
    task = _task(inst, task.id)
    if node.on_timeout == "pass":
        inst = _log(inst, Step(mv.now, SYSTEM, node.id, "timeout_pass", target=str(task.user)))
        inst = _close(mv, inst, task, "approve")
        if _first_decides(node):
            inst = _cancel(mv, inst, [t for t in held(inst, node.id) if t.round == task.round], "cancelled")
        return _settle(mv, inst, node, task)
    if node.on_timeout == "reject":
        inst = _log(inst, Step(mv.now, SYSTEM, node.id, "timeout_reject", target=str(task.user)))
        return _end(mv, inst, "rejected")
    leaders = [] if node.on_timeout == "remind" or task.timeouts < 2 or task.pair else list(mv.resolve({"leader_of": task.user}, inst))
    leaders = [x for x in leaders if _uid(x) not in {t.user for t in held(inst, node.id)}]
    if not leaders:
        inst = _log(inst, Step(mv.now, SYSTEM, node.id, "remind", target=str(task.user)))
        mv.effects.append(Effect("urged", task.user, task.id))
        if node.on_timeout == "escalate" and task.timeouts < 2 and node.deadline:
            mv.effects.append(Effect("schedule", task.user, task.id, seconds=node.deadline))
        return inst
    inst = _log(inst, Step(mv.now, SYSTEM, node.id, "escalate", target=str(_uid(leaders[0]))))
    inst = _add(mv, inst, node, leaders[:1], place_of=task.place_of or task.user, pair=task.id, round=task.round, kind=task.kind)
    return _replace_task(inst, dataclasses.replace(_task(inst, task.id), pair=inst.next_task - 1))


# ---- entering and leaving steps --------------------------------------------------------------


def _first_decides(node: Node) -> bool:
    return node.type == "task" or node.type == "countersign" and node.mode == "any"


def _settle(mv: _Move, inst: Instance, node: Node, acted: Task) -> Instance:
    """After a holder of `node` is done: pass the step, wait, or end it (a lost vote)."""
    acted = _task(inst, acted.id)
    if inst.status != "running" or held(inst, node.id):
        if node.mode == "vote" and node.type == "countersign" and inst.status == "running":
            return _count_votes(mv, inst, node, acted.round)
        return inst
    if node.mode == "vote" and node.type == "countersign":
        return _count_votes(mv, inst, node, acted.round)
    if node.type == "countersign" and node.mode == "sequential":
        users = [_uid(u) for u in _resolve_all(mv, node, inst)]
        place = acted.place_of or acted.user
        after = users[users.index(place) + 1:] if place in users else []
        if after and acted.decision == "approve":
            return _add(mv, inst, node, [after[0]], round=acted.round)
    return _leave(mv, inst, node)


def _count_votes(mv: _Move, inst: Instance, node: Node, round_: int) -> Instance:
    votes = [t for t in inst.tasks if t.node == node.id and t.round == round_ and t.decision not in ("transfer", "removed", "cancelled")]
    yes = sum(t.decision == "approve" for t in votes)
    pending = sum(t.status in ("open", "waiting") for t in votes)
    ratio = Fraction(node.pass_ratio).limit_denominator(1000)
    if yes >= ratio * len(votes):
        inst = _cancel(mv, inst, held(inst, node.id), "cancelled")
        return _leave(mv, inst, node)
    if yes + pending < ratio * len(votes):
        inst = _log(inst, Step(mv.now, SYSTEM, node.id, "vote_lost", f"{yes}/{len(votes)}"))
        return _end(mv, inst, "rejected")
    return inst


def _leave(mv: _Move, inst: Instance, node: Node) -> Instance:
    mv.just_acted = mv.actor
    inst = dataclasses.replace(inst, passed=(*inst.passed, node.id))
    return _enter(mv, inst, mv.defn.nodes[node.next or ""])


def _enter(mv: _Move, inst: Instance, node: Node, depth: int = 0) -> Instance:
    if depth > len(mv.defn.nodes) * 2:  # gateways and automatic steps that only loop
        raise Refused("conflict", "error.flow_loop")
    if inst.status != "running":
        return inst
    if node.type == "end":
        inst = dataclasses.replace(inst, passed=(*inst.passed, node.id))
        return _end(mv, inst, "approved")
    if node.type in ("exclusive", "parallel", "inclusive"):
        inst = dataclasses.replace(inst, passed=(*inst.passed, node.id))
        targets = _branches(node, inst.form)
        if node.type != "exclusive":
            joins = dict(inst.joins)
            joins[node.join or ""] = joins.get(node.join or "", 0) + len(targets)
            inst = dataclasses.replace(inst, joins=tuple(joins.items()))
        for to in targets:
            inst = _enter(mv, inst, mv.defn.nodes[to], depth + 1)
        return inst
    if node.type == "join":
        joins = dict(inst.joins)
        waiting = joins.pop(node.id, 1) - 1
        if waiting > 0:
            return dataclasses.replace(inst, joins=tuple({**joins, node.id: waiting}.items()))
        inst = dataclasses.replace(inst, joins=tuple(joins.items()), passed=(*inst.passed, node.id))
        return _enter(mv, inst, mv.defn.nodes[node.next or ""], depth + 1)
    if node.type == "auto":
        mv.effects.append(Effect("auto", node=node.id))
        inst = _log(inst, Step(mv.now, SYSTEM, node.id, node.action))
        inst = dataclasses.replace(inst, passed=(*inst.passed, node.id))
        return _enter(mv, inst, mv.defn.nodes[node.next or ""], depth + 1)
    if node.type == "start":  # back to the initiator, to resubmit
        return _add(mv, inst, node, [inst.initiator])
    if node.type == "subflow":  # SYSTEM holds it while the child runs: nobody's to-do
        task = Task(inst.next_task, node.id, SYSTEM, kind="subflow", round=inst.next_round)
        mv.effects.append(Effect("subflow", task_id=task.id, node=node.id))
        return dataclasses.replace(inst, tasks=(*inst.tasks, task), next_task=task.id + 1, next_round=inst.next_round + 1)
    users = _resolve_all(mv, node, inst)
    if not users:
        raise Refused("conflict", "error.flow_no_assignee")
    if mv.defn.skip_same_handler and node.type == "task" and [_uid(u) for u in users] == [mv.just_acted] and mv.actor != SYSTEM:
        inst = _log(inst, Step(mv.now, mv.actor, node.id, "auto_pass"))
        inst = dataclasses.replace(inst, passed=(*inst.passed, node.id))
        return _enter(mv, inst, mv.defn.nodes[node.next or ""], depth + 1)
    if node.type == "countersign" and node.mode == "sequential":
        users = users[:1]
    kind = {"circulate": "read", "rsvp": "rsvp"}.get(node.type, "task")
    return _add(mv, inst, node, users, kind=kind, pool=node.claim and len(users) > 1)


def _branches(node: Node, form: dict[str, Any]) -> list[str]:
    if node.type == "parallel":
        return [to for _, to in node.branches]
    holding = [to for when, to in node.branches if when is not None and _holds(when, form)]
    if node.type == "exclusive" and holding:
        return holding[:1]
    if holding:
        return holding
    default = [to for when, to in node.branches if when is None]
    if not default:
        raise Refused("conflict", "error.flow_no_branch")
    return default[:1]


def _holds(when: str, form: dict[str, Any]) -> bool:
    evaluator, parsed = compile_condition(when)
    evaluator.names = dict(form)
    try:
        return bool(evaluator.eval(when, previously_parsed=parsed))
    except (NameNotDefined, TypeError, ValueError, ZeroDivisionError):
        return False  # a condition over a field the form lacks does not hold


def _resolve_all(mv: _Move, node: Node, inst: Instance) -> list[int | tuple[int, int]]:
    found: list[int | tuple[int, int]] = []
    for spec in node.assignees:
        for u in mv.resolve(spec, inst):
            if _uid(u) not in [_uid(x) for x in found]:
                found.append(u)
    return found


def _return_target(defn: FlowDefinition, inst: Instance, to: str | int | None) -> str:
    steps = [p for p in inst.passed if defn.nodes[p].type in HUMAN]
    if to in (None, "previous"):
        if not steps:
            raise Refused("conflict", "error.flow_bad_return")
        return steps[-1]
    if to == "initiator":
        to = defn.start.id
    if isinstance(to, str) and to in steps:
        return to
    raise Refused("bad_request", "error.flow_bad_return")


def _newcomer(inst: Instance, task: Task, to: str | int | None, actor: int) -> int:
    if not isinstance(to, int) or isinstance(to, bool) or to in (actor, SYSTEM) or to < 0:
        raise Refused("bad_request", "error.flow_bad_transfer")
    if any(t.user == to for t in held(inst, task.node)):
        raise Refused("conflict", "error.flow_already_assigned")
    return to


# ---- small pure helpers -----------------------------------------------------------------


def _uid(assignee: int | tuple[int, int]) -> int:
    return assignee[0] if isinstance(assignee, tuple) else assignee


def _task(inst: Instance, task_id: int) -> Task:
    return next(t for t in inst.tasks if t.id == task_id)


def _step(mv: _Move, task: Task, operation: str, opinion: str, target: str = "") -> Step:
    return Step(mv.now, mv.actor, task.node, operation, opinion, target, task.post, task.proxy_for)


def _current(inst: Instance) -> str:
    open_ = held(inst)
    return open_[0].node if open_ else (inst.passed[-1] if inst.passed else "")


def _latest_round(inst: Instance, node: str) -> int:
    return max((t.round for t in inst.tasks if t.node == node), default=0)


def _seconds_between(earlier: str, later: str) -> float:
    try:
        return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()
    except (TypeError, ValueError):
        return float("inf")


def _log(inst: Instance, step: Step) -> Instance:
    return dataclasses.replace(inst, trail=(*inst.trail, step))


def _replace_task(inst: Instance, task: Task) -> Instance:
    return dataclasses.replace(inst, tasks=tuple(task if t.id == task.id else t for t in inst.tasks))


def _close(mv: _Move, inst: Instance, task: Task, decision: str) -> Instance:
    status = "done" if decision in ("approve", "reject", "return", "transfer", "read", "attend", "decline") else "cancelled"
    mv.effects.append(Effect("task_closed", task.user, task.id))
    return _replace_task(inst, dataclasses.replace(task, status=status, decision=decision))


def _cancel(mv: _Move, inst: Instance, tasks: Sequence[Task], decision: str, keep: int | None = None) -> Instance:
    for t in tasks:
        if t.id != keep and _task(inst, t.id).status in ("open", "waiting"):
            inst = _close(mv, inst, _task(inst, t.id), decision)
    return inst


def _reopen_task(mv: _Move, inst: Instance, task_id: int) -> Instance:
    waiting = _task(inst, task_id)
    if waiting.status != "waiting":  # its step moved on meanwhile (another decided it)
        return inst
    mv.effects.append(Effect("task_assigned", waiting.user, waiting.id))
    return _replace_task(inst, dataclasses.replace(waiting, status="open"))


def _add(mv: _Move, inst: Instance, node: Node, users: Sequence[int | tuple[int, int]], round: int | None = None, **fields: Any) -> Instance:
    tasks = list(inst.tasks)
    next_id, next_round = inst.next_task, inst.next_round
    if round is None:
        round, next_round = next_round, next_round + 1
    for u in users:
        post = u[1] if isinstance(u, tuple) else None
        tasks.append(Task(next_id, node.id, _uid(u), round=round, post=post, **fields))
        mv.effects.append(Effect("task_assigned", _uid(u), next_id))
        if node.deadline:
            mv.effects.append(Effect("schedule", _uid(u), next_id, seconds=node.deadline))
        next_id += 1
    return dataclasses.replace(inst, tasks=tuple(tasks), next_task=next_id, next_round=next_round)


def _end(mv: _Move, inst: Instance, status: str) -> Instance:
    inst = _cancel(mv, inst, held(inst), "cancelled")
    mv.effects.append(Effect("ended", inst.initiator, status=status))
    return dataclasses.replace(inst, status=status)  # type: ignore[arg-type]
