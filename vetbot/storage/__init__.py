"""The one storage layer every domain stands on: engine, sessions, Base, migrations."""
from vetbot.storage.base import Base, UTCDateTime, utcnow
from vetbot.storage.engine import database_url, get_engine, make_engine, session_scope
from vetbot.storage.migrations import upgrade_to_head

__all__ = [
    "Base", "UTCDateTime", "utcnow", "database_url", "get_engine", "make_engine", "session_scope",
    "upgrade_to_head",
]
