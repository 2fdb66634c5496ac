"""Working days (with 调休), half-hour slots, the booking window."""
from __future__ import annotations

from datetime import date, datetime, time

import pytest

from booking.calendar import (TZ, NotBookable, OfficeHours, bookable_days, check_day, check_slot,
                              day_slots, half_of, is_workday)

HOURS = OfficeHours(morning=(time(8, 30), time(11, 30)), afternoon=(time(13, 30), time(17, 0)))
TODAY = date(2026, 9, 16)  # Wednesday
NOW = datetime(2026, 9, 16, 10, 0, tzinfo=TZ)


@pytest.mark.parametrize(("day", "workday"), [
    (date(2026, 9, 18), True),  # Friday
    (date(2026, 9, 19), False),  # Saturday
    (date(2026, 9, 20), True),  # Sunday, 调休 for 国庆
    (date(2026, 10, 1), False),  # 国庆
    (date(2026, 10, 10), True),  # Saturday, 调休
    (date(2026, 2, 14), True),  # Saturday, 调休 for 春节
    (date(2026, 2, 17), False),  # 春节
])
def test_is_workday_follows_the_official_calendar(day, workday):
    assert is_workday(day) is workday


def test_unknown_year_is_refused_not_guessed():
    with pytest.raises(NotBookable, match="2027年的放假安排系统里还没有") as refusal:
        is_workday(date(2027, 1, 4))
    assert refusal.value.reason == "unknown_year"


@pytest.mark.parametrize(("day", "reason", "message"), [
    (date(2026, 9, 15), "past", "9月15日（星期二）已经过去了"),
    (date(2026, 9, 19), "rest_day", "9月19日（星期六）是休息日，不办公。"),
    (date(2026, 10, 2), "holiday", "10月2日（星期五）是国庆节假期，不办公。"),
    (date(2026, 9, 26), "holiday", "9月26日（星期六）是中秋节假期，不办公。"),
    (date(2026, 10, 19), "beyond_horizon", "只能预约30天以内的日子"),
])
def test_check_day_refusals(day, reason, message):
    with pytest.raises(NotBookable, match=message) as refusal:
        check_day(day, TODAY)
    assert refusal.value.reason == reason


def test_check_day_accepts_today_the_horizon_edge_and_make_up_days():
    for day in (TODAY, date(2026, 10, 16), date(2026, 9, 20), date(2026, 10, 10)):
        check_day(day, TODAY)  # no exception
    with pytest.raises(NotBookable):
        check_day(date(2026, 10, 16), TODAY, horizon_days=29)


def test_day_slots_are_half_hours_morning_then_afternoon():
    starts = [s.strftime("%H:%M") for s in day_slots(TODAY, HOURS)]
    assert starts == ["08:30", "09:00", "09:30", "10:00", "10:30", "11:00",
                      "13:30", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30"]
    assert all(s.tzinfo is TZ for s in day_slots(TODAY, HOURS))


def test_day_slots_follow_configured_hours():
    short = OfficeHours(morning=(time(9), time(10)), afternoon=(time(14), time(15)))
    assert [s.strftime("%H:%M") for s in day_slots(TODAY, short)] == ["09:00", "09:30", "14:00", "14:30"]


def test_half_of():
    assert half_of(datetime(2026, 9, 16, 11, 0, tzinfo=TZ)) == "上午"
    assert half_of(datetime(2026, 9, 16, 13, 30, tzinfo=TZ)) == "下午"


def test_check_slot():
    check_slot(datetime(2026, 9, 16, 10, 30, tzinfo=TZ), NOW, HOURS)
    refusals = {
        datetime(2026, 9, 16, 10, 0, tzinfo=TZ): "past",  # starts now
        datetime(2026, 9, 16, 9, 30, tzinfo=TZ): "past",
        datetime(2026, 9, 16, 12, 0, tzinfo=TZ): "closed",  # lunch
        datetime(2026, 9, 16, 17, 0, tzinfo=TZ): "closed",  # the end, not a start
        datetime(2026, 9, 16, 10, 15, tzinfo=TZ): "closed",  # not on the half hour
        datetime(2026, 9, 19, 10, 0, tzinfo=TZ): "rest_day",
    }
    for start, reason in refusals.items():
        with pytest.raises(NotBookable) as refusal:
            check_slot(start, NOW, HOURS)
        assert refusal.value.reason == reason, start


def test_check_slot_works_in_shanghai_time():
    # 02:30 UTC is 10:30 in Shanghai: a real slot
    from datetime import timezone
    check_slot(datetime(2026, 9, 16, 2, 30, tzinfo=timezone.utc), NOW, HOURS)


def test_bookable_days_skip_holidays_and_keep_make_up_days():
    days = bookable_days(TODAY, horizon_days=11)  # to 9-27
    assert days == [date(2026, 9, d) for d in (16, 17, 18, 20, 21, 22, 23, 24)]


def test_bookable_days_stop_at_an_unknown_year():
    days = bookable_days(date(2026, 12, 21), horizon_days=30)
    assert days[-1] == date(2026, 12, 31)
    assert len(days) == 9  # 21-25, 28-31
