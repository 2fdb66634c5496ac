"""The booking actions driven turn by turn the way Rasa's form loop drives them (validate, then ask
the first empty required slot), against a real migrated SQLite database and a fixed "now".
The policy side (which action follows which intent) is in tests/stories/test_booking_stories.yml."""
from __future__ import annotations

import json
from datetime import date, datetime, time

import pytest

from bot.actions import booking as actions, booking_manage as manage
from bot.actions.form_common import MISSED_TWICE
from booking import dialogue
from booking.calendar import TZ
from booking.models import Booking
from booking.service import CANCELLED, create_booking, get_by_reference
from tests.booking.databases import fresh_database
from tests.support.form_chat import Chat as FormChat
from vetbot.storage import session_scope

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=TZ)
ID_NUMBER, PHONE = "330482196503121235", "13857312345"
ASKERS = {"booking_service": actions.AskBookingService, "booking_location": actions.AskBookingLocation,
          "booking_start": actions.AskBookingStart, "booking_confirm": actions.AskBookingConfirm,
          "manage_reference": manage.AskManageReference,
          "reschedule_confirm": manage.AskRescheduleConfirm}


@pytest.fixture(autouse=True)
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("VETBOT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VETBOT_PII_KEY", raising=False)
    monkeypatch.setattr(dialogue, "now", lambda: NOW)
    with fresh_database("sqlite", tmp_path) as url:
        monkeypatch.setenv("VETBOT_DATABASE_URL", url)
        yield


def Chat(form: str, validator, slots: dict | None = None, sender: str = "v1") -> FormChat:
    return FormChat("booking.yml", form, validator, ASKERS, slots, sender)


def book_chat() -> FormChat:
    return Chat("booking_form", actions.ValidateBookingForm)


def reach_confirm(chat: FormChat) -> None:
    chat.say("我想预约评残", "book_service")
    assert chat.requested == "booking_service"
    assert [b["title"] for b in chat.replies[-1]["buttons"]] == ["评残（新办）", "评残（补办）", "评残（调整等级）"]
    chat.say("评残（新办）")
    assert chat.requested == "booking_location"
    chat.say("乍浦")
    assert chat.requested == "booking_start"
    chat.say("下周三上午")
    assert chat.requested == "booking_start" and chat.slots["booking_day"] == "2026-12-09"
    assert chat.replies[-1]["buttons"][0] == {"title": "12月9日（星期三）上午8:30", "payload": "2026-12-09 08:30"}
    chat.say("九点")
    assert chat.requested == "booking_name"
    chat.say("王建国")
    chat.say(PHONE)
    chat.say(f"身份证 {ID_NUMBER}")
    assert chat.requested == "booking_confirm"


def test_book_from_service_to_reference_with_nothing_clear_in_the_slots():
    chat = book_chat()
    reach_confirm(chat)
    assert "乍浦镇退役军人服务站" in chat.text and "12月9日（星期三）上午9:00" in chat.text
    assert "138****2345" in chat.text and "330482********1235" in chat.text
    assert dialogue.catalogue().service("pingcan-xinban").checklist() in chat.text
    assert PHONE not in json.dumps(chat.slots) and ID_NUMBER not in json.dumps(chat.slots)
    chat.say("确认", "affirm")
    assert chat.requested is None
    reference = chat.slots["booking_reference"]
    with session_scope() as session:
        booking = get_by_reference(session, reference, phone=PHONE)
        assert (booking.service_code, booking.location_code, booking.date, booking.start_time) == (
            "pingcan-xinban", "zhapu", date(2026, 12, 9), time(9, 0))
        assert (booking.id_masked, booking.channel, booking.sender_id) == ("330482********1235", "rest", "v1")
        assert booking.events[0].actor == "veteran:rest:v1"
    chat.run(actions.ActionBookingDone)
    assert chat.text.startswith(f"预约成功！预约号：{reference}")
    assert chat.slots["booking_service"] is None and chat.slots["manage_reference"] == reference


def test_everything_said_at_once_skips_those_questions():
    chat = book_chat()
    chat.say("帮我约带病回乡认定 新埭 下周三下午两点", "book_service")
    assert chat.requested == "booking_name"
    assert chat.slots["booking_start"] == "2026-12-09T14:00+08:00"


def test_name_and_phone_in_one_message_and_a_name_said_in_a_sentence():
    chat = book_chat()
    chat.say("帮我约带病回乡认定 新埭 下周三下午两点", "book_service")
    chat.say(f"我姓王叫王建国 {PHONE}")
    assert chat.requested == "booking_id" and chat.slots["booking_name"] == "王建国"
    assert chat.slots["booking_phone"]["masked"] == "138****2345"


