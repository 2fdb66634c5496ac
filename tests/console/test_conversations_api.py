"""The conversation API: list (newest first, filters, search by words / whole number / reference),
detail (masked transcript, linked bookings and appeals, reply window, audited), waiting count, the
page and the live stream; every endpoint refuses an anonymous caller."""
from __future__ import annotations

import json
import time as clock
from datetime import date, datetime, time, timedelta, timezone

import pytest
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from sqlalchemy import select

from appeals.service import file_appeal
from booking.service import create_booking
from console.feed import poll_once
from console.live import notify_conversation
from console.models import StaffAudit
from vetbot.event_broker import RedactingSQLEventBroker
from vetbot.storage import session_scope
from wechat_adapter.outbox import CUSTOMER_SERVICE_WINDOW  # 48 h less a margin

T0 = 1_790_000_000.0
PHONE, OTHER_PHONE, ID_NUMBER = "13800138000", "13900001111", "33048219650312123X"


def say(broker, sender: str, text: str, at: float, channel: str = "rest") -> None:
    event = UserUttered(text, parse_data={"text": text, "intent": {"name": "inform", "confidence": 0.7}},
                        input_channel=channel, timestamp=at)
    broker.publish({"sender_id": sender, **event.as_dict()})


@pytest.fixture
def conversations(console_db):
    """Three conversations: web chat a (older, gave a phone), WeChat b (newest, waiting), web chat c."""
    broker = RedactingSQLEventBroker()
    say(broker, "a", f"我的手机{PHONE}，想问优待证", T0)
    broker.publish({"sender_id": "a", **BotUttered("好的\n依据：《办法》第五条", timestamp=T0 + 1).as_dict()})
    say(broker, "c", "评残要带什么材料", T0 + 50)
    say(broker, "b", "转人工", T0 + 100, channel="wechat")
    broker.publish({"sender_id": "b", **ActionExecuted("action_handoff", timestamp=T0 + 101).as_dict()})
    poll_once()
    return broker


def senders(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["sender_id"] for item in response.json()["items"]]


@pytest.mark.parametrize("path", ["/api/conversations", "/api/conversations/a", "/api/conversations/waiting-count",
                                  "/api/stream"])
def test_anonymous_is_refused(console_client, path):
    response = console_client.get(path)
    assert response.status_code == 401 and response.json() == {"detail": "请先登录"}


def test_the_page_sends_an_anonymous_visitor_to_login(console_client):
    assert console_client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_the_page_is_served_to_staff(staff_client):
    page = staff_client().get("/")
    assert page.status_code == 200 and '/static/conversations.js' in page.text and 'id="takeover-panel"' in page.text


def test_list_newest_first_with_filters_and_pages(conversations, staff_client):
    client = staff_client()
    assert senders(client.get("/api/conversations")) == ["b", "c", "a"]
    assert senders(client.get("/api/conversations", params={"state": "waiting"})) == ["b"]
    assert senders(client.get("/api/conversations", params={"channel": "rest"})) == ["c", "a"]
    first = client.get("/api/conversations", params={"limit": 2}).json()
    assert [i["sender_id"] for i in first["items"]] == ["b", "c"] and first["next_before"]
    rest = client.get("/api/conversations", params={"limit": 2, "before": first["next_before"]}).json()
    assert [i["sender_id"] for i in rest["items"]] == ["a"] and rest["next_before"] is None
    naive = first["next_before"].split("+")[0]  # a time typed without its zone is read as UTC
    assert senders(client.get("/api/conversations", params={"limit": 2, "before": naive})) == ["a"]
    assert client.get("/api/conversations", params={"state": "asleep"}).status_code == 422
    item = first["items"][0]
    assert (item["channel"], item["state"], item["last_message"]) == ("wechat", "waiting", "转人工")


def test_search_by_words_whole_number_not_a_part(conversations, staff_client):
    client = staff_client()
    assert senders(client.get("/api/conversations", params={"q": "材料"})) == ["c"]
    assert senders(client.get("/api/conversations", params={"q": PHONE})) == ["a"]
    assert senders(client.get("/api/conversations", params={"q": "138-0013-8000"})) == ["a"]
    for part in ("1380013800", "8000", "138****8000"[:3]):
        assert senders(client.get("/api/conversations", params={"q": part})) == []
    assert senders(client.get("/api/conversations", params={"q": "100%"})) == []


