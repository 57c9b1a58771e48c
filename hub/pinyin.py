"""Pinyin search keys for Chinese names (pypinyin): 张三 → ("zhangsan", "zs").
Pure functions; stored beside each name so search is a plain indexed LIKE."""

from __future__ import annotations

import re

from pypinyin import Style, lazy_pinyin

__all__ = ["search_keys"]

# Surnames whose reading as a surname differs from pypinyin's everyday reading
# (曾国藩 is zeng, not ceng). Only applied to a person's name, at its start.
SURNAME_READINGS = {
    "曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "区": "ou", "查": "zha", "朴": "piao",
    "盖": "ge", "缪": "miao", "覃": "qin", "翟": "zhai", "乐": "yue", "种": "chong", "繁": "po",
    "员": "yun", "召": "shao", "秘": "bi", "句": "gou", "洗": "xian", "薄": "bo", "黑": "he",
    "折": "she", "隗": "wei", "阚": "kan", "卜": "bu", "郇": "xun", "能": "nai",
}
COMPOUND_SURNAMES = {"单于": ["chan", "yu"]}  # not 单 + 于


def _latin(chunk: str) -> list[str]:
    """Non-Chinese parts of a name: keep its letters and digits (Alice王 → alice, wang)."""
    return re.findall(r"[a-z0-9]+", chunk.lower())


def _syllables(text: str) -> list[str]:
    return [s.lower() for s in lazy_pinyin(text, style=Style.NORMAL, errors=_latin) if s.strip()]


def search_keys(name: str, person: bool = False) -> tuple[str, str]:
    """Full pinyin (no tones, no spaces) and initials, both lower case. For a person's
    name (`person=True`) a leading polyphonic surname takes its surname reading."""
    name = (name or "").strip()
    head: list[str] = []
    if person:
        compound = next((c for c in COMPOUND_SURNAMES if name.startswith(c)), None)
        if compound:
            head, name = list(COMPOUND_SURNAMES[compound]), name[len(compound):]
        elif name[:1] in SURNAME_READINGS:
            head, name = [SURNAME_READINGS[name[0]]], name[1:]
    syllables = head + _syllables(name)
    full = "".join(syllables)
    initials = "".join(s[0] for s in syllables if s)
    return full, initials
