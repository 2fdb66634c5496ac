"""Day-before reminders and staff-change notices (booking/reminders.py, booking/notices.py),
routed by the channel the veteran booked on, against a real migrated database (SQLite;
PostgreSQL too, see tests/booking/databases.py)."""
from __future__ import annotations

import multiprocessing
from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import func, select

from booking.catalogue import load_catalogue
from booking.notices import CHANGED, REMINDER, notify_change, reminder_text
from booking.reminders import queue_due_reminders
from booking.service import cancel, create_booking, get_by_reference, reschedule, set_status
from vetbot.staff_tasks import StaffTask, add_task
from tests.booking.databases import fresh_database
from vetbot.cli import main
from tests.wechat.outbox_db import outbox_rows
from vetbot.storage import get_engine, session_scope
from wechat_adapter.models import OutboxMessage

SHANGHAI = timezone(timedelta(hours=8))
WED, THU, FRI, SUN, MON = (date(2026, 12, 9), date(2026, 12, 10), date(2026, 12, 11),
                           date(2026, 12, 13), date(2026, 12, 14))
OPENID = "oPinghuVeteran0001"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """An instant given in Asia/Shanghai, handed over in UTC (as the channel's loop does)."""
    return datetime.combine(day, time(hour, minute), SHANGHAI).astimezone(timezone.utc)


def book(url: str, day: date, *, channel: str | None = "wechat", sender_id: str | None = OPENID,
         start: time = time(9), n: int = 0, location: str = "zhapu") -> str:
    with session_scope(get_engine(url)) as s:
        return create_booking(
            s, service_code="pingcan-xinban", location_code=location, date=day, start_time=start,
            name=f"老兵{n}", phone=f"138{n:08d}", id_number="33048219650312123X", capacity=100,
            actor=f"veteran:{channel}:{sender_id}", channel=channel, sender_id=sender_id).reference


def tasks(url: str) -> list[tuple]:
    with session_scope(get_engine(url)) as s:
        return [tuple(r) for r in s.execute(select(
            StaffTask.kind, StaffTask.reference, StaffTask.dedupe_key, StaffTask.text
        ).order_by(StaffTask.id))]


def remind(url: str, now: datetime) -> int:
    return queue_due_reminders(now, get_engine(url))


def keys(url: str) -> list[str]:
    return [row[2] for row in outbox_rows(url)] + [row[2] for row in tasks(url)]


# -- which bookings, when ----------------------------------------------------------------------
def test_a_booking_is_reminded_the_calendar_day_before_from_nine(url):
    thursday = book(url, THU)
    friday = book(url, FRI, n=1)
    assert remind(url, at(WED, 8, 59)) == 0  # not before 9:00
    assert remind(url, at(WED, 9)) == 1
    assert keys(url) == [f"reminder:{thursday}:2026-12-10"]
    assert remind(url, at(WED, 23, 59)) == 0  # once
    assert remind(url, at(THU, 9, 30)) == 1  # Thursday 09:30 in Pinghu is 01:30 UTC
    assert keys(url) == [f"reminder:{thursday}:2026-12-10", f"reminder:{friday}:2026-12-11"]


def test_a_monday_booking_is_reminded_on_sunday(url):
    monday = book(url, MON)
    assert remind(url, at(FRI, 10)) == 0
    assert remind(url, at(SUN, 10)) == 1
    assert keys(url) == [f"reminder:{monday}:2026-12-14"]


def test_only_bookings_still_booked_are_reminded(url):
    booked = book(url, THU, n=0)
    cancelled = book(url, THU, n=1)
    arrived_early = book(url, THU, n=2)  # staff marked it arrived (came a day early, say)
    with session_scope(get_engine(url)) as s:
        cancel(s, cancelled, actor="veteran:wechat:x")
        set_status(s, arrived_early, "arrived", actor="staff:王五")
    assert remind(url, at(WED, 10)) == 1
    assert keys(url) == [f"reminder:{booked}:2026-12-10"]


def test_a_booking_moved_to_another_day_is_reminded_again(url):
    reference = book(url, THU)
    assert remind(url, at(WED, 10)) == 1
    with session_scope(get_engine(url)) as s:
        reschedule(s, reference, date=FRI, start_time=time(10), capacity=10,
                   actor=f"veteran:wechat:{OPENID}")
    assert remind(url, at(THU, 10)) == 1
    assert keys(url) == [f"reminder:{reference}:2026-12-10", f"reminder:{reference}:2026-12-11"]


