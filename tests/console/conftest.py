"""Fixtures for the console tests (no server needed):

- `console_db` — a temp VETBOT_DATA_DIR with a migrated SQLite database (env monkeypatched, so
  session_scope() and the app use it); yields the database URL.
- `console_client` — an anonymous ConsoleTestClient(create_app()) on that database. The app's startup
  hooks do not run unless the test enters it: `with console_client: …`.
- `staff_client(role="operator", username=None, display_name=None)` — a factory: makes an account,
  logs it in through POST /api/login and returns a new TestClient holding the session cookie, with
  X-CSRF-Token on every request. `client.staff` is the /api/login answer (username, display_name,
  role, csrf_token); `client.password` the password. Each call is a separate browser.
- `audit_rows(action)` — the audit log's rows of that action as (username, action, target_type,
  target_id) tuples, oldest first.

Passwords are hashed with argon2id at light parameters here (the production defaults take about a
second per hash on this machine); test_auth checks the defaults themselves.
"""
from __future__ import annotations

import itertools

import httpx
import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient, _AsyncBackend, _TestClientTransport

from tests.booking.databases import fresh_database

STAFF_PASSWORD = "correct-horse-42"
LIGHT_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class ConsoleTestClient(TestClient):
    """starlette 0.27's TestClient, built without the `app=` argument httpx 0.28 no longer takes
    (`TestClient(app)` raises TypeError with the pinned httpx 0.28.1). Use this or the fixtures."""

    def __init__(self, app, base_url: str = "http://testserver", raise_server_exceptions: bool = True) -> None:
        self.async_backend = _AsyncBackend(backend="asyncio", backend_options={})
        self.app = app
        self.app_state = {}
        transport = _TestClientTransport(app, portal_factory=self._portal_factory,
                                         raise_server_exceptions=raise_server_exceptions, root_path="",
                                         app_state=self.app_state)
        httpx.Client.__init__(self, base_url=base_url, headers={"user-agent": "testclient"}, transport=transport,
                              follow_redirects=True)


@pytest.fixture
def console_db(tmp_path, monkeypatch):
    monkeypatch.setenv("VETBOT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VETBOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("VETBOT_PII_KEY", "test-key")
    monkeypatch.delenv("CONSOLE_COOKIE_SECURE", raising=False)
    monkeypatch.setattr("console.auth.PASSWORD_HASHER", LIGHT_HASHER)
    with fresh_database("sqlite", tmp_path) as url:
        yield url
    from vetbot.storage import get_engine

    get_engine(url).dispose()


@pytest.fixture
def console_app(console_db):
    from console.app import create_app

    return create_app()


@pytest.fixture
def console_client(console_app):
    return ConsoleTestClient(console_app)


def make_account(username: str, role: str = "operator", display_name: str | None = None,
                 password: str = STAFF_PASSWORD) -> None:
    from console.users import add_user
    from vetbot.storage import session_scope

    with session_scope() as session:
        add_user(session, username, display_name or f"测试{username}", role, password, by="test")


def login(client: TestClient, username: str, password: str = STAFF_PASSWORD):
    return client.post("/api/login", json={"username": username, "password": password})


@pytest.fixture
def staff_client(console_app):
    counter = itertools.count(1)

    def make(role: str = "operator", username: str | None = None, display_name: str | None = None) -> TestClient:
        username = username or f"{role}{next(counter)}"
        make_account(username, role, display_name)
        client = ConsoleTestClient(console_app)
        answer = login(client, username)
        assert answer.status_code == 200, answer.text
        client.staff = answer.json()
        client.password = STAFF_PASSWORD
        client.headers["X-CSRF-Token"] = client.staff["csrf_token"]
        return client

    return make


@pytest.fixture
def audit_rows(console_db):
    from sqlalchemy import select

    from console.models import StaffAudit
    from vetbot.storage import session_scope

    def rows(action: str) -> list[tuple]:
        with session_scope() as session:
            return [tuple(r) for r in session.execute(
                select(StaffAudit.username, StaffAudit.action, StaffAudit.target_type, StaffAudit.target_id)
                .where(StaffAudit.action == action).order_by(StaffAudit.id))]

    return rows

