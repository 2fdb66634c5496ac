"""Custom actions, run with Rasa SDK's own dispatcher and tracker against the real knowledge base
(built by `make data` under the data directory)."""
from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.handoff import (
    REPHRASE, ActionAcceptOffer, ActionFallbackRephrase, ActionHandoff, previous_misses,
)
from bot.actions.policy import (
    HUMAN_BUTTON, HUMAN_PAYLOAD, KB_DOWN, PASSAGE_GONE, ActionAnswerPolicy, ActionInform, ActionMorePolicy,
    is_real_question,
)
from knowledge.answer import compose, compose_full
from knowledge.search import RELATED_MARGIN, KnowledgeBase
from knowledge.service import get_knowledge_base
from vetbot.config import hotline


@pytest.fixture(autouse=True)
def gap_log(monkeypatch) -> list[tuple]:
    """The questions these tests refuse are not written to the site's own gap log."""
    noted = []

    async def note(question, kind, passage_id=None):
        noted.append((question, kind, passage_id))
    monkeypatch.setattr("knowledge.gaps.note", note)
    return noted


@pytest.fixture(autouse=True)
def opened_for_person(monkeypatch) -> list[tuple]:
    """Hand-overs these tests make are not written into the site's own conversation list."""
    opened = []
    monkeypatch.setattr("bot.actions.handoff.open_for_person",
                        lambda sender_id, channel, reason: opened.append((sender_id, channel, reason)))
    return opened


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


@pytest.mark.parametrize("question", ["义务兵家庭优待金一直没发", "帮我查下义务兵家庭优待金发了没"])
def test_a_grievance_is_answered_and_offered_as_an_appeal(question):
    messages, _ = run(ActionAnswerPolicy(), tracker_for(user_event(question, "ask_policy")))
    assert "依据" in messages[0]["text"] or "据" in messages[0]["text"]
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/ask_more", "/request_human", "/file_appeal"]


def test_unknown_policy_question_offers_a_person_instead_of_guessing():
    messages, events = run(ActionAnswerPolicy(), tracker_for(user_event("平湖哪家银行定期存款利息最高", "ask_policy")))
    assert "没有找到" in messages[0]["text"] and "依据" not in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == "/request_human"
    assert slot(events, "offered_payload") == "/request_human"
    assert not any(e.get("name") == "last_policy_query" for e in events)  # "看更多" has nothing to show


def test_menu_button_asks_for_the_question():
    messages, _ = run(ActionAnswerPolicy(), tracker_for(user_event("/ask_policy", "ask_policy")))
    assert messages[0]["response"] == "utter_ask_policy_question"


def ask_then_more(question: str, times: int) -> tuple[list[list[dict]], dict]:
    """Ask, then press 看更多 `times` times; returns the reply of each step and the final slots."""
    replies, slots = [], {}
    for step in range(times + 1):
        act, event = (ActionAnswerPolicy(), user_event(question, "ask_policy")) if step == 0 else \
            (ActionMorePolicy(), user_event("还有吗", "ask_more"))
        messages, events = run(act, tracker_for(event, slots=slots))
        replies.append(messages)
        slots.update({e["name"]: e["value"] for e in events if e.get("event") == "slot"})
    return replies, slots


def related(question: str) -> list:
    """The passages 看更多 may show for a question, best first."""
    return get_knowledge_base().search(question, top_k=50, margin=RELATED_MARGIN)


def test_more_shows_the_whole_passage_then_the_next_ones():
    question = "评残需要什么材料"
    hits = related(question)
    assert len(hits) >= 4, "precondition: this question has several related passages"
    (first, full, more), slots = ask_then_more(question, 2)
    assert first[0]["text"] == compose(hits[0], question)  # the sentences on the documents
    assert [m["text"] for m in full] == [compose_full(hits[0])]
    # then the next two related passages, each with its source, and an invitation to ask on
    assert [m["text"] for m in more[:-1]] == [compose(hits[1], question), compose(hits[2], question)]
    assert more[-1]["text"] == "还想了解别的，直接问我就行。"
    assert slots["policy_full_shown"] is True and slots["policy_shown"] == 3.0


def test_more_says_that_is_all_when_nothing_related_is_left():
    question = "带病回乡"
    hits = related(question)
    assert len(hits) == 3, "precondition: exactly three related passages"
    (_, _, more, done), slots = ask_then_more(question, 3)
    assert [m["text"] for m in more[:-1]] == [compose(hits[1], question), compose(hits[2], question)]
    assert [m["text"] for m in done] == ["相关的内容就这些了。还不清楚的话，可以转人工问问。"]
    assert done[0]["buttons"] == [HUMAN_BUTTON] and slots["offered_payload"] == HUMAN_PAYLOAD


