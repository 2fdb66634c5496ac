"""Build the search indexes from the store and publish them atomically.

Layout under <data dir>/kb/:
  knowledge.sqlite3       documents and passages (KnowledgeStore)
  embeddings.sqlite3      passage-vector cache, so a rebuild only encodes new text
  indexes/<version>/      passages.jsonl, bm25.npz, bm25_vocab.json, vectors.npy, dense.faiss
  CURRENT                 JSON naming the published version; searchers reload when it changes
A searcher holds a shared lock on a version directory while loading it, and a rebuild while writing
it (pinned); a rebuild's cleanup removes only old versions it can lock exclusively, so no version
disappears half-loaded or half-written.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from knowledge import dense
from knowledge.bm25 import BM25
from knowledge.corpus import CORPUS_DIR, load_corpus
from knowledge.passage import Passage
from knowledge.store import KnowledgeStore
from knowledge.tokenize import tokens
from vetbot.config import data_dir

KEEP_VERSIONS = 2
ENCODE_BATCH = 64


def kb_dir(base: Path | None = None) -> Path:
    path = (base or data_dir()) / "kb"
    path.mkdir(parents=True, exist_ok=True)
    return path


def open_store(base: Path | None = None) -> KnowledgeStore:
    return KnowledgeStore(kb_dir(base) / "knowledge.sqlite3")


def search_text(passage: Passage) -> str:
    """What BM25 and the dense model see: title, keywords and text (not shown to users)."""
    return f"{passage.title}。{passage.keywords}。{passage.text}"


def sync_corpus(store: KnowledgeStore, directory: Path = CORPUS_DIR) -> int:
    """Mirror the project corpus into the store; returns how many entries changed."""
    entries = load_corpus(directory)
    changed = 0
    for entry in entries:
        changed += store.replace_document(
            entry.id, "corpus", entry.title, entry.date, entry.in_force,
            str(directory / entry.category), [entry],
        )
    wanted = {entry.id for entry in entries}
    for record in store.documents(kind="corpus"):
        if record.doc_id not in wanted:
            store.remove_document(record.doc_id)
            changed += 1
    return changed


def import_document(store: KnowledgeStore, path: Path):
    """Parse an official document and store it, replacing an earlier version.
    Returns (ParsedDocument, whether anything changed); raises ImportErrorWithReason."""
    from knowledge.importer import parse_document

    doc = parse_document(path)
    changed = store.replace_document(
        doc.doc_id, "import", doc.title, doc.date, doc.in_force, str(path.resolve()), doc.passages
    )
    return doc, changed


def apply_repeals(store: KnowledgeStore, today: dt.date | None = None) -> int:
    """Re-check imported documents against knowledge/repeals.yml (a repeal may have been added
    after the import, or recorded in advance and now be due). Returns how many changed."""
    from knowledge.importer import in_force_on

    changed = 0
    for record in store.documents(kind="import"):
        in_force = in_force_on(record.title, record.doc_id, today or dt.date.today())
        if in_force != record.in_force:
            passages = [replace(p, in_force=in_force) for p in store.passages(record.doc_id)]
            changed += store.replace_document(record.doc_id, "import", record.title, record.date,
                                              in_force, record.source_path, passages)
    return changed


class EmbeddingCache:
    def __init__(self, path: Path, model_id: str):
        self._db = sqlite3.connect(path, timeout=30)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB)")
        self._model_id = model_id

    def key(self, text: str) -> str:
        return hashlib.sha1(f"{self._model_id}\0{text}".encode()).hexdigest()

    def encode(self, texts: list[str], embedder, progress: bool) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, blob in self._db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({marks})", chunk):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        missing = [i for i, key in enumerate(keys) if key not in found]
        batches = range(0, len(missing), ENCODE_BATCH)
        for start in tqdm(batches, desc="编码段落", unit="批", disable=not progress or len(batches) < 2):
            ids = missing[start : start + ENCODE_BATCH]
            vectors = embedder.encode_passages([texts[i] for i in ids])
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                    [(keys[i], vec.astype(np.float32).tobytes()) for i, vec in zip(ids, vectors)],
                )
            found.update({keys[i]: vec.astype(np.float32) for i, vec in zip(ids, vectors)})
        if not texts:
            return np.zeros((0, embedder.dim), dtype=np.float32)
        return np.stack([found[key] for key in keys])


@dataclass(frozen=True)
class BuildReport:
    version: str
    passages: int
    encoded_seconds: float
    total_seconds: float
    index_kind: str


def build_index(
    store: KnowledgeStore, embedder, base: Path | None = None, progress: bool = False,
    cache_path: Path | None = None,
) -> BuildReport:
    """cache_path: share another knowledge base's vector cache (vectors are keyed by model and text)."""
    started = time.perf_counter()
    root = kb_dir(base)
    passages = store.passages()
    texts = [search_text(p) for p in passages]
    cache = EmbeddingCache(cache_path or root / "embeddings.sqlite3", getattr(embedder, "model_id", "default"))
    encode_started = time.perf_counter()
    vectors = cache.encode(texts, embedder, progress)
    encoded = time.perf_counter() - encode_started

    version = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}-{time.perf_counter_ns() % 10**6}"
    target = root / "indexes" / version
    target.mkdir(parents=True)
    with pinned(target):  # until published: a concurrent rebuild's cleanup must leave it alone
        with open(target / "passages.jsonl", "w", encoding="utf-8") as out:
            for passage in passages:
                out.write(json.dumps(passage.to_dict(), ensure_ascii=False) + "\n")
        BM25.build([tokens(t) for t in texts]).save(target)
        np.save(target / "vectors.npy", vectors)
        index = dense.build_index(vectors)
        dense.save(index, target / "dense.faiss")
        _publish(root, {"version": version, "passages": len(passages), "model": cache._model_id})
    _prune(root, keep=version)
    kind = type(index).__name__
    return BuildReport(version, len(passages), encoded, time.perf_counter() - started, kind)


def _publish(root: Path, manifest: dict) -> None:
    tmp = root / f"CURRENT.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False))
    os.replace(tmp, root / "CURRENT")  # atomic: readers see the old or the new version


def current_manifest(base: Path | None = None) -> dict | None:
    path = kb_dir(base) / "CURRENT"
    return json.loads(path.read_text()) if path.exists() else None


@contextmanager
def _flocked(directory: Path, operation: int):
    """flock a directory for the block; the lock goes with the descriptor when it is closed."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, operation)
        yield
    finally:
        os.close(fd)


@contextmanager
def pinned(version_dir: Path):
    """Keep a version from being removed while it is loaded (or written). Raises FileNotFoundError
    when it is already gone (a newer rebuild removed it after the searcher read CURRENT)."""
    with _flocked(version_dir, fcntl.LOCK_SH):
        if not version_dir.is_dir():  # removed while we waited for the lock
            raise FileNotFoundError(version_dir)
        yield


def _prune(root: Path, keep: str) -> None:
    versions = []
    for path in (root / "indexes").iterdir():
        try:
            versions.append((path.stat().st_mtime, path))
        except FileNotFoundError:
            pass  # a concurrent rebuild's cleanup removed it
    old = [p for _, p in sorted(versions) if p.name != keep][:-(KEEP_VERSIONS - 1) or None]
    for path in old:
        try:
            with _flocked(path, fcntl.LOCK_EX | fcntl.LOCK_NB):
                shutil.rmtree(path, ignore_errors=True)
        except FileNotFoundError:
            pass  # a concurrent rebuild's cleanup removed it
        except BlockingIOError:
            pass  # a searcher is loading this version: a later rebuild removes it
