"""The web chat's channel against the real servers, with a real socket.io client (python-socketio),
as the /chat page uses it: session_persistence on, so replies go to the room named by the session
id — which Rasa 3.6 never joins without the fix in vetbot/rest_channel.py (rasa#13027)."""
from __future__ import annotations

import queue
import time

import pytest
import requests
import socketio

from console.models import STAFF, WAITING, Conversation
from vetbot.rest_channel import apology
from vetbot.storage import get_engine, session_scope

pytestmark = pytest.mark.stack

WAIT = 60  # the first answer of a fresh server may load the knowledge index


@pytest.fixture(scope="module")
def stack(live_stack):
    return live_stack[1]


class Browser:
    """A socket.io client standing in for the /chat page: what it receives is queued."""

    def __init__(self, rasa_url: str, transports: list[str] | None = None):
        self.received: queue.Queue = queue.Queue()
        self.confirmed: queue.Queue = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        self.client.on("bot_uttered", self.received.put)
        self.client.on("session_confirm", self.confirmed.put)
        self.client.connect(rasa_url, socketio_path="/socket.io", transports=transports or ["polling"],
                            wait_timeout=10)

    def start(self, session_id: str | None = None) -> str:
        self.client.emit("session_request", {"session_id": session_id})
        self.session_id = self.confirmed.get(timeout=10)
        return self.session_id

    def say(self, text: str, session_id: str | None = None) -> None:
        self.client.emit("user_uttered", {"message": text, "session_id": session_id or self.session_id})

    def replies(self, wait: float = WAIT, quiet: float = 2.0) -> list[dict]:
        """Messages up to `quiet` seconds after the last one (the first within `wait`)."""
        messages = [self.received.get(timeout=wait)]
        while True:
            try:
                messages.append(self.received.get(timeout=quiet))
            except queue.Empty:
                return messages

    def nothing_within(self, seconds: float) -> bool:
        try:
            self.received.get(timeout=seconds)
            return False
        except queue.Empty:
            return True

    def close(self) -> None:
        self.client.disconnect()


@pytest.fixture
def browsers(stack):
    opened = []

    def open_browser(**kwargs) -> Browser:
        opened.append(Browser(stack.rasa_url, **kwargs))
        return opened[-1]

    yield open_browser
    for browser in opened:
        browser.close()


def user_texts(stack, sender_id: str) -> list[str]:
    tracker = requests.get(f"{stack.rasa_url}/conversations/{sender_id}/tracker",
                           params={"token": stack.token}, timeout=30).json()
    return [e.get("text") for e in tracker["events"] if e["event"] == "user"]


def test_greeting_arrives_with_the_menu_as_quick_replies(browsers):
    browser = browsers()
    session_id = browser.start()
    assert len(session_id) == 32
    browser.say("你好")
    replies = browser.replies()
    assert any("您好" in r.get("text", "") for r in replies)
    buttons = [b for r in replies for b in r.get("quick_replies") or []]
    assert buttons and all(b["title"] and b["payload"] for b in buttons)


def test_websocket_transport_answers_too(browsers):
    browser = browsers(transports=["websocket"])
    browser.start()
    browser.say("你好")
    assert any("您好" in r.get("text", "") for r in browser.replies())


def test_reconnecting_with_the_session_id_continues_the_conversation(stack, browsers):
    first = browsers()
    session_id = first.start()
    first.say("你好")
    first.replies()
    first.close()

    again = browsers()
    assert again.start(session_id) == session_id
    again.say("退役军人优待证怎么申请")
    assert any("优待证" in r.get("text", "") for r in again.replies())
    assert user_texts(stack, session_id) == ["你好", "退役军人优待证怎么申请"]


def test_a_session_id_we_did_not_hand_out_is_replaced(browsers):
    browser = browsers()
    assert browser.start("oWeChatOpenIdOfSomeoneElse1234") != "oWeChatOpenIdOfSomeoneElse1234"


def test_a_socket_cannot_write_into_a_session_it_did_not_request(stack, browsers):
    owner, intruder = browsers(), browsers()
    session_id = owner.start()
    intruder.start()
    intruder.say("你好", session_id=session_id)
    assert intruder.nothing_within(5) and owner.nothing_within(1)
    assert user_texts(stack, session_id) == []


def test_a_staff_reply_through_the_http_api_reaches_the_browser(stack, browsers):
    browser = browsers()
    session_id = browser.start()
    browser.say("你好")
    browser.replies()
    other = browsers()  # another veteran's page must not get it
    other.start()

    event = {"event": "bot", "text": "您好，我是平湖退役军人事务局的工作人员，请说。", "timestamp": time.time(),
             "metadata": {"vetbot_staff": "张三", "vetbot_staff_user": "zhangsan"}}
    response = requests.post(
        f"{stack.rasa_url}/conversations/{session_id}/tracker/events",
        params={"token": stack.token, "output_channel": "socketio", "execute_side_effects": "true"},
        json=event, timeout=30)
    assert response.ok, response.text
    [reply] = browser.replies(wait=10)
    assert reply["text"] == event["text"] and reply["staff_name"] == "张三"
    assert "zhangsan" not in str(reply)
    assert other.nothing_within(2)


def test_pages_of_another_origin_may_poll(stack):
    origin = "http://console.example:8080"
    response = requests.get(f"{stack.rasa_url}/socket.io/", params={"EIO": "4", "transport": "polling"},
                            headers={"Origin": origin}, timeout=10)
    assert response.ok
    assert response.headers.get("Access-Control-Allow-Origin") == origin
    assert response.headers.get("Access-Control-Allow-Credentials") != "true"


def database(stack):
    return get_engine(stack.env.get("VETBOT_DATABASE_URL") or f"sqlite:///{stack.env['VETBOT_DATA_DIR']}/vetbot.sqlite3")


def conversation_state(stack, sender_id: str) -> str | None:
    with session_scope(database(stack)) as session:
        conversation = session.get(Conversation, sender_id)
        return conversation.state if conversation else None


def test_when_the_bot_fails_the_veteran_is_told_and_a_person_is_asked_for(stack, browsers):
    browser = browsers()
    session_id = browser.start()
    browser.say("你好")  # the session starts (a custom action) while the action server is up
    browser.replies()
    with stack.proxy.down():  # every call to the action server fails: Rasa answers nothing
        browser.say("退役军人优待证怎么申请")
        replies = browser.replies()
    assert [r.get("text") for r in replies] == [apology()]
    assert conversation_state(stack, session_id) == WAITING


def test_while_staff_hold_the_conversation_the_channel_says_nothing(stack, browsers):
    browser = browsers()
    session_id = browser.start()
    browser.say("你好")
    browser.replies()
    # Held as the console's takeover leaves it: the row says staff, Rasa is paused.
    with session_scope(database(stack)) as session:
        conversation = session.get(Conversation, session_id) or Conversation(sender_id=session_id, misses=0)
        conversation.channel, conversation.state, conversation.holder = "socketio", STAFF, "zhangmin"
        session.merge(conversation)
    requests.post(f"{stack.rasa_url}/conversations/{session_id}/tracker/events", params={"token": stack.token},
                  json={"event": "pause"}, timeout=30).raise_for_status()
    browser.say("优待证怎么申请")
    assert browser.nothing_within(10)  # neither the answer nor "please try again"
    assert conversation_state(stack, session_id) == STAFF
