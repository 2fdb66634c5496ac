"""Human takeover without servers: the console's take / reply / release / reply-window and canned
replies through the API (Rasa's HTTP API answered by a recording stand-in at the HTTP boundary —
the real one is in test_takeover_stack.py), the hand-over reply and its hours, and the WeChat
turn's silence while a person holds the conversation."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from console import rasa_api
from console.models import BOT, STAFF, WAITING, CannedReply, Conversation, ConversationMessage, StaffAudit
from vetbot.storage import session_scope

VETERAN = "veteran-takeover-1"


class FakeRasa:
    """Records what the console asks of Rasa's HTTP API; `down` makes every call fail to connect."""

    def __init__(self):
        self.calls: list[tuple[str, str, dict, object]] = []
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("refused", request=request)
        body = json.loads(request.content) if request.content else None
        self.calls.append((request.method, request.url.path, dict(request.url.params), body))
        return httpx.Response(200, json={"sender_id": VETERAN, "events": []})

    def events(self) -> list[dict]:
        return [event for _, _, _, body in self.calls for event in body]


@pytest.fixture
def rasa(monkeypatch):
    fake = FakeRasa()
    monkeypatch.setattr(rasa_api, "TRANSPORT", httpx.MockTransport(fake))
    monkeypatch.setenv("RASA_API_TOKEN", "tok-123")
    return fake


def add_conversation(sender_id=VETERAN, channel="socketio", state=WAITING, last_user_at=None, holder=None):
    with session_scope() as session:
        now = datetime.now(timezone.utc)
        session.add(Conversation(sender_id=sender_id, channel=channel, state=state, holder=holder,
                                 waiting_since=now if state == WAITING else None,
                                 last_user_at=last_user_at or now, misses=0))


def conversation(sender_id=VETERAN) -> Conversation:
    with session_scope() as session:
        return session.get(Conversation, sender_id)


def audit_actions() -> list[tuple[str, str, dict | None]]:
    with session_scope() as session:
        return [(row.username, row.action, row.detail) for row in session.query(StaffAudit).order_by(StaffAudit.id)
                if row.action not in ("login", "logout", "user_add")]


def path(action: str, sender_id=VETERAN) -> str:
    return f"/api/conversations/{sender_id}/{action}"


# ---- take ---------------------------------------------------------------------------------------

