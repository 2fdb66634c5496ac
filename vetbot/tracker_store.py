"""`RedactingSQLTrackerStore`: Rasa's SQL tracker store (SQLite by default, PostgreSQL when
scaled out) that masks ID numbers and phones in every user message and bot reply before they are
stored or streamed. The dialogue has already read the message by then: each message is processed
on a tracker read from the store and saved once at the end, so nothing downstream needs the clear
text (a phone the dialogue still needs is kept sealed in its slot, see booking.dialogue)."""
from __future__ import annotations

from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from booking.pii import KEYS, number_keys, redact
from vetbot.redaction import install_log_redaction


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    return value


def redact_event(event) -> None:
    """Mask in place: the text, its copy in parse_data, and entity values of a user message;
    the text of a bot reply."""
    if isinstance(event, UserUttered):
        _key_numbers(event)
        event.text = redact(event.text) if event.text else event.text
        event.entities = _redact_value(event.entities)
        event.parse_data = _redact_value(event.parse_data)
    elif isinstance(event, BotUttered) and event.text:
        event.text = redact(event.text)
    elif isinstance(event, SlotSet) and isinstance(event.value, str):
        # e.g. the last question asked; a sealed value is kept in a dict and never touched
        event.value = redact(event.value)


def _key_numbers(event: UserUttered) -> None:
    """Before the numbers are masked: their keyed hashes into the metadata (vetbot_keys), so the
    console finds the conversation by phone or ID number (the event broker only sees masked text)."""
    keys = number_keys(event.text or "")
    if keys:
        metadata = dict(event.metadata or {})
        metadata[KEYS] = list(dict.fromkeys([*(metadata.get(KEYS) or []), *keys]))
        event.metadata = metadata


class RedactingSQLTrackerStore(SQLTrackerStore):
    """endpoints.yml: `tracker_store: type: vetbot.tracker_store.RedactingSQLTrackerStore`, with the
    same keys as Rasa's `type: SQL`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        install_log_redaction()  # the Rasa server process: its logs too
        super().__init__(*args, **kwargs)

    async def save(self, tracker: DialogueStateTracker) -> None:
        for event in tracker.events:
            redact_event(event)
        await super().save(tracker)
