"""Natural-language dates and times (booking.when) against fixed "now"s, Asia/Shanghai.

Main "now" A is Wednesday 2026-09-16 10:00: that week's Sunday 9-20 is a 调休 working day,
中秋 9-25..27 and 国庆 10-1..7 are holidays, Saturday 10-10 is a 调休 working day, and the
30-day horizon ends on 10-16. B (Wed 2025-12-24) crosses the year boundary into 元旦 with the
Sunday 2026-01-04 调休. C (Wed 2026-12-02) reaches 2027, a year the holiday calendar does not
know. D (Tue 2026-02-10) is the week before 春节 with the Saturday 2-14 调休.

Expected values: ("YYYY-MM-DD" or None, "HH:MM" or None, "上午"/"下午" or None) for a parse,
("refuse", reason) for a refusal, None for "no date or time said".

HELD_OUT was written before the parser and is never used to tune it: its pass rate is a measure
of how the parser does on phrasings it was not fitted to (see test_held_out_pass_rate)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from booking.calendar import TZ, NotBookable
from booking.when import parse_when

NOW = {
    "A": datetime(2026, 9, 16, 10, 0, tzinfo=TZ),
    "B": datetime(2025, 12, 24, 10, 0, tzinfo=TZ),
    "C": datetime(2026, 12, 2, 10, 0, tzinfo=TZ),
    "D": datetime(2026, 2, 10, 10, 0, tzinfo=TZ),
}


def R(reason):  # noqa: N802 - a refusal row
    return ("refuse", reason)


def D(day, time=None, half=None):  # noqa: N802 - a parse row
    return (day, time, half)


TABLE = [
    ("A", "今天", D("2026-09-16")),
    ("A", "明天", D("2026-09-17")),
    ("A", "后天", D("2026-09-18")),
    ("A", "大后天", R("rest_day")),  # Saturday 9-19
    ("A", "昨天", R("past")),
    ("A", "前天", R("past")),
    ("A", "明天上午", D("2026-09-17", half="上午")),
    ("A", "明天下午", D("2026-09-17", half="下午")),
    ("A", "后天上午九点半", D("2026-09-18", "09:30")),
    ("A", "这周五", D("2026-09-18")),
    ("A", "这周五下午", D("2026-09-18", half="下午")),
    ("A", "这周日", D("2026-09-20")),  # 调休 working Sunday
    ("A", "本周六", R("rest_day")),
    ("A", "这周一", R("past")),
    ("A", "下周三", D("2026-09-23")),
    ("A", "下周一上午", D("2026-09-21", half="上午")),
    ("A", "下周五", R("holiday")),  # 中秋
    ("A", "下星期四", D("2026-09-24")),
    ("A", "下礼拜二", D("2026-09-22")),
    ("A", "下周六", R("holiday")),
    ("A", "下周日", R("holiday")),
    ("A", "下下周一", D("2026-09-28")),
    ("A", "周四", D("2026-09-17")),
    ("A", "星期一", D("2026-09-21")),  # this week's Monday is past: the next one
    ("A", "周三", D("2026-09-16")),
    ("A", "星期天", D("2026-09-20")),
    ("A", "9月18号", D("2026-09-18")),
    ("A", "9月20日", D("2026-09-20")),
    ("A", "9月25号", R("holiday")),
    ("A", "十月一日", R("holiday")),
    ("A", "10月8号", D("2026-10-08")),
    ("A", "10月10号", D("2026-10-10")),  # 调休 working Saturday
    ("A", "10月11号", R("rest_day")),
    ("A", "十月十号上午", D("2026-10-10", half="上午")),
    ("A", "10月16号", D("2026-10-16")),  # last day of the horizon
    ("A", "10月17号", R("beyond_horizon")),
    ("A", "10月20号", R("beyond_horizon")),
    ("A", "9月10号", R("past")),
    ("A", "18号", D("2026-09-18")),
    ("A", "5号", R("holiday")),  # 10-05, 国庆
    ("A", "30号", D("2026-09-30")),
    ("A", "二十九号", D("2026-09-29")),
    ("A", "十二月五日", R("beyond_horizon")),
    ("A", "2026-09-22", D("2026-09-22")),
    ("A", "2026-10-09", D("2026-10-09")),
    ("A", "2026/09/21", D("2026-09-21")),
    ("A", "2026年9月24日", D("2026-09-24")),
    ("A", "2025-09-22", R("past")),
    ("A", "九点半", D(None, "09:30")),
    ("A", "两点", D(None, "14:00")),
    ("A", "下午三点", D(None, "15:00")),
    ("A", "上午十点", D(None, "10:00")),
    ("A", "10点半", D(None, "10:30")),
    ("A", "14:30", D(None, "14:30")),
    ("A", "下午2点半", D(None, "14:30")),
    ("A", "早上八点半", D(None, "08:30")),
    ("A", "上午", D(None, half="上午")),
    ("A", "下午", D(None, half="下午")),
    ("A", "明天两点", D("2026-09-17", "14:00")),
    ("A", "明天上午九点", D("2026-09-17", "09:00")),
    ("A", "今天下午三点", D("2026-09-16", "15:00")),
    ("A", "今天九点", R("past")),
    ("A", "春节初一", R("holiday")),
    ("A", "大年初一", R("holiday")),
    ("A", "国庆节", R("holiday")),
    ("A", "中秋节那天", R("holiday")),
    ("A", "晚上七点", R("closed")),
    ("A", "我想约明天", D("2026-09-17")),
    ("A", "明天可以吗", D("2026-09-17")),
    ("A", "那就下周三上午吧", D("2026-09-23", half="上午")),
    ("A", "你好", None),
    ("A", "评残要带什么材料", None),
    ("A", "能快一点吗", None),  # 一点 here is "a bit", not one o'clock
    ("A", "周三两点", D("2026-09-16", "14:00")),
    ("A", "2月30号", R("invalid_date")),
    ("A", "9月31日", R("invalid_date")),
    ("A", "明天九点一刻", D("2026-09-17", "09:15")),
    ("A", "下周二下午两点半", D("2026-09-22", "14:30")),
    # year boundary
    ("B", "元旦", R("holiday")),
    ("B", "1月1号", R("holiday")),
    ("B", "1月4号", D("2026-01-04")),  # 调休 working Sunday
    ("B", "明年1月5号", D("2026-01-05")),
    ("B", "下周四", R("holiday")),  # 2026-01-01
    ("B", "下周日", D("2026-01-04")),
    ("B", "12月31号", D("2025-12-31")),
    ("B", "2号", R("holiday")),  # 2026-01-02
    ("B", "下下周一", D("2026-01-05")),
    ("B", "周六", R("rest_day")),
    # the holiday calendar does not know 2027
    ("C", "十二月五日", R("rest_day")),
    ("C", "12月7号上午", D("2026-12-07", half="上午")),
    ("C", "明年1月1日", R("unknown_year")),
    ("C", "后天", D("2026-12-04")),
    ("C", "月底", D("2026-12-31")),
    ("C", "12月底下午", D("2026-12-31", half="下午")),
    ("A", "月底", D("2026-09-30")),
    ("A", "下个月底", R("beyond_horizon")),  # 10-31
]

HELD_OUT = [
    ("A", "明儿", D("2026-09-17")),
    ("A", "今天下午", D("2026-09-16", half="下午")),
    ("A", "后天下午两点", D("2026-09-18", "14:00")),
    ("A", "下周四上午十点", D("2026-09-24", "10:00")),
    ("A", "这个星期五", D("2026-09-18")),
    ("A", "下个星期一", D("2026-09-21")),
    ("A", "9月21日上午", D("2026-09-21", half="上午")),
    ("A", "九月二十二号", D("2026-09-22")),
    ("A", "10月9日下午", D("2026-10-09", half="下午")),
    ("A", "2026.09.29", D("2026-09-29")),
    ("A", "二十一号", D("2026-09-21")),
    ("A", "下午四点", D(None, "16:00")),
    ("A", "十一点", D(None, "11:00")),
    ("A", "三点半", D(None, "15:30")),
    ("A", "上午9:00", D(None, "09:00")),
    ("A", "大前天", R("past")),
    ("A", "国庆", R("holiday")),
    ("A", "10月3号", R("holiday")),
    ("A", "下周一早上", D("2026-09-21", half="上午")),
    ("A", "这周六上午", R("rest_day")),
    ("A", "11月5号", R("beyond_horizon")),
    ("A", "3号", R("holiday")),
    ("A", "能不能约在明天下午三点", D("2026-09-17", "15:00")),
    ("A", "谢谢", None),
    ("A", "周日", D("2026-09-20")),
    ("B", "下周一", D("2025-12-29")),
    ("B", "1月2日", R("holiday")),
    ("B", "明年一月六号", D("2026-01-06")),
    ("D", "春节", R("holiday")),
    ("D", "这周六", D("2026-02-14")),  # 调休 working Saturday
    ("D", "下周一", R("holiday")),
    ("D", "2月24号", D("2026-02-24")),
]


def outcome(now_key: str, text: str):
    try:
        when = parse_when(text, NOW[now_key])
    except NotBookable as refusal:
        return ("refuse", refusal.reason)
    if when is None:
        return None
    return (when.day.isoformat() if when.day else None,
            when.time.strftime("%H:%M") if when.time else None, when.half)


def test_tables_are_big_enough_and_a_quarter_is_held_out():
    assert len(TABLE) + len(HELD_OUT) >= 80
    assert len(HELD_OUT) / (len(TABLE) + len(HELD_OUT)) >= 0.25


@pytest.mark.parametrize(("now_key", "text", "expected"), TABLE, ids=[row[1] for row in TABLE])
def test_table(now_key, text, expected):
    assert outcome(now_key, text) == expected


HELD_OUT_FLOOR = 0.75  # a regression floor, set when the held-out rate was first measured


def test_held_out_pass_rate(capsys):
    misses = [(text, expected, outcome(now_key, text)) for now_key, text, expected in HELD_OUT
              if outcome(now_key, text) != expected]
    rate = 1 - len(misses) / len(HELD_OUT)
    with capsys.disabled():
        print(f"\nheld-out date table: {len(HELD_OUT) - len(misses)}/{len(HELD_OUT)} = {rate:.0%}")
        for text, expected, got in misses:
            print(f"  miss: {text!r}: expected {expected}, got {got}")
    assert rate >= HELD_OUT_FLOOR


def test_refusals_speak_chinese_and_name_the_day():
    with pytest.raises(NotBookable, match="9月25日（星期五）是中秋节假期，不办公"):
        parse_when("9月25号", NOW["A"])
    with pytest.raises(NotBookable, match="2027年的放假安排系统里还没有"):
        parse_when("明年1月1日", NOW["C"])
    with pytest.raises(NotBookable, match="9月15日（星期二）已经过去了"):
        parse_when("昨天", NOW["A"])


def test_horizon_is_a_parameter():
    assert outcome("A", "10月16号") == D("2026-10-16")
    with pytest.raises(NotBookable) as refusal:
        parse_when("10月16号", NOW["A"], horizon_days=10)
    assert refusal.value.reason == "beyond_horizon"


def test_now_in_another_zone_is_converted_to_shanghai():
    # 2026-09-16 20:00 UTC is already Thursday 9-17 04:00 in Shanghai: 今天 is the 17th
    utc_evening = datetime(2026, 9, 16, 20, 0, tzinfo=timezone.utc)
    assert parse_when("今天", utc_evening).day.isoformat() == "2026-09-17"
