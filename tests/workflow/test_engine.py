"""The workflow engine without I/O: definitions and their errors (with lines), each
operation on a small 请假 flow, and properties no sequence of operations may break."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.workflow.definition import DefinitionError, load_definition
from bots.workflow.engine import Instance, Operation, Refused, apply, open_tasks, start

LEAVE = """\
key: leave
name: 请假
version: 1
nodes:
  - {id: start, type: start, next: dept}
  - {id: dept, type: task, name: 部门负责人审批, assignee: {user: dept_head}, next: days}
  - {id: days, type: exclusive, branches: [{when: "days > 3", to: office}, {to: hr}]}
  - {id: office, type: countersign, mode: all, assignees: [{user: office_a}, {user: office_b}], next: hr}
  - {id: hr, type: countersign, mode: sequential, assignees: [{user: hr_1}, {user: hr_2}], next: end}
  - {id: end, type: end}
"""
PEOPLE = {"initiator": 1, "dept_head": 2, "office_a": 3, "office_b": 4, "hr_1": 5, "hr_2": 6, "other": 9}
NOW = "2026-12-03T09:00:00+08:00"


def resolve(spec: dict[str, Any], inst: Instance) -> list[int]:
    if spec.get("initiator"):
        return [inst.initiator]
    return [PEOPLE[spec["user"]]]


@pytest.fixture(scope="module")
def leave():
    return load_definition(LEAVE)


def act(defn, inst, kind, user, opinion="", to=None, node=None, position="after"):
    task = next((t for t in open_tasks(inst, node) if t.user == PEOPLE[user]), None)
    op = Operation(kind, task.id if task else None, opinion, to, position)
    return apply(defn, inst, op, PEOPLE[user], resolve, NOW)


def holders(inst) -> list[tuple[str, int]]:
    return sorted((t.node, t.user) for t in open_tasks(inst))


# ---- definitions ----------------------------------------------------------------------


def test_a_good_definition_loads(leave):
    assert leave.key == "leave" and list(leave.nodes) == ["start", "dept", "days", "office", "hr", "end"]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("key: x\nname: [\n", 3, "not YAML"),
        (LEAVE.replace("version: 1", "version: 1\ncolor: red"), 4, "Additional properties"),
        (LEAVE.replace("next: days", "next: nowhere"), 6, "'nowhere' is not a node"),
        (LEAVE.replace('"days > 3"', '"days >"'), 7, "does not parse"),
        (LEAVE.replace("{to: hr}", "{when: 'days < 9', to: hr}"), 7, "the last branch must have no condition"),
        (LEAVE.replace("  - {id: start, type: start, next: dept}\n", "  - {id: start, type: start, next: dept}\n  - {id: start2, type: start, next: dept}\n"), 4, "exactly one start"),
        (LEAVE.replace("assignee: {user: dept_head}", "assignee: {}"), 6, "should be non-empty"),
    ],
)
def test_a_bad_definition_says_what_and_on_which_line(text, line, words):
    with pytest.raises(DefinitionError) as caught:
        load_definition(text)
    assert any(e["line"] == line and words in e["message"] for e in caught.value.errors), caught.value.errors


def test_an_unreachable_step_is_an_error():
    text = LEAVE.replace("  - {id: end, type: end}\n", "  - {id: end, type: end}\n  - {id: lost, type: task, assignee: {user: hr_1}, next: end}\n")
    with pytest.raises(DefinitionError, match="not reachable"):
        load_definition(text)


# ---- operations -------------------------------------------------------------------------


def test_a_short_leave_goes_through_the_department_then_hr_in_order(leave):
    inst, effects = start(leave, 1, 1, {"days": 2}, resolve, NOW)
    assert holders(inst) == [("dept", 2)] and [e.kind for e in effects] == ["task_assigned"]
    inst, _ = act(leave, inst, "approve", "dept_head", "同意")
    assert holders(inst) == [("hr", 5)]  # 2 days: the office is skipped; hr one after another
    inst, _ = act(leave, inst, "approve", "hr_1")
    assert holders(inst) == [("hr", 6)]
    inst, effects = act(leave, inst, "approve", "hr_2", "已备案")
    assert inst.status == "approved" and holders(inst) == []
    assert effects[-1].kind == "ended" and effects[-1].status == "approved"
    assert [(s.node, s.operation, s.opinion) for s in inst.trail] == [
        ("start", "start", ""), ("dept", "approve", "同意"), ("hr", "approve", ""), ("hr", "approve", "已备案"),
    ]


def test_a_long_leave_needs_the_whole_office(leave):
    inst, _ = start(leave, 1, 1, {"days": 5}, resolve, NOW)
    inst, _ = act(leave, inst, "approve", "dept_head")
    assert holders(inst) == [("office", 3), ("office", 4)]
    inst, _ = act(leave, inst, "approve", "office_b")
    assert holders(inst) == [("office", 3)]  # 会签: everyone
    inst, _ = act(leave, inst, "approve", "office_a")
    assert holders(inst) == [("hr", 5)]


def test_reject_ends_it_and_nothing_more_can_be_done(leave):
    inst, _ = start(leave, 1, 1, {"days": 5}, resolve, NOW)
    with pytest.raises(Refused) as no_opinion:
        act(leave, inst, "reject", "dept_head")
    assert no_opinion.value.code == "bad_request"
    inst, _ = act(leave, inst, "reject", "dept_head", "年底工作紧")
    assert inst.status == "rejected" and holders(inst) == []
    with pytest.raises(Refused) as ended:
        act(leave, inst, "approve", "dept_head")
    assert ended.value.code == "conflict"


def test_return_to_the_previous_step_and_to_the_initiator(leave):
    inst, _ = start(leave, 1, 1, {"days": 5}, resolve, NOW)
    inst, _ = act(leave, inst, "approve", "dept_head")
    inst, _ = act(leave, inst, "return", "office_a", "请补充材料", to="previous")
    assert holders(inst) == [("dept", 2)]  # office_b's task went with it
    inst, _ = act(leave, inst, "return", "dept_head", "请重新填写天数", to="initiator")
    assert holders(inst) == [("start", 1)]
    inst, _ = act(leave, inst, "approve", "initiator", "已修改")  # resubmitted
    assert holders(inst) == [("dept", 2)]
    with pytest.raises(Refused):
        act(leave, inst, "return", "dept_head", "x", to="hr")  # not a step already passed


def test_transfer_keeps_the_place_in_a_sequential_step(leave):
    inst, _ = start(leave, 1, 1, {"days": 1}, resolve, NOW)
    inst, _ = act(leave, inst, "approve", "dept_head")
    inst, _ = act(leave, inst, "transfer", "hr_1", "请代为审核", to=PEOPLE["other"])
    assert holders(inst) == [("hr", 9)]
    inst, _ = act(leave, inst, "approve", "other")
    assert holders(inst) == [("hr", 6)]  # then hr_2, as if hr_1 had acted


def test_take_back_while_the_next_has_not_acted(leave):
    inst, _ = start(leave, 1, 1, {"days": 5}, resolve, NOW)
    inst, _ = act(leave, inst, "approve", "dept_head", "同意")
    inst, _ = apply(leave, inst, Operation("take_back", opinion="意见写错了"), PEOPLE["dept_head"], resolve, NOW)
    assert holders(inst) == [("dept", 2)]
    inst, _ = act(leave, inst, "approve", "dept_head", "同意，请抓紧")
    inst, _ = act(leave, inst, "approve", "office_a")
    with pytest.raises(Refused) as late:  # office_a has acted: too late
        apply(leave, inst, Operation("take_back"), PEOPLE["dept_head"], resolve, NOW)
    assert late.value.code == "conflict"


def test_foreign_double_and_withdraw(leave):
    inst, _ = start(leave, 1, 1, {"days": 5}, resolve, NOW)
    task = open_tasks(inst)[0]
    with pytest.raises(Refused) as foreign:
        apply(leave, inst, Operation("approve", task.id), PEOPLE["other"], resolve, NOW)
    assert foreign.value.code == "forbidden"
    done, _ = apply(leave, inst, Operation("approve", task.id), PEOPLE["dept_head"], resolve, NOW)
    with pytest.raises(Refused) as twice:
        apply(leave, done, Operation("approve", task.id), PEOPLE["dept_head"], resolve, NOW)
    assert twice.value.code == "conflict"
    with pytest.raises(Refused):
        apply(leave, done, Operation("withdraw"), PEOPLE["dept_head"], resolve, NOW)
    gone, effects = apply(leave, done, Operation("withdraw", opinion="不请了"), PEOPLE["initiator"], resolve, NOW)
    assert gone.status == "withdrawn" and holders(gone) == [] and effects[-1].status == "withdrawn"


def test_any_one_of_several_decides_an_or_sign_step():
    defn = load_definition(LEAVE.replace("mode: all", "mode: any"))
    inst, _ = start(defn, 1, 1, {"days": 5}, resolve, NOW)
    inst, _ = act(defn, inst, "approve", "dept_head")
    inst, effects = act(defn, inst, "approve", "office_b")
    assert holders(inst) == [("hr", 5)]
    assert ("task_closed", 3) in [(e.kind, e.user) for e in effects]  # office_a's task is withdrawn from them


# ---- properties --------------------------------------------------------------------------

USERS = list(PEOPLE.values())
OPS = st.lists(
    st.tuples(
        st.sampled_from(["approve", "approve", "approve", "reject", "return", "transfer", "take_back", "withdraw"]),
        st.one_of(st.none(), st.none(), st.none(), st.sampled_from(USERS)),  # None: the task's own holder
        st.sampled_from(["", "同意", "不同意 理由"]),
        st.sampled_from(["previous", "initiator", "dept", "office", None, 9, 6]),
        st.integers(min_value=0, max_value=5),
    ),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(days=st.integers(min_value=0, max_value=10), mode=st.sampled_from(["all", "any", "sequential"]), ops=OPS)
def test_no_sequence_of_operations_breaks_an_instance(days, mode, ops):
    defn = load_definition(LEAVE.replace("mode: all", f"mode: {mode}"))
    inst, _ = start(defn, 1, 1, {"days": days}, resolve, NOW)
    for kind, user, opinion, to, pick in ops:
        tasks = open_tasks(inst)
        task = tasks[pick % len(tasks)] if tasks else None
        task_id = task.id if task else None
        if user is None:  # mostly the person who holds the task, so that flows go somewhere
            user = task.user if task else inst.initiator
        try:
            after, _ = apply(defn, inst, Operation(kind, task_id, opinion, to), user, resolve, NOW)
        except Refused:
            continue  # refused: nothing changed (the instance is immutable)
        # the trail only grows, by exactly one step that keeps the opinion given
        assert after.trail[: len(inst.trail)] == inst.trail and len(after.trail) == len(inst.trail) + 1
        assert after.trail[-1].opinion == opinion
        inst = after
        open_ = open_tasks(inst)
        if inst.status == "running":
            assert open_, "running with nobody holding it"
        else:
            assert not open_, "ended with tasks still open"
        for node in ("hr",) + (("office",) if mode == "sequential" else ()):
            assert len(open_tasks(inst, node)) <= 1, f"two holders of the sequential step {node}"
        assert len({(t.node, t.user) for t in open_}) == len(open_), "one person holding one step twice"


# ---- 委派, 加签, 减签, 认领, 传阅, 票签, gateways, the clock, an administrator's ----------------

RICH = """\
key: rich
name: 综合
version: 1
skip_same_handler: true
nodes:
  - {id: start, type: start, next: dept}
  - {id: dept, type: task, assignee: {user: dept_head}, deadline: 1h, next: split}
  - {id: split, type: parallel, branches: [{to: office}, {to: hr}], join: meet}
  - {id: office, type: countersign, mode: vote, pass_ratio: 0.5, assignees: [{user: office_a}, {user: office_b}, {user: hr_1}], next: meet}
  - {id: hr, type: task, claim: true, assignees: [{user: hr_1}, {user: hr_2}], next: meet}
  - {id: meet, type: join, next: number}
  - {id: number, type: auto, action: number, counter: 东政办发, field: 文号, next: read}
  - {id: read, type: circulate, assignees: [{user: office_a}, {user: other}], next: end}
  - {id: end, type: end}
