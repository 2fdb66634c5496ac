"""Migration 0004 on a database as 0003 left it: staff tasks keep their rows under `reference`."""
from __future__ import annotations

import sqlite3

from sqlalchemy import select

from vetbot.staff_tasks import StaffTask
from vetbot.storage import get_engine, session_scope, upgrade_to_head


def test_existing_staff_tasks_are_kept_under_reference(tmp_path, monkeypatch):
    monkeypatch.setenv("VETBOT_DATA_DIR", str(tmp_path))
    path = tmp_path / "db.sqlite3"
    url = f"sqlite:///{path}"
    upgrade_to_head(url, revision="0003")
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO staff_task (kind, booking_reference, text, dedupe_key, created_at) "
                   "VALUES ('booking_reminder', 'ABCDEF7', '请回电', 'k1', '2026-12-02 01:00:00.000000')")
    upgrade_to_head(url)
    with session_scope(get_engine(url)) as s:
        task = s.execute(select(StaffTask)).scalar_one()
        assert (task.kind, task.reference, task.assignee, task.text, task.dedupe_key) == (
            "booking_reminder", "ABCDEF7", None, "请回电", "k1")
