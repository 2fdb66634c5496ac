"""Personal data at rest: no clear ID number anywhere in the database files; keyed hash; masks."""
from __future__ import annotations

import hashlib
import sqlite3
import stat
import threading
from datetime import date, time

import pytest

from booking import pii
from booking.service import create_booking, list_bookings
from tests.booking.databases import fresh_database
from vetbot.storage import get_engine, session_scope

ID_NUMBER = "33048219650312123X"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("VETBOT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VETBOT_PII_KEY", raising=False)
    return tmp_path


def test_no_clear_id_number_anywhere_in_the_sqlite_files(data_dir):
    with fresh_database("sqlite", data_dir) as url:
        # A reader kept open keeps the WAL file (recent writes) on disk to be searched too;
        # once it closes, the last connection checkpoints them into the main file.
        reader = sqlite3.connect(data_dir / "vetbot.sqlite3")
        reader.execute("SELECT count(*) FROM booking").fetchone()
        with session_scope(get_engine(url)) as session:
            create_booking(session, service_code="pingcan", location_code="zhapu",
                           date=date(2026, 12, 9), start_time=time(9, 0), name="张建国",
                           phone="13812345678", id_number=ID_NUMBER.lower(), capacity=5,
                           actor="veteran:rest:u1")
        with session_scope(get_engine(url)) as session:
            [booking] = list_bookings(session)
            assert booking.id_masked == "330482********123X"
        with_wal = database_bytes(data_dir)
        assert set(with_wal) == {"vetbot.sqlite3", "vetbot.sqlite3-wal", "vetbot.sqlite3-shm"}
        reader.close()
    checkpointed = database_bytes(data_dir)
    assert set(checkpointed) == {"vetbot.sqlite3"}
    for files in (with_wal, checkpointed):
        everything = b"".join(files.values())
        assert b"13812345678" in everything  # the phone is kept in clear, on purpose (see pii.py)
        for clear in (ID_NUMBER, ID_NUMBER.lower(), ID_NUMBER[6:14]):  # full, and the birth date
            assert clear.encode() not in everything
            assert clear.encode("utf-16-le") not in everything


def database_bytes(directory) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.name.startswith("vetbot")}


def test_hash_is_keyed_stable_and_not_a_plain_digest(data_dir, monkeypatch):
    first = pii.hash_id_number(ID_NUMBER)
    assert pii.hash_id_number(" " + ID_NUMBER.lower()) == first  # same person, same hash
    assert first != hashlib.sha256(ID_NUMBER.encode()).hexdigest()
    key_file = data_dir / "pii.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    monkeypatch.setenv("VETBOT_PII_KEY", key_file.read_text().strip())
    assert pii.hash_id_number(ID_NUMBER) == first  # the file's key moved into the variable
    monkeypatch.setenv("VETBOT_PII_KEY", "another key")
    assert pii.hash_id_number(ID_NUMBER) != first


def test_key_from_the_environment_writes_no_file(data_dir, monkeypatch):
    monkeypatch.setenv("VETBOT_PII_KEY", "k")
    pii.hash_id_number(ID_NUMBER)
    assert not (data_dir / "pii.key").exists()


def test_threads_creating_the_key_together_agree_on_one(data_dir):
    barrier, keys = threading.Barrier(8), []

    def read_key():
        barrier.wait(timeout=10)
        keys.append(pii.pii_key())

    threads = [threading.Thread(target=read_key) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert [p.name for p in data_dir.iterdir()] == ["pii.key"]  # no temporary file left


def test_masks():
    assert pii.mask_id_number("330482196503121234") == "330482********1234"
    assert pii.mask_phone("13812345678") == "138****5678"


@pytest.mark.parametrize("bad", ["33048219650312123", "3304821965031212345", "33048219650312123Y",
                                 "33048219650312X234", ""])
def test_malformed_id_numbers_are_refused(bad):
    with pytest.raises(ValueError, match="身份证号"):
        pii.normalize_id_number(bad)


@pytest.mark.parametrize("phone, expected", [("13812345678", "13812345678"),
                                             ("138 1234 5678", "13812345678"),
                                             ("138-1234-5678", "13812345678")])
def test_phone_normalised(phone, expected):
    assert pii.normalize_phone(phone) == expected


@pytest.mark.parametrize("bad", ["1381234567", "23812345678", "138123456789", "1381234567a"])
def test_malformed_phones_are_refused(bad):
    with pytest.raises(ValueError, match="手机号"):
        pii.normalize_phone(bad)