def test_take_pauses_the_bot_in_rasa_and_records_the_holder(staff_client, rasa):
    add_conversation()
    zhang = staff_client(username="zhang")
    answer = zhang.post(path("take"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"sender_id": VETERAN, "state": STAFF, "holder": "zhang"}
    method, url, params, body = rasa.calls[0]
    assert (method, url, body) == ("POST", f"/conversations/{VETERAN}/tracker/events", [{"event": "pause"}])
    assert params == {"token": "tok-123"}
    row = conversation()
    assert (row.state, row.holder, row.waiting_since) == (STAFF, "zhang", None)
    assert audit_actions() == [("zhang", "takeover", None)]


def test_someone_elses_conversation_is_refused_with_their_name(staff_client, rasa):
    add_conversation()
    staff_client(username="zhang", display_name="张敏").post(path("take"))
    li = staff_client(username="li")
    answer = li.post(path("take"))
    assert answer.status_code == 409
    assert answer.json()["detail"] == "这个对话已由张敏接管。"
    assert conversation().holder == "zhang"
    assert len(rasa.calls) == 1


def test_when_rasa_is_down_the_take_is_undone_and_staff_are_told(staff_client, rasa):
    add_conversation()
    rasa.down = True
    answer = staff_client().post(path("take"))
    assert answer.status_code == 502
    assert answer.json()["detail"] == "连不上机器人服务，请稍后再试；一直不行请联系管理员。"
    row = conversation()
    assert (row.state, row.holder) == (WAITING, None) and row.waiting_since is not None


def test_an_unknown_conversation_is_404(staff_client, rasa):
    assert staff_client().post(path("take", "nobody")).status_code == 404


# ---- reply --------------------------------------------------------------------------------------

def test_a_web_chat_reply_goes_through_the_socketio_output_channel_with_the_staff_name(staff_client, rasa):
    add_conversation(channel="socketio")
    zhang = staff_client(username="zhang", display_name="张敏")
    zhang.post(path("take"))
    answer = zhang.post(path("reply"), json={"text": "  您好，我是张敏，您说的优待证问题我来帮您查。 "})
    assert answer.status_code == 200, answer.text
    assert answer.json()["delivered"] == "direct"
    _, _, params, body = rasa.calls[-1]
    assert params == {"token": "tok-123", "output_channel": "socketio", "execute_side_effects": "true"}
    assert body == [{"event": "bot", "text": "您好，我是张敏，您说的优待证问题我来帮您查。", "data": {},
                     "metadata": {"vetbot_staff": "张敏", "vetbot_staff_user": "zhang"}}]
    # The audit says what was done, not what was said (a reply may quote a phone number).
    assert audit_actions()[-1] == ("zhang", "reply", {"path": "direct", "channel": "socketio", "chars": 22})
    with session_scope() as session:  # the transcript line comes from the event-broker feed, not from here
        assert session.query(ConversationMessage).count() == 0


def test_only_the_holder_may_reply(staff_client, rasa):
    add_conversation()
    staff_client(username="zhang").post(path("take"))
    answer = staff_client(username="li").post(path("reply"), json={"text": "您好"})
    assert answer.status_code == 409
    add_conversation("veteran-2")
    answer = staff_client(username="wang").post(path("reply", "veteran-2"), json={"text": "您好"})
    assert answer.status_code == 409 and answer.json()["detail"] == "请先接管这个对话。"
    assert len(rasa.calls) == 1  # only zhang's pause


def test_an_empty_reply_is_refused(staff_client, rasa):
    add_conversation()
    client = staff_client()
    client.post(path("take"))
    assert client.post(path("reply"), json={"text": "   "}).status_code == 422


def test_wechat_inside_48_hours_goes_through_the_wechat_output_channel(staff_client, rasa):
    add_conversation(channel="wechat", last_user_at=datetime.now(timezone.utc) - timedelta(hours=47))
    client = staff_client()
    client.post(path("take"))
    window = client.get(path("reply-window")).json()
    assert window["can_reply"] is True and window["path"] == "direct"
    assert client.post(path("reply"), json={"text": "您好"}).json()["delivered"] == "direct"
    assert rasa.calls[-1][2]["output_channel"] == "wechat"


def test_wechat_after_48_hours_is_recorded_in_rasa_and_queued_as_a_template_notice(staff_client, rasa, monkeypatch):
    monkeypatch.setenv("WECHAT_TEMPLATE_NOTICE", "TPL_NOTICE")
    last = datetime.now(timezone.utc) - timedelta(hours=49)
    add_conversation("o6_openid", channel="wechat", last_user_at=last)
    client = staff_client(display_name="张敏")
    client.post(path("take", "o6_openid"))
    window = client.get(path("reply-window", "o6_openid")).json()
    assert (window["can_reply"], window["path"]) == (True, "template")
    assert datetime.fromisoformat(window["until"]) < datetime.now(timezone.utc)
    answer = client.post(path("reply", "o6_openid"), json={"text": "您的材料收到了"})
    assert answer.json()["delivered"] == "template"
    assert "output_channel" not in rasa.calls[-1][2]  # in the conversation, but no channel sends it
    from wechat_adapter.outbox import Outbox

    (queued,) = Outbox().list()
    assert (queued.openid, queued.text, queued.kind, queued.via) == ("o6_openid", "工作人员张敏：您的材料收到了",
                                                                     "staff_reply", "template")


def test_wechat_after_48_hours_without_a_template_cannot_reply(staff_client, rasa, monkeypatch):
    for name in [name for name in __import__("os").environ if name.startswith("WECHAT_TEMPLATE_")]:
        monkeypatch.delenv(name)
    add_conversation(channel="wechat", last_user_at=datetime.now(timezone.utc) - timedelta(days=3))
    client = staff_client()
    client.post(path("take"))
    window = client.get(path("reply-window")).json()
    assert (window["can_reply"], window["path"]) == (False, "none")
    answer = client.post(path("reply"), json={"text": "您好"})
    assert answer.status_code == 409 and "打电话" in answer.json()["detail"]
    assert len(rasa.calls) == 1


def test_rest_has_no_push_and_staff_are_told(staff_client, rasa):
    add_conversation(channel="rest")
    client = staff_client()
    client.post(path("take"))
    window = client.get(path("reply-window")).json()
    assert (window["can_reply"], window["path"], window["until"]) == (False, "none", None)
    assert client.post(path("reply"), json={"text": "您好"}).status_code == 409
    assert len(rasa.calls) == 1


# ---- release ------------------------------------------------------------------------------------

def test_release_resumes_the_bot_and_tells_the_veteran(staff_client, rasa):
    add_conversation(channel="socketio")
    zhang = staff_client(username="zhang")
    zhang.post(path("take"))
    assert staff_client(username="li").post(path("release")).status_code == 409
    answer = zhang.post(path("release"))
    assert answer.json() == {"sender_id": VETERAN, "state": BOT, "holder": None}
    _, _, params, body = rasa.calls[-1]
    assert params["output_channel"] == "socketio"
    assert body[0] == {"event": "resume"}
    assert body[1]["event"] == "bot" and body[1]["text"] == "工作人员已结束人工服务，您可以继续问我。"
    assert audit_actions()[-1][:2] == ("zhang", "release")


def test_an_admin_may_hand_back_a_conversation_someone_left_open(staff_client, rasa):
    add_conversation(channel="rest")
    staff_client(username="zhang").post(path("take"))
    answer = staff_client("admin", username="boss").post(path("release"))
    assert answer.status_code == 200 and conversation().state == BOT
    assert rasa.calls[-1][3] == [{"event": "resume"}]  # REST: nobody to tell
    assert audit_actions()[-1] == ("boss", "release", {"holder": "zhang", "note_sent": False})


# ---- who may call what -----------------------------------------------------------------------------

@pytest.mark.parametrize("method,url", [
    ("post", path("take")), ("post", path("reply")), ("post", path("release")), ("get", path("reply-window")),
    ("get", "/api/canned-replies"), ("post", "/api/canned-replies"), ("put", "/api/canned-replies/1"),
    ("delete", "/api/canned-replies/1"),
])
def test_anonymous_is_refused(console_client, rasa, method, url):
    add_conversation()
    answer = getattr(console_client, method)(url, **({"json": {"text": "x", "title": "x"}} if method in ("post", "put") else {}))
    assert answer.status_code == 401
    assert rasa.calls == [] and conversation().state == WAITING


def test_a_post_without_the_csrf_header_is_refused(staff_client, rasa):
    add_conversation()
    client = staff_client()
    del client.headers["X-CSRF-Token"]
    assert client.post(path("take")).status_code == 403
    assert rasa.calls == []


# ---- canned replies ---------------------------------------------------------------------------------

def test_canned_replies_are_seeded_and_only_admins_edit_them(staff_client, monkeypatch):
    monkeypatch.setenv("VETBOT_HOTLINE", "0573-85000000")
    operator = staff_client()
    seeded = operator.get("/api/canned-replies").json()
    assert len(seeded) >= 5 and all(item["title"] and item["text"] for item in seeded)
    assert any("0573-85000000" in item["text"] for item in seeded)  # the site's own hotline
    assert operator.post("/api/canned-replies", json={"title": "新", "text": "新的"}).status_code == 403
    assert operator.put(f"/api/canned-replies/{seeded[0]['id']}", json={"title": "a", "text": "b"}).status_code == 403
    assert operator.delete(f"/api/canned-replies/{seeded[0]['id']}").status_code == 403

    admin = staff_client("admin", username="boss")
    created = admin.post("/api/canned-replies", json={"title": "下班", "text": "我们下午五点下班。", "position": 99})
    assert created.status_code == 201
    item = created.json()
    changed = admin.put(f"/api/canned-replies/{item['id']}", json={"title": "下班", "text": "我们17点下班。", "position": 99})
    assert changed.json()["text"] == "我们17点下班。"
    assert admin.delete(f"/api/canned-replies/{seeded[0]['id']}").status_code == 204
    texts = [entry["text"] for entry in operator.get("/api/canned-replies").json()]
    assert texts[-1] == "我们17点下班。" and seeded[0]["text"] not in texts
    assert admin.put("/api/canned-replies/9999", json={"title": "a", "text": "b"}).status_code == 404
    # Numbers past the database's integer are refused as bad input, not a server error.
    assert admin.delete(f"/api/canned-replies/{2**64}").status_code == 422
    assert admin.post("/api/canned-replies", json={"title": "a", "text": "b", "position": 2**64}).status_code == 422
    assert [action for user, action, _ in audit_actions() if user == "boss"] == [
        "canned_create", "canned_update", "canned_delete"]
    with session_scope() as session:
        assert session.query(CannedReply).count() == len(seeded)


# ---- the hand-over reply, and a conversation opened for a person ----------------------------------------

def test_open_for_person_marks_waiting_once_and_never_takes_from_staff(console_db):
    from console.handover import held_by_person, open_for_person

    assert open_for_person("wx-1", "wechat", "机器人出错了") is True
    first = conversation("wx-1")
    assert (first.state, first.channel) == (WAITING, "wechat") and first.waiting_since is not None
    assert open_for_person("wx-1", "wechat", "机器人出错了") is False
    assert conversation("wx-1").waiting_since == first.waiting_since
    add_conversation("wx-2", state=STAFF, holder="zhang")
    assert open_for_person("wx-2", "wechat", "机器人出错了") is False
    assert held_by_person("wx-2") and not held_by_person("wx-1") and not held_by_person("nobody")
    with session_scope() as session:
        notes = [(m.sender_id, m.kind, m.text) for m in session.query(ConversationMessage)]
    assert notes == [("wx-1", "note", "机器人出错了")]


BEIJING = timezone(timedelta(hours=8))


@pytest.mark.parametrize("moment,on_duty", [
    (datetime(2026, 12, 2, 10, 0, tzinfo=BEIJING), True),    # a Wednesday morning
    (datetime(2026, 12, 2, 17, 0, tzinfo=BEIJING), False),   # closing time
    (datetime(2026, 12, 2, 8, 29, tzinfo=BEIJING), False),
    (datetime(2026, 12, 5, 10, 0, tzinfo=BEIJING), False),   # a Saturday
    (datetime(2026, 10, 1, 10, 0, tzinfo=BEIJING), False),   # National Day, a Thursday
    (datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc), True),  # 11:00 in Beijing
])
def test_the_hand_over_reply_promises_a_person_only_in_staff_hours(monkeypatch, moment, on_duty):
    from bot.actions.handoff import handoff_text, staff_on_duty

    monkeypatch.setenv("VETBOT_HOTLINE", "0573-00000000")
    monkeypatch.setenv("VETBOT_STAFF_HOURS", "08:30-17:00")
    assert staff_on_duty(moment) is on_duty
    text = handoff_text(moment)
    assert "0573-00000000" in text
    assert ("工作人员马上" in text) is on_duty and ("工作时间会有人联系您" in text) is not on_duty