def test_search_by_reference_and_detail_links_records(conversations, staff_client):
    with session_scope() as session:
        booking = create_booking(session, service_code="pingcan", location_code="zhapu", date=date(2026, 12, 9),
                                 start_time=time(9, 0), name="老兵", phone=PHONE, id_number=ID_NUMBER, capacity=3,
                                 actor="staff:test")  # booked by phone, not in this chat: linked by the key
        appeal = file_appeal(session, description="补助没发", category="daiyu", name="老兵", phone=OTHER_PHONE,
                             town="乍浦镇", visit_wanted=False, urgent_signals=[], channel="rest", sender_id="c",
                             dedupe_key="t1", actor="veteran:rest:c")
        refs = booking.reference, appeal.reference
    client = staff_client()
    assert senders(client.get("/api/conversations", params={"q": refs[0].lower()})) == ["a"]
    assert senders(client.get("/api/conversations", params={"q": refs[1]})) == ["c"]

    detail = client.get("/api/conversations/a").json()
    assert [b["reference"] for b in detail["bookings"]] == [refs[0]] and detail["appeals"] == []
    assert detail["bookings"][0]["phone_masked"] == "138****8000"
    assert [a["reference"] for a in client.get("/api/conversations/c").json()["appeals"]] == [refs[1]]
    assert PHONE not in json.dumps(detail) and ID_NUMBER not in json.dumps(detail)


def test_detail_transcript_is_masked_and_audited(conversations, staff_client):
    client = staff_client(username="wang")
    detail = client.get("/api/conversations/a").json()
    assert [(m["kind"], m["text"], m["intent"]) for m in detail["messages"]] == [
        ("user", "我的手机138****8000，想问优待证", "inform"), ("bot", "好的\n依据：《办法》第五条", None)]
    assert detail["messages"][0]["confidence"] == 0.7
    assert detail["messages"][1]["sources"] == ["依据：《办法》第五条"]
    assert detail["conversation"]["identity_masked"] == "138****8000"
    assert detail["reply_window"]["open"] is False  # a REST caller has gone once answered
    client.get("/api/conversations/a")  # the page reloading it on a live update: not logged again
    staff_client(username="li").get("/api/conversations/a")
    with session_scope() as session:
        rows = session.execute(select(StaffAudit).where(StaffAudit.action == "view_transcript")).scalars().all()
        assert [(r.username, r.target_type, r.target_id) for r in rows] == [
            ("wang", "conversation", "a"), ("li", "conversation", "a")]
    assert client.get("/api/conversations/nobody").status_code == 404


def test_wechat_reply_window_closes_after_two_days(conversations, staff_client):
    window = staff_client().get("/api/conversations/b").json()["reply_window"]
    last = datetime.fromtimestamp(T0 + 100, timezone.utc)
    assert datetime.fromisoformat(window["open_until"]) == last + timedelta(seconds=CUSTOMER_SERVICE_WINDOW)
    assert window["open"] is False and window["path"] == "none"  # T0 is 2026-09; no template configured


def test_waiting_count(conversations, staff_client):
    assert staff_client().get("/api/conversations/waiting-count").json() == {"waiting": 1}


@pytest.fixture
def served_app(console_app):
    """The app under a real uvicorn in a thread (the test client would wait for an endless stream to end)."""
    import threading

    import uvicorn

    from tests.support.stack import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(console_app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_stream_sends_changes_to_a_logged_in_browser(served_app, staff_client):
    import requests

    from console.auth import COOKIE_NAME
    from console.live import hub

    cookie = {COOKIE_NAME: staff_client().cookies[COOKIE_NAME]}  # as EventSource: the cookie, no header
    assert requests.get(f"{served_app}/api/stream", timeout=5).status_code == 401
    with requests.get(f"{served_app}/api/stream", cookies=cookie, stream=True, timeout=5) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines(decode_unicode=True)
        assert next(lines).startswith("retry:")
        notify_conversation("v1", "staff")  # from another thread, as the feed's
        data = next(line for line in lines if line.startswith("data:"))
    assert json.loads(data.removeprefix("data: ")) == {"type": "conversation", "sender_id": "v1", "state": "staff"}
    for _ in range(100):  # the browser gone, its subscription goes too
        if hub.subscriber_count == 0:
            break
        clock.sleep(0.05)
    assert hub.subscriber_count == 0
