"""Find the fields of an official document in its lines: pure, no I/O.

Input is what any word processor shows: the body's paragraphs in order (with their
alignment, style name, colour and size when the file has them) and tables, plus the
page header's lines. Fields are found by content first (a 发文字号 looks like one, a
成文日期 is a date alone on its line, 抄送 starts with 抄送：) and by position (the
title comes after the 版头, the 署名 just above the date), with styles and layout as
hints only: files from the field are usually unstyled. A field that is not found stays
empty and is named in `missing`; nothing is guessed.

Layout order followed (GB/T 9704-2012): 份号 密级 紧急程度 / 发文机关标志 / 发文字号 签发人 /
标题 / 主送 / 正文 / 附件说明 / 署名 成文日期 (印章) / 附注 / 附件 / 抄送 印发机关 印发日期.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hub.errors import HubError

from .model import (
    ACCEPTED_KINDS,
    KIND_ALIASES,
    Document,
    parse_date,
    parse_number,
    squeeze,
)

__all__ = ["Grid", "Line", "read_fields"]


@dataclass(frozen=True, slots=True)
class Line:
    """One paragraph as the file shows it."""

    text: str
    align: str | None = None  # "left" | "center" | "right" | "justify" | None (not set)
    style: str = ""
    red: bool = False
    size: float | None = None  # points, of its first sized run


@dataclass(frozen=True, slots=True)
class Grid:
    """A table: rows of cell texts (a cell's paragraphs joined by newlines). `ruled`: it
    has borders, as data tables do (signature blocks laid out in tables have none)."""

    rows: tuple[tuple[str, ...], ...]
    ruled: bool = False


Item = Line | Grid

# ---------------------------------------------------------------- patterns

_BRACKETS = "〔\\[【（(［"
_NUMBER_IN = re.compile(rf"([^\s{_BRACKETS}：:]{{1,20}}?[{_BRACKETS}]\s*\d{{4}}\s*[〕\]】）)］]\s*第?\s*\d{{1,6}}\s*号)")
_ORDER_NO = re.compile(r"^第\s*\d{1,6}\s*[号期]$")
_SIGNER = re.compile(r"签\s*发\s*人\s*[:：]\s*(?P<names>.*)$")
_COPY_NO = re.compile(r"^(?:份号\s*[:：]?\s*)?(?P<no>\d{6})$")
_SECRECY = re.compile(r"^(?:密级\s*[:：]?\s*)?(?P<s>(?:绝密|机密|秘密)(?:\s*★\s*\S{1,12})?)$")
_URGENCY = re.compile(r"^(?:紧急程度\s*[:：]?\s*)?(?P<u>特急|加急|特提|平急)$")
_DATE_ONLY = re.compile(r"^[0-9０-９〇○零Ｏ一二三四五六七八九十\s]{4,}年[0-9０-９一二三四五六七八九十\s]{1,4}月[0-9０-９一二三四五六七八九十\s]{1,4}日$")
_PRINTED = re.compile(r"^(?P<by>.*?)\s*(?P<date>[0-9０-９〇○零一二三四五六七八九十]{4}\s*年[^年]{1,8}?日)\s*印\s*发$")
_CC = re.compile(r"^抄\s*[送报]\s*[:：]\s*(?P<rest>.*)$")  # 抄报 (to superiors) in older files
_BRACKETED = re.compile(r"^[（(][^（()）]+[）)]$")
_TO_LABEL = re.compile(r"^[主分]\s*送\s*[:：]\s*(?P<rest>.+)$")  # 主送 with a label; 分送 of a 纪要
_ATTACH = re.compile(r"^附\s*件\s*[:：]\s*(?P<rest>.*)$")
_ATTACH_PAGE = re.compile(r"^附件\s*[0-9０-９一二三四五六七八九十]*$")
_ITEM_NO = re.compile(r"^\s*[0-9０-９]{1,3}\s*[．.、]\s*")
_SEAL = re.compile(r"^[〔（(【\[［].{0,12}(印章|盖章|用印|签章|印)[〕）)】\]］]$")
_HEADING = (
    (1, re.compile(r"^[一二三四五六七八九十]{1,3}、")),
    (2, re.compile(r"^[（(][一二三四五六七八九十]{1,3}[）)]")),
    (3, re.compile(r"^[0-9０-９]{1,3}[．.、](?![0-9０-９])")),  # 1、 is common in field files
    (4, re.compile(r"^[（(][0-9０-９]{1,3}[）)]")),
)
_STYLE_HEADING = re.compile(r"^(?:heading|标题)\s*([1-4])$", re.I)
_ORGAN = re.compile(
    r"(政府|委员会|常委会|委|局|厅|部|办|室|院|会|处|科|署|单位|部门|企业|公司|中心|所|站|队|学校|医院|党组|组|银行|"
    r"街道|乡|镇|县|区|市|省|盟|旗|州|团|社|馆|集团|监狱|法院|检察院|军|各)"
)
_SENTENCE = re.compile(r"[。；;！？!?]")
_SPLIT_NAMES = re.compile(r"[，,、；;]")
_KINDS_BY_LENGTH = sorted({*ACCEPTED_KINDS, *KIND_ALIASES}, key=len, reverse=True)


def _flat(text: str) -> str:
    return squeeze(text)


def _split_names(text: str) -> list[str]:
    """Split 各县（市、区）委，市直各单位 on ，、； outside brackets; drop the final 。"""
    text = _flat(text).rstrip("。.；;，,：:")
    names, depth, current = [], 0, []
    for ch in text:
        if ch in "（(【〔[":
            depth += 1
        elif ch in "）)】〕]":
            depth = max(depth - 1, 0)
        if depth == 0 and _SPLIT_NAMES.match(ch):
            names.append("".join(current))
            current = []
        else:
            current.append(ch)
    names.append("".join(current))
    return [n for n in names if n]


def kind_of(title: str) -> str | None:
    """The 文种 a title (or an issuer mark such as ××市人民政府令) ends with."""
    flat = _flat(title).rstrip("。")
    for kind in _KINDS_BY_LENGTH:
        if flat.endswith(kind) and (kind != "令" or not flat.endswith(("命令", "指令", "法令"))):
            kind = KIND_ALIASES.get(kind, kind)
            return "纪要" if kind == "会议纪要" else kind
    if flat.endswith("复函"):
        return "函"
    return None


def heading_level(text: str, style: str = "") -> int:
    m = _STYLE_HEADING.match(style.strip())
    if m:
        return int(m[1])
    flat = text.strip().lstrip("\u3000 ")
    for level, pattern in _HEADING:
        if pattern.match(flat):
            return level
    return 0


def _is_date(text: str) -> bool:
    flat = _flat(text)
    if not _DATE_ONLY.match(flat):
        return False
    try:
        parse_date(flat)
    except HubError:
        return False
    return True


def _looks_like_recipients(text: str) -> bool:
    flat = _flat(text)
    if not flat.endswith(("：", ":")) or _SENTENCE.search(flat) or len(flat) > 300:
        return False
    names = _split_names(flat)
    return bool(names) and all(len(n) <= 40 for n in names) and sum(bool(_ORGAN.search(n)) for n in names) * 2 >= len(names)


def _is_organ_line(line: Line) -> bool:
    flat = _flat(line.text)
    return bool(flat) and len(flat) <= 60 and not _SENTENCE.search(flat) and not re.search(r"[，,：:]", flat)


def _marks(text: str) -> dict[str, str] | None:
    """份号 / 密级 / 紧急程度 tokens when the line holds nothing else."""
    found: dict[str, str] = {}
    tokens = re.split(r"[\s\u3000]{2,}|\t", text.strip())
    for token in (t.strip() for t in tokens):
        if not token:
            continue
        if m := _COPY_NO.match(_flat(token)):
            found["copy_no"] = m["no"]
        elif m := _SECRECY.match(_flat(token)):
            found["secrecy"] = _flat(m["s"])
        elif m := _URGENCY.match(_flat(token)):
            found["urgency"] = m["u"]
        else:
            return None
    return found or None


# ---------------------------------------------------------------- the reader

@dataclass
class _Found:
    fields: dict[str, Any] = field(default_factory=dict)

    def put(self, name: str, value: Any) -> None:
        """Keep the first value found for a field, if the model accepts it: what is printed
        but unreadable (2026年2月30日, a 300-character "name") stays missing."""
        if isinstance(value, list) and name != "body":
            value = [v for v in value if _acceptable(name, [v])]
        if value in (None, "", []) or name in self.fields:
            return
        if name == "body" or _acceptable(name, value):
            self.fields[name] = value


def _acceptable(name: str, value: Any) -> bool:
    try:
        Document.from_json({name: value})
    except HubError:
        return False
    return True


def _layout_rows(grid: Grid) -> list[Line]:
    """A table used for layout (joint issuer mark, signature, 版记) read as lines."""
    return [Line("\t".join(c for c in row if c.strip())) for row in grid.rows if any(c.strip() for c in row)]


def _is_layout_table(grid: Grid) -> bool:
    """A table that lays out fields rather than holding data: it holds a 版记 or 版头 line,
    or (without borders) a date alone in a cell, as signature blocks do."""
    for row in grid.rows:
        for cell in row:
            for text in cell.split("\n"):
                flat = _flat(text)
                if (_CC.match(flat) or flat.endswith("印发") or "签发人" in flat or _NUMBER_IN.search(flat)
                        or flat == "文件" or (not grid.ruled and _is_date(flat))):
                    return True
    return False


def read_fields(items: Sequence[Item], header: Sequence[Line] = ()) -> Document:
    """The document the lines show; `missing` names every field not found."""
    reader = _Reader(_normalised(items), header)
    reader.head()
    reader.title()
    reader.recipients()
    reader.signature()
    reader.body()
    reader.after_date()
    doc = Document.from_json(reader.found.fields)
    direction = doc.inferred_direction()
    if direction:
        doc = doc.model_copy(update={"direction": direction})
    return doc.model_copy(update={"missing": doc.absent()})


def _normalised(items: Sequence[Item]) -> list[Line | Grid]:
    """Layout tables read as lines; soft line breaks (Shift+Enter) split lines as paragraphs
    do; a 署名 and its date on one line become two."""
    lines: list[Line | Grid] = []
    for item in items:
        if isinstance(item, Grid) and not _is_layout_table(item):
            lines.append(item)
            continue
        for line in _layout_rows(item) if isinstance(item, Grid) else [item]:
            for part in line.text.split("\n"):
                lines.extend(_split_signature(replace(line, text=part)))
    return lines


def _split_signature(line: Line) -> list[Line]:
    """署名 and 成文日期 printed on one line, apart by spaces: read as the two lines they stand for."""
    tokens = [t for t in re.split(r"[\s\u3000]{2,}|\t", line.text.strip()) if t.strip()]
    if len(tokens) < 2 or not _is_date(tokens[-1]):
        return [line]
    organs = tokens[:-1]
    if not all(_is_organ_line(Line(t)) and _ORGAN.search(t) for t in organs):
        return [line]
    return [replace(line, text="\u3000\u3000".join(organs)), replace(line, text=tokens[-1])]


class _Reader:
    """Reads the parts in their printed order; `i` is the first line not yet read."""

    def __init__(self, lines: list[Line | Grid], header: Sequence[Line]) -> None:
        self.lines, self.header, self.n = lines, header, len(lines)
        self.found = _Found()
        self.i = 0
        self.kind: str | None = None
        self.date_at: int | None = None
        self.body_end = self.footer_from = self.n
        self.attachments: list[str] = []
        self.subtitle: int | None = None
        self.after_from = self.n  # where 附注 and 版记 are looked for

    def text_at(self, j: int) -> str:
        item = self.lines[j]
        return item.text if isinstance(item, Line) else ""

    def is_line(self, j: int) -> bool:
        return j < self.n and isinstance(self.lines[j], Line)

    def skip_blank(self) -> None:
        while self.is_line(self.i) and not _flat(self.text_at(self.i)):
            self.i += 1

    def put_marks(self, text: str) -> bool:
        marks = _marks(text)
        for k, v in (marks or {}).items():
            self.found.put(k, v)
        return marks is not None

    # ---- 版头: marks, issuer mark, number + signer
    def head(self) -> None:
        lines, found = self.lines, self.found
        for line in self.header:  # 份号, 密级, 紧急程度 may be printed in the page header
            self.put_marks(line.text)
        # The head ends with the last line holding the 发文字号 or the 签发人 before the body begins.
        head_lines: list[int] = []
        for j in range(min(self.n, 24)):
            item = lines[j]
            if not isinstance(item, Line):
                continue
            flat = _flat(item.text)
            if _SENTENCE.search(flat) or _looks_like_recipients(item.text):
                break  # the body has begun: a number cited there is not this document's
            if (_NUMBER_IN.search(flat) or _ORDER_NO.match(flat) or _SIGNER.search(flat)) and len(flat) <= 60:
                head_lines.append(j)
            elif head_lines and not (_is_names_only(item.text) and signer_names_possible(lines, head_lines)):
                break
        number_at = head_lines[0] if head_lines else None
        issuer_lines: list[str] = []
        signer_names: list[str] = []
        while self.i < self.n:
            item = lines[self.i]
            if isinstance(item, Grid):
                break
            if not _flat(item.text) or self.put_marks(item.text):
                self.i += 1
                continue
            if number_at is not None and self.i < number_at:
                issuer_lines.extend(name for part in item.text.split("\t") for name in _split_organs(part))
                self.i += 1
                continue
            if number_at is not None and self.i <= head_lines[-1]:
                _read_number_line(item.text, found, signer_names)
                self.i += 1
                # 签发人 continued on the next lines (joint upward documents): names only.
                while self.is_line(self.i) and signer_names and _is_names_only(self.text_at(self.i)):
                    signer_names.extend(re.split(r"\s+", self.text_at(self.i).strip()))
                    self.i += 1
                continue
            previous = lines[self.i - 1] if self.i else None
            continues = isinstance(previous, Line) and _is_issuer_mark(previous)  # a mark over several lines
            if number_at is None and _is_issuer_mark(item) and (not issuer_lines or continues):
                issuer_lines.extend(_split_organs(item.text))
                self.i += 1
                continue
            break
        if not issuer_lines:
            # A 版头 printed in the page header (some templates do): its mark counts.
            issuer_lines = next((_split_organs(line.text) for line in self.header if _is_issuer_mark(line)), [])
        if issuer_lines:
            names = [t for t in issuer_lines if t != "文件"]
            found.put("issuer", "\n".join(names) + ("文件" if "文件" in issuer_lines else ""))
        found.put("signer", signer_names)

    # ---- 标题: the first lines after the head, up to the recipients or the body
    def title(self) -> None:
        self.skip_blank()
        i, lines = self.i, self.lines
        parts: list[str] = []
        j = i
        while self.is_line(j) and len(parts) < 5:
            line = lines[j]
            flat = _flat(line.text)  # type: ignore[union-attr]
            if not flat or _looks_like_recipients(line.text) or _SENTENCE.search(flat) or len(flat) > 80 \
                    or _is_date(flat) or _ATTACH.match(flat) or heading_level(flat) or _CC.match(flat):  # type: ignore[union-attr]
                break
            parts.append(flat)
            j += 1
            if kind_of("".join(parts)):
                break
        if parts and not kind_of("".join(parts)):
            # Without a 文种 at its end a title is believed only where centred or styled as one.
            keep = 0
            while keep < len(parts) and (lines[i + keep].align == "center" or _is_title_style(lines[i + keep])):  # type: ignore[union-attr]
                keep += 1
            parts, j = parts[:keep], i + keep
        if parts:
            self.found.put("title", "".join(parts))
            self.i = j
            # A 题注 under the title — （2026年12月1日市人民代表大会常务委员会通过） — opens the body.
            self.skip_blank()
            flat = _flat(self.text_at(self.i)) if self.is_line(self.i) else ""
            if _BRACKETED.match(flat) and len(flat) <= 80 and not _SEAL.match(flat):
                self.subtitle = self.i
                self.i += 1
        fields = self.found.fields
        self.kind = kind_of(fields.get("title", "")) or kind_of(_flat(fields.get("issuer", "")).removesuffix("文件"))
        self.found.put("kind", self.kind)

    # ---- 主送
    def recipients(self) -> None:
        self.skip_blank()
        if self.is_line(self.i) and (m := _TO_LABEL.match(_flat(self.text_at(self.i)))):
            self.found.put("to", _split_names(m["rest"]))
            self.i += 1
        elif (end := _recipients_end(self.lines, self.i)) is not None:
            self.found.put("to", _split_names("".join(_flat(self.text_at(k)) for k in range(self.i, end + 1))))
            self.i = end + 1

    # ---- 成文日期 and the 署名 above it: where the body ends
    def signature(self) -> None:
        i, n = self.i, self.n
        self.date_at = next((k for k in range(i, n) if self.is_line(k) and _is_date(self.text_at(k))), None)
        self.footer_from = next((k for k in range(i, n) if self.is_line(k) and (
            _CC.match(_flat(self.text_at(k))) or _PRINTED.match(_flat(self.text_at(k)))
            or _TO_LABEL.match(_flat(self.text_at(k))))), n)
        if self.date_at is not None and self.date_at > self.footer_from:
            self.date_at = None
        self.body_end = self.date_at if self.date_at is not None else self.footer_from
        self.after_from = self.footer_from
        if self.date_at is None:
            return
        self.after_from = self.date_at + 1
        self.found.put("date", _flat(self.text_at(self.date_at)))
        signed: list[str] = []
        k = self.date_at - 1
        while k >= i and self.is_line(k):
            line: Line = self.lines[k]  # type: ignore[assignment]
            flat = _flat(line.text)
            if not flat or _SEAL.match(flat):
                if not flat and signed and line.align != "right":
                    above = self.lines[k - 1] if k - 1 >= i else None
                    if not (isinstance(above, Line) and above.align == "right"):
                        break
                k -= 1
                continue
            if not _is_organ_line(line) or heading_level(flat) or _ATTACH.match(flat) \
                    or line.align not in (None, "right", "center") or (line.align is None and len(flat) > 40):
                break
            signed.insert(0, line.text)
            self.body_end = k
            k -= 1
            if len(signed) >= 4:
                break
        names: list[str] = []
        for text in signed:
            parts = _split_organs(text)
            if self.kind == "命令" and parts:
                names.append(" ".join(parts))  # 市长 张三: a title and a name, one signature
            else:
                names.extend(parts)
        self.found.put("signed_by", names)
        if not any(_flat(self.text_at(k)) or not self.is_line(k) for k in range(i, self.body_end)):
            # Nothing before the signature: it was printed in the head (a 纪要's issuing office
            # and date above the red line), and the body follows it.
            self.i, self.body_end = self.date_at + 1, self.footer_from
            self.after_from = self.footer_from

    # ---- 正文, with the 附件说明 printed before the signature
    def body(self) -> None:
        body: list[dict[str, Any]] = []
        if self.subtitle is not None:
            body.append({"type": "paragraph", "text": _flat(self.text_at(self.subtitle)), "level": 0})
        k = self.i
        while k < self.body_end:
            item = self.lines[k]
            if isinstance(item, Grid):
                body.append({"type": "table", "rows": [list(r) for r in item.rows]})
                k += 1
                continue
            flat = _flat(item.text)
            if m := _ATTACH.match(flat):
                k = _read_attachments(self.lines, k, m["rest"], self.attachments, self.body_end)
                continue
            if flat and not _SEAL.match(flat) and flat != "此页无正文":
                text = item.text.strip().strip("\u3000")
                body.append({"type": "paragraph", "text": text, "level": heading_level(text, item.style)})
            k += 1
        self.found.put("body", body)

    # ---- after the date: 附注, 附件说明 printed late, attachment pages, 版记
    def after_date(self) -> None:
        lines, n, found = self.lines, self.n, self.found
        k = self.after_from
        note_parts: list[str] = []
        cc: list[str] = []
        in_attachment_pages = False
        while k < n:
            flat = _flat(self.text_at(k))
            if not flat:
                k += 1
                continue
            if m := _CC.match(flat):
                rest = m["rest"]
                while self.is_line(k + 1) and (following := _flat(self.text_at(k + 1))) and not rest.endswith("。") \
                        and not _PRINTED.match(following) and not _CC.match(following):
                    k += 1
                    rest += following
                cc.extend(name for name in _split_names(rest) if name not in cc)
            elif m := _TO_LABEL.match(flat):
                found.put("to", _split_names(m["rest"]))
            elif m := _PRINTED.match(flat):
                found.put("printed_by", _flat(m["by"]))
                found.put("printed_date", _flat(m["date"]))
            elif not in_attachment_pages and (m := _ATTACH.match(flat)):
                k = _read_attachments(lines, k, m["rest"], self.attachments, n)
                continue
            elif _ATTACH_PAGE.match(flat):
                in_attachment_pages = True
            elif not in_attachment_pages and (note_parts or (flat[0] in "（(" and not _SEAL.match(flat))):
                if not note_parts or not note_parts[-1].endswith(("）", ")")):
                    note_parts.append(flat)  # a 附注 may wrap onto the next lines until its bracket closes
            k += 1
        found.put("note", "".join(note_parts))
        found.put("cc", cc)
        found.put("attachments", self.attachments)


def signer_names_possible(lines: Sequence[Line | Grid], head_lines: list[int]) -> bool:
    """Whether the last head line read so far carries a 签发人 (names may continue below it)."""
    last = lines[head_lines[-1]]
    return isinstance(last, Line) and _SIGNER.search(_flat(last.text)) is not None


def _is_title_style(line: Line) -> bool:
    return line.style.strip().lower() in ("title", "标题")


def _is_issuer_mark(line: Line) -> bool:
    flat = _flat(line.text)
    return bool(flat) and len(flat) <= 60 and not _SENTENCE.search(flat) and (
        line.red or (line.size or 0) >= 26 or flat.endswith(("文件", "令", "纪要")))


def _split_organs(text: str) -> list[str]:
    """Organs on one line, apart by spaces; a letter-spaced single name (东 营 市 财 政 局) stays one."""
    parts = [p for p in re.split(r"[\t\s\u3000]+", text.strip()) if p]
    if len(parts) > 2 and sum(len(p) == 1 for p in parts) * 2 > len(parts):
        return ["".join(parts)]
    return parts


def _is_names_only(text: str) -> bool:
    flat = _flat(text)
    return bool(flat) and len(flat) <= 30 and re.fullmatch(r"[\u4e00-\u9fff·\s\u3000]+", text.strip()) is not None \
        and all(len(p) <= 4 for p in text.split())


def _read_number_line(text: str, found: _Found, signer_names: list[str]) -> None:
    """发文字号, 签发人, and 份号 / 密级 / 紧急程度 sharing its line (信函格式 prints 份号 left, number right)."""
    kept = []
    for token in re.split(r"[\s\u3000]{2,}|\t", text.strip()):
        if marks := _marks(token):
            for k, v in marks.items():
                found.put(k, v)
        else:
            kept.append(token)
    text = "　".join(kept)
    flat = _flat(text)
    signer = _SIGNER.search(flat)
    if signer:
        spaced = _SIGNER.search(text.strip())
        names = spaced["names"] if spaced else signer["names"]
        signer_names.extend(p for p in re.split(r"[\s\u3000、，,]+", names) if p)
        flat = flat[: signer.start()]
    m = _NUMBER_IN.search(flat)
    if m:
        try:
            found.put("number", parse_number(m[1]).text)
        except HubError:
            pass  # printed, but not a 发文字号: left for `missing`
    elif _ORDER_NO.match(flat):
        found.put("number", flat)


def _recipients_end(lines: Sequence[Line | Grid], i: int) -> int | None:
    """The last line of 主送 starting at i (it may wrap onto up to three lines)."""
    for k in range(i, min(i + 3, len(lines))):
        item = lines[k]
        if not isinstance(item, Line) or not _flat(item.text):
            return None
        joined = "".join(_flat(lines[j].text) for j in range(i, k + 1))  # type: ignore[union-attr]
        if _looks_like_recipients(joined):
            return k
        if _SENTENCE.search(_flat(item.text)) or _flat(item.text).endswith(("：", ":")):
            return None
    return None


def _read_attachments(lines: Sequence[Line | Grid], k: int, rest: str, out: list[str], end: int) -> int:
    """附件：1．名称 / 2．名称 (continuation lines numbered or indented). Returns the next index."""
    def add(text: str) -> None:
        name = _ITEM_NO.sub("", _flat(text)).rstrip("。；;")
        if name:
            out.append(name)

    if rest:
        add(rest)
    k += 1
    while k < end and isinstance(lines[k], Line):
        text = lines[k].text  # type: ignore[union-attr]
        if not _ITEM_NO.match(_flat(text)) or _is_date(text):
            break
        add(text)
        k += 1
    return k
