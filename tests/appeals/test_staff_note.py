"""appeals.service.add_staff_note on a real migrated database (SQLite; PostgreSQL too): a staff
member's own record is kept masked in the trail, gives the assignee no 【老兵补充】 task and the
veteran no message, changes neither state nor deadline, and may be written after 办结."""
from __future__ import annotations

from datetime import date

import pytest

from appeals import service
from appeals.present import event_dict, event_text
from tests.appeals.helpers import at, file, move, tasks
from tests.wechat.outbox_db import outbox_rows
from vetbot.storage import get_engine, session_scope

THU = date(2026, 12, 3)


def note(url: str, reference: str, text: str, role: str = "hotline"):
    with session_scope(get_engine(url)) as s:
        event = service.add_staff_note(s, reference, text, actor="staff:王五", role=role, now=at(THU, 9))
        appeal = service.get_by_reference(s, reference)
        return (event.action, event.role, event.note, appeal.status, appeal.deadline,
                event_text(event_dict(event)))


def test_a_staff_note_is_kept_masked_and_tells_nobody(url):
    reference = file(url)
    move(url, reference, "dispatched", assignee="zhapu")
    tasks_before, outbox_before = tasks(url), outbox_rows(url)
    with session_scope(get_engine(url)) as s:
        deadline = service.get_by_reference(s, reference).deadline
    assert note(url, reference, " 已电话联系，新号码13900001111 ") == (
        "noted", "hotline", "已电话联系，新号码139****1111", "dispatched", deadline,
        "工作人员记录：已电话联系，新号码139****1111")
    assert tasks(url) == tasks_before  # no 【老兵补充】 for the station
    assert outbox_rows(url) == outbox_before  # nothing to the veteran


def test_a_note_after_closing_and_the_refusals(url):
    reference = file(url)
    for to, role in (("answered", "hotline"), ("follow_up", "hotline"), ("closed", "veteran")):
        move(url, reference, to, role)
    assert note(url, reference, "回访后老兵又来电致谢", role="leader")[:4] == (
        "noted", "leader", "回访后老兵又来电致谢", "closed")
    with session_scope(get_engine(url)) as s:
        with pytest.raises(ValueError):
            service.add_staff_note(s, reference, "   ", actor="staff:王五", role="hotline")
        with pytest.raises(service.AppealError, match="没有“clerk”这个角色"):
            service.add_staff_note(s, reference, "记录", actor="staff:王五", role="clerk")
        with pytest.raises(service.NotFound):
            service.add_staff_note(s, "ABCDEF", "记录", actor="staff:王五", role="hotline")
