"""The event broker stores no phone or ID number in clear, and keys them for the console's search."""
from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest
from rasa.shared.core.events import BotUttered, SlotSet, UserUttered
from rasa.utils.endpoints import EndpointConfig

from booking.pii import hash_id_number
from booking.pii import KEYS, key_of, number_keys, phone_key
from vetbot.event_broker import RedactingSQLEventBroker

PHONE, ID_NUMBER = "13800138000", "33048219650312123X"


@pytest.fixture
def broker(tmp_path, monkeypatch):
    monkeypatch.setenv("VETBOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VETBOT_PII_KEY", "test-key")
    monkeypatch.delenv("VETBOT_EVENTS_URL", raising=False)
    config = EndpointConfig(type="vetbot.event_broker.RedactingSQLEventBroker")
    return asyncio.run(RedactingSQLEventBroker.from_endpoint_config(config))


def stored(tmp_path) -> list[dict]:
    with sqlite3.connect(tmp_path / "events.sqlite3") as db:
        return [json.loads(data) for (data,) in db.execute("SELECT data FROM events ORDER BY id")]


def publish(broker, event) -> None:
    broker.publish({"sender_id": "v1", **event.as_dict()})


def test_numbers_are_masked_everywhere_and_keyed(broker, tmp_path):
    said = f"我的电话 138 0013 8000，身份证{ID_NUMBER}"
    publish(broker, UserUttered(said, parse_data={"text": said, "intent": {"name": "inform", "confidence": 0.9},
                                                  "entities": [{"entity": "phone", "value": PHONE}]},
                                input_channel="rest"))
    publish(broker, BotUttered(f"好的，您的手机是{PHONE}", metadata={"utter_action": "x"}))
    publish(broker, SlotSet("last_question", f"身份证 {ID_NUMBER}"))

    raw = (tmp_path / "events.sqlite3").read_bytes()
    events = stored(tmp_path)
    for clear in (PHONE, ID_NUMBER, "138 0013 8000"):
        assert clear.encode() not in raw
        assert clear not in json.dumps(events, ensure_ascii=False)
    user, bot, slot = events
    assert user["text"] == "我的电话 138****8000，身份证330482********123X"
    assert user["parse_data"]["entities"][0]["value"] == "138****8000"
    assert user["metadata"][KEYS] == [hash_id_number(ID_NUMBER), phone_key(PHONE)]
    assert bot["text"] == "好的，您的手机是138****8000" and bot["metadata"] == {"utter_action": "x", KEYS: [phone_key(PHONE)]}
    assert slot["value"] == "身份证 330482********123X"


def test_an_event_without_numbers_is_stored_as_is(broker, tmp_path):
    publish(broker, UserUttered("优待证怎么办", input_channel="rest"))
    (event,) = stored(tmp_path)
    assert event["text"] == "优待证怎么办" and KEYS not in (event.get("metadata") or {})


def test_keys_are_those_of_the_whole_number(monkeypatch):
    monkeypatch.setenv("VETBOT_PII_KEY", "test-key")
    assert number_keys("电话138００１３８０００") == [phone_key(PHONE)]  # full-width digits typed
    assert number_keys("+86 138-0013-8000") == [phone_key(PHONE)]
    assert key_of(" 13800138000 ") == phone_key(PHONE)
    assert key_of(ID_NUMBER.lower()) == hash_id_number(ID_NUMBER)
    assert key_of("1380013800") is None and key_of("8000") is None  # a part of a number matches nobody
    assert key_of("电话13800138000") is None
