"""When a reminder is due, from the Chinese time expression that opens `/remind …`.

Pure: `parse_when(text, now)` splits "明天9点 参加安全生产会议" into the moment (aware, in
the office's zone, Asia/Shanghai) and the rest, the reminder's text.

A small regular-expression parser, not dateparser: dateparser 1.5 (evaluated with
`languages=["zh"]`) reads 30分钟后 and 明天9:30 but not 三十分钟后, 两小时后, 半小时后,
一刻钟后, 明天9点, 下午3点, 晚上8点 or 后天下午3点, and reads 周五 9点 and 12月5日 as dates
months away; its search mode cannot say where the expression ends either, which is the
other half of the job. The phrases people type here are few, so each has a rule below
and a row in tests/reminders/test_when.py. Chinese numerals (三十, 两, 十五) go through
cn2an.

What it understands, at the start of the text:

* after a while: N秒后 · N分钟后 · N小时后 · N天后 · N周后 · 半小时后 · 一个半小时后 · 一刻钟后;
* a day: 今天 · 明天 · 后天 · 大后天 · 今晚 · 明早 · 明晚 · 周五 / 星期五 / 礼拜五 (the next
  one) · 本周五 · 下周一 · 12月5日 / 12月5号 / 5号 (the next such date);
* a time: 9点 · 9点半 · 9点一刻 · 9点30 · 9点30分 · 9:30 · 9时, after 凌晨 / 早上 / 上午 /
  中午 / 下午 / 傍晚 / 晚上 where wanted. Full-width digits and colons (９：３０) too.

A day without a time means 09:00; a time without a day is the next such time (tomorrow
once it has passed today).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import cn2an

from ..clock import OFFICE_TZ

__all__ = ["OFFICE_TZ", "WhenError", "parse_when"]

DEFAULT_TIME = time(9, 0)
LONGEST = timedelta(days=366)

_WIDE = str.maketrans("０１２３４５６７８９：\u3000", "0123456789: ")
_NUM = r"[0-9]+|[零〇一二两三四五六七八九十百]+"
_SECONDS = {"秒": 1, "秒钟": 1, "分": 60, "分钟": 60, "刻钟": 900, "小时": 3600, "钟头": 3600, "天": 86400, "周": 604800}
_RELATIVE = re.compile(rf"(?P<n>{_NUM}|半)\s*个?(?P<half>半)?(?P<unit>秒钟?|分钟?|刻钟|小时|钟头|天|周)(?:之|以)?后")
_DAY_WORDS: dict[str, tuple[int, str | None]] = {  # days from today, and the part of the day it names
    "今天": (0, None), "今日": (0, None), "明天": (1, None), "明日": (1, None), "后天": (2, None), "大后天": (3, None),
    "今早": (0, "早上"), "今晚": (0, "晚上"), "明早": (1, "早上"), "明晚": (1, "晚上"),
}
_DAY = re.compile(
    r"(?P<word>大后天|今天|今日|明天|明日|后天|今早|今晚|明早|明晚)"
    r"|(?P<week>本|这|下)?(?:个)?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天1-7])"
    rf"|(?:(?P<month>{_NUM})月)?(?P<mday>{_NUM})[日号]"
)
_WEEKDAY = {c: i for i, c in enumerate("一二三四五六日")} | {"天": 6} | {str(i + 1): i for i in range(7)}
_TIME = re.compile(
    r"(?P<period>凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|夜里)?\s*"
    rf"(?:(?P<h>{_NUM})[点时](?P<min>半|一刻|三刻|整|(?:{_NUM})分|[0-9]{{2}}(?![0-9]))?"
    r"|(?P<hh>[0-9]{1,2}):(?P<mm>[0-9]{2}))"
)
_AFTERNOON = {"下午", "傍晚", "晚上", "夜里"}
_SEPARATORS = " \t\n\u3000,，、:：;；"


class WhenError(ValueError):
    """Not a time we can remind at; `key` is the i18n key of what to tell the person."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def parse_when(text: str, now: datetime) -> tuple[datetime, str]:
    """(when, what) for "明天9点 参加安全生产会议"; raises WhenError."""
    now = now.astimezone(OFFICE_TZ)
    s = text.translate(_WIDE).strip()  # one character for one: positions stay those of `text`
    when, end = _relative(s, now) or _absolute(s, now)
    if when <= now:
        raise WhenError("remind.error.past")
    if when - now > LONGEST:
        raise WhenError("remind.error.too_far")
    what = text.strip()[end:].lstrip(_SEPARATORS).strip()
    if not what:
        raise WhenError("remind.error.no_text")
    return when, what


