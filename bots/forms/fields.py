"""A flow's form: its fields, and the server's check of submitted values (pure).

A field is named in Chinese, as people read it (`会议时间`), and that name is its key in
the instance's form. The browser checks too, but this decides: `check` returns the
values cleaned (numbers as numbers, times as ISO 8601, defaults filled) or raises
`Invalid` with a problem per field, each an i18n key and its parameters.

    form:
      - {name: 出发时间, kind: datetime, required: true}
      - {name: 人数, kind: number, min: 1, max: 60, default: 1}
      - {name: 车辆, kind: select, options: [鲁E·A1234 别克GL8, 鲁E·B5678 帕萨特]}

Which fields may be filled where is the flow's business (a node's `fields:` rules,
bots/workflow/definition.py): `check` is told the names it may accept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

__all__ = ["KINDS", "Field", "Invalid", "Problem", "check", "field_from", "public"]

KINDS = ("text", "textarea", "number", "money", "date", "datetime", "select", "multiselect", "person", "unit")
_TEXT_LIMIT = {"text": 200, "textarea": 5000}
_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
Problem = tuple[str, str, dict[str, Any]]  # (field, i18n key, params)


class Invalid(ValueError):
    """The values do not fit the form: each problem is (field, key, params)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{f}: {k}" for f, k, _ in problems))
        self.problems = problems


@dataclass(frozen=True)
class Field:
    name: str
    kind: str = "text"
    label: str = ""
    required: bool = False
    help: str = ""
    default: Any = None
    max_length: int | None = None
    min: float | None = None
    max: float | None = None
    options: tuple[str, ...] = ()

    @property
    def shown(self) -> str:
        return self.label or self.name


def field_from(raw: Mapping[str, Any]) -> Field:
    """A field from its (already schema-checked) definition."""
    return Field(
        name=str(raw["name"]), kind=str(raw.get("kind", "text")), label=str(raw.get("label", "")),
        required=bool(raw.get("required", False)), help=str(raw.get("help", "")), default=raw.get("default"),
        max_length=raw.get("max_length"), min=raw.get("min"), max=raw.get("max"), options=tuple(str(o) for o in raw.get("options", ())),
    )


def public(f: Field) -> dict[str, Any]:
    """The field as the browser renders it."""
    out: dict[str, Any] = {"name": f.name, "kind": f.kind, "label": f.shown, "required": f.required}
    for key in ("help", "default", "min", "max", "options"):
        value = getattr(f, key)
        if value not in (None, "", ()):
            out[key] = list(value) if isinstance(value, tuple) else value
    if f.kind in _TEXT_LIMIT:
        out["max_length"] = f.max_length or _TEXT_LIMIT[f.kind]
    elif f.kind == "unit":
        out["max_length"] = 100
    return out


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, list) and not value)


def _one(f: Field, value: Any) -> tuple[Any, Problem | None]:
    """The value cleaned, or the problem with it."""
    if f.kind in _TEXT_LIMIT or f.kind in ("person", "unit"):
        if not isinstance(value, str):
            return None, (f.name, "form.not_text", {})
        value = value.strip()
        limit = {"person": 64, "unit": 100}.get(f.kind) or f.max_length or _TEXT_LIMIT[f.kind]
        if len(value) > limit:
            return None, (f.name, "form.too_long", {"limit": limit})
        if f.kind == "person" and not _USERNAME.match(value):
            return None, (f.name, "form.not_person", {})
        return value, None
    if f.kind in ("number", "money"):
        if isinstance(value, str):
            try:
                value = float(value.strip().replace(",", "").removeprefix("¥").removesuffix("元"))
            except ValueError:
                return None, (f.name, "form.not_number", {})
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None, (f.name, "form.not_number", {})
        if f.kind == "money" and (abs(value * 100 - round(value * 100)) > 1e-6 or value < 0 or value >= 1e13):
            return None, (f.name, "form.not_money", {})  # yuan with at most 分, not negative, below 10 trillion
        if f.kind == "money":
            value = round(value, 2)
        if f.min is not None and value < f.min:
            return None, (f.name, "form.too_small", {"min": _num(f.min)})
        if f.max is not None and value > f.max:
            return None, (f.name, "form.too_big", {"max": _num(f.max)})
        return _num(value), None
    if f.kind == "date":
        try:
            if not isinstance(value, str) or len(value.strip()) != 10:
                raise ValueError
            return date.fromisoformat(value.strip()).isoformat(), None
        except ValueError:
            return None, (f.name, "form.not_date", {})
    if f.kind == "datetime":
        try:
            if not isinstance(value, str) or len(value) > 40:
                raise ValueError
            at = datetime.fromisoformat(value.strip())
        except ValueError:
            return None, (f.name, "form.not_datetime", {})
        return at.isoformat(timespec="minutes" if not (at.second or at.microsecond) else "seconds"), None
    if f.kind == "select":
        if not isinstance(value, str) or value not in f.options:
            return None, (f.name, "form.not_option", {})
        return value, None
    if f.kind == "multiselect":
        if not isinstance(value, list) or not all(isinstance(v, str) and v in f.options for v in value):
            return None, (f.name, "form.not_option", {})
        return [o for o in f.options if o in value], None
    return None, (f.name, "form.not_text", {})  # a kind the schema does not know never gets here


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else float(value)


def check(fields: tuple[Field, ...], values: Mapping[str, Any], editable: Collection[str], *, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`values` checked against the form: only `editable` fields may be given, each must fit its kind and
    limits, and each editable required field must end up filled (from `values`, from
    `base` — what the instance holds already — or from its default). Returns `base`
    with the cleaned values over it."""
    by_name = {f.name: f for f in fields}
    out = dict(base or {})
    problems: list[Problem] = []
    for key, value in values.items():
        f = by_name.get(key)
        if f is None:
            problems.append((str(key)[:64], "form.unknown_field", {}))
            continue
        if key not in editable:
            problems.append((key, "form.not_editable", {}))
            continue
        if _empty(value):
            out.pop(key, None)
            continue
        clean, problem = _one(f, value)
        if problem:
            problems.append(problem)
        else:
            out[key] = clean
    for f in fields:
        if f.name in editable and f.name not in out and f.default is not None and f.name not in values:
            clean, problem = _one(f, f.default)
            if problem is None:
                out[f.name] = clean
        if f.name in editable and f.required and _empty(out.get(f.name)) and not any(p[0] == f.name for p in problems):
            problems.append((f.name, "form.required", {}))
    if problems:
        raise Invalid(problems)
    return out
