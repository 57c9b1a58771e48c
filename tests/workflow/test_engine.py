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


def act(defn, inst, kind, user, opinion="", to=None, node=None):
    task = next((t for t in open_tasks(inst, node) if t.user == PEOPLE[user]), None)
    op = Operation(kind, task.id if task else None, opinion, to)
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