def _number(s: str) -> int:
    if s.isdigit():
        return int(s)
    try:
        return int(cn2an.cn2an(s, "smart"))
    except ValueError:
        raise WhenError("remind.error.bad_time") from None


def _relative(s: str, now: datetime) -> tuple[datetime, int] | None:
    """N分钟后 and the like; N天后 / N周后 may go on with a time of that day (3天后上午9点)."""
    m = _RELATIVE.match(s)
    if m is None:
        return None
    n = 0.5 if m["n"] == "半" else _number(m["n"]) + (0.5 if m["half"] else 0)
    seconds = n * _SECONDS[m["unit"]]
    if seconds > LONGEST.total_seconds():  # before a timedelta of 10¹⁵ days overflows
        raise WhenError("remind.error.too_far")
    when = now + timedelta(seconds=seconds)
    time_m = _TIME.match(s, _skip_spaces(s, m.end())) if m["unit"] in ("天", "周") else None
    if time_m is None:
        return when, m.end()
    return _at(when.date(), *_clock(time_m, None)), time_m.end()


def _skip_spaces(s: str, pos: int) -> int:
    while pos < len(s) and s[pos].isspace():
        pos += 1
    return pos


def _absolute(s: str, now: datetime) -> tuple[datetime, int]:
    day_m = _DAY.match(s)
    pos = _skip_spaces(s, day_m.end()) if day_m else 0
    period = _DAY_WORDS[day_m["word"]][1] if day_m and day_m["word"] else None
    time_m = _TIME.match(s, pos)
    if day_m is None and time_m is None:
        raise WhenError("remind.error.no_time")
    at, next_day = _clock(time_m, period) if time_m else (DEFAULT_TIME, False)
    end = time_m.end() if time_m else day_m.end()  # type: ignore[union-attr]
    if day_m is None:  # a time alone: the next one
        when = _at(now.date(), at, next_day)
        return (when if when > now else when + timedelta(days=1)), end
    return _on_day(day_m, now, at, next_day), end


def _clock(m: re.Match[str], day_period: str | None) -> tuple[time, bool]:
    """The time of day, and whether it falls past that day's midnight (晚上12点)."""
    period = m["period"] or day_period
    if m["hh"] is not None:
        h, minute = int(m["hh"]), int(m["mm"])
    else:
        h, minute = _number(m["h"]), _minutes(m["min"])
    if not (0 <= h <= 23 and 0 <= minute < 60):
        raise WhenError("remind.error.bad_time")
    if period in ("晚上", "夜里") and h == 12:
        return time(0, minute), True
    if period in _AFTERNOON and h < 12 or period == "中午" and h < 3:
        h += 12
    elif period == "凌晨" and h == 12:
        h = 0
    return time(h, minute), False


def _minutes(s: str | None) -> int:
    if not s or s == "整":
        return 0
    return {"半": 30, "一刻": 15, "三刻": 45}.get(s) or _number(s.removesuffix("分"))


def _at(day: date, at: time, next_day: bool) -> datetime:
    return datetime.combine(day + timedelta(days=1 if next_day else 0), at, OFFICE_TZ)


def _on_day(m: re.Match[str], now: datetime, at: time, next_day: bool) -> datetime:
    today = now.date()
    if m["word"]:
        return _at(today + timedelta(days=_DAY_WORDS[m["word"]][0]), at, next_day)
    if m["wd"]:
        wd = _WEEKDAY[m["wd"]]
        monday = today - timedelta(days=today.weekday())
        if m["week"] == "下":
            return _at(monday + timedelta(days=7 + wd), at, next_day)
        when = _at(monday + timedelta(days=wd), at, next_day)
        return when if m["week"] or when > now else when + timedelta(days=7)  # 周五: the next one
    mday = _number(m["mday"])
    if m["month"]:  # 12月5日: this year's, else next year's
        month = _number(m["month"])
        candidates = [(today.year, month), (today.year + 1, month)]
    else:  # 5号: this month's, else the next month's that has a 5th
        candidates = [(today.year + (today.month - 1 + k) // 12, (today.month - 1 + k) % 12 + 1) for k in range(13)]
    for year, month in candidates:
        try:
            when = _at(date(year, month, mday), at, next_day)
        except ValueError:  # 2月30日, 13月, 31号 in a short month
            continue
        if when > now:
            return when
    raise WhenError("remind.error.bad_time")
