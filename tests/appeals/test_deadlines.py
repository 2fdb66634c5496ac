"""Deadlines in working days (appeals/workflow.py): weekends, holidays and 调休 make-up days from
chinese-calendar; a year it does not know is a clear error, and an appeal is still saved."""
from __future__ import annotations

from datetime import date

import pytest

from appeals.workflow import CalendarUnknown, add_working_days, load_workflow
from tests.appeals.helpers import at, file
from appeals import service
from vetbot.storage import get_engine, session_scope


@pytest.mark.parametrize("start,days,expected", [
    (date(2026, 12, 2), 1, date(2026, 12, 3)),    # Wednesday → Thursday
    (date(2026, 12, 4), 1, date(2026, 12, 7)),    # Friday → Monday, over the weekend
    (date(2026, 12, 5), 1, date(2026, 12, 7)),    # filed on Saturday → Monday
    (date(2026, 12, 2), 5, date(2026, 12, 9)),
    (date(2026, 9, 30), 1, date(2026, 10, 8)),    # over the National Day holiday (1–7 Oct)
    (date(2026, 10, 9), 1, date(2026, 10, 10)),   # Saturday 10 Oct is a 调休 working day
    (date(2026, 9, 18), 1, date(2026, 9, 20)),    # Sunday 20 Sep too
    (date(2026, 2, 13), 3, date(2026, 2, 25)),    # Spring Festival: 14 Feb (Sat) works, 15–23 off
])
def test_working_days(start, days, expected):
    assert add_working_days(start, days) == expected


def test_a_year_the_calendar_does_not_know_is_a_clear_error():
    with pytest.raises(CalendarUnknown) as error:
        add_working_days(date(2026, 12, 30), 3)
    assert str(error.value) == "2027年的放假安排系统里还没有，无法按工作日计算期限（请更新 chinese-calendar）。"
    assert error.value.year == 2027


def test_deadlines_per_state_and_category():
    workflow, wed = load_workflow(), date(2026, 12, 2)
    assert workflow.deadline("accepted", "kunnan", wed) == date(2026, 12, 3)  # contacted in 1
    assert workflow.deadline("visit_pending", "kunnan", wed) == date(2026, 12, 9)  # visited in 5
    assert workflow.deadline("in_progress", "zhengce", wed) == date(2026, 12, 7)  # answered in 3
    assert workflow.deadline("in_progress", "daiyu", wed) == date(2026, 12, 16)  # default 10
    assert workflow.deadline("closed", "daiyu", wed) is None


def test_an_appeal_whose_deadline_falls_in_an_unknown_year_is_saved_without_one(url):
    reference = file(url, when=at(date(2026, 12, 31), 16))  # 1 working day → 2027
    with session_scope(get_engine(url)) as s:
        appeal = service.get_by_reference(s, reference)
        assert (appeal.status, appeal.deadline) == ("accepted", None)
        assert appeal.events[0].note == ("2027年的放假安排系统里还没有，无法按工作日计算期限"
                                         "（请更新 chinese-calendar）。")
        assert service.status_text(appeal, date(2026, 12, 31)) == "已受理，1个工作日内会有工作人员联系您"
