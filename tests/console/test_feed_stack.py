"""The live conversation list through the real stack (live_stack + live_console): a REST conversation
giving a phone and an ID number reaches the console's stream within 2 s, is listed and shown masked,
and nothing in the event broker's database holds either number in clear."""
from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.support.browser import add_staff

pytestmark = [pytest.mark.stack, pytest.mark.slow]

PASSWORD = "feed-stack-pw-1"
PHONE, ID_NUMBER = "13912345678", "330482196503121234"


@pytest.fixture(scope="module")
def staff(live_stack, live_console):
    _, stack = live_stack
    add_staff(stack.env, "feedtester", PASSWORD, display_name="测试员")
    session = requests.Session()
    login = session.post(f"{live_console}/api/login", json={"username": "feedtester", "password": PASSWORD}, timeout=30)
    assert login.status_code == 200, login.text
    stack.say("feed-warm-up", "评残要带什么材料", timeout=120)  # the first question loads the model
    return session, live_console, stack


def listen(session: requests.Session, url: str, into: queue.Queue, ready: threading.Event) -> requests.Response:
    """Read /api/stream in a thread, putting (arrival time, message) on `into`."""
    response = session.get(f"{url}/api/stream", stream=True, timeout=(5, 60))
    assert response.status_code == 200

    def read() -> None:
        try:
            for line in response.iter_lines(decode_unicode=True):
                if line.startswith("retry:") or line.startswith(": connected"):
                    ready.set()
                if line.startswith("data:"):
                    into.put((time.monotonic(), json.loads(line.removeprefix("data: "))))
        except (requests.RequestException, AttributeError):
            pass  # closed by the test

    threading.Thread(target=read, daemon=True).start()
    return response


def test_a_rest_conversation_arrives_live_masked_and_stays_masked(staff):
    session, url, stack = staff
    sender = f"feed-{uuid.uuid4().hex[:8]}"
    arrivals: queue.Queue = queue.Queue()
    ready = threading.Event()
    response = listen(session, url, arrivals, ready)
    try:
        assert ready.wait(10)
        sent = time.monotonic()
        stack.say(sender, f"我的手机是{PHONE}，身份证{ID_NUMBER}")
        while True:
            at, message = arrivals.get(timeout=10)
            if message["sender_id"] == sender:
                break
        assert at - sent < 2.0, f"the message reached the console after {at - sent:.2f} s"
    finally:
        response.close()

    listed = session.get(f"{url}/api/conversations", params={"q": "手机是"}, timeout=10).json()["items"]
    assert [c["sender_id"] for c in listed] == [sender]
    assert listed[0]["channel"] == "rest" and listed[0]["identity_masked"] in ("139****5678", "330482********1234")

    detail = session.get(f"{url}/api/conversations/{sender}", timeout=10).json()
    first = detail["messages"][0]
    assert first["kind"] == "user" and first["text"] == "我的手机是139****5678，身份证330482********1234"
    assert first["intent"] and 0 < first["confidence"] <= 1
    assert any(m["kind"] == "bot" for m in detail["messages"])
    assert PHONE not in json.dumps(detail) and ID_NUMBER not in json.dumps(detail)

    data_dir = Path(stack.env["VETBOT_DATA_DIR"])
    with sqlite3.connect(data_dir / "events.sqlite3") as db:
        rows = [data for (data,) in db.execute("SELECT data FROM events WHERE sender_id = ?", (sender,))]
    assert rows and all(PHONE not in data and ID_NUMBER not in data for data in rows)
    for path in data_dir.glob("events.sqlite3*"):  # the file and its write-ahead log
        assert PHONE.encode() not in path.read_bytes() and ID_NUMBER.encode() not in path.read_bytes()


def test_the_conversation_is_found_by_the_whole_phone(staff):
    session, url, stack = staff
    sender = f"feed-{uuid.uuid4().hex[:8]}"
    stack.say(sender, f"我的手机是{PHONE}")
    deadline = time.time() + 5
    while time.time() < deadline:
        found = session.get(f"{url}/api/conversations", params={"q": PHONE}, timeout=10).json()["items"]
        if sender in [c["sender_id"] for c in found]:
            return
        time.sleep(0.25)
    pytest.fail("not found by the phone")
