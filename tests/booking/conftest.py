"""Fixtures shared by the booking tests."""
from __future__ import annotations

import pytest

from tests.booking.databases import BACKENDS, fresh_database


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path, monkeypatch):
    """A fresh migrated database on each backend (SQLite; PostgreSQL where available), with this
    test's data dir and PII key in the environment (spawned processes inherit both)."""
    monkeypatch.setenv("VETBOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VETBOT_PII_KEY", "test-key")
    with fresh_database(request.param, tmp_path) as url:
        yield url
