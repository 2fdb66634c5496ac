"""The appeal actions driven turn by turn as Rasa's form loop drives them, against a real migrated
SQLite database. The policy side (which action follows which intent) is in
tests/stories/test_appeal_stories.yml; the whole stack in tests/appeals/test_appeal_rest.py."""
from __future__ import annotations

import json

import pytest

from appeals import service
from appeals.models import Appeal
from bot.actions import appeals as actions
from tests.booking.databases import fresh_database
from tests.support.form_chat import Chat
from vetbot.config import hotline
from vetbot.storage import session_scope

PHONE = "13857312345"
ASKERS = {"appeal_description": actions.AskAppealDescription, "appeal_category": actions.AskAppealCategory,
          "appeal_confirm": actions.AskAppealConfirm, "appeal_lookup": actions.AskAppealLookup}


@pytest.fixture(autouse=True)
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("VETBOT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VETBOT_PII_KEY", raising=False)
    with fresh_database("sqlite", tmp_path) as url:
        monkeypatch.setenv("VETBOT_DATABASE_URL", url)
        yield


def appeal_chat(sender: str = "v1") -> Chat:
    return Chat("appeals.yml", "appeal_form", actions.ValidateAppealForm, ASKERS, sender=sender)


def fill(chat: Chat, matter: str, *, category: str = "待遇落实", visit: str = "不用上门") -> None:
    chat.say(matter, "file_appeal")
    chat.say(category)
    chat.say("王建国")
    chat.say(PHONE)
    chat.say("乍浦镇 雅山村")
    chat.say(visit)
    assert chat.requested == "appeal_confirm"


def test_file_an_appeal_from_the_first_message_to_the_ticket():
    chat = appeal_chat()
    chat.say("义务兵家庭优待金到现在还没发", "file_appeal")
    assert chat.requested == "appeal_category"
    assert chat.replies[-1]["buttons"][0]["title"] == "待遇落实"
    fill(chat, "义务兵家庭优待金到现在还没发")
    assert "138****2345" in chat.text and PHONE not in json.dumps(chat.slots)
    chat.say("确认", "affirm")
    assert chat.requested is None
    reference = chat.slots["appeal_reference"]
    with session_scope() as session:
        appeal = service.get_by_reference(session, reference, phone=PHONE)
        assert (appeal.category, appeal.town, appeal.visit_wanted) == ("daiyu", "乍浦镇雅山村", False)
        assert appeal.description.startswith("义务兵家庭优待金")
    chat.run(actions.ActionAppealDone)
    assert chat.text.startswith(f"已经登记好了，诉求编号：{reference}") and "工作日" in chat.text


def test_a_bare_request_asks_for_the_matter_and_more_messages_add_to_it():
    chat = appeal_chat()
    chat.say("我要反映个问题", "file_appeal")
    assert chat.requested == "appeal_description"
    chat.say("村里不给我评困难户")
    assert chat.requested == "appeal_category"
    chat.say("家里老伴瘫痪在床 我一个人照顾 一个月就一千多块钱")  # more of the matter, not a category
    assert chat.requested == "appeal_category"
    assert chat.slots["appeal_description"] == "村里不给我评困难户\n家里老伴瘫痪在床 我一个人照顾 一个月就一千多块钱"
    chat.say("说完了")  # not more of the matter: the category is asked again
    assert chat.requested == "appeal_category" and "说完了" not in chat.slots["appeal_description"]
    chat.say("生活困难")
    assert chat.slots["appeal_category"] == "kunnan" and chat.requested == "appeal_name"


def test_danger_is_answered_at_once_with_the_hotline_and_the_ticket_is_urgent():
    chat = appeal_chat()
    chat.say("我要反映 家里过不下去了 真的不想活了", "file_appeal")
    assert hotline() in chat.text and "110" in chat.text
    assert chat.slots["appeal_urgent"]
    fill(chat, "我要反映 家里过不下去了 真的不想活了", category="生活困难", visit="需要上门")
    chat.say("确认", "affirm")
    with session_scope() as session:
        appeal = service.get_by_reference(session, chat.slots["appeal_reference"])
        assert appeal.urgent


def test_danger_alerts_staff_at_once_even_if_the_veteran_stops_there():
    from vetbot.staff_tasks import open_tasks

    chat = appeal_chat("v9")
    chat.say("我要反映 我手机13857312345 家里过不下去了 真的不想活了", "file_appeal")
    chat.say("真的不想活了")  # the same again: one alert
    with session_scope() as session:
        tasks = [t for t in open_tasks(session) if t.reference == "chat:rest:v9"]
        assert len(tasks) == 1 and "不想活" in tasks[0].text
        assert PHONE not in tasks[0].text and "138****2345" in tasks[0].text
        assert session.query(Appeal).count() == 0


