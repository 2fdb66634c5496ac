"""Custom actions, run with Rasa SDK's own dispatcher and tracker against the real knowledge base
(built by `make data` under the data directory)."""
from __future__ import annotations

import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.handoff import (
    REPHRASE, ActionAcceptOffer, ActionFallbackRephrase, ActionHandoff, previous_misses,
)
from bot.actions.policy import ActionAnswerPolicy, ActionMorePolicy, is_real_question
from vetbot.config import hotline


def user_event(text: str, intent: str, confidence: float = 0.9, entities: list | None = None) -> dict:
    return {"event": "user", "text": text,
            "parse_data": {"text": text, "intent": {"name": intent, "confidence": confidence},
                           "entities": entities or []}}


def action(name: str) -> dict:
    return {"event": "action", "name": name}


def bot(text: str) -> dict:
    return {"event": "bot", "text": text}


def tracker_for(*events: dict, slots: dict | None = None) -> Tracker:
    latest = next((e["parse_data"] for e in reversed(events) if e["event"] == "user"), {})
    return Tracker("veteran-1", slots or {}, latest, list(events), False, None, {}, "action_listen")


def run(act, tracker: Tracker) -> tuple[list[dict], list]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(act.run(dispatcher, tracker, {}))
    return dispatcher.messages, events


def slot(events: list, name: str):
    return next(e["value"] for e in events if e.get("name") == name)


def test_policy_answer_names_its_source():
    messages, events = run(ActionAnswerPolicy(), tracker_for(user_event("退役军人优待证怎么申请", "ask_policy")))
    text = messages[0]["text"]
    assert "优待证" in text and "依据：《" in text
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/ask_more", "/request_human"]
    assert SlotSet("last_policy_query", "退役军人优待证怎么申请") in events
    assert slot(events, "offered_payload") is None


def test_unknown_policy_question_offers_a_person_instead_of_guessing():
    messages, events = run(ActionAnswerPolicy(), tracker_for(user_event("平湖哪家银行定期存款利息最高", "ask_policy")))
    assert "没有找到" in messages[0]["text"] and "依据" not in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == "/request_human"
    assert slot(events, "offered_payload") == "/request_human"
    assert not any(e.get("name") == "last_policy_query" for e in events)  # "看更多" has nothing to show


def test_menu_button_asks_for_the_question():
    messages, _ = run(ActionAnswerPolicy(), tracker_for(user_event("/ask_policy", "ask_policy")))
    assert messages[0]["response"] == "utter_ask_policy_question"


def test_more_shows_the_whole_passage_then_the_next_ones():
    question = "评残需要什么材料"
    first, events = run(ActionAnswerPolicy(), tracker_for(user_event(question, "ask_policy")))
    slots = {e["name"]: e["value"] for e in events}
    full, events = run(ActionMorePolicy(), tracker_for(user_event("还有吗", "ask_more"), slots=slots))
    assert len(full[0]["text"]) > len(first[0]["text"]) and "依据：《" in full[0]["text"]
    slots.update({e["name"]: e["value"] for e in events})
    assert slots["policy_full_shown"] is True
    more, events = run(ActionMorePolicy(), tracker_for(user_event("还有吗", "ask_more"), slots=slots))
    assert any("依据：《" in m.get("text", "") for m in more) or "就这些了" in more[0]["text"]


def test_handoff_gives_the_hotline(monkeypatch):
    monkeypatch.setenv("VETBOT_HOTLINE", "0573-00000000")
    messages, _ = run(ActionHandoff(), tracker_for(user_event("转人工", "request_human")))
    assert "0573-00000000" in messages[0]["text"]


def test_fallback_asks_to_rephrase_then_offers_a_person():
    first = tracker_for(user_event("嗯嗯那个", "nlu_fallback", 0.2))
    messages, _ = run(ActionFallbackRephrase(), first)
    assert messages[0]["text"] == REPHRASE
    second = tracker_for(user_event("嗯嗯那个", "nlu_fallback", 0.2), action("action_fallback_rephrase"),
                         bot(REPHRASE), user_event("就是那个啊", "nlu_fallback", 0.2))
    assert previous_misses(second) == 1
    messages, events = run(ActionFallbackRephrase(), second)
    assert messages[0]["buttons"][0]["payload"] == "/request_human"
    assert slot(events, "offered_payload") == "/request_human"


