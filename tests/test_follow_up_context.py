"""Follow-ups that say something of their own (一个月多少 / 谁发的) but name no topic of the knowledge
base are read with the topic just answered, and must still pass the relevance gate; a question that
is not about it is not dragged into it. Through the real action and knowledge base."""
from __future__ import annotations

from tests.test_actions import gap_log, run, tracker_for, user_event  # noqa: F401 (autouse fixture)

from bot.actions.policy import ActionAnswerPolicy
from knowledge.context import is_follow_up, names_nothing, with_topic


def ask(question: str, previous: str | None = None) -> tuple[dict, list]:
    messages, events = run(ActionAnswerPolicy(),
                           tracker_for(user_event(question, "ask_policy"), slots={"last_policy_query": previous}))
    return messages[0], events


def answered(events: list) -> str | None:
    return next((e["value"] for e in events if e.get("name") == "policy_answer_id" and e["value"]), None)


def test_which_short_questions_are_follow_ups():
    assert names_nothing("要带什么") and is_follow_up("要带什么")
    assert not names_nothing("一个月多少") and is_follow_up("一个月多少")  # 一个月 is no topic of ours
    assert not is_follow_up("优待证去哪办") and not is_follow_up("考公务员呢")  # they name their own
    assert with_topic("谁发的", "残疾抚恤金怎么领") == "残疾抚恤金 谁发的"
    assert not is_follow_up("平湖明天会不会下雨")  # asks nothing an answer on the topic would tell


def test_a_follow_up_with_words_of_its_own_is_answered_about_the_topic():
    reply, events = ask("一个月能拿多少", "残疾抚恤金怎么领")
    assert answered(events) and "抚恤金" in reply["text"]
    alone, events = ask("一个月能拿多少")
    assert not answered(events), "asked on its own it is too vague to answer"


def test_a_new_question_is_not_dragged_into_the_old_topic():
    reply, events = ask("平湖明天会不会下雨", "残疾抚恤金怎么领")
    assert not answered(events) and "抚恤金" not in reply["text"]