"""


def resolve_rich(spec: dict[str, Any], inst: Instance) -> list[int]:
    if "leader_of" in spec:
        return [PEOPLE["other"]] if spec["leader_of"] != PEOPLE["other"] else []
    return resolve(spec, inst)


def do(defn, inst, kind, user, opinion="", to=None, node=None, position="after", admin=False, task=None):
    if task is None:
        task = next((t for t in open_tasks(inst, node) if t.user == PEOPLE[user]), None)
    op = Operation(kind, task.id if task else None, opinion, to, position)
    return apply(defn, inst, op, PEOPLE[user] if user != "clock" else 0, resolve_rich, NOW, admin=admin)


@pytest.fixture(scope="module")
def rich():
    return load_definition(RICH)


def test_delegate_comes_back_to_the_delegator(leave):
    inst, _ = start(leave, 1, 1, {"days": 1}, resolve, NOW)
    inst, _ = act(leave, inst, "delegate", "dept_head", "请先提出意见", to=PEOPLE["other"])
    assert holders(inst) == [("dept", 9)]
    with pytest.raises(Refused):  # a delegate answers; the decision stays with who asked
        act(leave, inst, "reject", "other", "不行")
    inst, effects = act(leave, inst, "approve", "other", "建议同意")
    assert holders(inst) == [("dept", 2)] and ("task_assigned", 2) in [(e.kind, e.user) for e in effects]
    inst, _ = act(leave, inst, "approve", "dept_head", "同意")
    assert holders(inst) == [("hr", 5)]
    assert [(s.operation, s.opinion) for s in inst.trail[1:4]] == [("delegate", "请先提出意见"), ("approve", "建议同意"), ("approve", "同意")]


def test_add_sign_before_and_after_then_remove_sign(leave):
    inst, _ = start(leave, 1, 1, {"days": 1}, resolve, NOW)
    inst, _ = act(leave, inst, "add_sign", "dept_head", "请财务先看", to=PEOPLE["other"], position="before")
    assert holders(inst) == [("dept", 9)]
    inst, _ = act(leave, inst, "approve", "other", "经费可行")
    assert holders(inst) == [("dept", 2)]
    inst, _ = act(leave, inst, "add_sign", "dept_head", "同意，请人事也看", to=PEOPLE["hr_2"])  # after: mine, then theirs
    assert holders(inst) == [("dept", 6)]
    inst, _ = act(leave, inst, "approve", "hr_2")
    assert holders(inst) == [("hr", 5)]
    # 减签 on a 会签: the one who added a signer takes them off again; a stranger may not
    defn = load_definition(LEAVE)
    inst, _ = start(defn, 1, 1, {"days": 9}, resolve, NOW)
    inst, _ = act(defn, inst, "approve", "dept_head")
    inst, _ = act(defn, inst, "add_sign", "office_a", "加上其他同志", to=PEOPLE["other"])
    assert holders(inst) == [("office", 4), ("office", 9)]
    added = next(t for t in open_tasks(inst) if t.user == PEOPLE["other"])
    with pytest.raises(Refused) as stranger:
        apply(defn, inst, Operation("remove_sign", added.id), PEOPLE["office_b"], resolve, NOW)
    assert stranger.value.code == "forbidden"
    inst, _ = apply(defn, inst, Operation("remove_sign", added.id, "不必了"), PEOPLE["office_a"], resolve, NOW)
    assert holders(inst) == [("office", 4)]
    with pytest.raises(Refused) as last:  # never the last holder
        apply(defn, inst, Operation("remove_sign", open_tasks(inst)[0].id), 0, resolve, NOW, admin=True)
    assert last.value.key == "error.flow_last_holder"


def test_parallel_vote_claim_number_and_circulate(rich):
    inst, effects = start(rich, 1, 1, {}, resolve_rich, NOW)
    assert ("schedule", 2, 3600) in [(e.kind, e.user, e.seconds) for e in effects]  # dept's deadline
    inst, _ = do(rich, inst, "approve", "dept_head")
    assert holders(inst) == [("hr", 5), ("hr", 6), ("office", 3), ("office", 4), ("office", 5)]
    inst, _ = do(rich, inst, "claim", "hr_2", node="hr")
    assert holders(inst) == [("hr", 6), ("office", 3), ("office", 4), ("office", 5)]  # hr_1 no longer sees it
    inst, _ = do(rich, inst, "approve", "hr_2", node="hr")
    assert dict(inst.joins) == {"meet": 1}  # the join waits for the vote
    inst, _ = do(rich, inst, "reject", "office_a", "不赞成", node="office")
    inst, effects = do(rich, inst, "approve", "office_b", node="office")  # 1 of 3: not yet half
    assert [t.node for t in open_tasks(inst)] == ["office"]
    inst, effects = do(rich, inst, "approve", "hr_1", node="office")  # 2 of 3
    assert [e.node for e in effects if e.kind == "auto"] == ["number"]
    assert holders(inst) == [("read", 3), ("read", 9)]
    inst, _ = do(rich, inst, "approve", "office_a", node="read")  # 同意 on a 传阅 reads it
    inst, _ = do(rich, inst, "read", "other", node="read")
    assert inst.status == "approved"
    assert [s.operation for s in inst.trail if s.node == "read"] == ["read", "read"]


def test_a_lost_vote_rejects():
    defn = load_definition(RICH)
    inst, _ = start(defn, 1, 1, {}, resolve_rich, NOW)
    inst, _ = do(defn, inst, "approve", "dept_head")
    inst, _ = do(defn, inst, "reject", "office_a", "不赞成", node="office")
    inst, _ = do(defn, inst, "reject", "office_b", "不赞成", node="office")
    assert inst.status == "rejected" and inst.trail[-1].operation == "vote_lost" and not open_tasks(inst)


def test_a_deadline_reminds_then_escalates_to_the_leader(rich):
    inst, _ = start(rich, 1, 1, {}, resolve_rich, NOW)
    task = open_tasks(inst)[0]
    with pytest.raises(Refused):
        do(rich, inst, "timeout", "dept_head", task=task)  # only the clock
    inst, effects = do(rich, inst, "timeout", "clock", task=task)
    assert [(e.kind, e.user) for e in effects] == [("urged", 2), ("schedule", 2)] and holders(inst) == [("dept", 2)]
    inst, effects = do(rich, inst, "timeout", "clock", task=task)
    assert holders(inst) == [("dept", 2), ("dept", 9)] and inst.trail[-1].operation == "escalate"
    inst, _ = do(rich, inst, "approve", "other", "我来批", node="dept")  # the leader decides in their place
    assert ("dept", 2) not in holders(inst) and "dept" in inst.passed
    with pytest.raises(Refused) as late:  # a timer of a task already closed
        do(rich, inst, "timeout", "clock", task=task)
    assert late.value.code == "conflict"


def test_skip_same_handler():
    defn = load_definition(RICH.replace("{user: dept_head}, deadline: 1h", "{initiator: true}"))
    inst, _ = start(defn, 1, 1, {}, resolve_rich, NOW)
    assert inst.trail[1].operation == "auto_pass" and "dept" in inst.passed


def test_urge_is_rate_limited_and_admin_operations(leave):
    inst, _ = start(leave, 1, 1, {"days": 1}, resolve, NOW)
    inst, effects = apply(leave, inst, Operation("urge"), 1, resolve, NOW)
    assert [(e.kind, e.user) for e in effects] == [("urged", 2)]
    with pytest.raises(Refused) as soon:
        apply(leave, inst, Operation("urge"), 1, resolve, "2026-12-03T09:05:00+08:00")
    assert soon.value.key == "error.flow_urge_too_soon"
    inst, _ = apply(leave, inst, Operation("urge"), 1, resolve, "2026-12-03T09:11:00+08:00")
    with pytest.raises(Refused):
        apply(leave, inst, Operation("jump", to="hr"), 2, resolve, NOW)  # not an administrator
    inst, _ = apply(leave, inst, Operation("jump", opinion="直接人事", to="hr"), 99, resolve, NOW, admin=True)
    assert holders(inst) == [("hr", 5)]
    inst, _ = apply(leave, inst, Operation("terminate", opinion="重复申请"), 99, resolve, NOW, admin=True)
    assert inst.status == "terminated" and not holders(inst)
    inst, _ = apply(leave, inst, Operation("reopen", opinion="误操作"), 99, resolve, NOW, admin=True)
    assert inst.status == "running" and holders(inst) == [("hr", 5)]


# ---- properties over every operation ------------------------------------------------------

EVERY_OP = st.lists(
    st.tuples(
        st.sampled_from([
            "approve", "approve", "approve", "approve", "read", "reject", "return", "transfer", "delegate", "add_sign",
            "remove_sign", "claim", "take_back", "withdraw", "urge", "jump", "terminate", "reopen", "timeout",
            "attend", "decline", "child_done",
        ]),
        st.one_of(st.none(), st.none(), st.sampled_from([*USERS, 0, 99])),
        st.sampled_from(["", "同意", "不同意 理由"]),
        st.sampled_from(["previous", "initiator", "dept", "office", "hr", "read", None, 9, 6, 3, "approved", "rejected"]),
        st.integers(min_value=0, max_value=7),
        st.sampled_from(["before", "after"]),
    ),
    max_size=30,
)


def _places(tasks) -> int:
    """Holders of one place count once: an escalation's twins are one place."""
    groups = {frozenset((t.id, t.pair)) if t.pair else frozenset((t.id,)) for t in tasks}
    return len(groups)


