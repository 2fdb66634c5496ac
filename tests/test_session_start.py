"""action_session_start (bot/actions/session.py): a new Rasa session keeps a staff takeover (pause
again after SessionStarted) and carries the slots over as Rasa's default action does. The events
are applied to Rasa's own tracker to check what Rasa makes of them."""
from __future__ import annotations

import asyncio

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.session import ActionSessionStart
from console.models import BOT, STAFF, Conversation
from tests.booking.databases import fresh_database
from vetbot.storage import session_scope

DOMAIN = Domain.from_yaml("""
version: "3.1"
slots:
  service: {type: text, mappings: [{type: custom}]}
  fallback_misses: {type: float, mappings: [{type: custom}]}
""")

PREVIOUS_SESSION = [
    {"event": "action", "name": "action_session_start"},
    {"event": "session_started"},
    {"event": "slot", "name": "service", "value": "评残"},
    {"event": "pause"},  # taken over by staff in the last session
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": "我想问评残", "parse_data": {"intent": {"name": "ask_policy"}}},
    {"event": "slot", "name": "fallback_misses", "value": 1.0},
]


@pytest.fixture
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("VETBOT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VETBOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("VETBOT_PII_KEY", "test-key")
    with fresh_database("sqlite", tmp_path) as url:
        yield url


def held(sender_id: str, state: str) -> None:
    with session_scope() as session:
        session.add(Conversation(sender_id=sender_id, channel="rest", state=state, misses=0,
                                 holder="zhang" if state == STAFF else None))


def session_start(sender_id: str, domain: dict | None = None) -> list[dict]:
    tracker = Tracker(sender_id, {}, {}, [dict(event) for event in PREVIOUS_SESSION], True, None, {}, "action_listen")
    domain = domain if domain is not None else {"session_config": {"carry_over_slots_to_new_session": True}}
    return asyncio.run(ActionSessionStart().run(CollectingDispatcher(), tracker, domain))


def rasa_tracker_after(sender_id: str, events: list[dict]) -> DialogueStateTracker:
    """Rasa's tracker of the old session with the action's events applied, as the processor does."""
    tracker = DialogueStateTracker.from_events(sender_id, [Event.from_parameters(e) for e in PREVIOUS_SESSION],
                                               slots=DOMAIN.slots)
    assert tracker.is_paused(), "precondition: the old session was paused"
    for event in events:
        tracker.update(Event.from_parameters(event), DOMAIN)
    return tracker


def test_a_new_session_stays_paused_while_staff_hold_the_conversation(database):
    held("vet-held", STAFF)
    events = session_start("vet-held")
    assert [e["event"] for e in events] == ["session_started", "slot", "slot", "pause", "action"]
    tracker = rasa_tracker_after("vet-held", events)
    assert tracker.is_paused()
    assert tracker.get_slot("service") == "评残" and tracker.get_slot("fallback_misses") == 1.0
    assert tracker.latest_action_name == "action_listen"


def test_a_new_session_resumes_the_bot_when_nobody_holds_it(database):
    held("vet-bot", BOT)
    tracker = rasa_tracker_after("vet-bot", session_start("vet-bot"))
    assert not tracker.is_paused()
    assert tracker.get_slot("service") == "评残"
    assert not rasa_tracker_after("vet-new", session_start("vet-new")).is_paused()  # not in the console at all


def test_slots_are_carried_over_only_when_the_domain_says_so(database):
    events = session_start("vet-x", {"session_config": {"carry_over_slots_to_new_session": False}})
    assert [e["event"] for e in events] == ["session_started", "action"]


def test_only_the_slots_of_the_ending_session_are_carried(database):
    PREVIOUS_SESSION.insert(0, {"event": "slot", "name": "service", "value": "上一段会话的"})
    try:
        events = session_start("vet-y")
    finally:
        del PREVIOUS_SESSION[0]
    assert [(e["name"], e["value"]) for e in events if e["event"] == "slot"] == [
        ("service", "评残"), ("fallback_misses", 1.0)]


def test_a_database_outage_starts_the_session_as_rasa_would(tmp_path, monkeypatch):
    monkeypatch.setenv("VETBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'missing' / 'nothing.sqlite3'}")
    events = session_start("vet-z")
    assert "pause" not in [e["event"] for e in events] and events[0]["event"] == "session_started"
