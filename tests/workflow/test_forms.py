"""A flow's form as the server checks it (no I/O): each kind's values cleaned or refused
field by field, defaults filled, what a step may not edit refused; and the definition's
rules about its form (a booking needs a select and a period)."""

from __future__ import annotations

import pytest

from bots.forms.fields import Field, Invalid, check
from bots.workflow.definition import DefinitionError, load_definition

FORM = (
    Field("出发时间", "datetime", required=True),
    Field("天数", "number", required=True, min=0.5, max=30),
    Field("开始日期", "date"),
    Field("目的地", "text", max_length=10),
    Field("人数", "number", default=1),
    Field("车辆", "select", options=("鲁E·A0001", "鲁E·A0002")),
    Field("随行", "multiselect", options=("司机", "秘书", "警卫")),
    Field("经办人", "person"),
)
ALL = {f.name for f in FORM}


def problems(values, editable=ALL, base=None):
    with pytest.raises(Invalid) as caught:
        check(FORM, values, editable, base=base)
    return {f: (key, params) for f, key, params in caught.value.problems}


def test_values_are_cleaned_to_their_kinds_and_defaults_fill_what_is_missing():
    got = check(FORM, {"出发时间": "2026-12-08T09:00", "天数": "2.5", "开始日期": "2026-12-08", "目的地": " 河口区 ", "随行": ["秘书", "司机"]}, ALL)
    assert got == {"出发时间": "2026-12-08T09:00", "天数": 2.5, "开始日期": "2026-12-08", "目的地": "河口区", "随行": ["司机", "秘书"], "人数": 1}
    assert check(FORM, {"出发时间": "2026-12-08T09:00:00+08:00", "天数": 3}, ALL)["出发时间"] == "2026-12-08T09:00+08:00"


def test_each_field_is_refused_with_its_own_reason():
    got = problems({
        "天数": 31, "开始日期": "12月8日", "目的地": "东营市河口区仙河镇第一中学", "车辆": "鲁E·Z9999",
        "随行": ["司机", "厨师"], "经办人": "王 建国", "人数": True, "备注": "x",
    })
    assert got == {
        "出发时间": ("form.required", {}),
        "天数": ("form.too_big", {"max": 30}),
        "开始日期": ("form.not_date", {}),
        "目的地": ("form.too_long", {"limit": 10}),
        "车辆": ("form.not_option", {}),
        "随行": ("form.not_option", {}),
        "经办人": ("form.not_person", {}),
        "人数": ("form.not_number", {}),
        "备注": ("form.unknown_field", {}),
    }
    assert problems({"出发时间": "明天上午", "天数": "三天"}) == {"出发时间": ("form.not_datetime", {}), "天数": ("form.not_number", {})}
    assert problems({"出发时间": "2026-12-08T09:00", "天数": 0.2}) == {"天数": ("form.too_small", {"min": 0.5})}
    assert problems({"出发时间": "2026-12-08T09:00", "天数": float("nan")}) == {"天数": ("form.not_number", {})}


def test_a_step_fills_only_its_own_fields_over_what_the_instance_holds():
    base = {"出发时间": "2026-12-08T09:00", "天数": 2, "人数": 3}
    assert check(FORM, {"车辆": "鲁E·A0002"}, {"车辆"}, base=base) == {**base, "车辆": "鲁E·A0002"}
    assert problems({"车辆": "鲁E·A0002", "天数": 9}, {"车辆"}, base) == {"天数": ("form.not_editable", {})}
    required_car = (Field("车辆", "select", required=True, options=("鲁E·A0001",)),)
    with pytest.raises(Invalid) as caught:
        check(required_car, {}, {"车辆"}, base=base)
    assert caught.value.problems == [("车辆", "form.required", {})]
    assert check(required_car, {}, set(), base=base) == base  # not this step's to fill


BOOKING = """\
key: car
name: 车辆申请
version: 1
form:
  - {name: 出发时间, kind: datetime, required: true}
  - {name: 返回时间, kind: %s}
  - {name: 车辆, kind: select, options: [鲁E·A0001]}
nodes:
  - {id: start, type: start, fields: {车辆: read}, next: pai}
  - {id: pai, type: task, assignee: {role: fleet}, fields: {车辆: %s, 座位: edit}, book: {field: 车辆, from: 出发时间, to: 返回时间}, next: end}
  - {id: end, type: end}
"""


def test_a_definition_says_what_is_wrong_with_its_form_rules():
    with pytest.raises(DefinitionError) as caught:
        load_definition(BOOKING % ("text", "read"))
    messages = [e["message"] for e in caught.value.errors]
    assert "fields: '座位' is not a field of the form" in messages
    assert "book: '车辆' must be editable at this step (fields: {车辆: edit})" in messages
    assert "book: '返回时间' must be a date or datetime field of the form" in messages
    defn = load_definition((BOOKING % ("datetime", "edit")).replace(", 座位: edit", ""))
    assert defn.editable("start") == {"出发时间", "返回时间"} and defn.editable("pai") == {"车辆"}
    assert defn.nodes["pai"].book == ("车辆", "出发时间", "返回时间")


def test_common_opinions_come_from_the_step_then_the_flow_then_the_hub():
    from bots.workflow.chat import phrases_of

    source = (BOOKING % ("datetime", "edit")).replace(", 座位: edit", "")
    plain = load_definition(source)
    assert phrases_of(plain, plain.nodes["pai"]) == ["同意。", "拟同意，请领导审批。", "请按有关规定办理。", "请抓紧落实。"]
    flow_wide = load_definition(source.replace("version: 1\n", "version: 1\nphrases: [已核，同意。]\n"))
    assert phrases_of(flow_wide, flow_wide.nodes["pai"]) == ["已核，同意。"]
    own = load_definition(source.replace("book: {", "phrases: [派车。], book: {"))
    assert phrases_of(own, own.nodes["pai"]) == ["派车。"]


def test_money_is_yuan_with_at_most_fen_and_reads_as_an_amount():
    from bots.workflow.service import shown_fields
    from bots.forms.fields import public

    money = (Field("预计费用", "money", required=True, max=100000),)
    assert check(money, {"预计费用": "¥1,234.5"}, {"预计费用"}) == {"预计费用": 1234.5}
    assert check(money, {"预计费用": 800}, {"预计费用"}) == {"预计费用": 800}
    for bad in (12.345, -1, "一千元", True):
        with pytest.raises(Invalid) as caught:
            check(money, {"预计费用": bad}, {"预计费用"})
        assert caught.value.problems[0][1] in ("form.not_money", "form.not_number"), bad
    with pytest.raises(Invalid) as caught:
        check(money, {"预计费用": 100000.01}, {"预计费用"})
    assert caught.value.problems == [("预计费用", "form.too_big", {"max": 100000})]
    assert shown_fields({"预计费用": 5800}, [public(money[0])]) == [("预计费用", "5,800.00 元")]
