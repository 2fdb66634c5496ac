"""The real servers, as `make run` starts them: a short conversation over the REST channel."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def stack(live_stack):
    return live_stack[1]


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def test_greeting_in_chinese_with_a_menu(stack):
    replies = stack.say("rest-veteran-1", "你好")
    assert "您好" in texts(replies)
    assert any(r.get("buttons") for r in replies)


def test_policy_question_is_answered_with_its_source(stack):
    replies = stack.say("rest-veteran-2", "退役军人优待证怎么申请")
    assert "优待证" in texts(replies) and "依据：《" in texts(replies)


def test_request_human_gives_the_hotline(stack):
    from vetbot.config import hotline

    assert hotline() in texts(stack.say("rest-veteran-3", "我要找人工客服"))


def test_http_api_requires_the_token(stack):
    import requests

    assert requests.get(f"{stack.rasa_url}/status", timeout=5).status_code in (401, 403)
    assert requests.get(f"{stack.rasa_url}/status", params={"token": stack.token}, timeout=5).ok
