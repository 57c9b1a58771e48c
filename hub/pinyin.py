"""Pinyin search keys for Chinese names (pypinyin): 张三 → ("zhangsan", "zs").
Pure functions; stored beside each name so search is a plain indexed LIKE."""

from __future__ import annotations

from pypinyin import Style, lazy_pinyin

__all__ = ["search_keys"]


def search_keys(name: str) -> tuple[str, str]:
    """Full pinyin (no tones, no spaces) and initials, both lower case."""
    syllables = [s.lower() for s in lazy_pinyin(name, style=Style.NORMAL, errors="ignore") if s.strip()]
    full = "".join(syllables)
    initials = "".join(s[0] for s in syllables if s)
    return full, initials
