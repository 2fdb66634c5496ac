"""Custom actions, run with Rasa SDK's own dispatcher and tracker against the real knowledge base
(built by `make data` under the data directory)."""
from __future__ import annotations

import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.handoff import ActionFallbackRephrase, ActionHandoff, misses_in_a_row
from bot.actions.policy import ActionAnswerPolicy, ActionMorePolicy, is_real_question


def user_event(text: str, intent: str, confidence: float = 0.9) -> dict:
    return {"event": "user", "text": text,
            "parse_data": {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": []}}


def tracker_for(*events: dict, slots: dict | None = None) -> Tracker:
    latest = next((e["parse_data"] for e in reversed(events) if e["event"] == "user"), {})
    return Tracker("veteran-1", slots or {}, latest, list(events), False, None, {}, "action_listen")


def run(action, tracker: Tracker) -> tuple[list[dict], list]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, {}))
    return dispatcher.messages, events


def test_policy_answer_names_its_source():
    messages, events = run(ActionAnswerPolicy(), tracker_for(user_event("退役军人优待证怎么申请", "ask_policy")))
    text = messages[0]["text"]
    assert "优待证" in text and "依据：《" in text
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/ask_more", "/request_human"]
    assert SlotSet("last_policy_query", "退役军人优待证怎么申请") in events


def test_unknown_policy_question_offers_a_person_instead_of_guessing():
    messages, _ = run(ActionAnswerPolicy(), tracker_for(user_event("平湖哪家银行定期存款利息最高", "ask_policy")))
    assert "没有找到" in messages[0]["text"] and "依据" not in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == "/request_human"


def test_menu_button_asks_for_the_question():
    messages, events = run(ActionAnswerPolicy(), tracker_for(user_event("/ask_policy", "ask_policy")))
    assert messages[0]["response"] == "utter_ask_policy_question" and events == []


def test_more_shows_the_next_passages():
    tracker = tracker_for(user_event("还有吗", "ask_more"),
                          slots={"last_policy_query": "评残需要什么材料", "policy_shown": 1.0})
    messages, events = run(ActionMorePolicy(), tracker)
    assert any("依据：《" in m.get("text", "") for m in messages)
    assert events[-1]["name"] == "policy_shown" and events[-1]["value"] > 1


def test_handoff_gives_the_hotline(monkeypatch):
    monkeypatch.setenv("VETBOT_HOTLINE", "0573-00000000")
    messages, _ = run(ActionHandoff(), tracker_for(user_event("转人工", "request_human")))
    assert "0573-00000000" in messages[0]["text"]


def test_fallback_asks_to_rephrase_then_offers_a_person():
    first = tracker_for(user_event("嗯嗯那个", "nlu_fallback", 0.2))
    messages, _ = run(ActionFallbackRephrase(), first)
    assert "换个说法" in messages[0]["text"]
    second = tracker_for(user_event("嗯嗯那个", "nlu_fallback", 0.2), {"event": "bot", "text": "…"},
                         user_event("就是那个啊", "nlu_fallback", 0.2))
    assert misses_in_a_row(second) == 2
    messages, _ = run(ActionFallbackRephrase(), second)
    assert messages[0]["buttons"][0]["payload"] == "/request_human"


def test_fallback_still_answers_a_clear_policy_question():
    tracker = tracker_for(user_event("我是伤残军人，残疾抚恤金每年什么时候发", "nlu_fallback", 0.3))
    messages, _ = run(ActionFallbackRephrase(), tracker)
    assert "依据：《" in messages[0]["text"]


@pytest.mark.parametrize("text,expected", [("/ask_policy", False), ("政策", False), ("优待证怎么办", True)])
def test_is_real_question(text, expected):
    assert is_real_question(text) is expected


def test_near_miss_asks_did_you_mean_and_the_button_gets_an_answer(monkeypatch):
    from knowledge.service import get_knowledge_base

    kb = get_knowledge_base()
    question = "退伍证丢了优待证还能办吗"
    best = kb.search(question, top_k=1, strict=False)[0]
    # Put the answer threshold just above this question's best match: the bot must not answer.
    monkeypatch.setattr(kb, "min_dense", best.relevance + 0.005)
    messages, _ = run(ActionAnswerPolicy(), tracker_for(user_event(question, "ask_policy")))
    assert "您是想问" in messages[0]["text"] and "依据" not in messages[0]["text"]
    payload = messages[0]["buttons"][0]["payload"]
    assert payload == best.passage.title
    monkeypatch.undo()
    messages, _ = run(ActionAnswerPolicy(), tracker_for(user_event(payload, "ask_policy")))
    assert "依据：《" in messages[0]["text"]
