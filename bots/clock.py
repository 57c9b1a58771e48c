"""The office's time: its zone (Asia/Shanghai, 东营's) and how a moment reads to people
(12月4日（周五）09:00) — for reminders, meeting times and 文号 years alike."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from hub.i18n import DEFAULT_LOCALE
from hub.i18n import translate as t

__all__ = ["OFFICE_TZ", "moment", "office_time"]

OFFICE_TZ = ZoneInfo("Asia/Shanghai")


def moment(when: datetime) -> str:
    """12月4日（周五）09:00: the pattern is the catalog's, the names Babel's."""
    return format_datetime(when, t("time.moment_format"), tzinfo=OFFICE_TZ, locale=DEFAULT_LOCALE)


def office_time(value: str) -> datetime:
    """A form's ISO 8601 date or time as an aware moment: without an offset it is the
    office's (2026-12-08T09:00 is 09:00 in 东营). ValueError when it is neither."""
    at = datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=OFFICE_TZ)
