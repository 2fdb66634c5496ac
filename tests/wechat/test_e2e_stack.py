"""End to end: the fake WeChat pushes to the real Rasa + action servers (credentials.yml)."""
from __future__ import annotations

import time

import pytest

from tests.support.stack import sent_to
from wechat_adapter.replies import format_turn

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def wechat(live_stack):
    fake, stack = live_stack
    # The action server loads the embedding model and index on its first question; the
    # veteran-facing tests below measure turns of a warm server, as in production.
    stack.say("e2e-warm-up", "评残要带什么材料", timeout=120)
    yield fake, stack, f"{stack.rasa_url}/webhooks/wechat/webhook"


def rest_answer(stack, text: str) -> str:
    """What the same real bot answers over REST (a fresh conversation), as WeChat text."""
    return format_turn(stack.say(f"rest-{time.monotonic_ns()}", text)).text


def test_greeting_is_an_encrypted_chinese_reply_with_numbered_options(wechat):
    fake, stack, url = wechat
    result = fake.push_text(url, "oE2E_greet", "你好", mode="safe")
    assert result.status == 200 and result.attempts == 1 and result.latency < 5
    assert result.encrypted, "safe mode: the reply must be encrypted (and wechatpy could decrypt it)"
    assert result.content == rest_answer(stack, "你好")
    assert "您好" in result.content and "回复数字" in result.content and "1 政策咨询" in result.content
    # The veteran answers with a number: it means the first option (/ask_policy).
    follow_up = fake.push_text(url, "oE2E_greet", "1", mode="safe")
    assert follow_up.content == rest_answer(stack, "/ask_policy")
    assert "政策" in follow_up.content and "回复数字" not in follow_up.content


def test_policy_question_is_answered_passively_within_wechats_window(wechat):
    """Real NLU, policy and knowledge search answer inside WeChat's 5 s: the answer is the
    passive reply itself, not a later customer-service message."""
    fake, stack, url = wechat
    question = "退役军人优待证怎么申请"
    result = fake.push_text(url, "oE2E_policy", question, mode="safe")
    assert result.status == 200 and result.attempts == 1 and result.latency < 5
    assert result.content is not None, f"no passive reply (answered 'success' after {result.latency:.1f}s)"
    assert result.encrypted and len(result.content.encode("utf-8")) <= 2048
    assert "优待证" in result.content and "依据：《" in result.content
    assert result.content == rest_answer(stack, question)
    assert sent_to(fake, "oE2E_policy") == []


def test_duplicate_delivery_is_answered_once(wechat):
    fake, stack, url = wechat
    msg_id = fake.next_msg_id()
    first = fake.push_text(url, "oE2E_dup", "一次性经济补助有多少", msg_id=msg_id, mode="safe")
    second = fake.push_text(url, "oE2E_dup", "一次性经济补助有多少", msg_id=msg_id, mode="safe")
    assert first.status == second.status == 200 and first.attempts == second.attempts == 1
    assert first.content == rest_answer(stack, "一次性经济补助有多少")
    # WeChat delivered it again because it did not get our reply: the same answer, no new turn.
    assert second.content == first.content
    time.sleep(1)
    assert stack.user_turns("oE2E_dup", str(msg_id)) == 1
    assert sent_to(fake, "oE2E_dup") == []


def test_menu_click_and_subscribe(wechat):
    fake, stack, url = wechat
    welcome = fake.push_event(url, "oE2E_menu", "subscribe")
    assert welcome.content == rest_answer(stack, "/greet") and "您好" in welcome.content
    # Usually the same second as the subscribe event: still a different event, answered on its own.
    policy = fake.push_event(url, "oE2E_menu", "CLICK", event_key="POLICY_QA")
    assert policy.content == rest_answer(stack, "/ask_policy")
    assert sent_to(fake, "oE2E_menu") == []


def test_forged_push_is_refused_by_the_real_server(wechat):
    fake, _, url = wechat
    body, params = fake.build_push({"FromUserName": "oE2E_forged", "MsgType": "text", "Content": "hi", "MsgId": 1}, "safe")
    assert fake.post(url, body, dict(params, signature="0" * 40)).status == 403