MEETING = """\
key: meeting
name: 会议
version: 1
nodes:
  - {id: start, type: start, next: dept}
  - {id: dept, type: task, assignee: {user: dept_head}, next: rsvp}
  - {id: rsvp, type: rsvp, assignees: [{user: office_a}, {user: office_b}, {user: hr_1}], deadline: 1h, on_timeout: remind, next: read}
  - {id: read, type: circulate, assignees: [{user: office_a}, {user: other}], next: end}
  - {id: end, type: end}
"""


PARENT = """\
key: parent
name: 发文（含会签子流程）
version: 1
nodes:
  - {id: start, type: start, next: dept}
  - {id: dept, type: task, assignee: {user: dept_head}, next: huiqian}
  - {id: huiqian, type: subflow, name: 部门会签, flow: huiqian, next: hr}
  - {id: hr, type: task, assignee: {user: hr_1}, next: end}
  - {id: end, type: end}
"""


def test_a_subflow_step_waits_for_its_child_and_follows_how_it_ended():
    defn = load_definition(PARENT)
    inst, _ = start(defn, 1, 1, {}, resolve_rich, NOW)
    inst, effects = do(defn, inst, "approve", "dept_head")
    waiting = open_tasks(inst)
    assert [(t.node, t.user, t.kind) for t in waiting] == [("huiqian", 0, "subflow")]
    assert [(e.kind, e.node) for e in effects if e.kind == "subflow"] == [("subflow", "huiqian")]  # the caller starts the child
    assert not [e for e in effects if e.kind == "task_assigned" and e.user == 0]  # nobody's to-do, no card
    for kind, user in (("approve", "clock"), ("timeout", "clock"), ("approve", "dept_head")):
        with pytest.raises(Refused):
            do(defn, inst, kind, user, task=waiting[0])  # only the child's end moves it
    with pytest.raises(Refused) as person:
        do(defn, inst, "child_done", "dept_head", to="approved", task=waiting[0])
    assert person.value.key == "error.forbidden"
    passed, _ = do(defn, inst, "child_done", "clock", to="approved", task=waiting[0])
    assert holders(passed) == [("hr", PEOPLE["hr_1"])] and passed.trail[-1].operation == "subflow_done" and passed.trail[-1].target == "approved"
    rejected, _ = do(defn, inst, "child_done", "clock", to="rejected", task=waiting[0])
    assert rejected.status == "rejected" and not open_tasks(rejected)
    going_on = load_definition(PARENT.replace("flow: huiqian,", "flow: huiqian, continue_if_rejected: true,"))
    on, _ = apply(going_on, inst, Operation("child_done", waiting[0].id, "", "rejected"), 0, resolve_rich, NOW)
    assert holders(on) == [("hr", PEOPLE["hr_1"])]
    with pytest.raises(DefinitionError, match="a subflow needs flow"):
        load_definition(PARENT.replace(" flow: huiqian,", ""))