def test_a_mobile_or_id_sent_before_it_is_asked_for_is_kept():
    chat = book_chat()
    chat.say("帮我约个带病回乡认定 我是新仓的 下周一上午", "book_service")
    assert chat.requested == "booking_start"
    chat.say(PHONE)
    assert chat.requested == "booking_start" and chat.text.startswith("手机号先记下了。")
    assert chat.slots["booking_phone"]["masked"] == "138****2345" and chat.slots["booking_misses"] == 0.0
    chat.say(ID_NUMBER)
    assert chat.text.startswith("身份证号先记下了。")
    chat.say("九点")
    chat.say("王建国")
    assert chat.requested == "booking_confirm"


def test_an_id_number_sent_for_the_phone_is_kept_as_the_id_and_the_phone_asked_again():
    chat = book_chat()
    chat.say("帮我约带病回乡认定 新埭 下周三下午两点", "book_service")
    chat.say("王建国")
    chat.say(ID_NUMBER)
    assert chat.requested == "booking_phone" and chat.text.startswith("身份证号先记下了。")
    assert chat.slots["booking_id"]["masked"] == "330482********1235" and chat.slots["booking_misses"] == 0.0
    chat.say(PHONE)
    assert chat.requested == "booking_confirm"


def test_a_name_with_the_id_number_at_the_name_step_keeps_both():
    chat = book_chat()
    chat.say("帮我约带病回乡认定 新埭 下周三下午两点", "book_service")
    chat.say(f"王建国 我的身份证{ID_NUMBER}")
    assert chat.slots["booking_name"] == "王建国" and chat.slots["booking_id"]["masked"] == "330482********1235"
    assert chat.requested == "booking_phone"


def test_an_id_number_alone_at_the_name_step_is_kept_and_the_name_asked_again():
    chat = book_chat()
    chat.say("帮我约带病回乡认定 新埭 下周三下午两点", "book_service")
    chat.say(ID_NUMBER)
    assert chat.requested == "booking_name" and chat.text.startswith("身份证号先记下了。")
    assert chat.slots["booking_misses"] == 0.0


def test_the_variant_word_alone_picks_from_the_choices_offered():
    chat = book_chat()
    chat.say("我想预约评残", "book_service")
    chat.say("新办")
    assert chat.slots["booking_service"] == "pingcan-xinban" and chat.requested == "booking_location"


def test_the_other_service_of_the_group_said_later_replaces_the_first():
    chat = book_chat()
    chat.say("我爸要去办优待证 能不能帮他约个时间", "book_service")
    assert chat.slots["booking_service"] == "youdaizheng-shenling" and chat.requested == "booking_location"
    chat.say("补办")
    assert chat.slots["booking_service"] == "youdaizheng-buban" and chat.requested == "booking_location"
    assert chat.text.startswith("好的，办的是优待证补办")


def test_change_the_time_at_the_confirm_step():
    chat = book_chat()
    reach_confirm(chat)
    chat.say("改到下周四下午两点", "reschedule_booking")
    assert chat.requested == "booking_confirm"
    assert "12月10日（星期四）下午2:00" in chat.text
    chat.say("改一下手机号")
    assert chat.requested == "booking_phone"


def test_wrong_id_twice_explains_then_offers_a_person():
    chat = book_chat()
    reach_confirm(chat)
    chat.say("改身份证")
    assert chat.requested == "booking_id"
    chat.say("33048219650312")
    assert chat.requested == "booking_id" and chat.text.startswith("身份证号的位数或写法不对")
    chat.say("330482196503121236")
    assert chat.text == MISSED_TWICE
    assert chat.replies[0]["buttons"] == [dialogue.HUMAN_BUTTON]
    chat.say(ID_NUMBER)
    assert chat.requested == "booking_confirm" and chat.slots["booking_misses"] == 0.0


def test_a_policy_question_naming_a_service_is_answered_not_taken_as_the_choice():
    chat = book_chat()
    chat.say("我要预约", "book_service")
    assert chat.requested == "booking_service"
    assert chat.say("评残要带什么材料", "ask_policy") is False
    assert chat.slots.get("booking_choices") is None
    assert chat.say("评残") is True and chat.slots["booking_choices"][0] == "pingcan-xinban"


def test_the_day_question_offers_the_next_half_days_with_free_times():
    chat = book_chat()
    chat.say("我要预约优待证补办 乍浦", "book_service")
    assert chat.requested == "booking_start"
    assert [b["payload"] for b in chat.replies[-1]["buttons"]][:3] == [
        "2026-12-02 上午", "2026-12-02 下午", "2026-12-03 上午"]
    chat.say("2026-12-03 下午")
    assert chat.slots["booking_half"] == "下午" and chat.replies[-1]["buttons"][0]["payload"] == "2026-12-03 13:30"


