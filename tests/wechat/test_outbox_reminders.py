"""The channel's outbox loop queues the day-before booking reminders each round, so a running
WeChat channel sends them with no cron job (booking/reminders.py)."""
from __future__ import annotations

import time
from datetime import date, datetime, time as clock_time, timedelta, timezone

import wechat_adapter.channel
from booking.notices import reminder_text
from booking.reminders import queue_due_reminders
from booking.service import create_booking, get_by_reference
from tests.wechat.bots import EchoBot
from tests.wechat.outbox_db import migrated_sqlite
from vetbot.storage import session_scope
from wechat_adapter.outbox import Outbox

OPENID = "oPinghuVeteran0005"
WEDNESDAY_TEN = datetime(2026, 12, 9, 10, tzinfo=timezone(timedelta(hours=8)))


def test_the_outbox_loop_sends_tomorrows_reminders(fake, serve, tmp_path, monkeypatch):
    monkeypatch.setenv("VETBOT_PII_KEY", "test-key")
    outbox = Outbox(migrated_sqlite(tmp_path))
    with session_scope(outbox.engine) as session:
        reference = create_booking(
            session, service_code="pingcan-xinban", location_code="zhapu", date=date(2026, 12, 10),
            start_time=clock_time(9), name="张建国", phone="13812345678", id_number="33048219650312123X",
            capacity=2, actor=f"veteran:wechat:{OPENID}", channel="wechat", sender_id=OPENID).reference
    engines = []

    def on_wednesday_at_ten(now, engine):  # the loop's clock, fixed; everything else is real
        engines.append(engine)
        return queue_due_reminders(WEDNESDAY_TEN, engine)

    monkeypatch.setattr(wechat_adapter.channel, "queue_due_reminders", on_wednesday_at_ten)
    serve(EchoBot(), outbox=outbox, templates={"notice": "TPL_NOTICE"})
    assert fake.wait_for(lambda: fake.template_messages, timeout=10)
    time.sleep(0.5)  # later rounds add nothing
    with session_scope(outbox.engine) as session:
        expected = reminder_text(get_by_reference(session, reference))
    assert [(m["touser"], m["data"]["content"]["value"]) for m in fake.template_messages] == [(OPENID, expected)]
    assert len(engines) > 1 and set(engines) == {outbox.engine}
    [item] = outbox.list()
    assert (item.kind, item.status, item.sent_via) == ("booking_reminder", "sent", "template")
