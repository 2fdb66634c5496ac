"""A slow *real* Rasa turn on WeChat's late paths: the real stack, with its action endpoint
behind a proxy that holds every action call for longer than the passive-reply budget (4 s).

The veteran must get "success" within WeChat's 5 s (so WeChat does not retry), then the real
answer exactly once: by customer-service message, or, when WeChat refuses that (45015, outside
the 48-hour window), by template message through the outbox.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.slow_proxy import SlowProxy
from tests.support.stack import free_port, sent_to, start_wechat_stack
from wechat_adapter.outbox import Outbox
from wechat_adapter.replies import format_turn

pytestmark = pytest.mark.stack

ACTION_DELAY = 5.0  # > WECHAT_REPLY_BUDGET (4 s): every turn with a custom action is late
TEMPLATE = "TPL_E2E_NOTICE"


@pytest.fixture(scope="module")
def slow():
    actions_port = free_port()
    proxy = SlowProxy(f"http://127.0.0.1:{actions_port}", delay=ACTION_DELAY)
    env = {
        "ACTION_ENDPOINT_URL": proxy.start() + "/webhook",
        "WECHAT_TEMPLATE_NOTICE": TEMPLATE,
        "WECHAT_OUTBOX_INTERVAL": "0.5",
    }
    try:
        with start_wechat_stack(env, actions_port) as (fake, stack):
            yield fake, stack, f"{stack.rasa_url}/webhooks/wechat/webhook", proxy
    finally:
        proxy.stop()


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
