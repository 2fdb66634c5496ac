"""Knowledge base: corpus sync, store replacement, hybrid search, refusal, hot reload."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge import dense
from knowledge.answer import compose
from knowledge.bm25 import BM25
from knowledge.corpus import CorpusError, load_corpus, parse_entry
from knowledge.index import build_index, open_store, sync_corpus
from knowledge.search import KnowledgeBase
from knowledge.tokenize import tokens


def write_entry(directory: Path, entry_id: str, title: str, text: str, **meta) -> Path:
    fields = {
        "category": "测试", "region": "全国", "source": "退役军人保障法", "articles": "第一条",
        "effective_date": "2021-01-01", "in_force": "true", "keywords": "[]",
    }
    fields.update({k: str(v).lower() if isinstance(v, bool) else v for k, v in meta.items()})
    header = "\n".join(f"{k}: {v}" for k, v in fields.items())
    path = directory / f"{entry_id}.md"
    path.write_text(f"---\nid: {entry_id}\ntitle: {title}\n{header}\n---\n{text}\n", encoding="utf-8")
    return path


@pytest.fixture
def corpus_dir(tmp_path):
    directory = tmp_path / "corpus"
    directory.mkdir()
    write_entry(directory, "youdai", "退役军人优待证怎么申领",
                "退役军人凭身份证到户籍所在地的退役军人服务站申请优待证，不收费。")
    write_entry(directory, "pingcan", "评残要带什么材料",
                "申请评定残疾等级，需要带本人身份证、医疗诊断证明和致残经过的证明材料，向县级退役军人事务部门提出。")
    write_entry(directory, "old-rule", "旧的退役士兵安置规定",
                "退役士兵安置的旧规定，已经在二〇二四年九月一日废止。", in_force=False,
                source="退役士兵安置条例", effective_date="2011-11-01")
    write_entry(directory, "new-rule", "退役士兵怎么安置",
                "退役士兵安置按新的退役军人安置条例办理，方式有自主就业、安排工作、退休、供养。",
                source="退役军人安置条例", effective_date="2024-09-01")
    write_entry(directory, "bangfu", "平湖帮扶基金", "平湖的困难退役军人家庭每户每年可以得到二千元到五千元的帮扶。",
                region="平湖", source="平湖日报2020年报道", articles="")
    return directory


@pytest.fixture
def kb(tmp_path, corpus_dir, embedder):
    base = tmp_path / "data"
    store = open_store(base)
    sync_corpus(store, corpus_dir)
    build_index(store, embedder, base=base)
    return KnowledgeBase(embedder, base=base)


def test_corpus_entries_parse_and_validate(tmp_path, corpus_dir):
    entries = load_corpus(corpus_dir)
    assert {e.id for e in entries} == {"youdai", "pingcan", "old-rule", "new-rule", "bangfu"}
    old = next(e for e in entries if e.id == "old-rule")
    assert old.in_force is False and old.date == "2011-11-01"
    bad = write_entry(tmp_path, "wrong-name", "x", "y")
    bad.rename(tmp_path / "other.md")
    with pytest.raises(CorpusError):
        parse_entry(tmp_path / "other.md")


def test_project_corpus_is_complete():
    entries = load_corpus()
    assert len(entries) >= 150
    assert {e.region for e in entries} >= {"全国", "浙江", "平湖"}
    for entry in entries:
        assert entry.text and entry.source and entry.date[:2] in ("19", "20"), entry.id
    repealed = [e for e in entries if e.source == "退役士兵安置条例"]
    assert repealed and all(not e.in_force for e in repealed)


def test_search_finds_the_right_entry_with_its_source(kb):
    hits = kb.search("退伍了优待证去哪里办", top_k=3)
    assert hits and hits[0].passage.id == "youdai"
    reply = compose(hits[0])
    assert "《退役军人保障法》第一条" in reply and "2021-01-01" in reply


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_every_mode_ranks_the_answer_first(kb, mode):
    hits = kb.search("评残需要准备哪些证明", top_k=3, mode=mode, strict=False)
    assert hits[0].passage.id == "pingcan"


def test_repealed_rule_loses_to_the_current_one(kb):
    hits = kb.search("退役士兵安置", top_k=2, strict=False)
    assert hits[0].passage.id == "new-rule"


def test_unrelated_question_is_refused(kb):
    assert kb.search("今天股票大盘怎么走，买哪只好", top_k=3) == []
    assert kb.search("   ") == []


def test_reimport_replaces_instead_of_duplicating(tmp_path, corpus_dir, embedder):
    base = tmp_path / "data"
    store = open_store(base)
    assert sync_corpus(store, corpus_dir) == 5
    assert sync_corpus(store, corpus_dir) == 0  # unchanged: nothing rewritten
    write_entry(corpus_dir, "youdai", "退役军人优待证怎么申领", "优待证改为在网上申请。")
    assert sync_corpus(store, corpus_dir) == 1
    (corpus_dir / "bangfu.md").unlink()
    assert sync_corpus(store, corpus_dir) == 1
    ids = [p.id for p in store.passages()]
    assert sorted(ids) == sorted(set(ids)) and "bangfu" not in ids and len(ids) == 4


def test_new_index_is_picked_up_without_restart(tmp_path, corpus_dir, embedder, kb):
    assert kb.search("光荣牌谁来挂", strict=False)[0].passage.id != "guangrong"
    write_entry(corpus_dir, "guangrong", "光荣牌悬挂", "光荣牌由当地退役军人服务站上门为军人家庭悬挂。")
    store = open_store(tmp_path / "data")
    sync_corpus(store, corpus_dir)
    build_index(store, embedder, base=tmp_path / "data")
    assert kb.search("光荣牌谁来挂")[0].passage.id == "guangrong"


def test_bm25_prefers_documents_with_the_query_terms():
    docs = [tokens("优待证申领办法"), tokens("残疾等级评定"), tokens("优待证的用途")]
    scores = BM25.build(docs).scores(tokens("优待证怎么申领"))
    assert scores.argmax() == 0 and scores[1] == 0


def test_dense_index_switches_to_hnsw_above_the_threshold():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    exact = dense.build_index(vectors, threshold=1000)
    approx = dense.build_index(vectors, threshold=100)
    assert type(exact).__name__ == "IndexFlatIP" and type(approx).__name__ == "IndexHNSWFlat"
    _, exact_ids = dense.search(exact, vectors[7], 5)
    _, approx_ids = dense.search(approx, vectors[7], 5)
    assert exact_ids[0] == approx_ids[0] == 7


def test_a_repeal_recorded_after_import_reaches_the_index(tmp_path, monkeypatch, embedder):
    import datetime as dt

    import knowledge.importer as importer
    from knowledge.index import apply_repeals
    from knowledge.passage import Passage

    base = tmp_path / "data"
    store = open_store(base)
    law = Passage(id="某条例#第一条", doc_id="某条例", title="某条例", source="某条例", article="第一条",
                  date="2010-01-01", in_force=True, region="全国", category="法规",
                  text="退役军人参加职业技能培训的，按规定享受培训补贴。")
    store.replace_document("某条例", "import", "某条例", "2010-01-01", True, "x.md", [law])
    build_index(store, embedder, base=base)
    kb = KnowledgeBase(embedder, base=base)
    assert [(h.passage.id, h.passage.in_force) for h in kb.search("职业技能培训有补贴吗")] == [("某条例#第一条", True)]

    monkeypatch.setattr(importer, "load_repeals", lambda path=None: {"某条例": {"repealed_on": "2025-01-01"}})
    assert apply_repeals(store, today=dt.date(2024, 12, 31)) == 0  # recorded in advance, not yet due
    assert apply_repeals(store, today=dt.date(2025, 1, 1)) == 1
    assert store.document("某条例").in_force is False
    build_index(store, embedder, base=base)  # what `vetbot kb build` does next
    hits = kb.search("职业技能培训有补贴吗")
    assert [(h.passage.id, h.passage.in_force) for h in hits] == [("某条例#第一条", False)]
    assert compose(hits[0]).endswith("依据：《某条例》第一条（2010-01-01，已废止）")


class OtherModel:
    """Stands for an index built with another embedding model of the same size: its vectors
    would be searched without error, and mean nothing."""

    model_id = "intfloat/multilingual-e5-base"

    def __init__(self, dim: int):
        self.dim = dim

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        vectors = np.random.default_rng(0).normal(size=(len(texts), self.dim)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_an_index_built_with_another_model_is_refused(tmp_path, corpus_dir, embedder):
    base = tmp_path / "data"
    store = open_store(base)
    sync_corpus(store, corpus_dir)
    build_index(store, OtherModel(embedder.dim), base=base)
    kb = KnowledgeBase(embedder, base=base)
    with pytest.raises(RuntimeError) as refused:
        kb.search("退伍了优待证去哪里办")
    assert str(refused.value) == (
        f"知识库索引是用向量模型 intfloat/multilingual-e5-base 建的，现在配置的是 {embedder.model_id}："
        "请运行 vetbot kb build"
    )
    build_index(store, embedder, base=base)  # rebuilt with the configured model: answered again
    assert kb.search("退伍了优待证去哪里办")[0].passage.id == "youdai"
