"""The official document (公文): one typed model, pure and I/O-free.

Field names are the exchange's vocabulary and stay stable: the JSON form
(`Document.to_json()`), the samples' ``expected.json``, the XML codec and the red-header
renderer all use them::

    kind        文种            one of the 15 types of the 2012 regulation, or an accepted older type
    direction   行文方向        上行文 / 下行文 / 平行文 (inferred from kind and unit levels when not given)
    copy_no     份号            as printed, e.g. "000001"
    secrecy     密级和保密期限  as printed, e.g. "机密★1年"
    urgency     紧急程度        特急 / 加急 (特提 / 平急 for telegrams)
    issuer      发文机关标志    e.g. "东营市人民政府办公室文件"
    number      发文字号        {text, agency, year, serial}: 东政办发〔2026〕15号
    signer      签发人          list (upward documents; several allowed)
    title       标题
    to          主送机关        list
    body        正文            blocks: {type: paragraph, text, level 0-4} | {type: table, rows}
    attachments 附件说明        list of {name, file}: the name as printed, an optional file reference
    signed_by   发文机关署名    list (several: joint issue 联合行文)
    date        成文日期        {text, iso}: as printed plus the parsed ISO date
    note        附注
    cc          抄送机关        list
    printed_by  印发机关
    printed_date 印发日期       {text, iso}
    missing     the names of the fields the source did not yield

Bad values raise `hub.errors.BadRequest` with an ``error.doc_*`` key.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from hub.errors import BadRequest

__all__ = [
    "ALWAYS_REQUIRED",
    "ACCEPTED_KINDS",
    "Attachment",
    "Block",
    "DIRECTIONS",
    "DocDate",
    "DocNumber",
    "Document",
    "FIELDS",
    "FIELD_LABELS",
    "KINDS_2000",
    "KINDS_2012",
    "Paragraph",
    "SECRECY_LEVELS",
    "Table",
    "URGENCIES",
    "infer_direction",
    "parse_date",
    "parse_number",
    "unit_rank",
]

# 党政机关公文处理工作条例 (2012), article 8: the 15 types, in its order.
KINDS_2012: tuple[str, ...] = (
    "决议", "决定", "命令", "公报", "公告", "通告", "意见", "通知", "通报", "报告", "请示", "批复", "议案", "函", "纪要",
)
# 国家行政机关公文处理办法 (2000), article 9: 13 types (命令 is printed 命令（令）).
KINDS_2000: tuple[str, ...] = (
    "命令", "决定", "公告", "通告", "通知", "通报", "议案", "报告", "请示", "批复", "意见", "函", "会议纪要",
)
# Older party-organ types (中国共产党机关公文处理条例, 1996) still met in archives.
KINDS_OLDER: tuple[str, ...] = ("指示", "条例", "规定")
ACCEPTED_KINDS: tuple[str, ...] = KINDS_2012 + tuple(k for k in KINDS_2000 + KINDS_OLDER if k not in KINDS_2012)
KIND_ALIASES: Mapping[str, str] = {"令": "命令", "命令（令）": "命令", "命令(令)": "命令"}

UP, DOWN, PARALLEL = "上行文", "下行文", "平行文"
DIRECTIONS: tuple[str, ...] = (UP, DOWN, PARALLEL)
URGENCIES: tuple[str, ...] = ("特急", "加急", "特提", "平急")
SECRECY_LEVELS: tuple[str, ...] = ("绝密", "机密", "秘密")

Kind = Literal[
    "决议", "决定", "命令", "公报", "公告", "通告", "意见", "通知", "通报", "报告", "请示", "批复", "议案", "函", "纪要",
    "会议纪要", "指示", "条例", "规定",
]
Direction = Literal["上行文", "下行文", "平行文"]
Urgency = Literal["特急", "加急", "特提", "平急"]

# The fields of a document, in the order of GB/T 9704 (head, body, footer).
FIELDS: tuple[str, ...] = (
    "kind", "direction", "copy_no", "secrecy", "urgency", "issuer", "number", "signer", "title", "to", "body",
    "attachments", "signed_by", "date", "note", "cc", "printed_by", "printed_date",
)

# What GB/T 9704-2012 asks of every document: the elements of its 版头 and 主体 without a
# condition. The rest are conditional or optional, and absent from most documents:
# 份号 and 密级 only for classified ones (份号 is required once a 密级 is there), 紧急程度
# only for urgent ones, 签发人 only for 上行文 (7.2.6), 附件说明 / 附注 when there is
# something to say, and the 版记 (抄送, 印发机关和印发日期) is optional as a whole.
ALWAYS_REQUIRED: tuple[str, ...] = ("kind", "issuer", "number", "title", "to", "body", "signed_by", "date")
# Kinds published to all (普发) carry no 主送机关; 纪要 is neither addressed nor signed, and
# like 公告 and 通告 often has no 发文字号 of the usual form.
_NO_RECIPIENTS = frozenset({"公告", "通告", "命令", "公报", "决议", "纪要", "会议纪要", "条例", "规定"})
_NO_NUMBER = frozenset({"公告", "通告", "纪要", "会议纪要"})
_NO_SIGNATURE = frozenset({"纪要", "会议纪要"})

# The standard's own names of the fields (GB/T 9704-2012), for people to read.
FIELD_LABELS: Mapping[str, str] = {
    "kind": "文种", "direction": "行文方向", "copy_no": "份号", "secrecy": "密级和保密期限", "urgency": "紧急程度",
    "issuer": "发文机关标志", "number": "发文字号", "signer": "签发人", "title": "标题", "to": "主送机关",
    "body": "正文", "attachments": "附件说明", "signed_by": "发文机关署名", "date": "成文日期", "note": "附注",
    "cc": "抄送机关", "printed_by": "印发机关", "printed_date": "印发日期",
}

# Sizes: the schema (schema/document-1.xsd) allows the same, so every Document can be written.
Name = Annotated[str, StringConstraints(max_length=200)]
Short = Annotated[str, StringConstraints(max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=500)]
NoteText = Annotated[str, StringConstraints(max_length=2000)]
MAX_BLOCKS = 20_000

_SPACES = re.compile(r"[\s\u3000\u00a0]+")


def squeeze(text: str) -> str:
    """Text without any whitespace (full-width and no-break spaces included)."""
    return _SPACES.sub("", text)


# ---------------------------------------------------------------- 发文字号

# Agency code, year in brackets, serial, 号. 〔〕 is the standard bracket; field files also
# carry [] 【】 （） () ［］ and 第 before the serial, which are read but marked non-standard.
_NUMBER = re.compile(
    r"^(?P<agency>[^\s〔\[【（(［]{1,20}?)"
    r"(?P<open>[〔\[【（(［])(?P<year>\d{4})(?P<close>[〕\]】）)］])"
    r"(?P<di>第?)(?P<serial>\d{1,6})号$"
)
_ORDER_NUMBER = re.compile(r"^第(?P<serial>\d{1,6})[号期]$")  # 命令（令）, 公告: 第12号; 纪要: 第12期


class DocNumber(BaseModel):
    """发文字号 as printed and in parts. `agency` and `year` are empty for a serial alone:
    第12号 (命令, 公告) or 第12期 (纪要)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    agency: str = ""
    year: int | None = None
    serial: int

    @property
    def standard(self) -> bool:
        """Written as GB/T 9704 prescribes: 〔year〕, no 第, no leading zero."""
        if self.year is None:
            return _ORDER_NUMBER.match(self.text) is not None
        m = _NUMBER.match(self.text)
        return bool(m and m["open"] == "〔" and m["close"] == "〕" and not m["di"] and not m["serial"].startswith("0"))

    @model_validator(mode="after")
    def _parts_match_text(self) -> DocNumber:
        again = parse_number(self.text)
        if (again.agency, again.year, again.serial) != (self.agency, self.year, self.serial):
            raise BadRequest("error.doc_bad_number", number=self.text)
        return self


