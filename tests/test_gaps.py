"""The knowledge-gap log (knowledge/gaps.py): questions the policy Q&A refused or only guessed at,
counted once per question with personal data masked; `vetbot kb gaps`; the policy action's hook.
Against a real migrated database (SQLite; PostgreSQL too, see tests/booking/databases.py)."""
from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import text, update

from booking.calendar import TZ
from knowledge import gaps
from knowledge.gaps import DID_YOU_MEAN, REFUSED, KnowledgeGap, listing, record
from vetbot.storage import get_engine, session_scope, upgrade_to_head

VETBOT = Path(sys.executable).parent / "vetbot"
PROCESSES, RECORDS_EACH = 4, 25


def rows(url: str) -> list[tuple]:
    """Every text stored in the table, as the database holds it."""
    with get_engine(url).connect() as conn:
        return list(conn.execute(text("SELECT question, kind, passage_id, count FROM knowledge_gap")))


def test_the_same_question_is_counted_once_however_it_is_typed(url):
    engine = get_engine(url)
    for asked in ("优待证 丢了怎么补办？", "优待证丢了怎么补办", "优待证丢了怎么补办 ！", "优待证丢了怎么补办？"):
        record(asked, REFUSED, engine=engine)
    record("平湖哪家银行利息最高", REFUSED, engine=engine)
    record("优待证丢了怎么补办", DID_YOU_MEAN, "youdaizheng-buban", engine=engine)

    found = listing(engine=engine)
    assert [(g.question, g.count) for g in found] == [("优待证丢了怎么补办", 5), ("平湖哪家银行利息最高", 1)]
    # the latest outcome is kept, with the passage "您是想问" suggested
    assert (found[0].kind, found[0].passage_id) == (DID_YOU_MEAN, "youdaizheng-buban")
    assert found[0].first_seen <= found[0].last_seen
    assert [g.question for g in listing(limit=1, engine=engine)] == ["优待证丢了怎么补办"]


def test_an_id_number_and_a_mobile_are_never_stored_in_clear(url):
    engine = get_engine(url)
    record("我身份证330482199001011234，电话13812345678，评残进度怎么查", REFUSED, engine=engine)
    record("我身份证 330482 19900101 123x 电话 138-1234-5678 评残进度怎么查", REFUSED, engine=engine)
    record("号码１３８１２３４５６７８能不能查优待金", REFUSED, engine=engine)  # full-width digits
    record("编号①13812345678", REFUSED, engine=engine)  # folded, ① would glue a 1 to the mobile

    stored = " ".join(str(cell) for row in rows(url) for cell in row)
    for clear in ("330482199001011234", "19900101", "13812345678", "12345678", "1234567"):
        assert clear not in stored
    assert [(g.question, g.count) for g in listing(engine=engine)] == [  # same count: latest first
        ("编号1138****5678", 1),
        ("号码138****5678能不能查优待金", 1),
        ("我身份证330482********123x电话138****5678评残进度怎么查", 1),
        ("我身份证330482********1234,电话138****5678,评残进度怎么查", 1),
    ]


def test_since_keeps_those_asked_again_from_that_day_pinghu_time(url):
    engine = get_engine(url)
    for question in ("十一月底问的", "十二月一日零点后问的"):
        record(question, REFUSED, engine=engine)
    seen = {"十一月底问的": datetime(2026, 11, 30, 23, 30, tzinfo=TZ),
            # 16:10 UTC the day before: a UTC midnight would wrongly leave it out
            "十二月一日零点后问的": datetime(2026, 12, 1, 0, 10, tzinfo=TZ)}
    with session_scope(engine) as session:
        for question, at in seen.items():
            session.execute(update(KnowledgeGap).where(KnowledgeGap.question == question)
                            .values(last_seen=at))
    assert [g.question for g in listing(since=date(2026, 12, 1), engine=engine)] == ["十二月一日零点后问的"]
    assert len(listing(since=date(2026, 11, 30), engine=engine)) == 2
    assert listing(since=date(2026, 12, 2), engine=engine) == []


def record_many(url: str, barrier) -> None:
    barrier.wait(timeout=60)
    for _ in range(RECORDS_EACH):
        record("复员军人生活补助怎么领", REFUSED, engine=get_engine(url))