@pytest.mark.parametrize("value", ["8:30~17:00", "17:00-08:30", "08:30-25:00", "上午", "08:30"])
def test_a_malformed_staff_hours_names_the_variable(value):
    from bot.actions.handoff import staff_hours
    from vetbot.settings import SettingsError

    with pytest.raises(SettingsError, match="VETBOT_STAFF_HOURS"):
        staff_hours(value)


def test_the_hand_over_action_marks_the_conversation_waiting(console_db, monkeypatch):
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from bot.actions.handoff import ActionHandoff

    user = {"event": "user", "text": "转人工", "input_channel": "socketio",
            "parse_data": {"intent": {"name": "request_human", "confidence": 0.99}, "entities": []}}
    tracker = Tracker("web-7", {}, user["parse_data"], [user], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionHandoff().run(dispatcher, tracker, {}))
    assert dispatcher.messages and conversation("web-7").state == WAITING
    assert conversation("web-7").channel == "socketio"


# ---- the WeChat turn: silent while a person holds the conversation ---------------------------------

def wechat_turn(answer_with: list[dict] | Exception):
    """One TurnRunner turn against a stand-in for Rasa's on_new_message; returns the reply parts."""
    from wechat_adapter.dedupe import MessageLedger
    from wechat_adapter.replies import OptionMemory
    from wechat_adapter.store import MemoryStore
    from wechat_adapter.turns import TurnRunner

    async def on_new_message(message):
        if isinstance(answer_with, Exception):
            raise answer_with
        message.output_channel.messages.extend(answer_with)

    async def run():
        store = MemoryStore()
        runner = TurnRunner(on_new_message, MessageLedger(store, ttl=60), OptionMemory(store, ttl=60),
                            courier=None, overflow_delay=0)
        return await runner._run_turn("k1", "o6_held", "你好", True, "m1", None)

    return asyncio.run(run())


def test_wechat_is_silent_while_staff_hold_the_conversation_and_opens_it_when_the_bot_fails(console_db):
    from vetbot.rest_channel import apology

    add_conversation("o6_held", channel="wechat", state=STAFF, holder="zhang")
    assert wechat_turn([]) == []
    assert wechat_turn(RuntimeError("rasa broke")) == []
    with session_scope() as session:
        session.get(Conversation, "o6_held").state = BOT
    assert wechat_turn([]) == [apology()]
    assert conversation("o6_held").state == WAITING  # the bot failed: a person is needed
    assert wechat_turn([{"recipient_id": "o6_held", "text": "您好"}]) == ["您好"]
