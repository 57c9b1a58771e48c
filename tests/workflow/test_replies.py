"""What an approver types, read as a decision: the words, full-width forms, a number
picking one of several tasks, the opinion kept as typed."""

from __future__ import annotations

import pytest

from bots.workflow.replies import Reply, parse_reply


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("同意", Reply("approve", "")),
        ("同意，请办公室抓紧落实", Reply("approve", "请办公室抓紧落实")),
        ("不同意 预算超标", Reply("reject", "预算超标")),
        ("／reject 预算超标", Reply("reject", "预算超标")),
        ("退回：请补充附件", Reply("return", "请补充附件")),
        ("２、同意！", Reply("approve", "", 2)),
        ("已阅", Reply("read", "")),
        ("/claim", Reply("claim", "")),
        ("转办 @lisi 请李科长办理", Reply("transfer", "请李科长办理", None, "lisi")),
        ("/transfer ＠wang.jg", Reply("transfer", "", None, "wang.jg")),
        ("3 转办 @lisi", Reply("transfer", "", 3, "lisi")),
        ("委派 @caiwu1 请先核算", Reply("delegate", "请先核算", None, "caiwu1")),
        ("加签 @wangjg", Reply("add_sign", "", None, "wangjg")),
        ("前加签 @wangjg 请王局先看", Reply("add_sign_before", "请王局先看", None, "wangjg")),
    ],
)
def test_replies_read_as_decisions(text, reply):
    assert parse_reply(text) == reply


@pytest.mark.parametrize("text", ["", "好的", "转办", "转办 李四", "/transfer", "委派", "加签 王局", "收到，马上办"])
def test_other_text_is_not_a_decision(text):
    assert parse_reply(text) is None
