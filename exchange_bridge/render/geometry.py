"""GB/T 9704-2012 page geometry and type sizes, in the units Word files use. Pure.

The page (4.2.1): A4, 天头 37 mm, 订口 28 mm, 版心 156 × 225 mm, so the bottom margin is
35 mm and the right one 26 mm. The type (4.2.2-4.2.3): 3号 (16 pt) 仿宋, 22 lines of 28
characters filling the type area: a line pitch of 225 mm / 22 and a character pitch of
156 mm / 28 (a little under 16 pt, so 28 characters fit).

Word lengths: twips (1/20 pt), eighths of a point for borders, half-points for font sizes.
"""

from __future__ import annotations

import math
from typing import Final

MM_PER_PT: Final = 25.4 / 72


def mm_to_pt(mm: float) -> float:
    return mm / MM_PER_PT


def mm_to_twips(mm: float) -> int:
    return round(mm_to_pt(mm) * 20)


def pt_to_twips(pt: float) -> int:
    return round(pt * 20)


# ---- the page (mm)
PAGE_WIDTH_MM: Final = 210.0
PAGE_HEIGHT_MM: Final = 297.0
TOP_MM: Final = 37.0
BOTTOM_MM: Final = 35.0
LEFT_MM: Final = 28.0
RIGHT_MM: Final = 26.0
TYPE_WIDTH_MM: Final = PAGE_WIDTH_MM - LEFT_MM - RIGHT_MM  # 156
TYPE_HEIGHT_MM: Final = PAGE_HEIGHT_MM - TOP_MM - BOTTOM_MM  # 225

LINES_PER_PAGE: Final = 22
CHARS_PER_LINE: Final = 28

# ---- type sizes (pt): 字号
SIZE_CHU: Final = 42.0  # 初号
SIZE_2: Final = 22.0  # 2号: the title
SIZE_3: Final = 16.0  # 3号: everything else
SIZE_4: Final = 14.0  # 4号: 版记, page numbers

# ---- derived, in twips
TYPE_WIDTH_TW: Final = mm_to_twips(PAGE_WIDTH_MM) - mm_to_twips(LEFT_MM) - mm_to_twips(RIGHT_MM)
TYPE_HEIGHT_TW: Final = mm_to_twips(PAGE_HEIGHT_MM) - mm_to_twips(TOP_MM) - mm_to_twips(BOTTOM_MM)
# Rounded down so that 22 lines always fit the type area.
LINE_PITCH_TW: Final = TYPE_HEIGHT_TW // LINES_PER_PAGE  # 579 twips = 28.95 pt
LINE_PITCH_PT: Final = LINE_PITCH_TW / 20
CHAR_PITCH_PT: Final = TYPE_WIDTH_TW / 20 / CHARS_PER_LINE  # ≈ 15.79 pt

# 7.2.4: the issuer mark's top edge is 35 mm below the type area's top edge.
MARK_TOP_MM: Final = 35.0
# 7.2.7: the red separator is 4 mm below the 发文字号.
RULE_BELOW_NUMBER_MM: Final = 4.0
# 7.5: page number dashes 7 mm below the type area.
PAGE_NUMBER_BELOW_MM: Final = 7.0


def condense_twips(size_pt: float = SIZE_3, pitch_pt: float = CHAR_PITCH_PT) -> int:
    """Character spacing (w:spacing/@w:val, twips, negative: condensed) that brings
    `size_pt` characters to at most `pitch_pt` apart, so 28 fit a line (and 29 do not)."""
    return math.floor((pitch_pt - size_pt) * 20)


CONDENSE_TW: Final = condense_twips()  # -5: 3号 characters 15.75 pt apart


AUTOSPACE_EM: Final = 0.2  # the space Word and LibreOffice put between Chinese and Latin/digits


def _narrow(ch: str) -> bool:
    return ord(ch) < 0x2E80 and ch not in "—…"


def text_width_em(text: str) -> float:
    """The width of `text` in ems of its font size: CJK and full-width characters take one
    em, Latin letters and digits (Times New Roman's) half, plus the automatic space at
    each change between Chinese and Latin or digits (2026年11月20日 has five)."""
    width = sum(0.5 if _narrow(ch) else 1.0 for ch in text)
    changes = sum(1 for a, b in zip(text, text[1:]) if _narrow(a) != _narrow(b) and (a.isalnum() or b.isalnum()))
    return width + AUTOSPACE_EM * changes