def test_workers_recording_the_same_question_at_once_count_every_time(url):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    procs = [ctx.Process(target=record_many, args=(url, barrier)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    assert rows(url) == [("复员军人生活补助怎么领", REFUSED, None, PROCESSES * RECORDS_EACH)]


# ---- the CLI, through the installed entry point --------------------------------------------

def vetbot(url: str, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "VETBOT_DATABASE_URL": url}
    return subprocess.run([str(VETBOT), "kb", "gaps", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_kb_gaps_lists_most_asked_first_as_a_table_or_json(tmp_path):
    url = f"sqlite:///{tmp_path / 'vetbot.sqlite3'}"
    upgrade_to_head(url)
    assert vetbot(url).stdout.strip() == "还没有答不上的问题。"
    for _ in range(3):
        record("烈士子女上学有什么优待", DID_YOU_MEAN, "lieshi-zinv-jiaoyu", engine=get_engine(url))
    record("电话13812345678帮我查一下", REFUSED, engine=get_engine(url))

    table = vetbot(url)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["次数", "最近一次", "结果", "问题"]
    today = datetime.now(TZ).strftime("%Y-%m-%d")
    first, second = (line.split() for line in lines[1:3])
    assert first[:2] + first[3:] == ["3", today, "您是想问", "lieshi-zinv-jiaoyu", "烈士子女上学有什么优待"]
    assert second[:2] + second[3:] == ["1", today, "没找到", "电话138****5678帮我查一下"]
    assert lines[-1].startswith("共 2 条")

    as_json = json.loads(vetbot(url, "--json", "--limit", "1").stdout)
    assert [(g["question"], g["kind"], g["passage_id"], g["count"]) for g in as_json] == [
        ("烈士子女上学有什么优待", DID_YOU_MEAN, "lieshi-zinv-jiaoyu", 3)]
    assert as_json[0]["last_seen"].startswith(today) and as_json[0]["last_seen"].endswith("+08:00")

    assert json.loads(vetbot(url, "--json", "--since", "2999-01-01").stdout) == []
    bad = vetbot(url, "--since", "12月1号")
    assert (bad.returncode, bad.stdout) == (1, "")
    assert "--since 的日期“12月1号”看不懂" in bad.stderr and "Traceback" not in bad.stderr


def test_kb_gaps_names_a_database_not_migrated_without_a_trace(tmp_path):
    result = vetbot(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    assert result.returncode == 1
    assert "无法读写数据库" in result.stderr and "vetbot db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


# ---- the policy action's hook ---------------------------------------------------------------

class FakeKnowledgeBase:
    """Nothing relevant enough to answer; with the wider margin, `near` if given."""

    def __init__(self, near=None):
        self.near = near

    def search(self, question, top_k, margin=0.0):
        return [self.near] if margin and self.near else []


def ask(question: str, kb, monkeypatch) -> tuple[list[dict], list]:
    from bot.actions.policy import ActionAnswerPolicy

    monkeypatch.setattr("bot.actions.policy.get_knowledge_base", lambda: kb)
    latest = {"text": question, "intent": {"name": "ask_policy", "confidence": 0.9}, "entities": []}
    tracker = Tracker("veteran-1", {}, latest, [{"event": "user", "text": question, "parse_data": latest}],
                      False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionAnswerPolicy().run(dispatcher, tracker, {}))
    return dispatcher.messages, events


def test_the_policy_action_records_a_refusal_and_a_did_you_mean(url, monkeypatch):
    from bot.actions.policy import NOT_FOUND

    monkeypatch.setenv("VETBOT_DATABASE_URL", url)  # the action uses the process-wide storage
    messages, _ = ask("我手机13812345678，平湖哪家银行利息最高？", FakeKnowledgeBase(), monkeypatch)
    assert messages[0]["text"] == NOT_FOUND
    near = SimpleNamespace(passage=SimpleNamespace(id="youdaizheng-buban", title="优待证遗失补办"))
    messages, _ = ask("优待证掉了咋整", FakeKnowledgeBase(near), monkeypatch)
    assert "您是想问“优待证遗失补办”吗" in messages[0]["text"]

    assert sorted(rows(url)) == [("优待证掉了咋整", DID_YOU_MEAN, "youdaizheng-buban", 1),
                                 ("平湖哪家银行利息最高", REFUSED, None, 1)]  # the phone never reaches it


def test_a_storage_error_is_logged_and_the_veteran_still_gets_the_reply(tmp_path, monkeypatch, caplog):
    from bot.actions.policy import HUMAN_PAYLOAD, NOT_FOUND

    # A database that was never migrated: the insert fails as a real storage error would.
    monkeypatch.setenv("VETBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}")
    with caplog.at_level(logging.WARNING, logger="knowledge.gaps"):
        messages, events = ask("平湖哪家银行利息最高", FakeKnowledgeBase(), monkeypatch)
    assert [m["text"] for m in messages] == [NOT_FOUND]
    assert {"event": "slot", "name": "offered_payload", "value": HUMAN_PAYLOAD, "timestamp": None} in events
    [logged] = [r for r in caplog.records if r.name == "knowledge.gaps"]
    assert "no such table" in str(logged.exc_info[1])


def test_a_question_with_no_words_left_is_not_recorded(url):
    record(" ？！ ", REFUSED, engine=get_engine(url))
    assert rows(url) == []
    assert gaps.normalize("  优待证  ") == "优待证"
