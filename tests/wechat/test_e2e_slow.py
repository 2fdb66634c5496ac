"""A slow *real* Rasa turn on WeChat's late paths: the shared real stack, with its action proxy
holding every action call for longer than the passive-reply budget (4 s) while these tests run.

The veteran must get "success" within WeChat's 5 s (so WeChat does not retry), then the real
answer exactly once: by customer-service message, or, when WeChat refuses that (45015, outside
the 48-hour window), by template message through the outbox.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.stack import LIVE_STACK_ENV, sent_to
from wechat_adapter.outbox import Outbox
from wechat_adapter.replies import format_turn

pytestmark = pytest.mark.stack

ACTION_DELAY = 5.0  # > WECHAT_REPLY_BUDGET (4 s): every turn with a custom action is late
TEMPLATE = LIVE_STACK_ENV["WECHAT_TEMPLATE_NOTICE"]


@pytest.fixture(scope="module")
def slow(live_stack):
    """The shared stack with every action call delayed; the delay ends with this module."""
    fake, stack = live_stack
    with stack.proxy.slowed(ACTION_DELAY) as proxy:
        yield fake, stack, f"{stack.rasa_url}/webhooks/wechat/webhook", proxy


def rest_answer(stack, text: str) -> str:
    """The real bot's answer over REST (same stack, fresh conversation), as WeChat text."""
    return format_turn(stack.say(f"rest-{time.monotonic_ns()}", text, timeout=120)).text


def test_slow_real_turn_answers_success_then_one_customer_service_message(slow):
    fake, stack, url, proxy = slow
    question = "退役军人优待证怎么申请"
    expected = rest_answer(stack, question)  # also loads the knowledge base in the action server
    assert "依据：《" in expected
    calls = len(proxy.calls)

    msg_id = fake.next_msg_id()
    result = fake.push_text(url, "oSlow_late", question, msg_id=msg_id, mode="safe")
    assert result.attempts == 1, "answered within WeChat's 5 s, so WeChat did not retry"
    assert result.raw == b"success" and result.latency < 5
    assert len(proxy.calls) > calls, "the turn went through the delaying proxy"
    assert fake.wait_for(lambda: sent_to(fake, "oSlow_late"), timeout=60)
    time.sleep(2)  # a second copy would follow within the handoff grace
    assert sent_to(fake, "oSlow_late") == [expected]
    assert stack.user_turns("oSlow_late", str(msg_id)) == 1


def test_slow_real_turn_outside_the_48_hour_window_goes_out_once_as_a_template(slow):
    fake, stack, url, _ = slow
    question = "评残需要什么材料"
    expected = rest_answer(stack, question)
    assert "依据：《" in expected
    fake.fail_next("custom", 45015)  # WeChat: outside the 48-hour customer-service window

    result = fake.push_text(url, "oSlow_48h", question, mode="safe")
    assert result.attempts == 1 and result.raw == b"success" and result.latency < 5
    assert fake.wait_for(lambda: any(t["touser"] == "oSlow_48h" for t in fake.template_messages), timeout=60)
    time.sleep(2)
    [template] = [t for t in fake.template_messages if t["touser"] == "oSlow_48h"]
    assert template["template_id"] == TEMPLATE
    assert template["data"]["content"]["value"] == expected
    assert sent_to(fake, "oSlow_48h") == [], "refused by customer-service, so nothing went that way"
    outbox = Outbox(stack.env.get("VETBOT_DATABASE_URL") or Path(stack.env["VETBOT_DATA_DIR"]) / "vetbot.sqlite3")
    [item] = [i for i in outbox.list() if i.openid == "oSlow_48h"]
    assert (item.kind, item.via, item.status, item.sent_via) == ("reply", "template", "sent", "template")