def _definition(flow: str):
    if flow == "parent":
        return load_definition(PARENT)
    if flow == "rich":
        return load_definition(RICH)
    if flow == "meeting":
        return load_definition(MEETING)
    return load_definition(LEAVE.replace("mode: all", "mode: sequential" if flow == "leave-sequential" else "mode: all"))


@settings(max_examples=400, deadline=None)
@given(ops=EVERY_OP, flow=st.sampled_from(["rich", "leave-sequential", "leave-all", "meeting", "parent"]))
def test_no_sequence_of_any_operations_breaks_an_instance(ops, flow):
    defn = _definition(flow)
    inst, _ = start(defn, 1, 1, {"days": 5}, resolve_rich, NOW)
    for kind, user, opinion, to, pick, position in ops:
        tasks = [t for t in inst.tasks if t.status in ("open", "waiting")] or list(inst.tasks)
        task = tasks[pick % len(tasks)]
        if user is None:
            user = task.user if kind not in ("timeout", "child_done") else 0
        try:
            after, _ = apply(defn, inst, Operation(kind, task.id, opinion, to, position), user, resolve_rich, NOW, admin=user == 99)
        except Refused:
            continue
        assert after.trail[: len(inst.trail)] == inst.trail and len(after.trail) > len(inst.trail)
        if opinion and kind != "timeout":  # the clock gives no opinion
            assert opinion in [s.opinion for s in after.trail[len(inst.trail):]], "an opinion lost"
        inst = after
        open_ = open_tasks(inst)
        waiting = [t for t in inst.tasks if t.status == "waiting"]
        if inst.status == "running":
            assert open_, "running with nobody holding it"
            for w in waiting:
                assert any(t.back_to == w.id for t in open_), "waiting for a delegate who is not there"
        else:
            assert not open_ and not waiting, "ended with tasks still held"
        if flow == "leave-sequential":
            assert _places(open_tasks(inst, "hr")) <= 1, "two holders of the sequential step"
        assert len({(t.node, t.user) for t in open_}) == len(open_), "one person holding one step twice"


