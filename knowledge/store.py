"""SQLite registry of documents and their passages (corpus entries and imported documents).
Re-importing a document replaces its passages in one transaction."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from knowledge.passage import Passage
from vetbot.sqlite_wal import enable_wal

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,            -- 'corpus' or 'import'
    title TEXT NOT NULL,
    date TEXT NOT NULL,
    in_force INTEGER NOT NULL,
    source_path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    passage_count INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    body TEXT NOT NULL             -- Passage as JSON
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id);
"""


@dataclass(frozen=True)
class DocumentRecord:
    doc_id: str
    kind: str
    title: str
    date: str
    in_force: bool
    source_path: str
    content_hash: str
    passage_count: int
    updated_at: str


def content_hash(passages: list[Passage]) -> str:
    digest = hashlib.sha1()
    for passage in passages:
        digest.update(json.dumps(passage.to_dict(), ensure_ascii=False, sort_keys=True).encode())
    return digest.hexdigest()


class KnowledgeStore:
    def __init__(self, path: Path):
        self.path = path
        self._db = sqlite3.connect(path, timeout=30)
        self._db.execute("PRAGMA foreign_keys = ON")
        enable_wal(self._db)
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def replace_document(
        self, doc_id: str, kind: str, title: str, date: str, in_force: bool,
        source_path: str, passages: list[Passage],
    ) -> bool:
        """Store a document, replacing any earlier version. Returns False if unchanged."""
        digest = content_hash(passages)
        existing = self.document(doc_id)
        if existing and existing.content_hash == digest and existing.in_force == in_force:
            return False
        now = dt.datetime.now().isoformat(timespec="seconds")
        with self._db:
            self._db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
            self._db.execute(
                "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?)",
                (doc_id, kind, title, date, int(in_force), source_path, digest, len(passages), now),
            )
            self._db.executemany(
                "INSERT INTO passages (id, doc_id, body) VALUES (?,?,?)",
                [(p.id, doc_id, json.dumps(p.to_dict(), ensure_ascii=False)) for p in passages],
            )
        return True

    def remove_document(self, doc_id: str) -> bool:
        with self._db:
            cursor = self._db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        return cursor.rowcount > 0

    def document(self, doc_id: str) -> DocumentRecord | None:
        row = self._db.execute("SELECT * FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return _record(row) if row else None

    def documents(self, kind: str | None = None) -> list[DocumentRecord]:
        sql, args = "SELECT * FROM documents", ()
        if kind:
            sql, args = sql + " WHERE kind = ?", (kind,)
        return [_record(row) for row in self._db.execute(sql + " ORDER BY kind, doc_id", args)]

    def passages(self, doc_id: str | None = None) -> list[Passage]:
        if doc_id is None:
            rows = self._db.execute("SELECT body FROM passages ORDER BY seq")
        else:
            rows = self._db.execute("SELECT body FROM passages WHERE doc_id = ? ORDER BY seq", (doc_id,))
        return [Passage(**json.loads(body)) for (body,) in rows]


def _record(row) -> DocumentRecord:
    return DocumentRecord(
        doc_id=row[0], kind=row[1], title=row[2], date=row[3], in_force=bool(row[4]),
        source_path=row[5], content_hash=row[6], passage_count=row[7], updated_at=row[8],
    )