def test_a_policy_question_or_a_stop_is_let_go_and_a_name_is_not_taken_from_it():
    chat = book_chat()
    reach_confirm(chat)
    chat.say("改名字")
    assert chat.say("评残要带什么材料", "ask_policy") is False
    assert chat.say("算了", "deny") is False
    assert chat.slots["booking_name"] is None
    chat.run(actions.ActionBookingStop)
    assert chat.slots["booking_service"] is None and "没有保存" in chat.text
    with session_scope() as session:
        assert session.query(Booking).count() == 0


def test_an_unsure_affirm_does_not_book():
    chat = book_chat()
    reach_confirm(chat)
    chat.say("李秀英", "affirm", confidence=0.51)  # how NLU may read a bare name
    assert chat.requested == "booking_confirm"
    with session_scope() as session:
        assert session.query(Booking).count() == 0


def test_slot_taken_by_someone_else_before_confirming_asks_for_another_time():
    chat = book_chat()
    reach_confirm(chat)
    with session_scope() as session:
        for i in range(2):  # the station's capacity per slot
            create_booking(session, service_code="pingcan-xinban", location_code="zhapu",
                           date=date(2026, 12, 9), start_time=time(9, 0), name="别人",
                           phone=f"1390000000{i}", id_number=ID_NUMBER, capacity=2, actor="staff:t")
    chat.say("确认", "affirm")
    assert chat.requested == "booking_start"
    assert chat.text.startswith("真不巧，这个时间刚刚被别人约走了")
    assert "2026-12-09 09:00" not in [b["payload"] for b in chat.replies[-1]["buttons"]]


def test_a_new_booking_carries_nothing_over_from_an_unfinished_one():
    chat = book_chat()
    reach_confirm(chat)  # then the veteran went away; the session ended, the slots stayed
    chat.requested = None
    chat.say("我要预约", "book_service")
    assert chat.requested == "booking_service"
    assert all(chat.slots.get(s) is None for s in ("booking_location", "booking_start", "booking_name",
                                                   "booking_phone", "booking_id"))


def test_a_time_that_passed_while_the_read_back_waited_is_not_booked(monkeypatch):
    chat = book_chat()
    reach_confirm(chat)
    monkeypatch.setattr(dialogue, "now", lambda: datetime(2026, 12, 9, 9, 5, tzinfo=TZ))
    chat.say("确认", "affirm")
    assert chat.requested == "booking_start" and "已经过了" in chat.text
    with session_scope() as session:
        assert session.query(Booking).count() == 0


def booked_reference() -> str:
    chat = book_chat()
    reach_confirm(chat)
    chat.say("确认", "affirm")
    return chat.slots["booking_reference"]


def test_look_up_by_reference_needs_the_phone_and_cancel_frees_the_seat():
    reference = booked_reference()
    chat = Chat("booking_manage_form", manage.ValidateManageForm, {"manage_action": "cancel"}, sender="v2")
    chat.say(f"取消预约 {reference}", "cancel_booking")
    assert chat.requested == "manage_phone"
    chat.say("13900000000")
    assert chat.requested == "manage_phone" and "对不上" in chat.text
    chat.say(PHONE)
    assert chat.requested is None
    chat.run(manage.ActionManageBooking)
    assert "确定要取消" in chat.text and reference in chat.text
    chat.run(manage.ActionBookingCancel, "确定", "affirm")
    with session_scope() as session:
        booking = get_by_reference(session, reference)
        assert booking.status == CANCELLED and booking.slot.booked == 0
        assert booking.events[-1].actor == "veteran:rest:v2"


def test_look_up_by_phone_alone_and_reschedule():
    reference = booked_reference()
    chat = Chat("booking_manage_form", manage.ValidateManageForm, {"manage_action": "reschedule"})
    chat.say(f"我手机{PHONE}", "reschedule_booking")
    assert chat.requested is None and chat.slots["manage_reference"] == reference
    chat.run(manage.ActionManageBooking)
    moved = Chat("booking_reschedule_form", manage.ValidateRescheduleForm, chat.slots)
    moved.say("下周四上午十点")
    assert moved.requested == "reschedule_confirm" and "12月10日（星期四）上午10:00" in moved.text
    moved.say("确认", "affirm")
    assert moved.requested is None
    with session_scope() as session:
        booking = get_by_reference(session, reference)
        assert (booking.date, booking.start_time) == (date(2026, 12, 10), time(10, 0))