def test_the_same_appeal_confirmed_twice_is_one_ticket():
    first, second = appeal_chat("v7"), appeal_chat("v7")
    for chat in (first, second):
        fill(chat, "安置单位一直不给我安排工作")
        chat.say("确认", "affirm")
    assert first.slots["appeal_reference"] == second.slots["appeal_reference"]
    with session_scope() as session:
        assert session.query(Appeal).count() == 1


def test_stop_and_policy_questions_are_let_go_but_no_visit_is_an_answer():
    chat = appeal_chat()
    fill(chat, "服务站态度不好")
    chat.say("改一下上门")
    assert chat.requested == "appeal_visit"
    assert chat.say("不用了", "deny") is True and chat.slots["appeal_visit"] is False
    chat.say("改名字")
    assert chat.say("困难帮扶有什么条件？", "ask_policy") is False
    assert chat.say("算了 不反映了", "deny") is False
    with session_scope() as session:
        assert session.query(Appeal).count() == 0


def test_at_the_category_question_a_policy_question_is_let_go_and_an_unsure_affirm_is_more_matter():
    chat = appeal_chat()
    chat.say("服务站的人态度很差 办个优待证跑了三趟", "file_appeal")
    assert chat.say("困难帮扶有什么条件", "ask_policy") is False
    chat.say("李秀英", "affirm", confidence=0.51)
    assert chat.requested == "appeal_category" and chat.slots["appeal_category"] is None
    chat.say("对的", "affirm")
    assert chat.requested == "appeal_name" and chat.slots["appeal_category"] == chat.slots["appeal_offered"][0]
    chat.say("当湖街道")
    assert chat.requested == "appeal_name"  # a place is not a name


def test_status_by_number_needs_the_phone_then_an_addition_is_kept():
    chat = appeal_chat()
    fill(chat, "优待证去景区人家不认")
    chat.say("确认", "affirm")
    reference = chat.slots["appeal_reference"]
    status = Chat("appeals.yml", "appeal_status_form", actions.ValidateAppealLookup, ASKERS, sender="v2")
    status.say(f"查一下诉求 {reference}", "check_appeal")
    assert status.requested == "appeal_lookup" and "手机号" in status.text
    status.say("13900000000")
    assert status.requested == "appeal_lookup" and "对不上" in status.text
    status.say(PHONE)
    assert status.requested is None
    status.run(actions.ActionAppealStatus)
    assert status.text.startswith(f"诉求{reference}：已受理")
    add = Chat("appeals.yml", "appeal_add_form", actions.ValidateAppealAdd, ASKERS, status.slots, sender="v2")
    add.say("我要补充情况", "add_to_appeal")
    assert add.requested == "appeal_addition"
    add.say("今天又去了一次 还是不认")
    add.run(actions.ActionAppealAdded)
    assert add.text == f"已经补充到诉求{reference}里了，工作人员会看到。"


def _in_follow_up(reference: str) -> None:
    """Staff steps up to 回访, as the workflow allows them."""
    with session_scope() as session:
        service.transition(session, reference, "answered", actor="staff:张", role="hotline")
        service.transition(session, reference, "follow_up", actor="staff:张", role="hotline")


@pytest.mark.parametrize("said, status, reply", [
    ("满意 谢谢你们", "closed", "谢谢您的评价！诉求{ref}已办结。"),
    ("不满意 到现在还没人来", "in_progress", "对不起，没让您满意。诉求{ref}已经重新交给工作人员办理"),
])
def test_the_answer_to_follow_up_closes_or_reopens_the_appeal(said, status, reply):
    from tests.support.form_chat import Chat as FormChat

    chat = appeal_chat("v5")
    fill(chat, "服务站态度不好 办事推来推去")
    chat.say("确认", "affirm")
    reference = chat.slots["appeal_reference"]
    _in_follow_up(reference)
    rate = FormChat("appeals.yml", "appeal_form", actions.ValidateAppealForm, ASKERS, sender="v5")
    rate.run(actions.ActionAppealFeedback, said, "rate_appeal")
    assert rate.text.startswith(reply.format(ref=reference))
    with session_scope() as session:
        appeal = service.get_by_reference(session, reference)
        assert appeal.status == status
        if status == "in_progress":
            assert appeal.events[-1].note == said


def test_a_complaint_with_nothing_waiting_for_an_answer_is_offered_filing():
    from tests.support.form_chat import Chat as FormChat

    rate = FormChat("appeals.yml", "appeal_form", actions.ValidateAppealForm, ASKERS, sender="v6")
    rate.run(actions.ActionAppealFeedback, "对处理结果不满意", "rate_appeal")
    assert rate.replies[0]["buttons"][0]["payload"] == "/file_appeal"
