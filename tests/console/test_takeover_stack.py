"""Human takeover through the real console, Rasa, action server and fake WeChat (live_stack +
live_console): taken over, the bot says nothing on REST and on WeChat; a staff reply reaches the
veteran's WeChat through the customer-service API; handed back, the bot answers again; a new Rasa
session (the old one expired) does not give the conversation back to the bot."""
from __future__ import annotations

import sqlite3
import subprocess
import time
import uuid

import pytest
import requests

from console.models import BOT, WAITING, Conversation
from console.takeover import RELEASE_NOTE
from tests.support.stack import BIN, ROOT, sent_to
from vetbot.rest_channel import apology
from vetbot.storage import get_engine, session_scope

pytestmark = [pytest.mark.stack, pytest.mark.slow]

PASSWORD = "takeover-stack-pw-1"


@pytest.fixture(scope="module")
def console(live_stack, live_console):
    fake, stack = live_stack
    subprocess.run([str(BIN / "vetbot"), "users", "add", "zhangmin", "--display-name", "张敏", "--password-stdin"],
                   input=PASSWORD + "\n", text=True, env=stack.env, cwd=ROOT, check=True, capture_output=True)
    staff = requests.Session()
    login = staff.post(f"{live_console}/api/login", json={"username": "zhangmin", "password": PASSWORD}, timeout=30)
    assert login.status_code == 200, login.text
    staff.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    stack.say("takeover-warm-up", "评残要带什么材料", timeout=120)  # the first question loads the model
    return staff, live_console, fake, stack


def database(stack):
    return get_engine(stack.env.get("VETBOT_DATABASE_URL") or f"sqlite:///{stack.env['VETBOT_DATA_DIR']}/vetbot.sqlite3")


def listed(stack, sender_id: str, channel: str) -> None:
    """Wait for the event-broker feed to list the conversation; without the feed running, list it as
    the feed would (the feed's own tests check the feed)."""
    deadline = time.time() + 10
    while time.time() < deadline:
        with session_scope(database(stack)) as session:
            if session.get(Conversation, sender_id) is not None:
                return
        time.sleep(0.25)
    with session_scope(database(stack)) as session:
        session.add(Conversation(sender_id=sender_id, channel=channel, state=BOT, misses=0,
                                 last_user_at=time_now()))


def time_now():
    from vetbot.storage.base import utcnow

    return utcnow()


def tracker(stack, sender_id: str) -> dict:
    return requests.get(f"{stack.rasa_url}/conversations/{sender_id}/tracker", params={"token": stack.token},
                        timeout=30).json()


def after_last_user_message(stack, sender_id: str) -> list[str]:
    events = tracker(stack, sender_id)["events"]
    last_user = max(i for i, e in enumerate(events) if e["event"] == "user")
    return [e["event"] for e in events[last_user + 1:]]


def post(console, sender_id: str, action: str, **kwargs) -> requests.Response:
    staff, url, _, _ = console
    return staff.post(f"{url}/api/conversations/{sender_id}/{action}", timeout=60, **kwargs)


def test_rest_taken_over_the_bot_is_silent_then_answers_again_when_handed_back(console):
    _, _, _, stack = console
    sender = f"rest-takeover-{uuid.uuid4().hex[:8]}"
    assert stack.say(sender, "你好")
    listed(stack, sender, "rest")
    assert post(console, sender, "take").status_code == 200
    assert tracker(stack, sender)["paused"] is True

    while_held = stack.say(sender, "优待证怎么申请")
    assert "bot" not in after_last_user_message(stack, sender)  # recorded for staff, unanswered

    answer = post(console, sender, "reply", json={"text": "您好"})
    assert answer.status_code == 409 and "打电话" in answer.json()["detail"]  # REST cannot push

    assert post(console, sender, "release").status_code == 200
    assert tracker(stack, sender)["paused"] is False
    assert stack.say(sender, "优待证怎么申请")
    assert while_held == []  # not the answer, not "please try again": nothing


