"""`RedactingSQLEventBroker`: Rasa's SQL event broker, in its own database (settings().events_url,
default $VETBOT_DATA_DIR/events.sqlite3: its `events` table would clash with the SQL tracker
store's), masking phones and ID numbers in every string of an event before it is stored. The staff
console's feed (console/feed.py) reads that table.

Staff still find a conversation by the number: the keyed hashes of the numbers removed (`number_keys`)
go into the event's metadata as `vetbot_keys`, so the number itself is never stored."""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy.orm
from rasa.core.brokers.sql import SQLEventBroker
from rasa.utils.endpoints import EndpointConfig

from booking.pii import KEYS, number_keys
from vetbot.redaction import install_log_redaction
from vetbot.settings import settings
from vetbot.storage.engine import make_engine

def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def protect(event: dict) -> dict:
    """A copy of the event with every string masked (user and bot text, parse_data, entities, slot
    values, metadata), the keys of the numbers it held added to its metadata."""
    from vetbot.tracker_store import _redact_value  # here: the tracker store may key numbers with number_keys

    keys = [key for text in _strings(event) for key in number_keys(text)]
    masked = _redact_value(event)
    if keys:
        metadata = dict(masked.get("metadata") or {})
        metadata[KEYS] = list(dict.fromkeys([*(metadata.get(KEYS) or []), *keys]))
        masked["metadata"] = metadata
    return masked


class RedactingSQLEventBroker(SQLEventBroker):
    """endpoints.yml: `event_broker: type: vetbot.event_broker.RedactingSQLEventBroker`. Without
    further keys it stores into settings().events_url; Rasa's `type: sql` keys (dialect, db, …)
    still work."""

    def __init__(self, **kwargs: Any) -> None:
        install_log_redaction()
        if kwargs:
            super().__init__(**kwargs)
            return
        # WAL and a busy timeout: the console reads the table while Rasa writes to it.
        self.engine = make_engine(settings().events_url)
        self.Base.metadata.create_all(self.engine)
        self.sessionmaker = sqlalchemy.orm.sessionmaker(bind=self.engine)

    @classmethod
    async def from_endpoint_config(cls, broker_config: EndpointConfig, event_loop=None) -> "RedactingSQLEventBroker":
        kwargs = dict(broker_config.kwargs)
        if broker_config.url:
            kwargs["host"] = broker_config.url
        return cls(**kwargs)

    def publish(self, event: dict[str, Any]) -> None:
        protected = protect(event)
        with self.session_scope() as session:
            session.add(self.SQLBrokerEvent(sender_id=protected.get("sender_id"), data=json.dumps(protected)))
            session.commit()
