"""Fixtures shared by the appeal domain tests."""
from __future__ import annotations

import pytest

from tests.booking.databases import fresh_database


@pytest.fixture
def sqlite_url(tmp_path, monkeypatch):
    """One fresh migrated SQLite database: for rules that do not depend on the backend."""
    monkeypatch.setenv("VETBOT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VETBOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("VETBOT_PII_KEY", "test-key")
    with fresh_database("sqlite", tmp_path) as url:
        yield url