# -- where it goes, what it says ---------------------------------------------------------------
def test_wechat_bookings_go_to_the_outbox_the_others_to_staff(url):
    wechat = book(url, THU, n=0)
    rest = book(url, THU, channel="rest", sender_id="u7", n=1)
    hotline = book(url, THU, channel=None, sender_id=None, n=2)  # staff booked it on the phone
    no_openid = book(url, THU, sender_id=None, n=3)
    assert remind(url, at(WED, 10)) == 4
    with session_scope(get_engine(url)) as s:
        texts = {ref: reminder_text(get_by_reference(s, ref))
                 for ref in (wechat, rest, hotline, no_openid)}
    assert outbox_rows(url) == [(OPENID, REMINDER, f"reminder:{wechat}:2026-12-10", texts[wechat])]
    assert tasks(url) == [(REMINDER, ref, f"reminder:{ref}:2026-12-10", texts[ref])
                          for ref in (rest, hotline, no_openid)]


def test_the_reminder_text(url):
    reference = book(url, THU, start=time(14, 30))
    with session_scope(get_engine(url)) as s:
        text = reminder_text(get_by_reference(s, reference))
    checklist = load_catalogue().service("pingcan-xinban").checklist()  # the one source
    assert text == (
        "【预约提醒】您明天要办理评残（新办）：\n"
        "12月10日（星期四）下午2:30，乍浦镇退役军人服务站\n"  # the address is still 待确认: left out
        f"预约号：{reference}\n"
        f"请带好：\n{checklist}\n"
        "不能来的话，请回复“取消预约”。"
    )


def test_a_confirmed_address_is_given(url, monkeypatch):
    import booking.notices

    catalogue = load_catalogue()
    zhapu = catalogue.location("zhapu")
    confirmed = type(catalogue)(catalogue.services, tuple(
        type(zhapu)(**{**zhapu.__dict__, "address": "乍浦镇雅山西路1号"}) if loc.id == "zhapu" else loc
        for loc in catalogue.locations))
    monkeypatch.setattr(booking.notices, "_catalogue", lambda: confirmed)
    reference = book(url, THU)
    with session_scope(get_engine(url)) as s:
        text = reminder_text(get_by_reference(s, reference))
    assert text.splitlines()[1] == "12月10日（星期四）上午9:00，乍浦镇退役军人服务站（乍浦镇雅山西路1号）"


# -- two reminder jobs at once -----------------------------------------------------------------
def remind_in_process(url: str, barrier, results) -> None:
    barrier.wait(timeout=60)
    results.put(queue_due_reminders(at(WED, 10), get_engine(url)))


def test_two_reminder_processes_at_once_queue_each_reminder_once(url):
    wechat = [book(url, THU, n=n, sender_id=f"oVet{n}") for n in range(30)]
    rest = [book(url, THU, channel="rest", sender_id=f"u{n}", n=100 + n) for n in range(10)]
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    processes = [ctx.Process(target=remind_in_process, args=(url, barrier, results)) for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0, 0]
    assert results.get(timeout=5) + results.get(timeout=5) == 40
    assert sorted(row[2] for row in outbox_rows(url)) == sorted(f"reminder:{r}:2026-12-10" for r in wechat)
    assert sorted(row[2] for row in tasks(url)) == sorted(f"reminder:{r}:2026-12-10" for r in rest)


# -- changes by staff --------------------------------------------------------------------------
def test_a_cancel_by_staff_is_told_to_the_veteran_once(url):
    reference = book(url, THU)
    with session_scope(get_engine(url)) as s:
        booking = cancel(s, reference, actor="staff:王五", reason="站点停电")
        assert notify_change(s, booking) is True
        assert notify_change(s, booking) is False  # the same change: not twice
        event_id = booking.events[-1].id
    assert outbox_rows(url) == [(OPENID, CHANGED, f"changed:{reference}:{event_id}",
                                 f"【预约取消】您12月10日（星期四）上午9:00办理评残（新办）的预约（预约号 {reference}）"
                                 "已由工作人员取消。\n如需重新预约，请回复“预约”，或打电话问工作人员。")]


def test_a_reschedule_by_staff_is_told_to_the_veteran_by_phone_if_not_on_wechat(url):
    reference = book(url, THU, channel="rest", sender_id="u1")
    with session_scope(get_engine(url)) as s:
        booking = reschedule(s, reference, date=FRI, start_time=time(14), capacity=10,
                             actor="staff:王五", location_code="danghu")
        assert notify_change(s, booking) is True
        event_id = booking.events[-1].id
    assert outbox_rows(url) == []
    assert tasks(url) == [(CHANGED, reference, f"changed:{reference}:{event_id}",
                           f"【预约变更】工作人员把您办理评残（新办）的预约（预约号 {reference}）改到：\n"
                           "12月11日（星期五）下午2:00，当湖街道退役军人服务站\n"
                           "不能来的话，请回复“取消预约”。")]


