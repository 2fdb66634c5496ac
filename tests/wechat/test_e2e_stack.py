"""End to end: the fake WeChat pushes to the real Rasa + action servers (credentials.yml)."""
from __future__ import annotations

import time

import pytest
import requests

from tests.fakes.fake_wechat import FakeWeChat

pytestmark = pytest.mark.stack

@pytest.fixture(scope="module")
def wechat(live_stack):
    fake, stack = live_stack
    yield fake, stack, f"{stack.rasa_url}/webhooks/wechat/webhook"


def sent_to(fake: FakeWeChat, openid: str) -> list[str]:
    return [m["text"]["content"] for m in list(fake.custom_messages) if m["touser"] == openid]


def ask(fake: FakeWeChat, openid: str, push):
    """Push, and return (result, answer): the passive reply or, for a slow turn, the
    customer-service message(s) that followed."""
    before = len(sent_to(fake, openid))
    result = push()
    if result.content:
        return result, result.content
    assert fake.wait_for(lambda: len(sent_to(fake, openid)) > before, timeout=60), "no answer at all"
    time.sleep(0.5)  # overflow parts follow right after
    return result, "\n".join(sent_to(fake, openid)[before:])


def user_turns(stack, openid: str, message_id: str) -> int:
    tracker = requests.get(
        f"{stack.rasa_url}/conversations/{openid}/tracker", params={"token": stack.token}, timeout=30
    ).json()
    return sum(1 for e in tracker["events"] if e["event"] == "user" and e.get("message_id") == message_id)


def test_greeting_is_an_encrypted_chinese_reply_with_numbered_options(wechat):
    fake, _, url = wechat
    result = fake.push_text(url, "oE2E_greet", "你好", mode="safe")
    assert result.status == 200 and result.attempts == 1
    assert result.encrypted, "safe mode: the reply must be encrypted (and wechatpy could decrypt it)"
    assert "您好" in result.content and "回复数字" in result.content and "1 政策咨询" in result.content
    # The veteran answers with a number: it means the first option (/ask_policy).
    _, follow_up = ask(fake, "oE2E_greet", lambda: fake.push_text(url, "oE2E_greet", "1", mode="safe"))
    assert "政策" in follow_up and "回复数字" not in follow_up


def test_policy_question_is_answered_with_its_source(wechat):
    fake, _, url = wechat
    result, text = ask(fake, "oE2E_policy", lambda: fake.push_text(url, "oE2E_policy", "退役军人优待证怎么申请"))
    assert result.status == 200 and result.attempts == 1 and result.latency < 5
    assert "优待证" in text and "依据：《" in text
    if result.content:
        assert result.encrypted and len(result.content.encode("utf-8")) <= 2048


def test_duplicate_delivery_is_answered_once(wechat):
    fake, stack, url = wechat
    msg_id = fake.next_msg_id()
    first = fake.push_text(url, "oE2E_dup", "一次性经济补助有多少", msg_id=msg_id, mode="safe")
    second = fake.push_text(url, "oE2E_dup", "一次性经济补助有多少", msg_id=msg_id, mode="safe")
    assert first.status == second.status == 200
    time.sleep(1)
    assert user_turns(stack, "oE2E_dup", str(msg_id)) == 1
    if first.content:
        assert second.content in (first.content, None)


def test_menu_click_and_subscribe(wechat):
    fake, _, url = wechat
    _, welcome = ask(fake, "oE2E_menu", lambda: fake.push_event(url, "oE2E_menu", "subscribe"))
    assert "您好" in welcome
    # Usually the same second as the subscribe event: still a different event, answered on its own.
    _, policy = ask(fake, "oE2E_menu", lambda: fake.push_event(url, "oE2E_menu", "CLICK", event_key="POLICY_QA"))
    assert "政策" in policy and policy != welcome


def test_forged_push_is_refused_by_the_real_server(wechat):
    fake, _, url = wechat
    body, params = fake.build_push({"FromUserName": "oE2E_forged", "MsgType": "text", "Content": "hi", "MsgId": 1}, "safe")
    assert fake.post(url, body, dict(params, signature="0" * 40)).status == 403
