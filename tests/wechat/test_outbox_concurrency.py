"""The outbox under real concurrency: sender processes on one database at the same time — SQLite,
and PostgreSQL (see tests/booking/databases.py). (A sender stalled past its lease is in
test_outbox.py.)"""
from __future__ import annotations

import asyncio
import multiprocessing
import traceback
from collections import Counter

import pytest

from tests.wechat.outbox_db import BACKENDS, migrated_sqlite, outbox_database
from wechat_adapter.api import WeChatAPI
from wechat_adapter.outbox import SENT, Outbox, OutboxSender
from wechat_adapter.replies import split_text

OPENID = "oPinghuVeteran0003"
NEVER_SEEN = "oPinghuVeteran0004"  # outside the 48-hour window: template messages
SPAWN = multiprocessing.get_context("spawn")
CLAIMERS, ROUNDS, BATCH = 4, 20, 3


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    """The URL of an empty, migrated database."""
    with outbox_database(request.param, tmp_path, migrated_sqlite(tmp_path)) as url:
        yield url


def _report(results, work, start) -> None:
    """Run work() in a child process; put its result, or its traceback as a str, on results."""
    try:
        results.put(work())
    except BaseException:
        start.abort()  # the others stop waiting for this one
        results.put(traceback.format_exc())


def claim_in_rounds(url: str, start, results) -> None:
    """Every round all senders start claiming at the same moment."""

    def work() -> list[int]:
        outbox = Outbox(url)
        claimed: list[int] = []
        for _ in range(ROUNDS):
            start.wait()
            claimed += [item.id for item in outbox.claim_due(limit=BATCH, lease=120)]
        return claimed

    _report(results, work, start)


def drain_until_empty(url: str, base_url: str, app_id: str, app_secret: str, start, results) -> None:
    async def drain() -> int:
        api = WeChatAPI(base_url, app_id, app_secret)
        sender = OutboxSender(Outbox(url), api, templates={"notice": "TPL_NOTICE"})
        start.wait()
        handled = 0
        try:
            while count := await sender.drain_once(limit=2):
                handled += count
        finally:
            await api.close()
        return handled

    _report(results, lambda: asyncio.run(drain()), start)


def run_processes(target, args: tuple, count: int) -> list:
    """Start `count` processes on target(*args, start, results) together; their results."""
    start, results = SPAWN.Barrier(count, timeout=60), SPAWN.Queue()
    processes = [SPAWN.Process(target=target, args=(*args, start, results)) for _ in range(count)]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=120) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=10)
    errors = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert errors == []
    return outcomes


def test_sender_processes_claiming_at_once_never_take_the_same_message(db):
    outbox = Outbox(db)
    ids = [outbox.enqueue(OPENID, f"消息{number}", kind="notice") for number in range(CLAIMERS * ROUNDS * BATCH)]
    claims = run_processes(claim_in_rounds, (db,), count=CLAIMERS)
    taken = Counter(message_id for claimed in claims for message_id in claimed)
    assert [message_id for message_id, times in taken.items() if times > 1] == []
    assert sorted(taken) == ids  # each claim took a full batch: every message once


def test_two_sender_processes_deliver_every_message_exactly_once(fake, db):
    outbox = Outbox(db)
    outbox.touch(OPENID)
    custom_parts: list[str] = []
    for number in range(24):
        if number % 4:
            text = f"客服消息{number}"
        else:  # long enough for two parts
            text = "\n".join(f"消息{number}第{i}项：请携带身份证、户口簿和退役证件原件及复印件。" for i in range(40))
        outbox.enqueue(OPENID, text, kind="notice")
        custom_parts += split_text(text)
    templates = [f"模板消息{number}" for number in range(16)]
    for text in templates:
        outbox.enqueue(NEVER_SEEN, text, kind="notice")
    assert len(custom_parts) == 30

    handled = run_processes(drain_until_empty, (db, fake.base_url, fake.app_id, fake.app_secret), count=2)
    sent_parts = Counter(message["text"]["content"] for message in fake.custom_messages)
    assert sent_parts == Counter(custom_parts) and max(sent_parts.values()) == 1
    sent_templates = [message["data"]["content"]["value"] for message in fake.template_messages]
    assert sorted(sent_templates) == sorted(templates)
    assert {item.status for item in outbox.list(limit=100)} == {SENT}
    assert sum(handled) == 40 and min(handled) > 0  # no message taken twice; both senders worked
