"""The appeal service on a real migrated database (SQLite; PostgreSQL too): filing, look-ups,
additions, the append-only trail, notices, overdue and 催办, extensions, the queue, the texts."""
from __future__ import annotations

import multiprocessing
from datetime import date

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from appeals import service
from appeals.models import Appeal, AppealEvent
from tests.appeals.helpers import OPENID, PHONE, at, file, move, tasks
from tests.wechat.outbox_db import outbox_rows
from vetbot.storage import get_engine, session_scope

WED = date(2026, 12, 2)


def test_filing_saves_the_appeal_and_its_first_event(url):
    reference = file(url, description="优待金没发，我身份证33048219650312123X，电话13812345678",
                     town="乍浦镇雅山村")
    with session_scope(get_engine(url)) as s:
        appeal = service.get_by_reference(s, reference)
        assert (appeal.status, appeal.category, appeal.deadline, appeal.station_code, appeal.urgent,
                appeal.phone, appeal.channel, appeal.sender_id) == (
            "accepted", "daiyu", date(2026, 12, 3), "zhapu", False, PHONE, "wechat", OPENID)
        assert appeal.description == "优待金没发，我身份证330482********123X，电话138****5678"
        [event] = appeal.events
        assert (event.action, event.role, event.actor, event.to_state, event.deadline) == (
            "filed", "veteran", f"veteran:wechat:{OPENID}", "accepted", date(2026, 12, 3))


def test_the_same_message_twice_makes_one_appeal(url):
    first = file(url, key="wx:msg:1")
    assert file(url, key="wx:msg:1", description="别的文字") == first
    assert file(url, key="wx:msg:2") != first
    with session_scope(get_engine(url)) as s:
        assert s.execute(select(Appeal.reference).order_by(Appeal.id)).scalars().all()[0] == first
        assert len(s.execute(select(Appeal)).scalars().all()) == 2
        assert len(s.execute(select(AppealEvent)).scalars().all()) == 2


def file_in_process(url, barrier, results):
    barrier.wait(timeout=60)
    results.put(file(url, key="rest:retry:1", signals=["不想活了"]))


