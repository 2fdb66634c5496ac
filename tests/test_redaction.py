"""ID numbers and phones typed by a veteran never reach the stored conversation or a log line."""
from __future__ import annotations

import asyncio
import io
import logging
import sqlite3

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from booking.pii import redact
from vetbot.redaction import RedactingFilter
from vetbot.tracker_store import RedactingSQLTrackerStore

ID_NUMBER, PHONE = "330482196503121235", "13857312345"


def test_redact_masks_ids_and_phones_as_people_type_them():
    assert redact(f"身份证{ID_NUMBER}，电话{PHONE}") == "身份证330482********1235，电话138****2345"
    assert redact("138 5731 2345") == "138****2345"
    assert redact("３３０４８２１９６５０３１２１２３５") == "３３０４８２********１２３５"
    assert redact("预约号K7M4QXR 下周三上午9点 电话0573-85012345") == "预约号K7M4QXR 下周三上午9点 电话0573-85012345"


def test_tracker_store_keeps_no_clear_id_or_phone(tmp_path):
    db = tmp_path / "tracker.sqlite3"
    store = RedactingSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(db))
    tracker = DialogueStateTracker.from_events("v1", [
        UserUttered(f"我的身份证是{ID_NUMBER}", {"name": "inform"},
                    [{"entity": "id_number", "value": ID_NUMBER, "start": 6, "end": 24}]),
        SlotSet("last_policy_query", f"电话{PHONE}还能用吗"),
        SlotSet("booking_phone", {"masked": "138****2345", "sealed": "gAAAA-sealed-token-13857312345"}),
        UserUttered(PHONE, {"name": "inform"}),
        BotUttered(f"您的手机{PHONE}已记下"),
    ])
    asyncio.run(store.save(tracker))
    stored = " ".join(row[0] for row in sqlite3.connect(db).execute("SELECT data FROM events"))
    assert ID_NUMBER not in stored and "330482********1235" in stored
    assert stored.count("138****2345") >= 3
    # a sealed value is left alone (it is not clear, and masking would break it)
    assert "gAAAA-sealed-token-13857312345" in stored
    assert stored.replace("gAAAA-sealed-token-13857312345", "").count(PHONE) == 0
    again = asyncio.run(store.retrieve("v1"))
    assert again.latest_message.text == "138****2345"


def test_log_lines_are_masked(caplog):
    logger = logging.getLogger("vetbot.test")
    caplog.handler.addFilter(RedactingFilter())
    logger.warning("veteran said %s", f"身份证{ID_NUMBER}")
    assert caplog.records[-1].getMessage() == "veteran said 身份证330482********1235"


def test_a_log_line_whose_formatter_reads_the_arguments_is_masked_in_them():
    """uvicorn's access log formats (client, method, path, version, status) itself."""
    import logging.config

    from console.cli import log_config

    logging.config.dictConfig(log_config())
    access = logging.getLogger("uvicorn.access")
    stream = io.StringIO()
    access.handlers[0].stream = stream
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/api/conversations?q=13812345678", "1.1", 200)
    # 证 is %E8%AF%81: undecoded, its last digit joins the ID number and hides it from the mask.
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/api/ask?q=%E8%AF%81330482196508121234", "1.1",
                200)
    line = stream.getvalue()
    assert "13812345678" not in line and "/api/conversations?q=138****5678" in line and "200" in line
    assert "196508" not in line and "/api/ask?q=证330482********1234" in line
