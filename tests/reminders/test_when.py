"""parse_when: each expression people type, with a fixed now (Thursday 3 December 2026,
14:00 in Shanghai), to the moment it means and the reminder's text."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bots.reminders.when import OFFICE_TZ, WhenError, parse_when
from hub.i18n import translate

NOW = datetime(2026, 12, 3, 14, 0, tzinfo=OFFICE_TZ)  # a Thursday
ROOT = Path(__file__).resolve().parents[2]


def at(month: int, day: int, hour: int, minute: int = 0, second: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=OFFICE_TZ)


CASES = [
    # after a while
    ("10秒后 回电话", at(12, 3, 14, 0, 10)),
    ("30分钟后 回电话", at(12, 3, 14, 30)),
    ("三十分钟后 回电话", at(12, 3, 14, 30)),
    ("30 分钟之后 回电话", at(12, 3, 14, 30)),
    ("两小时后 回电话", at(12, 3, 16)),
    ("2个钟头后 回电话", at(12, 3, 16)),
    ("半小时后 回电话", at(12, 3, 14, 30)),
    ("半个小时后 回电话", at(12, 3, 14, 30)),
    ("一个半小时后 回电话", at(12, 3, 15, 30)),
    ("一刻钟后 回电话", at(12, 3, 14, 15)),
    ("3天后 回电话", at(12, 6, 14)),
    ("3天后上午9点 回电话", at(12, 6, 9)),
    ("两周后 回电话", at(12, 17, 14)),
    # a day and a time
    ("明天9点 参加安全生产会议", at(12, 4, 9)),
    ("明天9点半 回电话", at(12, 4, 9, 30)),
    ("明天9:30 回电话", at(12, 4, 9, 30)),
    ("明天 9:30 回电话", at(12, 4, 9, 30)),
    ("明天九点三刻 回电话", at(12, 4, 9, 45)),
    ("明天9点一刻 回电话", at(12, 4, 9, 15)),
    ("今天下午3点 回电话", at(12, 3, 15)),
    ("后天下午3点 回电话", at(12, 5, 15)),
    ("大后天 回电话", at(12, 6, 9)),
    ("今晚8点 回电话", at(12, 3, 20)),
    ("今晚12点 回电话", at(12, 4, 0)),
    ("明早7点 回电话", at(12, 4, 7)),
    ("明天中午1点 回电话", at(12, 4, 13)),
    ("明天中午12点 回电话", at(12, 4, 12)),
    ("明天凌晨2点 回电话", at(12, 4, 2)),
    # a time alone: today's, or tomorrow's once it has passed
    ("下午3点 回电话", at(12, 3, 15)),
    ("晚上8点 回电话", at(12, 3, 20)),
    ("16:45 回电话", at(12, 3, 16, 45)),
    ("上午10点15分 回电话", at(12, 4, 10, 15)),
    ("9点30 回电话", at(12, 4, 9, 30)),
    ("9点05分 回电话", at(12, 4, 9, 5)),
    ("10点整 回电话", at(12, 4, 10)),
    ("十点 回电话", at(12, 4, 10)),
    ("９：３０ 回电话", at(12, 4, 9, 30)),
    ("９点 回电话", at(12, 4, 9)),
    # weekdays: the next one; 下周 is next week's (weeks start on Monday)
    ("周五 9点 回电话", at(12, 4, 9)),
    ("星期五9点 回电话", at(12, 4, 9)),
    ("礼拜五下午3点 回电话", at(12, 4, 15)),
    ("周三 回电话", at(12, 9, 9)),
    ("周日 回电话", at(12, 6, 9)),
    ("星期天 回电话", at(12, 6, 9)),
    ("本周六上午10点 回电话", at(12, 5, 10)),
    ("下周一10点 回电话", at(12, 7, 10)),
    ("下周五 回电话", at(12, 11, 9)),
    # dates: the next such date
    ("12月5日 回电话", at(12, 5, 9)),
    ("12月5号 15:00 回电话", at(12, 5, 15)),
    ("十二月五日 回电话", at(12, 5, 9)),
    ("12月1日 回电话", at(12, 1, 9, year=2027)),
    ("5号下午2点 回电话", at(12, 5, 14)),
    ("1号 回电话", at(1, 1, 9, year=2027)),
    ("31号 回电话", at(12, 31, 9)),
]


@pytest.mark.parametrize(("text", "when"), CASES, ids=[c[0] for c in CASES])
def test_an_expression_means_its_moment_and_the_rest_is_the_text(text, when):
    assert parse_when(text, NOW) == (when, "参加安全生产会议" if "会议" in text else "回电话")


def test_the_text_keeps_its_own_characters_and_loses_the_separator():
    assert parse_when("明天9点，参加１号楼会议", NOW) == (at(12, 4, 9), "参加１号楼会议")
    assert parse_when("30分钟后回电话", NOW)[1] == "回电话"
    assert parse_when("明天9点：带上材料", NOW)[1] == "带上材料"


def test_now_in_another_zone_is_read_in_the_offices():
    utc = NOW.astimezone(UTC)  # 06:00 UTC: still 14:00 in the office
    assert parse_when("下午3点 回电话", utc) == (at(12, 3, 15), "回电话")


ERRORS = [
    ("回电话", "remind.error.no_time"),
    ("", "remind.error.no_time"),
    ("下午 回电话", "remind.error.no_time"),
    ("明天25点 回电话", "remind.error.bad_time"),
    ("明天9点61分 回电话", "remind.error.bad_time"),
    ("2月30日 回电话", "remind.error.bad_time"),
    ("13月1日 回电话", "remind.error.bad_time"),
    ("32号 回电话", "remind.error.bad_time"),
    ("今天9点 回电话", "remind.error.past"),
    ("今天 回电话", "remind.error.past"),
    ("本周三 回电话", "remind.error.past"),
    ("0分钟后 回电话", "remind.error.past"),
    ("400天后 回电话", "remind.error.too_far"),
    ("60周后 回电话", "remind.error.too_far"),
    ("99999999999999天后 回电话", "remind.error.too_far"),
    ("明天9点", "remind.error.no_text"),
    ("30分钟后 ，", "remind.error.no_text"),
]


@pytest.mark.parametrize(("text", "key"), ERRORS, ids=[e[0] or "empty" for e in ERRORS])
def test_what_cannot_be_reminded_says_why(text, key):
    with pytest.raises(WhenError) as caught:
        parse_when(text, NOW)
    assert caught.value.key == key


def test_every_reminder_string_is_in_both_catalogs():
    keys = set()
    for path in (ROOT / "bots" / "reminders").glob("*.py"):
        keys |= set(re.findall(r'"(remind\.[a-z_.]+)"', path.read_text(encoding="utf-8")))
    assert {"remind.error.no_time", "remind.error.past", "remind.due"} <= keys
    for key in sorted(keys):
        assert translate(key, "zh_CN") != key, f"{key} missing in zh_CN"
        assert translate(key, "en") != key, f"{key} missing in en"


moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(OFFICE_TZ))


@given(n=st.integers(1, 60 * 24 * 366), now=moments)
def test_n_minutes_later_is_now_plus_n_minutes(n, now):
    assert parse_when(f"{n}分钟后 回电话", now) == (now + timedelta(minutes=n), "回电话")


@given(hour=st.integers(0, 23), minute=st.integers(0, 59), now=moments)
def test_a_time_alone_is_the_next_one_within_a_day(hour, minute, now):
    when, _ = parse_when(f"{hour}:{minute:02d} 回电话", now)
    assert (when.hour, when.minute) == (hour, minute) and timedelta(0) < when - now <= timedelta(days=1)


@given(text=st.text(alphabet="0123456789０９:：点时分半刻整后天周号日月个秒钟小今明早晚下午上中凌晨星期礼拜本这零〇一二两三四五六七八九十百 回电话", max_size=20))
def test_any_text_is_a_moment_within_a_year_or_a_when_error(text):
    try:
        when, what = parse_when(text, NOW)
    except WhenError as e:
        assert translate(e.key) != e.key
    else:
        assert NOW < when <= NOW + timedelta(days=366) and what