def test_wechat_taken_over_the_bot_is_silent_and_the_staff_reply_reaches_the_veteran(console):
    _, _, fake, stack = console
    url = f"{stack.rasa_url}/webhooks/wechat/webhook"
    openid = f"oTakeover{uuid.uuid4().hex[:8]}"
    assert fake.push_text(url, openid, "你好", mode="safe").content
    listed(stack, openid, "wechat")
    assert post(console, openid, "take").status_code == 200

    silent = fake.push_text(url, openid, "我想问问评残的事", mode="safe")
    assert silent.status == 200 and silent.content is None  # "success": no passive reply
    picture = fake.push_image(url, openid, mode="safe")
    assert picture.status == 200 and picture.content is None  # not even the "please send text" notice
    time.sleep(2)
    assert sent_to(fake, openid) == []  # and nothing later through the customer-service API
    assert "bot" not in after_last_user_message(stack, openid)

    window = console[0].get(f"{console[1]}/api/conversations/{openid}/reply-window", timeout=30).json()
    assert (window["can_reply"], window["path"]) == (True, "direct")
    answer = post(console, openid, "reply", json={"text": "您好，评残的事我来帮您。"})
    assert answer.status_code == 200, answer.text
    assert fake.wait_for(lambda: sent_to(fake, openid) == ["工作人员张敏：您好，评残的事我来帮您。"], timeout=10), \
        sent_to(fake, openid)
    staff_line = [e for e in tracker(stack, openid)["events"] if e["event"] == "bot"][-1]
    assert staff_line["metadata"]["vetbot_staff"] == "张敏"  # what the feed turns into a staff line

    assert post(console, openid, "release").status_code == 200
    assert fake.wait_for(lambda: RELEASE_NOTE in sent_to(fake, openid), timeout=10)
    assert fake.push_text(url, openid, "你好", mode="safe").content  # the bot answers again


def two_hours_pass(stack, sender_id: str) -> None:
    """Move the conversation's stored events two hours back (Rasa reads the time of the last user
    message from the event's data), as if the veteran had been silent that long."""
    with sqlite3.connect(f"{stack.env['VETBOT_DATA_DIR']}/tracker.sqlite3") as db:
        moved = db.execute("UPDATE events SET timestamp = timestamp - 7200, "
                           "data = json_set(data, '$.timestamp', json_extract(data, '$.timestamp') - 7200) "
                           "WHERE sender_id = ?", (sender_id,)).rowcount
    assert moved > 0


def test_a_takeover_survives_a_new_session(console):
    """The session expires (the last user message is older than session_expiration_time, 60 min): Rasa runs
    action_session_start, whose SessionStarted would resume the bot; ours pauses again."""
    _, _, _, stack = console
    sender = f"rest-expiry-{uuid.uuid4().hex[:8]}"
    assert stack.say(sender, "你好")
    listed(stack, sender, "rest")
    assert post(console, sender, "take").status_code == 200
    two_hours_pass(stack, sender)

    stack.say(sender, "你好")  # (what REST answers while paused: test_rest_taken_over_…)
    events = tracker(stack, sender)["events"]
    started = max(i for i, e in enumerate(events) if e["event"] == "session_started")
    assert started > max(i for i, e in enumerate(events) if e["event"] == "pause" and i < started), \
        "precondition: a new session started after the takeover"
    assert "pause" in [e["event"] for e in events[started:]]
    assert tracker(stack, sender)["paused"] is True
    assert "bot" not in after_last_user_message(stack, sender)


def test_when_the_bot_fails_on_wechat_the_conversation_opens_for_a_person(console):
    _, _, fake, stack = console
    url = f"{stack.rasa_url}/webhooks/wechat/webhook"
    openid = f"oBroken{uuid.uuid4().hex[:8]}"
    assert fake.push_text(url, openid, "你好", mode="safe").content
    with stack.proxy.down():  # every call to the action server fails
        result = fake.push_text(url, openid, "优待证怎么申请", mode="safe")
    assert result.content == apology()
    with session_scope(database(stack)) as session:
        conversation = session.get(Conversation, openid)
        assert conversation is not None and conversation.state == WAITING
        assert conversation.waiting_since is not None
