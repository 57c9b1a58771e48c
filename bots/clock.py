"""The office's time: its zone (Asia/Shanghai, 东营's) and how a moment reads to people
(12月4日（周五）09:00) — for reminders, meeting times and 文号 years alike."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from hub.i18n import DEFAULT_LOCALE
from hub.i18n import translate as t

__all__ = ["OFFICE_TZ", "moment"]

OFFICE_TZ = ZoneInfo("Asia/Shanghai")


def moment(when: datetime) -> str:
    """12月4日（周五）09:00: the pattern is the catalog's, the names Babel's."""
    return format_datetime(when, t("time.moment_format"), tzinfo=OFFICE_TZ, locale=DEFAULT_LOCALE)
