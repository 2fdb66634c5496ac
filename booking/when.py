"""Dates and times said in everyday Chinese, e.g. 明天上午 / 下周三 / 12月5号 / 月底 / 九点半 / 下午三点.

parse_when(text, now) returns a When (a day, and a time or a half-day, each optional), None when
the text names no date or time, or raises calendar.NotBookable with a short Chinese message when
the day cannot be booked (past, holiday, rest day, beyond the horizon, a year the holiday
calendar does not know, a day that does not exist, the evening)."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import cn2an

from booking.calendar import DEFAULT_HORIZON_DAYS, TZ, NotBookable, check_day

NUM = "[0-9零〇一二两三四五六七八九十]+"

RELATIVE_DAYS = {  # longest first, so 大后天 is not read as 后天
    "大前天": -3, "大后天": 3, "前天": -2, "昨天": -1, "昨日": -1, "今天": 0, "今日": 0,
    "今儿": 0, "明天": 1, "明日": 1, "明儿": 1, "后天": 2, "后儿": 2,
}
WEEK_OFFSETS = {"这个": 0, "这": 0, "本": 0, "下个": 7, "下下": 14, "下": 7}
WEEKDAY_INDEX = {c: i for i, c in enumerate("一二三四五六")} | {"日": 6, "天": 6}
HALVES = {"上午": "上午", "早上": "上午", "早晨": "上午", "上半天": "上午",
          "下午": "下午", "下半天": "下午", "晚上": "晚上", "傍晚": "晚上", "夜里": "晚上"}
NAMED_HOLIDAYS = ("春节", "过年", "大年", "除夕", "正月初", "元旦", "清明", "五一", "劳动节",
                  "端午", "国庆", "中秋")

ISO_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?")
MONTH_DAY = re.compile(rf"(明年|今年)?({NUM})月({NUM})[日号]")
MONTH_END = re.compile(rf"(下个?)?({NUM})?月[底末]")  # 月底 / 12月底 / 下个月底: the month's last day
DAY_ONLY = re.compile(rf"({NUM})[日号]")
RELATIVE = re.compile("|".join(RELATIVE_DAYS))
WEEKDAY = re.compile(r"(这个|下个|下下|这|本|下)?(?:周|星期|礼拜)([一二三四五六日天])")
CLOCK = re.compile(r"(\d{1,2})[:：](\d{2})")
HOUR = re.compile(rf"(?<![快慢早晚好多])({NUM})[点时](半|一刻|三刻|{NUM}分?)?")  # not 快一点
HALF = re.compile("|".join(HALVES))


@dataclass(frozen=True)
class When:
    day: date | None  # None: only a time was said; the dialogue keeps the day it has
    time: time | None  # an exact time, when one was said
    half: str | None  # "上午" / "下午" when a half-day but no exact time was said


def parse_when(text: str, now: datetime, horizon_days: int = DEFAULT_HORIZON_DAYS) -> When | None:
    now = now.astimezone(TZ)
    text = unicodedata.normalize("NFKC", text).replace(" ", "")
    day, text = _day(text, now.date())
    half_word = HALF.search(text)
    half = HALVES[half_word.group()] if half_word else None
    if half == "晚上":
        raise NotBookable("closed", "晚上不办公，请约上午或下午。")
    clock = _clock(text, half)
    if day is None and clock is None and half is None:
        holiday = next((name for name in NAMED_HOLIDAYS if name in text), None)
        if holiday:
            raise NotBookable("holiday", f"{holiday}是法定节假日，不办公。请说一个工作日，比如“明天”或“下周三”。")
        return None
    if day is not None:
        check_day(day, now.date(), horizon_days)
        if day == now.date() and _already_past(clock, half, now):
            raise NotBookable("past", "这个时间今天已经过了，请换个时间或换一天。")
    return When(day=day, time=clock, half=None if clock else half)


def _number(text: str) -> int:
    return int(cn2an.cn2an(text, "smart"))


def _date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise NotBookable("invalid_date", f"没有{month}月{day}日这一天，请再说一遍日期。") from None


def _day(text: str, today: date) -> tuple[date | None, str]:
    """The day named in the text, and the text with that expression removed."""
    if match := ISO_DATE.search(text):
        day = _date(*(int(g) for g in match.groups()))
    elif match := MONTH_DAY.search(text):
        which, month, dom = match.group(1), _number(match.group(2)), _number(match.group(3))
        year = today.year + (which == "明年")
        day = _date(year, month, dom)
        if which is None and day < today - timedelta(days=60):
            day = _date(year + 1, month, dom)  # "1月5号" said in December means next January
    elif match := MONTH_END.search(text):
        year, month = today.year, today.month
        if match.group(2):
            month = _number(match.group(2))
            year += month < today.month
        elif match.group(1):
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        day = _month_end(year, month)
    elif match := DAY_ONLY.search(text):
        dom = _number(match.group(1))
        year, month = today.year, today.month
        if dom < today.day:  # "5号" after the 5th means next month's
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        day = _date(year, month, dom)
    elif match := RELATIVE.search(text):
        day = today + timedelta(days=RELATIVE_DAYS[match.group()])
    elif match := WEEKDAY.search(text):
        which, weekday = match.group(1), WEEKDAY_INDEX[match.group(2)]
        day = today - timedelta(days=today.weekday()) + timedelta(days=weekday)
        if which is None:
            if day < today:  # a bare 周一 already past this week means the next one
                day += timedelta(days=7)
        else:
            day += timedelta(days=WEEK_OFFSETS[which])
    else:
        return None, text
    return day, text[:match.start()] + " " + text[match.end():]


def _month_end(year: int, month: int) -> date:
    if not 1 <= month <= 12:
        raise NotBookable("invalid_date", f"没有{month}月，请再说一遍日期。")
    return (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)


def _clock(text: str, half: str | None) -> time | None:
    if match := CLOCK.search(text):
        hour, minute = int(match.group(1)), int(match.group(2))
    elif match := HOUR.search(text):
        hour, minute = _number(match.group(1)), _minutes(match.group(2))
    else:
        return None
    if half == "下午" and hour < 12:
        hour += 12
    elif half is None and 1 <= hour <= 6:  # 两点 in an office means 14:00 (also 中午一点)
        hour += 12
    if hour > 23 or minute > 59:
        raise NotBookable("invalid_time", "没听懂这个时间，请说“上午九点半”或“下午两点”这样的时间。")
    return time(hour, minute)


def _minutes(said: str | None) -> int:
    if not said:
        return 0
    return {"半": 30, "一刻": 15, "三刻": 45}.get(said) or _number(said.rstrip("分"))


def _already_past(clock: time | None, half: str | None, now: datetime) -> bool:
    if clock is not None:
        return clock <= now.time()
    return (half == "上午" and now.hour >= 12) or (half == "下午" and now.hour >= 18)
