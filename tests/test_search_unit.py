"""knowledge/search.py piece by piece, with vectors chosen by the test instead of a model: exact
fused scores, ranking priors, relevance thresholds (at their boundary), the query-vector cache,
index loading and the embedding-model check. Tiny indexes in temp dirs; no model is loaded."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import knowledge.search as search
from knowledge.index import current_manifest, kb_dir
from knowledge.search import ASPECT_MATCH_BONUS, ASPECT_OTHER_FACTOR, Hit, KnowledgeBase, _aspect_factor, _rrf, _top
from tests.support.toy_kb import (
    E0, PINGCAN, Q_ANZHI, Q_OTHER, Q_PINGCAN, Q_YOUDAI, YOUDAI, KeyedEmbedder, embedder_for_passages, ids, publish, rule,
    toy_kb,
)

class AnonymousEmbedder(KeyedEmbedder):
    """An embedder that does not say which model it is."""

    def __getattribute__(self, name):
        if name == "model_id":
            raise AttributeError(name)
        return super().__getattribute__(name)


@pytest.fixture
def kb(toy_kb_base, monkeypatch):
    """Hybrid mode here is judged by the cosine threshold, as without knowledge/judge.json (the
    judge's part is in tests/test_judge.py)."""
    return toy_kb(toy_kb_base, monkeypatch, judge=None)


# -- pure pieces ----------------------------------------------------------------------------

def test_rrf_sums_one_over_k_plus_rank_per_ranking():
    fused = _rrf([[3, 1], [1, 2]])
    assert fused == {3: 1 / 61, 1: 1 / 62 + 1 / 61, 2: 1 / 62}
    assert _rrf([]) == {}


def test_top_ranks_positive_scores_best_first():
    assert _top(np.array([0.5, 0.0, 3.0, 2.0, -1.0]), 10) == [2, 3, 0]
    assert _top(np.array([0.5, 0.0, 3.0, 2.0, -1.0]), 2) == [2, 3]
    assert _top(np.array([2.0]), 1) == [0]
    assert _top(np.array([0.0, 0.0]), 5) == []
    assert _top(np.zeros(0), 5) == []


def test_top_k_of_many_is_the_k_best_in_order():
    scores = np.random.default_rng(7).random(200)
    for k in (1, 5, 50, 199, 200):
        assert _top(scores, k) == list(np.argsort(-scores)[:k])


def test_hit_to_dict_carries_the_citation_and_rounded_scores():
    hit = Hit(rule("p1", "帮扶", "可以申请帮扶。", region="平湖", in_force=False), 0.123456, 0.987654)
    assert hit.to_dict() == {
        "id": "p1", "title": "帮扶", "source": "测试规定", "article": "", "date": "2021-01-01",
        "in_force": False, "region": "平湖", "score": 0.1235, "relevance": 0.9877, "text": "可以申请帮扶。",
    }


# -- priors ------------------------------------------------------------------------------------

def test_priors_favour_the_home_region_and_rules_in_force(tmp_path):
    regions = [("quanguo", "全国", True), ("zhejiang", "浙江", True), ("jiaxing", "嘉兴", True),
               ("pinghu", "平湖", True), ("shanghai", "上海", True), ("pinghu-old", "平湖", False),
               ("shanghai-old", "上海", False), ("quanguo-old", "全国", False)]
    passages = [rule(pid, "同一规定", f"{region}的规定。", region, in_force) for pid, region, in_force in regions]
    embedder = KeyedEmbedder({"同一规定": E0}, {Q_YOUDAI: E0})
    publish(tmp_path, embedder, passages)
    # Every passage has cosine 1.0 with the question, so each score is its prior alone.
    hits = KnowledgeBase(embedder, base=tmp_path).search(Q_YOUDAI, top_k=10, mode="dense")
    assert {h.passage.id: h.score for h in hits} == pytest.approx({
        "pinghu": 1.01, "quanguo": 1.0, "zhejiang": 1.0, "jiaxing": 1.0, "shanghai": 0.8,
        "pinghu-old": 0.505, "quanguo-old": 0.5, "shanghai-old": 0.4,
    }, rel=1e-6)
    assert [h.relevance for h in hits] == [1.0] * 8
    jiaxing = KnowledgeBase(embedder, base=tmp_path, home_region="嘉兴").search(Q_YOUDAI, top_k=10, mode="dense")
    assert {h.passage.id: h.score for h in jiaxing if h.passage.in_force} == pytest.approx({
        "jiaxing": 1.01, "quanguo": 1.0, "zhejiang": 1.0, "pinghu": 1.0, "shanghai": 0.8,
    }, rel=1e-6)


# -- search in each mode -----------------------------------------------------------------------

def test_hybrid_fuses_bm25_and_dense_ranks_times_the_prior(kb):
    hits = kb.search(Q_PINGCAN, top_k=2, strict=False)
    assert ids(hits) == ["pingcan", "youdai"]
    # PINGCAN: first in both rankings, 平湖 (home), its title 评残材料 asks what the question asks
    # (the documents); YOUDAI: only second in the dense ranking, its title (怎么申领) asks another.
    assert hits[0].score == pytest.approx(1.01 * ASPECT_MATCH_BONUS * 2 / 61, rel=1e-9)
    assert hits[1].score == pytest.approx(ASPECT_OTHER_FACTOR / 62, rel=1e-9)
    assert hits[0].relevance == pytest.approx(0.9539392, rel=1e-6)  # the dense cosine, not the fused score
    assert hits[1].relevance == pytest.approx(0.3, rel=1e-6)


def test_dense_scores_are_the_cosine_times_the_prior(kb):
    hits = kb.search(Q_ANZHI, top_k=2, mode="dense", strict=False)
    # The repealed rule is closer (0.8) but halved; the other region's rule (0.6) is only cut to 0.8×.
    assert ids(hits) == ["shanghai", "old"]
    assert [h.score for h in hits] == pytest.approx([0.48, 0.4], rel=1e-6)
    assert [h.relevance for h in hits] == pytest.approx([0.6, 0.8], rel=1e-6)


def test_bm25_mode_scores_are_bm25_times_the_prior_and_encode_nothing(kb):
    hits = kb.search(Q_PINGCAN, mode="bm25", strict=False)
    assert ids(hits) == ["pingcan"]  # the only passage sharing words with the question
    assert hits[0].relevance > 0
    assert hits[0].score == pytest.approx(hits[0].relevance * 1.01 * ASPECT_MATCH_BONUS, rel=1e-6)
    assert kb.embedder.encoded == []


def test_bm25_threshold_applies_in_bm25_mode(kb):
    best = kb.search(Q_PINGCAN, mode="bm25", strict=False)[0].relevance
    kb.min_bm25 = best
    assert ids(kb.search(Q_PINGCAN, mode="bm25")) == ["pingcan"]
    kb.min_bm25 = best + 0.5
    assert kb.search(Q_PINGCAN, mode="bm25") == []
    assert ids(kb.search(Q_PINGCAN, mode="bm25", margin=0.5)) == ["pingcan"]
    kb.min_dense = 2.0  # the dense threshold plays no part in bm25 mode
    kb.min_bm25 = best
    assert ids(kb.search(Q_PINGCAN, mode="bm25")) == ["pingcan"]


def test_dense_threshold_keeps_a_passage_exactly_at_it_and_margin_lowers_it(kb):
    kb.min_dense = 0.75
    kb.min_bm25 = 1000.0  # the BM25 threshold plays no part outside bm25 mode
    for mode in ("dense", "hybrid"):
        assert ids(kb.search(Q_YOUDAI, mode=mode)) == ["youdai"], mode
        assert ids(kb.search(Q_YOUDAI, mode=mode, margin=0.1)) == ["youdai", "pingcan"], mode
    kb.min_dense = 0.7500001
    assert kb.search(Q_YOUDAI, mode="dense") == []


def test_the_best_ranked_passage_must_itself_be_relevant(kb):
    kb.min_dense = 0.7
    # SHANGHAI ranks first (0.48) with cosine 0.6: refused, though OLD below it has cosine 0.8.
    assert kb.search(Q_ANZHI, mode="dense") == []
    kb.min_dense = 0.55
    assert ids(kb.search(Q_ANZHI, mode="dense")) == ["shanghai", "old"]


def test_defaults_are_hybrid_strict_top_three_without_margin(kb):
    kb.min_dense = 0.75
    assert kb.search(Q_YOUDAI) == kb.search(Q_YOUDAI, top_k=3, mode="hybrid", strict=True, margin=0.0)
    assert ids(kb.search(Q_YOUDAI)) == ["youdai"]
    kb.min_dense = 0.99
    assert kb.search(Q_YOUDAI) == []  # strict by default
    kb.min_dense = -1.0
    assert len(kb.search(Q_YOUDAI)) == 3
    assert len(kb.search(Q_YOUDAI, top_k=2)) == 2


def test_thresholds_default_to_the_calibrated_values_and_follow_the_environment(toy_kb_base, monkeypatch):
    monkeypatch.delenv("VETBOT_KB_MIN_DENSE", raising=False)
    monkeypatch.delenv("VETBOT_KB_MIN_BM25", raising=False)
    kb = KnowledgeBase(embedder_for_passages(), base=toy_kb_base)
    assert (kb.min_dense, kb.min_bm25) == (0.90, 15.0)
    assert kb.judge is not None  # hybrid mode asks the fitted judge …
    kb.judge = None  # … and without it the calibrated cosine threshold decides
    assert ids(kb.search(Q_PINGCAN)) == ["pingcan"]  # cosine 0.954
    assert kb.search(Q_YOUDAI) == []  # cosine 0.75
    monkeypatch.setenv("VETBOT_KB_MIN_DENSE", "0.75")
    monkeypatch.setenv("VETBOT_KB_MIN_BM25", "2.5")
    kb = KnowledgeBase(embedder_for_passages(), base=toy_kb_base)
    assert (kb.min_dense, kb.min_bm25) == (0.75, 2.5)
    assert kb.judge is None  # a site's own dense threshold replaces the judge
    assert ids(kb.search(Q_YOUDAI)) == ["youdai"]


def test_blank_question_and_unknown_mode(kb):
    assert kb.search("  \n", mode="dense", strict=False) == []
    assert kb.embedder.encoded == []  # nothing was encoded for it
    with pytest.raises(ValueError) as error:
        kb.search(Q_YOUDAI, mode="semantic")
    assert str(error.value) == "mode must be one of ('bm25', 'dense', 'hybrid')"


def test_an_empty_index_finds_nothing(tmp_path):
    embedder = embedder_for_passages()
    publish(tmp_path, embedder, [])
    kb = KnowledgeBase(embedder, base=tmp_path)
    assert kb.size == 0
    assert kb.search(Q_YOUDAI, strict=False) == []


# -- query-vector cache --------------------------------------------------------------------------

def test_a_repeated_question_is_encoded_once(kb):
    first = kb.search(Q_YOUDAI, mode="dense", strict=False)
    assert kb.search(Q_YOUDAI, mode="dense", strict=False) == first
    assert kb.embedder.encoded == [Q_YOUDAI]


def test_query_cache_drops_the_least_recently_used(kb, monkeypatch):
    monkeypatch.setattr(search, "QUERY_CACHE_SIZE", 2)
    for question in (Q_YOUDAI, Q_ANZHI, Q_YOUDAI, Q_OTHER, Q_YOUDAI, Q_ANZHI):
        kb.search(question, mode="dense", strict=False)
    # Q_YOUDAI was used again before Q_OTHER came, so Q_ANZHI was the one dropped.
    assert kb.embedder.encoded == [Q_YOUDAI, Q_ANZHI, Q_OTHER, Q_ANZHI]


# -- index life cycle ----------------------------------------------------------------------------

def test_no_index_yet_says_how_to_build_one(tmp_path):
    kb = KnowledgeBase(embedder_for_passages(), base=tmp_path)
    with pytest.raises(RuntimeError) as error:
        kb.search(Q_YOUDAI)
    assert str(error.value) == "知识库索引还没有建立，请先运行 vetbot kb build"


def test_hit_by_id_and_size(kb):
    assert kb.size == 4
    assert kb.hit_by_id("pingcan") == Hit(PINGCAN, 1.0, 1.0)
    assert kb.hit_by_id("gone") is None


def test_a_new_version_is_loaded_and_an_unchanged_one_is_not_read_again(tmp_path):
    embedder = embedder_for_passages()
    publish(tmp_path, embedder, [YOUDAI])
    kb = KnowledgeBase(embedder, base=tmp_path)
    assert kb.size == 1
    first = current_manifest(tmp_path)["version"]
    # The searcher holds the loaded version in memory: it keeps answering when the files go.
    shutil.rmtree(kb_dir(tmp_path) / "indexes" / first)
    assert ids(kb.search(Q_YOUDAI, mode="dense", strict=False)) == ["youdai"]
    publish(tmp_path, embedder, [YOUDAI, PINGCAN])
    assert kb.size == 2
    assert ids(kb.search(Q_PINGCAN, top_k=1, strict=False)) == ["pingcan"]


def test_a_version_removed_before_it_was_loaded_sends_the_searcher_back_to_current(toy_kb_base, monkeypatch):
    published = current_manifest(toy_kb_base)
    manifests = iter([{**published, "version": "removed-by-a-newer-rebuild"}, published])
    monkeypatch.setattr(search, "current_manifest", lambda base=None: next(manifests))
    assert KnowledgeBase(embedder_for_passages(), base=toy_kb_base).size == 4


def test_a_version_that_stays_missing_is_reported_as_incomplete(tmp_path):
    embedder = embedder_for_passages()
    publish(tmp_path, embedder, [YOUDAI])
    version = current_manifest(tmp_path)["version"]
    shutil.rmtree(kb_dir(tmp_path) / "indexes" / version)
    with pytest.raises(RuntimeError) as error:
        KnowledgeBase(embedder, base=tmp_path).search(Q_YOUDAI)
    assert str(error.value) == f"知识库索引版本 {version} 不完整，请运行 vetbot kb build"


def test_an_index_built_with_another_model_is_refused(toy_kb_base):
    kb = KnowledgeBase(embedder_for_passages(model_id="other-model"), base=toy_kb_base)
    with pytest.raises(RuntimeError) as error:
        kb.search(Q_YOUDAI)
    assert str(error.value) == "知识库索引是用向量模型 keyed-test 建的，现在配置的是 other-model：请运行 vetbot kb build"


def test_an_embedder_that_does_not_name_its_model_uses_the_index_as_built(tmp_path):
    embedder = embedder_for_passages(cls=AnonymousEmbedder)
    publish(tmp_path, embedder, [YOUDAI])  # recorded as model "default"
    assert current_manifest(tmp_path)["model"] == "default"
    assert KnowledgeBase(embedder, base=tmp_path).size == 1


def test_an_entry_whose_title_asks_another_aspect_of_the_topic_goes_down():
    documents, procedure = rule("a", "申请评残要准备哪些材料", ""), rule("b", "评残怎么申请", "")
    assert _aspect_factor("procedure", procedure) == ASPECT_MATCH_BONUS
    assert _aspect_factor("procedure", documents) == ASPECT_OTHER_FACTOR
    assert _aspect_factor(None, documents) == 1.0 and _aspect_factor("amount", rule("c", "光荣牌", "")) == 1.0