def test_a_staff_task_is_added_once_per_key(url):
    reference = book(url, THU, channel="rest", sender_id="u1")
    with session_scope(get_engine(url)) as s:
        assert add_task(s, kind=CHANGED, reference=reference, text="请回电", dedupe_key="k1") is True
        assert add_task(s, kind=REMINDER, reference=reference, text="别的", dedupe_key="k1") is False
    assert tasks(url) == [(CHANGED, reference, "k1", "请回电")]


def test_a_veterans_own_change_and_other_staff_steps_notify_nobody(url):
    moved, cancelled, arrived = book(url, THU, n=0), book(url, THU, n=1), book(url, THU, n=2)
    created = book(url, FRI, n=3)
    with session_scope(get_engine(url)) as s:
        veteran = f"veteran:wechat:{OPENID}"
        assert notify_change(s, reschedule(s, moved, date=FRI, start_time=time(9), capacity=10,
                                           actor=veteran)) is False
        assert notify_change(s, cancel(s, cancelled, actor=veteran)) is False
        assert notify_change(s, set_status(s, arrived, "arrived", actor="staff:王五")) is False
        assert notify_change(s, get_by_reference(s, created)) is False  # just created
    assert (outbox_rows(url), tasks(url)) == ([], [])


# -- the staff commands ------------------------------------------------------------------------
@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    """The CLI on the data dir's SQLite database."""
    monkeypatch.setenv("VETBOT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VETBOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("VETBOT_PII_KEY", "test-key")
    with fresh_database("sqlite", tmp_path) as url:
        yield url


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["bookings", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cancel_command_notifies_the_veteran(cli_db, capsys):
    wechat = book(cli_db, THU, n=0)
    rest = book(cli_db, THU, channel="rest", sender_id="u1", n=1)
    code, out, _ = run(capsys, "cancel", wechat, "--by", "王五")
    assert (code, out.splitlines()[1]) == (0, "已通过微信通知老兵。")
    code, out, _ = run(capsys, "cancel", rest, "--by", "王五")
    assert (code, out.splitlines()[1]) == (0, "老兵不是在微信上预约的：已加入待电话通知列表（vetbot bookings calls）。")
    assert [row[1] for row in outbox_rows(cli_db)] == [CHANGED]
    assert [(row[0], row[1]) for row in tasks(cli_db)] == [(CHANGED, rest)]


def test_remind_command(cli_db, capsys, monkeypatch):
    import booking.cli

    book(cli_db, THU)
    monkeypatch.setattr(booking.cli, "_now", lambda: at(WED, 8).astimezone(SHANGHAI))
    assert run(capsys, "remind") == (0, "提醒从 09:00 起排入，现在还早，没有排入。\n", "")
    monkeypatch.setattr(booking.cli, "_now", lambda: at(WED, 16).astimezone(SHANGHAI))
    assert run(capsys, "remind") == (0, "已排入 1 条明天（2026-12-10）的预约提醒。\n", "")
    assert run(capsys, "remind") == (0, "已排入 0 条明天（2026-12-10）的预约提醒。\n", "")


def test_calls_lists_open_tasks_masked_and_marks_them_done(cli_db, capsys):
    reference = book(cli_db, THU, channel="rest", sender_id="u1", n=5)
    assert run(capsys, "calls") == (0, "没有待电话通知的老兵。\n", "")
    remind(cli_db, at(WED, 10))
    code, out, err = run(capsys, "calls")
    assert (code, err) == (0, "")
    first = out.splitlines()[0]
    assert first.startswith("[1] 2026-") and first.endswith(f"预约提醒  预约号 {reference}  老兵5  138****0005")
    assert out.splitlines()[1] == "    【预约提醒】您明天要办理评残（新办）："
    assert "13800000005" not in out and "33048219650312123X" not in out
    assert run(capsys, "calls", "--done", "1") == (1, "", "请用 --by 写明操作的工作人员姓名。\n")
    assert run(capsys, "calls", "--done", "1", "--by", "王五") == (0, "第 1 条已登记为已通知。操作人：王五\n", "")
    assert run(capsys, "calls", "--done", "1", "--by", "王五") == (
        1, "", "没有待办的第 1 条（已登记过，或编号不对）。\n")
    assert run(capsys, "calls") == (0, "没有待电话通知的老兵。\n", "")
    with session_scope(get_engine(cli_db)) as s:
        task = s.execute(select(StaffTask)).scalar_one()
        assert task.done_by == "staff:王五" and task.done_at is not None
        assert s.execute(select(func.count()).select_from(OutboxMessage)).scalar_one() == 0
