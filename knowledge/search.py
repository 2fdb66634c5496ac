"""Hybrid retrieval: BM25 over jieba tokens + dense vectors in FAISS, fused by reciprocal
rank fusion, then a relevance judge (knowledge/judge.py) so that "I don't know" is said when it
should be."""
from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from knowledge import dense
from knowledge.aspects import asked_aspect, asked_aspects
from knowledge.bm25 import BM25
from knowledge.index import current_manifest, kb_dir, pinned, search_text
from knowledge.judge import Evidence, Judge, evidence, features, load_judge, term_idf
from knowledge.passage import Passage
from knowledge.tokenize import query_tokens
from vetbot.settings import settings

MODES = ("bm25", "dense", "hybrid")
RRF_K = 60
CANDIDATES = 50
HOME_REGIONS = ("平湖", "嘉兴", "浙江", "全国")  # rules that apply to a Pinghu veteran
REPEALED_FACTOR = 0.5  # a repealed rule must lose to the current one
FOREIGN_REGION_FACTOR = 0.8
HOME_REGION_BONUS = 1.01  # a tie-breaker: local measures first when equally relevant
# Entry titles are phrased as questions (申请评残要准备哪些材料): one that asks what the veteran
# asks (怎么申请 → the procedure) goes before one on the same topic that asks something else.
ASPECT_MATCH_BONUS = 1.05
ASPECT_OTHER_FACTOR = 0.95
ASPECT_MARGIN = 0.02
_BARE_APPLY = re.compile("(?<!怎么)(?<!如何)申请")  # how far below the threshold an entry on the aspect asked may still be shown

# Hybrid search asks the relevance judge (knowledge/judge.json) whether its top passage answers.
# The single modes, and hybrid when the judge file is missing or VETBOT_KB_MIN_DENSE is set, use
# these thresholds, calibrated on tests/kb_eval with `vetbot kb eval --sweep`: the lowest value
# at which about 80% of the original unanswerable dev questions are refused. The dense cosine of
# multilingual-e5 is compressed (unrelated text still scores ~0.85), hence the high value; BM25
# alone cannot separate them at any threshold that keeps most answerable questions.
# Overridable: VETBOT_KB_MIN_DENSE, VETBOT_KB_MIN_BM25. The cosine threshold also still decides
# which passages after the first are related enough to list ("看更多").
DEFAULT_MIN_DENSE = 0.90
DEFAULT_MIN_BM25 = 15.0
RELATED_MARGIN = 0.02  # "did you mean" and "see more" consider passages this close to the threshold
QUERY_CACHE_SIZE = 512
LOAD_ATTEMPTS = 5  # re-reads of CURRENT when the version it named was removed before we pinned it


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float  # fused (or single-mode) ranking score
    relevance: float  # dense cosine (hybrid/dense) or BM25 score (bm25)

    def to_dict(self) -> dict:
        p = self.passage
        return {
            "id": p.id, "title": p.title, "source": p.source, "article": p.article,
            "date": p.date, "in_force": p.in_force, "region": p.region,
            "score": round(float(self.score), 4), "relevance": round(float(self.relevance), 4),
            "text": p.text,
        }


class _Loaded:
    """One published index version, held in memory."""

    def __init__(self, directory: Path):
        with open(directory / "passages.jsonl", encoding="utf-8") as src:  # pragma: no mutate (equivalent on our UTF-8 hosts)
            self.passages = [Passage(**json.loads(line)) for line in src]
        self.bm25 = BM25.load(directory)
        self.vectors = np.load(directory / "vectors.npy")
        self.index = dense.load(directory / "dense.faiss")
        self.texts = [search_text(p) for p in self.passages]  # what the judge's coverage reads
        self.idf = term_idf(self.bm25.weights)


