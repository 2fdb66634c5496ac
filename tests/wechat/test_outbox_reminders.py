"""The timed jobs (vetbot/jobs.py, their own process under `make run`) queue the day-before
booking reminders; the running WeChat channel's outbox loop sends them."""
from __future__ import annotations

import time
from datetime import date, datetime, time as clock_time, timedelta, timezone

from booking.notices import reminder_text
from booking.service import create_booking, get_by_reference
from tests.wechat.bots import EchoBot
from tests.wechat.outbox_db import migrated_sqlite
from vetbot.jobs import run_due_jobs
from vetbot.storage import session_scope
from wechat_adapter.outbox import Outbox

OPENID = "oPinghuVeteran0005"
WEDNESDAY_TEN = datetime(2026, 12, 9, 10, tzinfo=timezone(timedelta(hours=8)))


def test_the_jobs_queue_tomorrows_reminders_and_the_outbox_loop_sends_them(fake, serve, tmp_path, monkeypatch):
    monkeypatch.setenv("VETBOT_PII_KEY", "test-key")
    outbox = Outbox(migrated_sqlite(tmp_path))
    with session_scope(outbox.engine) as session:
        reference = create_booking(
            session, service_code="pingcan-xinban", location_code="zhapu", date=date(2026, 12, 10),
            start_time=clock_time(9), name="张建国", phone="13812345678", id_number="33048219650312123X",
            capacity=2, actor=f"veteran:wechat:{OPENID}", channel="wechat", sender_id=OPENID).reference
    assert run_due_jobs(WEDNESDAY_TEN, outbox.engine) == {"booking_reminders": 1, "appeal_chases": 0}
    assert run_due_jobs(WEDNESDAY_TEN, outbox.engine)["booking_reminders"] == 0  # queued once
    serve(EchoBot(), outbox=outbox, templates={"notice": "TPL_NOTICE"})
    assert fake.wait_for(lambda: fake.template_messages, timeout=10)
    time.sleep(0.5)  # later rounds send nothing more
    with session_scope(outbox.engine) as session:
        expected = reminder_text(get_by_reference(session, reference))
    assert [(m["touser"], m["data"]["content"]["value"]) for m in fake.template_messages] == [(OPENID, expected)]
    [item] = outbox.list()
    assert (item.kind, item.status, item.sent_via) == ("booking_reminder", "sent", "template")
