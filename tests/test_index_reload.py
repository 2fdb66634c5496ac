"""A rebuilt index reaches a searcher in another process without a restart, and a rebuild's cleanup
never pulls a version out from under a searcher that is loading it. Real processes ('spawn') on a
real index directory."""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import time
import traceback
from pathlib import Path

import numpy as np
import pytest

from knowledge.e5_convert import CONVERTED_NAME
from knowledge.embedder import ENV_MODEL
import knowledge.search as search
from knowledge.index import build_index, current_manifest, import_document, open_store, sync_corpus
from knowledge.passage import Passage
from tests.support.laws import GLORY, write_law
from tests.test_knowledge import write_entry
from vetbot.config import data_dir

SPAWN = multiprocessing.get_context("spawn")


# ------------------------------------------------- the action server's knowledge base, another process

def _serve(conn, data: str, model: str) -> None:
    """The action server's side: knowledge.service, asked one question at a time over a pipe."""
    os.environ["VETBOT_DATA_DIR"] = data
    os.environ[ENV_MODEL] = model
    from knowledge.service import get_knowledge_base

    kb = get_knowledge_base()
    kb.judge = None  # three made-up passages: the cosine threshold, not the judge fitted on the real corpus
    conn.send(kb.size)
    for question in iter(conn.recv, None):
        conn.send([h.passage.id for h in kb.search(question)])