def parse_number(text: str) -> DocNumber:
    """Parse a 发文字号 such as 东政办发〔2026〕15号 (spaces ignored)."""
    flat = squeeze(text)
    m = _NUMBER.match(flat)
    if m:
        year, serial = int(m["year"]), int(m["serial"])
        if not 1949 <= year <= 2200 or serial < 1:
            raise BadRequest("error.doc_bad_number", number=text)
        return DocNumber.model_construct(text=flat, agency=m["agency"], year=year, serial=serial)
    m = _ORDER_NUMBER.match(flat)
    if m and int(m["serial"]) >= 1:
        return DocNumber.model_construct(text=flat, agency="", year=None, serial=int(m["serial"]))
    raise BadRequest("error.doc_bad_number", number=text)


# ---------------------------------------------------------------- 日期

_CN_DIGITS = {"〇": 0, "○": 0, "零": 0, "Ｏ": 0, "O": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_DATE = re.compile(r"^(?P<y>[0-9〇○零Ｏ一二三四五六七八九]{4})年(?P<m>[0-9一二三四五六七八九十]{1,3})月"
                   r"(?P<d>[0-9一二三四五六七八九十]{1,3})日$")


def _cn_small(text: str) -> int:
    """1-31 in Arabic digits or Chinese numerals (十一, 二十, 三十一)."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, units = text.partition("十")
        if len(tens) > 1 or len(units) > 1:
            raise ValueError(text)
        return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[units] if units else 0)
    if len(text) != 1:
        raise ValueError(text)
    return _CN_DIGITS[text]


def _fold_digits(text: str) -> str:
    return text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))


class DocDate(BaseModel):
    """A date as printed (2026年11月20日, 二〇二六年十一月二十日) and as an ISO date."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    iso: dt.date

    @model_validator(mode="after")
    def _iso_matches_text(self) -> DocDate:
        if parse_date(self.text).iso != self.iso:
            raise BadRequest("error.doc_bad_date", date=self.text)
        return self


def parse_date(text: str) -> DocDate:
    """Parse 成文日期 / 印发日期 as printed; the printed text is kept (spaces removed)."""
    flat = _fold_digits(squeeze(text))
    m = _DATE.match(flat)
    if not m:
        raise BadRequest("error.doc_bad_date", date=text)
    try:
        year = int(m["y"]) if m["y"].isdigit() else int("".join(str(_CN_DIGITS[c]) for c in m["y"]))
        iso = dt.date(year, _cn_small(m["m"]), _cn_small(m["d"]))
    except (ValueError, KeyError):
        raise BadRequest("error.doc_bad_date", date=text) from None
    return DocDate.model_construct(text=flat, iso=iso)


# ---------------------------------------------------------------- 正文

class Paragraph(BaseModel):
    """A paragraph of the body. level 0 is running text; 1-4 are the heading levels
    一、 / （一） / 1． / （1） (the marker stays in `text`, as printed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["paragraph"] = "paragraph"
    text: Annotated[str, StringConstraints(max_length=100_000)]
    level: int = Field(default=0, ge=0, le=4)


class Table(BaseModel):
    """A table of the body: rows of cell texts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["table"] = "table"
    rows: Annotated[list[Annotated[list[Annotated[str, StringConstraints(max_length=10_000)]], Field(max_length=100)]],
                    Field(max_length=2000)]


Block = Annotated[Union[Paragraph, Table], Field(discriminator="type")]


class Attachment(BaseModel):
    """One line of 附件说明: the name as printed (without its sequence number) and, when the
    file travels with the document, a reference to it (a package member or a blob id)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: LongText = Field(min_length=1)
    file: LongText | None = None


# ---------------------------------------------------------------- 行文方向

_LEVEL_MARKS = (("乡", 4), ("镇", 4), ("街道", 4), ("县", 3), ("区", 3), ("旗", 3), ("市", 2), ("州", 2), ("盟", 2),
                ("省", 1), ("自治区", 1), ("国务院", 0), ("中共中央", 0), ("全国", 0))
_SUBORDINATE = re.compile(r"^各|各(部门|单位|企业|委办局|直属机构|有关单位|部委)$|^市直|^县直|^区直")


def unit_rank(name: str) -> int | None:
    """The administrative level a unit's name shows: 0 central, 1 province, 2 city,
    3 county/district, 4 township; None when the name shows none. The lowest level
    named wins (山东省东营市人民政府 is a city)."""
    flat = squeeze(name)
    ranks = [rank for mark, rank in _LEVEL_MARKS if mark in flat]
    return max(ranks) if ranks else None


_DIRECTION_BY_KIND: Mapping[str, str] = {
    "请示": UP, "报告": UP, "议案": UP,
    "命令": DOWN, "决定": DOWN, "决议": DOWN, "批复": DOWN, "公报": DOWN, "公告": DOWN, "通告": DOWN,
    "指示": DOWN, "条例": DOWN, "规定": DOWN,
    "函": PARALLEL,
}


def infer_direction(
    kind: str | None,
    issuers: Iterable[str],
    recipients: Iterable[str],
    levels: Mapping[str, int] | None = None,
) -> str | None:
    """行文方向 from the kind where the kind decides it (请示 goes up, 函 is parallel,
    批复 goes down), otherwise from the units' levels: `levels` maps a unit name to its
    rank (0 highest) where the caller knows it (the directory); else the name shows it.
    Recipients addressed as 各… are subordinates. None when nothing decides."""
    if kind in _DIRECTION_BY_KIND:
        return _DIRECTION_BY_KIND[kind]
    levels = levels or {}
    issuer_ranks = [r for r in (levels.get(u, unit_rank(u)) for u in issuers) if r is not None]
    recipients = list(recipients)
    if not issuer_ranks or not recipients:
        return None
    mine = min(issuer_ranks)
    seen = set()
    for unit in recipients:
        if _SUBORDINATE.search(squeeze(unit)):
            seen.add(DOWN)
            continue
        rank = levels.get(unit, unit_rank(unit))
        if rank is None:
            return None
        seen.add(DOWN if rank > mine else UP if rank < mine else PARALLEL)
    return seen.pop() if len(seen) == 1 else None


# ---------------------------------------------------------------- the document

def _names(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class Document(BaseModel):
    """One official document. Every field may be absent (None or empty); `missing` names
    the fields the source did not yield, so a reader can show them rather than guess."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Kind | None = None
    direction: Direction | None = None
    copy_no: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,8}$")] | None = None
    secrecy: str | None = None
    urgency: Urgency | None = None
    issuer: Short | None = None
    number: DocNumber | None = None
    signer: Annotated[list[Name], Field(max_length=20)] = []
    title: LongText | None = None
    to: Annotated[list[Name], Field(max_length=500)] = []
    body: Annotated[list[Block], Field(max_length=MAX_BLOCKS)] = []
    attachments: Annotated[list[Attachment], Field(max_length=200)] = []
    signed_by: Annotated[list[Name], Field(max_length=500)] = []
    date: DocDate | None = None
    note: NoteText | None = None
    cc: Annotated[list[Name], Field(max_length=500)] = []
    printed_by: Short | None = None
    printed_date: DocDate | None = None
    missing: list[str] = []

    @field_validator("kind", "direction", "copy_no", "secrecy", "urgency", "issuer", "title", "note", "printed_by",
                     mode="before")
    @classmethod
    def _blank_is_absent(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    # Accept the printed forms too (as the samples' expected.json write them).
    @field_validator("kind", mode="before")
    @classmethod
    def _kind_alias(cls, v: Any) -> Any:
        return KIND_ALIASES.get(v, v) if isinstance(v, str) else v

    @field_validator("number", mode="before")
    @classmethod
    def _number_text(cls, v: Any) -> Any:
        return parse_number(v) if isinstance(v, str) else v

    @field_validator("date", "printed_date", mode="before")
    @classmethod
    def _date_text(cls, v: Any) -> Any:
        return parse_date(v) if isinstance(v, str) else v

    @field_validator("signer", "to", "signed_by", "cc", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return _names(v)

    @field_validator("attachments", mode="before")
    @classmethod
    def _attachment_names(cls, v: Any) -> Any:
        return [{"name": a} if isinstance(a, str) else a for a in _names(v)]

    @field_validator("secrecy")
    @classmethod
    def _secrecy(cls, v: str | None) -> str | None:
        if v is None:
            return v
        flat = squeeze(v)
        if not flat.startswith(SECRECY_LEVELS) or (len(flat) > 2 and flat[2] != "★"):
            raise BadRequest("error.doc_bad_secrecy", secrecy=v)
        return flat

    @field_validator("signer", "to", "signed_by", "cc")
    @classmethod
    def _no_blank_names(cls, v: list[str]) -> list[str]:
        names = [s.strip() for s in v]
        if any(not s for s in names):
            raise ValueError("empty name")
        return names

    @field_validator("missing")
    @classmethod
    def _known_fields(cls, v: list[str]) -> list[str]:
        unknown = [f for f in v if f not in FIELDS]
        if unknown:
            raise ValueError(f"unknown fields in missing: {unknown}")
        return [f for f in FIELDS if f in v]  # one order, no duplicates

    @model_validator(mode="after")
    def _missing_means_absent(self) -> Document:
        present = [f for f in self.missing if self.has(f)]
        if present:
            raise ValueError(f"fields both present and missing: {present}")
        return self

    # ---- reading
    def has(self, name: str) -> bool:
        value = getattr(self, name)
        return value is not None and value != [] and value != ""

    def absent(self) -> list[str]:
        """The fields that hold nothing, in FIELDS order."""
        return [f for f in FIELDS if not self.has(f)]

    def required(self, levels: Mapping[str, int] | None = None) -> list[str]:
        """The fields this document's kind and direction require (GB/T 9704-2012), in
        FIELDS order. Where the direction cannot be told, 签发人 is not asked for: a
        field is called missing only when it surely should be there."""
        need = set(ALWAYS_REQUIRED)
        if self.kind in _NO_RECIPIENTS:
            need.discard("to")
        if self.kind in _NO_NUMBER:
            need.discard("number")
        if self.kind in _NO_SIGNATURE:
            need.discard("signed_by")
        if self.inferred_direction(levels) == UP:
            need.add("signer")
        if self.secrecy:
            need.add("copy_no")
        return [f for f in FIELDS if f in need]

    def lacking(self, levels: Mapping[str, int] | None = None) -> list[str]:
        """Required and absent: what a clerk must supply (shown as 缺少). Every other
        absent field is simply not marked (未标注), as most documents leave it."""
        return [f for f in self.required(levels) if not self.has(f)]

    @property
    def secrecy_level(self) -> str | None:
        return self.secrecy[:2] if self.secrecy else None

    @property
    def secrecy_term(self) -> str | None:
        return self.secrecy[3:] or None if self.secrecy and len(self.secrecy) > 3 else None

    def inferred_direction(self, levels: Mapping[str, int] | None = None) -> str | None:
        """The printed/given direction, else the one kind and unit levels decide."""
        if self.direction:
            return self.direction
        issuers = self.signed_by or ([self.issuer.removesuffix("文件")] if self.issuer else [])
        return infer_direction(self.kind, issuers, self.to, levels)

    # ---- JSON
    def to_json(self) -> dict[str, Any]:
        """The JSON-ready form (every field present; absent ones as null or [])."""
        return self.model_dump(mode="json")

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | bytes) -> Document:
        """Build from the JSON form (a mapping or its text). Printed shortcuts are accepted:
        `number` and dates as strings, name lists as one string, attachments as names."""
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise BadRequest("error.doc_bad_json", detail=str(exc)) from None
        if not isinstance(data, Mapping):
            raise BadRequest("error.doc_bad_json", detail="not an object")
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise BadRequest("error.doc_bad_field", field=where, detail=first["msg"]) from None