def test_handoff_gives_the_hotline_and_opens_the_conversation_for_staff(monkeypatch, opened_for_person):
    monkeypatch.setenv("VETBOT_HOTLINE", "0573-00000000")
    messages, _ = run(ActionHandoff(), tracker_for(user_event("转人工", "request_human")))
    assert "0573-00000000" in messages[0]["text"]
    assert len(opened_for_person) == 1


def test_fallback_asks_to_rephrase_then_offers_a_person(opened_for_person):
    first = tracker_for(user_event("嗯嗯那个", "nlu_fallback", 0.2))
    messages, events = run(ActionFallbackRephrase(), first)
    assert messages[0]["text"] == REPHRASE
    assert slot(events, "fallback_misses") == 1
    assert opened_for_person == []  # one miss: the bot asks again, staff are not alerted yet
    second = tracker_for(user_event("嗯嗯那个", "nlu_fallback", 0.2), action("action_fallback_rephrase"),
                         bot("（措辞改了也照样算）"), user_event("就是那个啊", "nlu_fallback", 0.2),
                         slots={"fallback_misses": 1.0})
    assert previous_misses(second) == 1
    messages, events = run(ActionFallbackRephrase(), second)
    assert messages[0]["buttons"][0]["payload"] == "/request_human"
    assert slot(events, "offered_payload") == "/request_human"
    assert len(opened_for_person) == 1


def test_a_miss_after_another_reply_starts_the_count_again():
    # The slot still says 1 from an earlier miss, but the bot has answered something since.
    tracker = tracker_for(user_event("嗯嗯那个", "nlu_fallback", 0.2), action("action_fallback_rephrase"),
                          user_event("优待证怎么办", "ask_policy"), action("action_answer_policy"),
                          user_event("就是那个啊", "nlu_fallback", 0.2), slots={"fallback_misses": 1.0})
    assert previous_misses(tracker) == 0
    messages, _ = run(ActionFallbackRephrase(), tracker)
    assert messages[0]["text"] == REPHRASE


def test_an_answered_unclear_message_is_not_counted_as_a_miss():
    tracker = tracker_for(user_event("残疾抚恤金什么时候发啊", "nlu_fallback", 0.3))
    _, events = run(ActionFallbackRephrase(), tracker)
    assert slot(events, "fallback_misses") == 0


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


# Every way into the knowledge base, as the veteran reaches it: a question, 看更多, the
# "您是想问" button, "是的" after it, and an unclear message that is still a question.
KB_ENTRY_POINTS = {
    "question": (ActionAnswerPolicy, [user_event("退役军人优待证怎么申请", "ask_policy")], {}),
    "more": (ActionMorePolicy, [user_event("还有吗", "ask_more")], {"last_policy_query": "评残需要什么材料"}),
    "button": (ActionAnswerPolicy, [user_event("/ask_policy", "ask_policy",
                                               entities=[{"entity": "policy_id", "value": "pingcan-xinban"}])], {}),
    "yes": (ActionAcceptOffer, [user_event("评残", "ask_policy"), action("action_answer_policy"),
                                bot("您是想问…吗？"), user_event("是的", "affirm")],
            {"offered_payload": "policy:pingcan-xinban"}),
    "fallback": (ActionFallbackRephrase, [user_event("我是伤残军人，残疾抚恤金每年什么时候发", "nlu_fallback", 0.3)], {}),
}


@pytest.mark.parametrize("entry", KB_ENTRY_POINTS)
def test_knowledge_base_down_gives_the_apology_and_a_person_not_a_trace(entry, tmp_path, monkeypatch, caplog):
    # A data directory whose index was never built: loading it fails as in production.
    down = KnowledgeBase(embedder=None, base=tmp_path)
    monkeypatch.setattr("bot.actions.policy.get_knowledge_base", lambda: down)
    act, events, slots = KB_ENTRY_POINTS[entry]
    messages, result = run(act(), tracker_for(*events, slots=slots))
    assert [(m["text"], m["buttons"]) for m in messages] == [(KB_DOWN, [HUMAN_BUTTON])]
    assert slot(result, "offered_payload") == HUMAN_PAYLOAD  # "好的" now means a person
    # the details go to the log, with the traceback
    [record] = [r for r in caplog.records if r.name == "bot.actions.policy"]
    assert record.exc_info and "知识库索引还没有建立" in str(record.exc_info[1])


