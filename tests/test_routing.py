"""Routing (bot/routing.py) and its Rasa pipeline step: noise goes to the fallback, a question the
knowledge base covers to ask_policy whatever the classifier said, a transaction only when it is
meant. The dev and held-out sets of tests/kb_eval/noise.yml and routing.yml are checked through the
trained model in the dialogue evaluation; these are the rules themselves."""
from __future__ import annotations

import pytest

from bot.routing import FALLBACK, POLICY, is_noise, route

NOISE = ["嗯嗯那个", "阿巴阿巴", "呃呃呃呃", "qwerty", "那个那个啊", "😊😊", "。。。", "我想问一下那个",
         "就是那个什么", "123abc", "asdfgh", "   ？？", "呃 那个 啥", "[呲牙][呲牙]", "我我我我",
         "上次那个", "嗯那个什么来着", "的了吧吗呢"]
MEANINGFUL = ["嗯", "嗯嗯", "好的", "是的", "1", "2", "对对对", "谢谢", "转人工", "不用了", "13857312345",
              "330482196503121235", "33048219650312123X", "X7BRSEE", "👍", "ok", "我想问一下", "那个评残",
              "乍浦镇", "李秀英", "/affirm", "下周三上午", "对的对的", "不用不用", "就是这个", "然后呢", "bye bye",
              "查N5SDEJH", "K7M4QXR",
              "不是那个意思", "那个号我不要了", "我不要这个", "我约的是几号来着", "你能干什么", "拜拜拜拜"]


@pytest.mark.parametrize("text", NOISE)
def test_noise_goes_to_the_fallback_whatever_the_classifier_said(text):
    assert is_noise(text)
    assert route(text, "affirm", 0.99) == FALLBACK


@pytest.mark.parametrize("text", MEANINGFUL)
def test_short_meaningful_replies_are_not_noise(text):
    assert not is_noise(text)


@pytest.mark.parametrize("text, intent", [
    ("要钱吗", "affirm"),  # a follow-up asking only the fee
    ("在哪办评残", "greet"),
    ("我身份证号330482196503121235帮我查下优待金发了没", "check_booking"),  # no booking words
    ("那我爸呢", "ask_more"),
    ("退伍费多少钱啊", "inform"),
    ("当兵回来能拿多少钱", "out_of_scope"),
    ("评残要带什么材料", "nlu_fallback"),
    ("优待证丢了咋办", "cancel_booking"),
    # follow-ups the classifier took for a transaction or for small talk (from the dev conversations)
    ("一年给多少", "file_appeal"),
    ("地方上还给不给钱", "file_appeal"),
    ("在哪里查", "check_booking"),
    ("等的时候有没有钱拿", "check_appeal"),
    ("去哪里交", "out_of_scope"),
    ("转学去哪办", "request_human"),
])
def test_a_question_the_knowledge_base_covers_is_answered_from_it(text, intent):
    assert route(text, intent, 0.95) == POLICY


@pytest.mark.parametrize("text, intent", [
    ("我要预约评残", "book_service"),
    ("查一下我的预约", "check_booking"),
    ("评残怎么预约", "book_service"),
    ("我要投诉", "file_appeal"),
    ("优待金一直没发没人管", "file_appeal"),
    ("帮我转人工 优待证的事说不清楚", "request_human"),
    ("我住乍浦镇", "inform"),  # an answer, not a question
    ("证件号330482196806250419", "inform"),
    ("你是真人吗", "bot_challenge"),
    ("你好退役军人事务局吗", "greet"),
    ("抚恤金这几个月都没到账", "file_appeal"),
    ("申请的帮扶基金有结果没", "check_appeal"),
    ("能不能上门帮我办优待证", "book_service"),
    ("看更多", "ask_more"),
    ("还有吗", "ask_more"),
    ("好的", "affirm"),
    ("平湖明天会不会下雨", "out_of_scope"),  # no topic of ours, and too long to be a follow-up
    ("好吗", "affirm"),
    ("还有别的吗", "ask_more"),
    ("你能干什么", "help"),
])
def test_a_meant_transaction_or_a_non_question_keeps_its_intent(text, intent):
    assert route(text, intent, 0.95) is None


def test_an_unsure_transaction_gives_way_to_the_policy_answer():
    assert route("评残怎么预约", "book_service", 0.5) == POLICY


def test_the_pipeline_step_replaces_the_intent_and_keeps_what_the_classifier_said():
    from rasa.shared.nlu.training_data.message import Message

    from bot.router_component import MessageRouter

    router = MessageRouter.create({}, None, None, None)
    noisy = Message(data={"text": "阿巴阿巴", "intent": {"name": "affirm", "confidence": 0.99},
                          "intent_ranking": [{"name": "affirm", "confidence": 0.99}]})
    clear = Message(data={"text": "好的", "intent": {"name": "affirm", "confidence": 0.99}})
    router.process([noisy, clear])
    assert noisy.get("intent")["name"] == "nlu_fallback" and noisy.get("routed_from") == "affirm"
    assert [i["name"] for i in noisy.get("intent_ranking")] == ["nlu_fallback", "affirm"]
    assert clear.get("intent")["name"] == "affirm" and clear.get("routed_from") is None