def test_an_answered_unclear_message_is_not_counted_as_a_miss():
    tracker = tracker_for(user_event("残疾抚恤金什么时候发啊", "nlu_fallback", 0.3), bot("【…】…依据：《…》"),
                          user_event("就是那个啊", "nlu_fallback", 0.2))
    assert previous_misses(tracker) == 0


def test_fallback_still_answers_a_clear_policy_question():
    tracker = tracker_for(user_event("我是伤残军人，残疾抚恤金每年什么时候发", "nlu_fallback", 0.3))
    messages, _ = run(ActionFallbackRephrase(), tracker)
    assert "依据：《" in messages[0]["text"]


def test_yes_after_an_offer_of_a_person_gives_the_hotline():
    tracker = tracker_for(user_event("股票", "ask_policy"), action("action_answer_policy"), bot("…要转人工吗？"),
                          user_event("好的", "affirm"), slots={"offered_payload": "/request_human"})
    messages, _ = run(ActionAcceptOffer(), tracker)
    assert hotline() in messages[0]["text"]


def test_yes_long_after_an_offer_does_not_take_it_up():
    tracker = tracker_for(user_event("好", "affirm"), action("utter_anything_else"), bot("还有什么要帮您的吗？"),
                          user_event("好的", "affirm"), slots={"offered_payload": "/request_human"})
    messages, _ = run(ActionAcceptOffer(), tracker)
    assert messages[0]["response"] == "utter_anything_else"


def test_near_miss_asks_did_you_mean_and_yes_or_the_button_answers(monkeypatch):
    from knowledge.service import get_knowledge_base

    kb = get_knowledge_base()
    question = "退伍证丢了优待证还能办吗"
    best = kb.search(question, top_k=1, strict=False)[0]
    # Put the answer threshold just above this question's best match: the bot must not answer.
    monkeypatch.setattr(kb, "min_dense", best.relevance + 0.005)
    messages, events = run(ActionAnswerPolicy(), tracker_for(user_event(question, "ask_policy")))
    assert "您是想问" in messages[0]["text"] and "依据" not in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == f'/ask_policy{{"policy_id": "{best.passage.id}"}}'
    monkeypatch.undo()

    # the button: the payload's entity picks exactly that passage
    pick = user_event("/ask_policy", "ask_policy", entities=[{"entity": "policy_id", "value": best.passage.id}])
    messages, _ = run(ActionAnswerPolicy(), tracker_for(pick))
    assert messages[0]["text"].startswith(f"【{best.passage.title}】") and "依据：《" in messages[0]["text"]

    # typing "是的" instead does the same
    tracker = tracker_for(user_event(question, "ask_policy"), action("action_answer_policy"), bot("您是想问…吗？"),
                          user_event("是的", "affirm"), slots={"offered_payload": slot(events, "offered_payload")})
    messages, _ = run(ActionAcceptOffer(), tracker)
    assert messages[0]["text"].startswith(f"【{best.passage.title}】")


@pytest.mark.parametrize("text,expected", [("/ask_policy", False), ("政策", False), ("评残", True),
                                           ("优待证怎么办", True)])
def test_is_real_question(text, expected):
    assert is_real_question(text) is expected


def test_a_bare_service_name_is_answered_and_a_phone_number_is_not():
    from bot.actions.policy import ActionInform

    service = user_event("评残", "inform", entities=[{"entity": "service", "value": "评残"}])
    messages, _ = run(ActionInform(), tracker_for(service))
    assert "依据：《" in messages[0]["text"] or "您是想问" in messages[0]["text"]
    phone = user_event("13857312345", "inform", entities=[{"entity": "phone", "value": "13857312345"}])
    messages, _ = run(ActionInform(), tracker_for(phone))
    assert messages[0]["response"] == "utter_noted_info"
