"""What an approver types in the DM with the workflow bot, read as a decision (pure).

    同意                       approve
    同意，请办公室抓紧落实      approve, with the opinion
    不同意 理由…  /  /reject 理由   reject
    退回 意见…  /  /return 意见     return to the previous step
    /approve 意见              approve
    已阅  /  /read             read (a 传阅)
    认领  /  /claim            claim (a task offered to several)
    转办 @lisi 意见  /  /transfer @lisi   transfer to that person
    委派 @lisi 意见  /  /delegate @lisi   delegate: they answer, then it comes back
    加签 @lisi  /  前加签 @lisi            add a signer after one's approval / before
    参加  /  请假 理由          answer a meeting's invitation
    拿回  /  /takeback         take back one's last approval (the next holder has not acted)
    减签 @lisi  /  /removesign @lisi      take a signer one added off the step
    2 同意 意见  /  ２同意      the second of several pending tasks

A full-width number reads as its digits (２ as 2); the opinion is kept as typed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["ON_DONE", "TO_SOMEONE", "Reply", "parse_reply"]

_WORDS = (
    ("不同意", "reject"), ("拒绝", "reject"), ("/reject", "reject"),
    ("退回", "return"), ("/return", "return"),
    ("同意", "approve"), ("批准", "approve"), ("/approve", "approve"),
    ("已阅", "read"), ("/read", "read"), ("认领", "claim"), ("/claim", "claim"),
    ("转办", "transfer"), ("/transfer", "transfer"),
    ("委派", "delegate"), ("/delegate", "delegate"),
    ("前加签", "add_sign_before"), ("加签", "add_sign"), ("/addsign", "add_sign"),
    ("参加", "attend"), ("/attend", "attend"), ("请假", "decline"), ("/decline", "decline"),
    ("拿回", "take_back"), ("/takeback", "take_back"), ("减签", "remove_sign"), ("/removesign", "remove_sign"),
)
TO_SOMEONE = ("transfer", "delegate", "add_sign", "add_sign_before", "remove_sign")  # these name a person: @username
ON_DONE = ("take_back", "remove_sign")  # these act on what one has done, not on a pending task
_TO = re.compile(r"^[@＠]([A-Za-z0-9_.\-]{1,64})")
_NUMBER = re.compile(r"^([0-9０-９]{1,3})\s*[.、．)）]?\s*")
_LEAD = " \t,，.。:：;；、!！"


@dataclass(frozen=True)
class Reply:
    kind: str  # approve | reject | return | read | claim | transfer | delegate | add_sign | add_sign_before | attend | decline | take_back | remove_sign
    opinion: str
    number: int | None = None  # which of several pending tasks (1-based)
    to: str | None = None  # transfer: the username after @


def parse_reply(text: str) -> Reply | None:
    s = (text or "").strip()
    number = None
    m = _NUMBER.match(s)
    if m:
        number, s = int(unicodedata.normalize("NFKC", m.group(1))), s[m.end():]
    head = unicodedata.normalize("NFKC", s[:10]).lower()  # ／approve reads as /approve
    for word, kind in _WORDS:
        if head.startswith(word):
            rest = s[len(word):].strip(_LEAD).strip()
            if kind not in TO_SOMEONE:
                return Reply(kind, rest, number)
            m = _TO.match(rest)
            return None if m is None else Reply(kind, rest[m.end():].strip(_LEAD).strip(), number, m.group(1))
    return None
