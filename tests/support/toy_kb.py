"""A toy knowledge base: four passages and four questions with hand-set vectors, so a search test
knows each cosine exactly (tests/test_search_unit.py, tests/test_judge.py)."""
from __future__ import annotations

import numpy as np
import pytest

from knowledge.index import build_index, open_store
from knowledge.passage import Passage
from knowledge.search import Hit, KnowledgeBase

E0, E1, E2, E3 = np.eye(4, dtype=np.float32)


class KeyedEmbedder:
    """Passage vectors by a key contained in the passage's title; query vectors by the whole query.
    Records every query it encodes."""

    dim = 4

    def __init__(self, passages: dict[str, np.ndarray], queries: dict[str, np.ndarray], model_id="keyed-test"):
        self.passage_vectors = passages
        self.query_vectors = queries
        self.model_id = model_id
        self.encoded: list[str] = []

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return np.stack([next(v for key, v in self.passage_vectors.items() if key in t) for t in texts])

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.encoded.extend(texts)
        return np.stack([self.query_vectors[t] for t in texts])


def unit(*parts: float) -> np.ndarray:
    return np.asarray(parts, dtype=np.float32)


def rule(pid: str, title: str, text: str, region: str = "全国", in_force: bool = True) -> Passage:
    return Passage(id=pid, doc_id="doc", title=title, source="测试规定", article="", date="2021-01-01",
                   in_force=in_force, region=region, category="测试", text=text)


def publish(base, embedder, passages: list[Passage]) -> None:
    store = open_store(base)
    store.replace_document("doc", "corpus", "doc", "2021-01-01", True, "x", passages)
    build_index(store, embedder, base=base)
    store.close()


YOUDAI = rule("youdai", "优待证申领", "退役军人优待证到服务站申领。")
PINGCAN = rule("pingcan", "评残材料", "评定残疾等级要带身份证和诊断证明。", region="平湖")
OLD = rule("old", "旧安置规定", "退役士兵按旧条例安置。", in_force=False)
SHANGHAI = rule("shanghai", "上海补贴", "上海退役军人创业补贴。", region="上海")
PASSAGES = [YOUDAI, PINGCAN, OLD, SHANGHAI]
# cos 0.75 (exactly, in float32) with YOUDAI, 0.6614378 with PINGCAN
Q_YOUDAI = "优待证怎么申领"
Q_PINGCAN = "评残要带什么材料"  # BM25 finds only PINGCAN; the dense model ranks PINGCAN, then YOUDAI
Q_ANZHI = "退役士兵怎么安置"  # cos 0.8 with OLD (repealed), 0.6 with SHANGHAI (another region)
Q_OTHER = "别的问题"


def embedder_for_passages(model_id: str = "keyed-test", cls=KeyedEmbedder) -> KeyedEmbedder:
    return cls(
        {"优待证申领": E0, "评残材料": E1, "旧安置规定": E2, "上海补贴": E3},
        {
            Q_YOUDAI: unit(0.75, np.sqrt(1 - 0.75**2), 0, 0),
            Q_PINGCAN: unit(0.3, 0.9539392, 0, 0),
            Q_ANZHI: unit(0, 0, 0.8, 0.6),
            Q_OTHER: unit(0.5, 0.5, 0.5, 0.5),
        },
        model_id,
    )


def toy_kb(base, monkeypatch: pytest.MonkeyPatch, judge) -> KnowledgeBase:
    """The toy base searched with `judge` (None: the cosine threshold), thresholds not overridden."""
    monkeypatch.delenv("VETBOT_KB_MIN_DENSE", raising=False)
    monkeypatch.delenv("VETBOT_KB_MIN_BM25", raising=False)
    kb = KnowledgeBase(embedder_for_passages(), base=base)
    kb.judge = judge
    return kb


def ids(hits: list[Hit]) -> list[str]:
    return [h.passage.id for h in hits]