def test_a_suggestion_removed_by_a_rebuild_gets_an_honest_reply(tmp_path, embedder, monkeypatch):
    from knowledge.index import build_index, open_store, sync_corpus
    from tests.test_knowledge import write_entry

    corpus, base = tmp_path / "corpus", tmp_path / "data"
    corpus.mkdir()
    write_entry(corpus, "youdai", "退役军人优待证怎么申领", "退役军人凭身份证到户籍所在地的退役军人服务站申请优待证，不收费。")
    write_entry(corpus, "pingcan", "评残要带什么材料",
                "申请评定残疾等级，需要带本人身份证、医疗诊断证明和致残经过的证明材料，向县级退役军人事务部门提出。")
    store = open_store(base)

    def rebuild() -> None:
        sync_corpus(store, corpus)
        build_index(store, embedder, base=base)

    rebuild()
    kb = KnowledgeBase(embedder, base=base)
    monkeypatch.setattr("bot.actions.policy.get_knowledge_base", lambda: kb)
    question = "评残时要带哪些东西"
    best = kb.search(question, top_k=1, strict=False)[0]
    assert best.passage.id == "pingcan"
    _, features = kb.judged(question)
    # nearly, not quite: the bot suggests the passage
    kb.judge = replace(kb.judge, answer=kb.judge.probability(features) + 0.001, suggest=0.0)
    messages, events = run(ActionAnswerPolicy(), tracker_for(user_event(question, "ask_policy")))
    assert messages[0]["buttons"][0]["payload"] == '/ask_policy{"policy_id": "pingcan"}'
    click = tracker_for(user_event("/ask_policy", "ask_policy", entities=[{"entity": "policy_id", "value": "pingcan"}]))
    yes = tracker_for(user_event(question, "ask_policy"), action("action_answer_policy"), bot(messages[0]["text"]),
                      user_event("是的", "affirm"), slots={"offered_payload": slot(events, "offered_payload")})
    assert run(ActionAnswerPolicy(), click)[0][0]["text"].startswith("【评残要带什么材料】")

    (corpus / "pingcan.md").unlink()  # the entry is withdrawn and the index rebuilt
    rebuild()
    for act, tracker in ((ActionAnswerPolicy(), click), (ActionAcceptOffer(), yes)):
        messages, events = run(act, tracker)
        assert [(m["text"], m["buttons"]) for m in messages] == [(PASSAGE_GONE, [HUMAN_BUTTON])]
        assert slot(events, "offered_payload") is None


def test_near_miss_asks_did_you_mean_and_yes_or_the_button_answers(monkeypatch):
    kb = get_knowledge_base()
    question = "退伍证丢了优待证还能办吗"
    best = kb.search(question, top_k=1, strict=False)[0]
    # Put the judge's answer threshold just above this question's best match: the bot must not answer.
    _, features = kb.judged(question)
    monkeypatch.setattr(kb, "judge", replace(kb.judge, answer=kb.judge.probability(features) + 0.001, suggest=0.0))
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
    service = user_event("评残", "inform", entities=[{"entity": "service", "value": "评残"}])
    messages, _ = run(ActionInform(), tracker_for(service))
    assert messages[0]["text"] == compose(get_knowledge_base().hit_by_id("pingcan-xinban"))
    phone = user_event("13857312345", "inform", entities=[{"entity": "phone", "value": "13857312345"}])
    messages, _ = run(ActionInform(), tracker_for(phone))
    assert messages[0]["response"] == "utter_noted_info"


def test_a_service_name_nearly_matching_a_passage_asks_did_you_mean(monkeypatch):
    kb = get_knowledge_base()
    _, features = kb.judged("光荣之家牌")  # the judge's answer threshold just above it: nearly, not quite
    monkeypatch.setattr(kb, "judge", replace(kb.judge, answer=kb.judge.probability(features) + 0.001, suggest=0.0))
    service = user_event("光荣之家牌", "inform", entities=[{"entity": "service", "value": "光荣之家牌"}])
    messages, events = run(ActionInform(), tracker_for(service))
    assert "您是想问" in messages[0]["text"] and "依据" not in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == '/ask_policy{"policy_id": "pinghu-zhijing-guangrong"}'
    assert slot(events, "offered_payload") == "policy:pinghu-zhijing-guangrong"


def test_yes_after_a_did_you_mean_from_a_bare_service_name_answers_the_suggestion():
    """Seen in a live conversation: 光荣之家牌 → "您是想问…吗？" → 是的 got "还有什么要帮您的吗？"."""
    service = user_event("光荣之家牌", "inform", entities=[{"entity": "service", "value": "光荣之家牌"}])
    tracker = tracker_for(service, action("action_inform"), bot("…您是想问“…”吗？"), user_event("是的", "affirm"),
                          slots={"offered_payload": "policy:pinghu-zhijing-guangrong"})
    messages, _ = run(ActionAcceptOffer(), tracker)
    assert messages[0]["text"] == compose(get_knowledge_base().hit_by_id("pinghu-zhijing-guangrong"))


def test_a_bare_follow_up_with_nothing_asked_before_gets_asked_what_it_is_about():
    messages, events = run(ActionAnswerPolicy(), tracker_for(user_event("要钱吗", "ask_policy")))
    assert messages[0]["response"] == "utter_ask_policy_question"
    asked = tracker_for(user_event("要钱吗", "ask_policy"), slots={"last_policy_query": "优待证丢了怎么补办"})
    messages, _ = run(ActionAnswerPolicy(), asked)
    assert "依据" in messages[0]["text"]