def fit_mark(text: str, width_pt: float, size_pt: float = SIZE_CHU, min_scale: int = 50) -> tuple[float, int]:
    """The issuer mark's size and horizontal scale (percent) so `text` fits `width_pt`:
    the standard size while it fits, then narrower glyphs (as printers condense long
    names) down to `min_scale`, then a smaller size. A mark over several lines (joint
    issuers, one a line) fits its longest line; from three lines on, each is smaller."""
    lines = text.split("\n")
    if len(lines) > 2:
        size_pt = size_pt * 2 / len(lines)
    text = max(lines, key=text_width_em)
    natural = text_width_em(text) * size_pt
    if natural <= width_pt:
        return size_pt, 100
    scale = int(100 * width_pt / natural)
    if scale >= min_scale:
        return size_pt, scale
    return width_pt / (text_width_em(text) * min_scale / 100), min_scale


# ---- title lines (7.3.1: 回行时词意完整，排列对称，使用梯形或菱形)

_NO_LINE_START: Final = set("，。、；：？！）》」』〕】”’…—·")
_NO_LINE_END: Final = set("（《「『〔【“‘")
_KINDS: Final = ("通知", "通报", "报告", "请示", "批复", "意见", "决定", "决议", "命令", "公报", "公告", "通告",
                 "议案", "函", "纪要", "会议纪要")
_AFTER_JOINERS: Final = ("、", "和", "及", "与", "暨")
_AFTER_VERBS: Final = ("印发", "转发", "批转", "开展", "做好", "加强", "进一步")


def _break_penalty(text: str, i: int) -> float | None:
    """How bad a line break before text[i] is; None where it may not go."""
    a, b = text[i - 1], text[i]
    if b in _NO_LINE_START or a in _NO_LINE_END:
        return None
    if a.isascii() and a.isalnum() and b.isascii() and b.isalnum():
        return None  # inside a number or a word
    rest = text[i:]
    if rest in _KINDS or (a == "的" and rest in _KINDS):
        return None  # the kind (文种) never stands alone
    if text.startswith("关于", i):
        return 0.0  # 发文机关 / 关于……的通知: the usual break
    if text.endswith("关于", 0, i):
        return 4.0
    if a in _AFTER_JOINERS or a == "的" or text.endswith(_AFTER_VERBS, 0, i):
        return 3.0
    year = text[:i].removesuffix("度").removesuffix("年")
    if year != text[:i] and year[-1:].isdigit() and b != "度":
        return 2.0  # after a year: 2026年 | 冬季……, 2026年度 | 预算……
    return 12.0  # somewhere inside a phrase: words may be split


def title_lines(text: str, capacity_em: float) -> list[str]:
    """Split a title into lines of at most `capacity_em` ems: as few lines as fit, broken
    where the words allow (before 关于, after 的, 、, 和 …), the lines as even as can be,
    a shorter line above a longer one (梯形) preferred."""
    if text_width_em(text) <= capacity_em or len(text) < 2:
        return [text]
    n = 1
    while text_width_em(text) > n * capacity_em:
        n += 1
    best: tuple[float, list[str]] | None = None
    for lines in range(n, n + 2):  # one line more if that breaks better
        found = _best_split(text, lines, capacity_em)
        if found and (best is None or found[0] + 6.0 * (lines - n) < best[0]):
            best = (found[0] + 6.0 * (lines - n), found[1])
    return best[1] if best else [text]


def _best_split(text: str, lines: int, capacity_em: float) -> tuple[float, list[str]] | None:
    mean = text_width_em(text) / lines
    if lines == 1:
        width = text_width_em(text)
        return (0.0, [text]) if width <= capacity_em else None
    best: tuple[float, list[str]] | None = None
    for i in range(1, len(text)):
        penalty = _break_penalty(text, i)
        head = text[:i]
        width = text_width_em(head)
        if penalty is None or width > capacity_em:
            continue
        rest = _best_split(text[i:], lines - 1, capacity_em)
        if rest is None:
            continue
        shape = 0.5 if lines == 2 and width > text_width_em(text[i:]) else 0.0
        score = penalty + 0.5 * abs(width - mean) + shape + rest[0]
        if best is None or score < best[0]:
            best = (score, [head, *rest[1]])
    return best