def test_service_picks_up_an_index_rebuilt_by_another_process(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_entry(corpus, "youdai", "退役军人优待证怎么申领", "退役军人凭身份证到户籍所在地的退役军人服务站申请优待证，不收费。")
    write_entry(corpus, "pingcan", "评残要带什么材料", "申请评定残疾等级，需要带本人身份证、医疗诊断证明和致残经过的证明材料。")
    base = tmp_path / "data"
    store = open_store(base)
    sync_corpus(store, corpus)
    build_index(store, embedder, base=base)

    model = os.environ.get(ENV_MODEL) or str(data_dir() / "models" / CONVERTED_NAME)
    ours, theirs = SPAWN.Pipe()
    server = SPAWN.Process(target=_serve, args=(theirs, str(base), model), daemon=True)
    server.start()

    def ask(question: str) -> list[str]:
        ours.send(question)
        assert ours.poll(60), "the knowledge-base process did not answer"
        return ours.recv()

    try:
        assert ours.poll(180) and ours.recv() == 2  # the first index is loaded
        glory = f"{GLORY.doc_id}#第一条"
        assert glory not in ask("光荣牌谁来上门挂")

        # the import path of `vetbot kb import`, in this (another) process
        import_document(store, write_law(tmp_path, GLORY))
        build_index(store, embedder, base=base)
        assert ask("光荣牌谁来上门挂")[0] == glory

        store.remove_document(GLORY.doc_id)  # `vetbot kb remove`
        build_index(store, embedder, base=base)
        assert glory not in ask("光荣牌谁来上门挂")
        assert ask("优待证去哪里办")[0] == "youdai"
    finally:
        ours.send(None)
        server.join(30)


# ------------------------------------------------- cleanup while a reader loads

class HashEmbedder:
    """Deterministic vectors from the text's hash: the race below is about files, not meaning,
    and the reader process then needs no model."""

    model_id = "test-hash-16"
    dim = 16

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest()[:16], dtype=np.uint8) + 1.0 for t in texts]
        vectors = np.array(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    encode_queries = encode_passages


def build_number(passage: Passage) -> int:
    return int(passage.text.split("版")[0].removeprefix("第"))


def passage_count(build: int) -> int:
    return 3 + build % 5  # every build has a different size, so mixed files would show


def publish_build(store, base: Path, build: int) -> None:
    passages = [
        Passage(id=f"p{k}", doc_id="versions", title="版本", source="测试", article="", date="2024-01-01",
                in_force=True, region="全国", category="测试", text=f"第{build}版 段落{k} 版本检查")
        for k in range(passage_count(build))
    ]
    store.replace_document("versions", "import", "版本", "2024-01-01", True, "test", passages)
    build_index(store, HashEmbedder(), base=base)


def _load_in_a_loop(base: str, ready, stop, results) -> None:
    """A searcher whose index loads slowly (as a large one does), reloading whenever CURRENT moves."""
    from knowledge import dense

    real_load = dense.load

    def slow_load(path):
        time.sleep(0.05)  # meanwhile the writer publishes two versions and prunes old ones
        return real_load(path)

    dense.load = slow_load
    kb = search.KnowledgeBase(HashEmbedder(), base=Path(base))
    versions, problems = set(), []
    while not stop.is_set():
        try:
            hits = kb.search("版本检查", top_k=100, strict=False)
            builds = {build_number(h.passage) for h in hits}
            if len(builds) != 1 or len(hits) != passage_count(builds.pop()):
                problems.append(f"half an index: {sorted(h.passage.text for h in hits)}")
            versions.add(kb._version)
            ready.set()
        except Exception:
            problems.append(traceback.format_exc(limit=4))
    results.put((len(versions), problems[:3], len(problems)))


def test_cleanup_never_removes_a_version_a_reader_is_loading(tmp_path):
    base = tmp_path / "data"
    store = open_store(base)
    publish_build(store, base, 0)
    ready, stop, results = SPAWN.Event(), SPAWN.Event(), SPAWN.Queue()
    reader = SPAWN.Process(target=_load_in_a_loop, args=(str(base), ready, stop, results), daemon=True)
    reader.start()
    indexes = base / "kb" / "indexes"
    kept_while_loading = 0  # rebuilds whose cleanup met the version the reader was loading
    try:
        assert ready.wait(60), "the reader did not start"
        build, deadline = 0, time.monotonic() + 3
        while time.monotonic() < deadline:
            build += 1
            publish_build(store, base, build)
            kept_while_loading += len(list(indexes.iterdir())) > 2
    finally:
        stop.set()
        loaded, problems, count = results.get(timeout=60)
        reader.join(30)
    assert (problems, count) == ([], 0)
    assert loaded >= 10 and kept_while_loading >= 5, (loaded, kept_while_loading, build)

    publish_build(store, base, build + 1)  # versions skipped while in use are removed later
    assert len(list(indexes.iterdir())) == 2


def test_a_version_removed_just_after_current_was_read_is_skipped(tmp_path, monkeypatch):
    """The moment between reading CURRENT and pinning its version: a cleanup may win it."""
    base = tmp_path / "data"
    store = open_store(base)
    publish_build(store, base, 1)
    stale = current_manifest(base)
    publish_build(store, base, 2)
    publish_build(store, base, 3)  # its cleanup removes build 1
    assert not (base / "kb" / "indexes" / stale["version"]).exists()
    reads = iter([stale])  # this searcher read CURRENT just before builds 2 and 3
    monkeypatch.setattr(search, "current_manifest", lambda root: next(reads, None) or current_manifest(root))

    hits = search.KnowledgeBase(HashEmbedder(), base=base).search("版本检查", top_k=100, strict=False)
    assert sorted(h.passage.text for h in hits) == [f"第3版 段落{k} 版本检查" for k in range(passage_count(3))]


def test_a_missing_version_is_a_clear_error(tmp_path):
    base = tmp_path / "data"
    publish_build(open_store(base), base, 1)
    shutil.rmtree(base / "kb" / "indexes" / current_manifest(base)["version"])
    with pytest.raises(RuntimeError) as error:
        search.KnowledgeBase(HashEmbedder(), base=base).search("版本检查")
    assert str(error.value) == f"知识库索引版本 {current_manifest(base)['version']} 不完整，请运行 vetbot kb build"


def _rebuild_repeatedly(base: str, builds: range, results) -> None:
    problems = []
    try:
        store = open_store(Path(base))  # both writers open the new store at once
    except Exception:
        results.put(([traceback.format_exc(limit=4)], 1))  # report at once instead of a silent hang
        return
    for build in builds:
        try:
            publish_build(store, Path(base), build)
        except Exception:
            problems.append(traceback.format_exc(limit=4))
    results.put((problems[:3], len(problems)))


def test_two_rebuilds_at_once_leave_a_complete_index(tmp_path):
    """`vetbot kb import` while `vetbot kb build` runs: neither cleanup removes the other's version
    before it is published, nor trips over a version the other removed."""
    base = tmp_path / "data"
    results = SPAWN.Queue()
    writers = [SPAWN.Process(target=_rebuild_repeatedly, args=(str(base), range(start, start + 80, 2), results))
               for start in (0, 1)]
    for writer in writers:
        writer.start()
    reports = [results.get(timeout=120) for _ in writers]
    for writer in writers:
        writer.join(30)
    assert reports == [([], 0), ([], 0)]
    hits = search.KnowledgeBase(HashEmbedder(), base=base).search("版本检查", top_k=100, strict=False)
    assert len(hits) == passage_count(build_number(hits[0].passage))