def test_an_invitation_passes_when_everyone_has_answered_and_a_leave_needs_its_reason():
    defn = load_definition(MEETING)
    inst, _ = start(defn, 1, 1, {}, resolve_rich, NOW)
    inst, _ = do(defn, inst, "approve", "dept_head")
    assert sorted(t.user for t in open_tasks(inst, "rsvp")) == sorted(PEOPLE[u] for u in ("office_a", "office_b", "hr_1"))
    with pytest.raises(Refused) as no_reason:
        do(defn, inst, "decline", "office_b", node="rsvp")
    assert no_reason.value.key == "error.flow_opinion_required"
    with pytest.raises(Refused):
        do(defn, inst, "read", "office_a", node="rsvp")  # an invitation is answered, not read
    inst, _ = do(defn, inst, "attend", "office_a", node="rsvp")
    inst, _ = do(defn, inst, "reject", "office_b", "出差", node="rsvp")  # 不同意 on an invitation: 请假, with its reason
    assert open_tasks(inst, "read") == []  # one still to answer
    inst, _ = do(defn, inst, "approve", "hr_1", node="rsvp")  # 同意: 参加
    assert [(s.operation, s.opinion) for s in inst.trail if s.node == "rsvp"] == [("attend", ""), ("decline", "出差"), ("attend", "")]
    assert {t.user for t in open_tasks(inst, "read")} == {PEOPLE["office_a"], PEOPLE["other"]}
