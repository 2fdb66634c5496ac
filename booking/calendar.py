"""Working days, half-hour slots and the booking window, in Asia/Shanghai time.

Working days come from `chinese_calendar` (the official holiday calendar with 调休 make-up days,
kept current by its maintainers). A year it does not know yet gets a clear refusal, never a guess."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

TZ = ZoneInfo("Asia/Shanghai")
SLOT = timedelta(minutes=30)
DEFAULT_HORIZON_DAYS = 30
WEEKDAYS = "一二三四五六日"
HOLIDAY_NAMES = {  # chinese_calendar's English names
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}


class NotBookable(ValueError):
    """A date or time that cannot be booked; str() is the Chinese message for the veteran,
    `reason` one of: past, holiday, rest_day, beyond_horizon, unknown_year, closed."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class OfficeHours:
    morning: tuple[time, time]
    afternoon: tuple[time, time]


def day_label(day: date) -> str:
    return f"{day.month}月{day.day}日（星期{WEEKDAYS[day.weekday()]}）"


def is_workday(day: date) -> bool:
    """Official working day (weekends that are 调休 make-up days count); NotBookable for a year
    the holiday calendar does not cover."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        raise NotBookable(
            "unknown_year",
            f"{day.year}年的放假安排系统里还没有，暂时不能约这一天。请换一个日期，或打电话问工作人员。",
        ) from None


def check_day(day: date, today: date, horizon_days: int = DEFAULT_HORIZON_DAYS) -> None:
    """Raise NotBookable unless the day is a working day from today to today + horizon."""
    if day < today:
        raise NotBookable("past", f"{day_label(day)}已经过去了，请说一个以后的日子。")
    if day > today + timedelta(days=horizon_days):
        raise NotBookable("beyond_horizon", f"只能预约{horizon_days}天以内的日子，{day_label(day)}太远了。")
    if not is_workday(day):
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
        if name and on_holiday:
            raise NotBookable("holiday", f"{day_label(day)}是{HOLIDAY_NAMES.get(name, '法定节假日')}假期，不办公。")
        raise NotBookable("rest_day", f"{day_label(day)}是休息日，不办公。")


def day_slots(day: date, hours: OfficeHours) -> list[datetime]:
    """Start times (aware, Asia/Shanghai) of the half-hour slots of a day, morning then afternoon."""
    starts = []
    for begin, end in (hours.morning, hours.afternoon):
        moment = datetime.combine(day, begin, TZ)
        while moment + SLOT <= datetime.combine(day, end, TZ):
            starts.append(moment)
            moment += SLOT
    return starts


def half_of(moment: datetime) -> str:
    return "上午" if moment.hour < 12 else "下午"


def check_slot(start: datetime, now: datetime, hours: OfficeHours,
               horizon_days: int = DEFAULT_HORIZON_DAYS) -> None:
    """Raise NotBookable unless `start` is a future slot of a bookable day at these hours."""
    start, now = start.astimezone(TZ), now.astimezone(TZ)
    check_day(start.date(), now.date(), horizon_days)
    if start not in day_slots(start.date(), hours):
        (m0, m1), (a0, a1) = hours.morning, hours.afternoon
        raise NotBookable("closed", f"办理时间是上午{m0:%H:%M}到{m1:%H:%M}、下午{a0:%H:%M}到{a1:%H:%M}，"
                                    "按半小时预约，请换个时间。")
    if start <= now:
        raise NotBookable("past", f"{start:%H:%M}已经过了，请换个时间。")


def bookable_days(today: date, horizon_days: int = DEFAULT_HORIZON_DAYS) -> list[date]:
    """Working days from today to today + horizon; days of a year the calendar does not know
    are left out (they cannot be checked)."""
    days = []
    for offset in range(horizon_days + 1):
        day = today + timedelta(days=offset)
        try:
            if is_workday(day):
                days.append(day)
        except NotBookable:
            break  # every later day is in the unknown year too
    return days