def test_two_processes_filing_the_same_message_make_one_appeal(url):
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(3), ctx.Queue()
    processes = [ctx.Process(target=file_in_process, args=(url, barrier, results)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    references = {results.get(timeout=5) for _ in processes}
    with session_scope(get_engine(url)) as s:
        assert s.execute(select(Appeal.reference)).scalars().all() == list(references)
        assert len(s.execute(select(AppealEvent)).scalars().all()) == 1
    assert [row[0] for row in tasks(url)] == ["appeal_urgent"]  # staff alerted once


def test_the_event_trail_refuses_update_and_delete(url):
    file(url)
    for statement in ("UPDATE appeal_event SET actor = 'x'", "DELETE FROM appeal_event"):
        with pytest.raises(DatabaseError, match="appeal_event is append-only"):
            with session_scope(get_engine(url)) as s:
                s.execute(text(statement))
    with session_scope(get_engine(url)) as s:
        assert s.execute(select(AppealEvent.actor)).scalars().all() == [f"veteran:wechat:{OPENID}"]


def test_look_ups_by_reference_with_the_phone_as_the_check_and_by_phone(url):
    older = file(url, key="a", when=at(WED, 9))
    newer = file(url, key="b", when=at(WED, 10))
    other = file(url, key="c", phone="13900000000")
    move(url, older, "answered")
    move(url, older, "follow_up")
    move(url, older, "closed")
    with session_scope(get_engine(url)) as s:
        assert service.get_by_reference(s, newer.lower(), phone="138 1234 5678").reference == newer
        assert service.get_by_reference(s, newer, phone="13900000000") is None
        assert service.get_by_reference(s, newer, phone="not a phone") is None
        assert service.get_by_reference(s, "ABC") is None
        assert [a.reference for a in service.find_by_phone(s, PHONE)] == [newer]
        assert [a.reference for a in service.find_by_phone(s, PHONE, open_only=False)] == [newer, older]
        assert [a.reference for a in service.find_by_phone(s, "13900000000")] == [other]


def test_an_addition_is_kept_once_and_told_to_the_assignee(url):
    reference = file(url)
    move(url, reference, "dispatched", assignee="zhapu")
    with session_scope(get_engine(url)) as s:
        event = service.add_to_appeal(s, reference, "补充：我电话换了 13900001111", actor="veteran:wechat:x",
                                      dedupe_key="wx:msg:9")
        assert event.note == "补充：我电话换了 139****1111"
        assert service.add_to_appeal(s, reference, "补充：我电话换了", actor="veteran:wechat:x",
                                     dedupe_key="wx:msg:9") is None
        event_id = event.id
    assert tasks(url)[-1] == ("appeal_added", reference, "zhapu", f"added:{reference}:{event_id}",
                              "【老兵补充】补充：我电话换了 139****1111")
    move(url, reference, "in_progress", "station")
    move(url, reference, "answered", "station")
    move(url, reference, "follow_up")
    move(url, reference, "closed", "veteran")
    with session_scope(get_engine(url)) as s, pytest.raises(service.AppealError) as refused:
        service.add_to_appeal(s, reference, "还有一件事", actor="veteran:wechat:x")
    assert str(refused.value) == "这件事已经办结了。有新的情况，请重新反映。"


# -- notices ----------------------------------------------------------------------------------
def test_steps_the_veteran_hears_of_go_to_the_outbox_on_wechat(url):
    reference = file(url)
    move(url, reference, "dispatched", assignee="zhapu")
    move(url, reference, "in_progress", "station")  # 签收: not told
    move(url, reference, "answered", "station", note="优待金12月10日前补发")
    move(url, reference, "follow_up")
    move(url, reference, "closed", "veteran")  # the veteran's own answer: not told back
    with session_scope(get_engine(url)) as s:
        ids = [e.id for e in service.get_by_reference(s, reference).events]
    assert outbox_rows(url) == [
        (OPENID, "appeal_progress", f"appeal:{reference}:{ids[1]}",
         f"【诉求进展】您反映的事（编号 {reference}）：已转给乍浦镇退役军人服务站办理，1个工作日内会有工作人员联系您（12月3日前）。"),
        (OPENID, "appeal_progress", f"appeal:{reference}:{ids[3]}",
         f"【诉求进展】您反映的事（编号 {reference}）：已经答复您，工作人员会再问问您是否满意（12月7日前）。"),
        (OPENID, "appeal_progress", f"appeal:{reference}:{ids[4]}",
         f"【诉求进展】您反映的事（编号 {reference}）：已经办理，正在回访（12月7日前）。\n"
         "您对办理结果满意吗？请回复“满意”或“不满意”。"),
    ]
    assert tasks(url) == []


def test_other_channels_go_to_the_staff_call_list_once(url):
    from appeals.notices import tell_progress

    reference = file(url, channel="rest", sender_id="u1")
    appeal = move(url, reference, "dispatched", assignee="局优抚科")
    with session_scope(get_engine(url)) as s:
        appeal = service.get_by_reference(s, reference)
        assert tell_progress(s, appeal, appeal.events[-1], WED) is False  # already queued
    assert outbox_rows(url) == []
    assert tasks(url) == [("appeal_progress", reference, None, f"appeal:{reference}:{appeal.events[-1].id}",
                           f"【诉求进展】您反映的事（编号 {reference}）：已转给局优抚科办理，"
                           "1个工作日内会有工作人员联系您（12月3日前）。")]


def test_an_urgent_appeal_alerts_staff_at_once(url):
    reference = file(url, signals=["不想活了"], description="日子过不下去了，不想活了", channel="rest",
                     sender_id="u2")
    assert tasks(url) == [("appeal_urgent", reference, None, f"urgent:{reference}",
                           "【紧急诉求】张建国 138****5678（乍浦镇雅山村）：日子过不下去了，不想活了\n"
                           "紧急信号：不想活了。请马上联系老兵。")]


# -- overdue, 催办, extension, queue -------------------------------------------------------------
def test_overdue_appeals_are_chased_once_a_day_and_steps_after_the_deadline_are_late(url):
    late = file(url, key="a")  # deadline Thu 3 Dec
    on_time = file(url, key="b", when=at(date(2026, 12, 3)))  # deadline Fri 4 Dec
    move(url, late, "dispatched", assignee="zhapu")  # 2 Dec: deadline 3 Dec
    with session_scope(get_engine(url)) as s:
        assert service.overdue(s, date(2026, 12, 3)) == []
        assert [a.reference for a in service.overdue(s, date(2026, 12, 4))] == [late]
        assert service.remind_overdue(s, date(2026, 12, 4)) == 1
        assert service.remind_overdue(s, date(2026, 12, 4)) == 0  # once a day
        assert [a.reference for a in service.overdue(s, date(2026, 12, 7))] == [late, on_time]
        assert service.remind_overdue(s, date(2026, 12, 7)) == 2
    assert [(t[0], t[1], t[2], t[3]) for t in tasks(url)] == [
        ("appeal_overdue", late, "zhapu", f"overdue:{late}:2026-12-04"),
        ("appeal_overdue", late, "zhapu", f"overdue:{late}:2026-12-07"),
        ("appeal_overdue", on_time, None, f"overdue:{on_time}:2026-12-07")]
    assert tasks(url)[0][4] == f"【催办】诉求 {late}（待遇落实，已派单）期限是12月3日，已经超期，请尽快办理。"
    appeal = move(url, late, "in_progress", "station", when=at(date(2026, 12, 7)))
    assert (appeal.late, appeal.deadline) == (True, date(2026, 12, 21))


def test_an_extension_needs_a_reason_and_a_leader_and_is_told(url):
    reference = file(url)
    with session_scope(get_engine(url)) as s:
        for kwargs, message in [
            (dict(days=3, reason="要调档案", role="hotline"), "延期要由分管领导（leader）批准。"),
            (dict(days=3, reason=" ", role="leader"), "延期要写明原因。"),
            (dict(days=11, reason="要调档案", role="leader"), "延期天数应是 1 到 10 个工作日。"),
        ]:
            with pytest.raises(service.AppealError) as refused:
                service.extend(s, reference, approver="staff:李局", **kwargs)
            assert str(refused.value) == message
        appeal = service.extend(s, reference, days=3, reason="要到档案馆调档案", approver="staff:李局",
                                role="leader")
        assert appeal.deadline == date(2026, 12, 8)  # 3 Dec + 3 working days
        assert service.status_text(appeal, WED) == "已受理，1个工作日内会有工作人员联系您（已延期到12月8日）"
        event_id = appeal.events[-1].id
    assert outbox_rows(url) == [(OPENID, "appeal_extended", f"appeal:{reference}:{event_id}",
                            f"【诉求延期】您反映的事（编号 {reference}）需要多一些时间办理，"
                            "期限延到12月8日。原因：要到档案馆调档案")]


def test_the_queue_is_urgent_first_then_by_deadline(url):
    later = file(url, key="a", when=at(date(2026, 12, 4)))  # deadline 7 Dec
    sooner = file(url, key="b")  # deadline 3 Dec
    urgent = file(url, key="c", when=at(date(2026, 12, 4)), signals=["没饭吃"])
    closed = file(url, key="d")
    move(url, closed, "answered")
    move(url, closed, "follow_up")
    move(url, closed, "closed", "veteran")
    with session_scope(get_engine(url)) as s:
        assert [a.reference for a in service.queue(s)] == [urgent, sooner, later]


# -- what the veteran is told ------------------------------------------------------------------
def test_status_and_next_steps_texts(url):
    plain = file(url, key="a", category="zhengce")
    hardship = file(url, key="b", category="kunnan")
    with session_scope(get_engine(url)) as s:
        appeal = service.get_by_reference(s, plain)
        assert service.status_text(appeal, WED) == "已受理，1个工作日内会有工作人员联系您（12月3日前）"
        assert service.status_text(appeal, date(2026, 12, 4)) == (
            "已受理，1个工作日内会有工作人员联系您（期限是12月3日，已经超期，我们正在催办）")
        assert service.next_steps_text(appeal) == (
            "接下来：\n1. 1个工作日内（12月3日前）会有工作人员联系您；\n"
            "2. 工作人员接手后，一般3个工作日内给您答复；\n3. 办好后会回访，问您满不满意；不满意的，重新办理。\n"
            "想知道办到哪一步了，随时发“查诉求”，再报编号或手机号。")
        assert service.next_steps_text(service.get_by_reference(s, hardship)).splitlines()[2] == (
            "2. 工作人员接手后，5个工作日内上门走访；")
    appeal = move(url, plain, "answered")
    move(url, plain, "follow_up")
    appeal = move(url, plain, "closed", "veteran")
    assert service.status_text(appeal, WED) == "已办结"