class KnowledgeBase:
    def __init__(self, embedder, base: Path | None = None, home_region: str = "平湖"):
        self.embedder = embedder
        self.root = kb_dir(base)
        self.home_region = home_region
        configured = settings()
        self.min_dense = DEFAULT_MIN_DENSE if configured.kb_min_dense is None else configured.kb_min_dense
        self.min_bm25 = DEFAULT_MIN_BM25 if configured.kb_min_bm25 is None else configured.kb_min_bm25
        # A site that sets its own dense threshold gets the cosine gate it asked for.
        self.judge: Judge | None = load_judge() if configured.kb_min_dense is None else None
        self._lock = threading.Lock()
        self._version: str | None = None  # pragma: no mutate (equivalent: "" is never a published version either)
        self._loaded: _Loaded | None = None  # pragma: no mutate (equivalent: never returned before a version is loaded)
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    # -- index life cycle -------------------------------------------------------------
    def _current(self) -> _Loaded:
        """Reload when a new index was published (cheap check of the CURRENT file)."""
        for _ in range(LOAD_ATTEMPTS):
            manifest = current_manifest(self.root.parent)
            if manifest is None:
                raise RuntimeError("知识库索引还没有建立，请先运行 vetbot kb build")
            if manifest["version"] == self._version:
                return self._loaded
            self._check_model(manifest)
            directory = self.root / "indexes" / manifest["version"]
            with self._lock:
                if manifest["version"] != self._version:
                    try:
                        with pinned(directory):
                            self._loaded = _Loaded(directory)
                    except FileNotFoundError:
                        continue  # removed by newer rebuilds since we read CURRENT: read it again
                    self._version = manifest["version"]
            return self._loaded
        raise RuntimeError(f"知识库索引版本 {manifest['version']} 不完整，请运行 vetbot kb build")

    def _check_model(self, manifest: dict) -> None:
        """Vectors from another model would be meaningless (or the wrong size) for our queries."""
        model_id = getattr(self.embedder, "model_id", manifest.get("model"))
        if manifest.get("model") != model_id:
            raise RuntimeError(
                f"知识库索引是用向量模型 {manifest.get('model')} 建的，现在配置的是 {model_id}：请运行 vetbot kb build"
            )

    @property
    def size(self) -> int:
        return len(self._current().passages)

    def hit_by_id(self, passage_id: str) -> Hit | None:
        """A passage the veteran picked from a suggestion ("您是想问…吗？")."""
        for passage in self._current().passages:
            if passage.id == passage_id:
                return Hit(passage, 1.0, 1.0)
        return None

    # -- search -----------------------------------------------------------------------
    def search(
        self, query: str, top_k: int = 3, mode: str = "hybrid", strict: bool = True, margin: float = 0.0
    ) -> list[Hit]:
        """Best passages for the query, most relevant first. With strict=True an empty list means
        "not in the knowledge base": in hybrid mode the judge must find the first passage answers
        the question (with `margin` > 0, only that it may: the "did you mean" band); elsewhere its
        relevance must reach the threshold lowered by `margin`. The passages after the first are
        kept while their relevance reaches that threshold."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        ranked = self._ranked(query, mode)
        if ranked is None:
            return []
        hits, gate, judged = ranked
        if strict:
            # Without the judge the best-ranked passage must itself be relevant: in hybrid mode
            # that needs BM25 and the dense model to agree on it, which separates unanswerable
            # questions better than any single high cosine deep in the candidate list. The aspect
            # asked only chooses among the passages on the topic: it never decides whether we answer.
            threshold = (self.min_bm25 if mode == "bm25" else self.min_dense) - margin
            aspect_floor = threshold - (ASPECT_MARGIN if asked_aspect(query) else 0.0)
            if judged is not None:
                judge, x = judged
                if judge.probability(x) < judge.threshold(margin):
                    return []
                hits = hits[:1] + [h for h in hits[1:] if h.relevance >= aspect_floor]
            else:
                if gate is None or gate.relevance < threshold:
                    return []
                hits = [h for h in hits if h.relevance >= aspect_floor]
        return hits[:top_k]

    def judged(self, query: str) -> tuple[list[Hit], np.ndarray] | None:
        """Hybrid hits, best first and unfiltered, with the judge's features of the first (what
        `vetbot kb judge` fits on); None for a blank question or an empty index."""
        ranked = self._ranked(query, "hybrid", always_judge=True)
        return None if ranked is None else (ranked[0], ranked[2][1])

    def _ranked(self, query: str, mode: str, always_judge: bool = False):
        """(hits best first, the best before the aspect preference, (judge, features of the first
        hit) when the judge is to decide) or None when there is nothing to search."""
        loaded = self._current()
        if not query.strip() or not loaded.passages:
            return None
        q_tokens = query_tokens(query)
        bm25_scores = loaded.bm25.scores(q_tokens)
        query_vec = self._encode_query(query) if mode != "bm25" else None

        if mode == "bm25":
            ranked = _top(bm25_scores, CANDIDATES)
            scored = {i: float(bm25_scores[i]) for i in ranked}
        else:
            dense_scores, dense_ids = dense.search(loaded.index, query_vec, CANDIDATES)
            dense_ids = [int(i) for i in dense_ids]
            if mode == "dense":
                scored = {i: float(s) for i, s in zip(dense_ids, dense_scores)}
            else:
                bm25_ids = _top(bm25_scores, CANDIDATES)
                scored = _rrf([bm25_ids, dense_ids])

        hits, gate = [], None
        aspect = asked_aspect(query)
        for i, score in scored.items():
            passage = loaded.passages[i]
            relevance = float(bm25_scores[i]) if mode == "bm25" else float(loaded.vectors[i] @ query_vec)
            ranked = score * self._prior(passage)
            hits.append((Hit(passage, ranked * _aspect_factor(aspect, passage), relevance), i))
            if gate is None or ranked > gate.score:
                gate = Hit(passage, ranked, relevance)
        hits.sort(key=lambda pair: pair[0].score, reverse=True)
        judged = None
        if mode == "hybrid" and hits and (self.judge is not None or always_judge):
            # The judge looks at the passage the veteran would be shown: the first after the aspect preference.
            first, i = hits[0]
            ev: Evidence = evidence(query, q_tokens, loaded.bm25.vocab, loaded.idf, bm25_scores, bm25_ids,
                                    dense_ids, list(dense_scores))
            judged = (self.judge, features(ev, i, first.passage, loaded.texts[i], first.relevance))
        return [hit for hit, _ in hits], gate, judged

    def _encode_query(self, query: str) -> np.ndarray:
        """Veterans ask the same few questions again and again: keep recent query vectors."""
        with self._lock:
            vector = self._query_vectors.get(query)
            if vector is not None:
                self._query_vectors.move_to_end(query)
                return vector
        vector = self.embedder.encode_queries([query])[0]
        with self._lock:
            self._query_vectors[query] = vector
            if len(self._query_vectors) > QUERY_CACHE_SIZE:
                self._query_vectors.popitem(last=False)  # pragma: no mutate (equivalent: last=None is falsy)
        return vector

    def _prior(self, passage: Passage) -> float:
        factor = 1.0 if passage.in_force else REPEALED_FACTOR
        if passage.region not in HOME_REGIONS:
            factor *= FOREIGN_REGION_FACTOR
        elif passage.region == self.home_region:
            factor *= HOME_REGION_BONUS
        return factor


@lru_cache(maxsize=4096)
def _title_aspects(title: str) -> frozenset[str]:
    # A bare 申请 in a title names the matter (申请评残要准备哪些材料 is about the documents);
    # 怎么申请 / 怎么申领 asks the procedure.
    return asked_aspects(_BARE_APPLY.sub("", title))


def _aspect_factor(aspect: str | None, passage: Passage) -> float:
    title_aspects = _title_aspects(passage.title) if aspect else frozenset()
    if not title_aspects:
        return 1.0
    return ASPECT_MATCH_BONUS if aspect in title_aspects else ASPECT_OTHER_FACTOR


def _top(scores: np.ndarray, k: int) -> list[int]:
    k = min(k, len(scores))
    if k == 0:
        return []
    part = np.argpartition(-scores, k - 1)[:k]
    part = part[scores[part] > 0]
    return [int(i) for i in part[np.argsort(-scores[part])]]


def _rrf(rankings: list[list[int]]) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, i in enumerate(ranking):
            fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
    return fused
