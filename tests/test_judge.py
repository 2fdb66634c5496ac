"""The relevance judge (knowledge/judge.py): its features one by one, the stored model, how the
thresholds are chosen, how search uses it; and (slow) a refit with cross-validation from the dev
questions against floors set below what was measured."""
from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest

import knowledge.judge as judge_module
from knowledge.bm25 import BM25
from knowledge.judge import (
    FEATURES, Judge, choose_thresholds, decide, evidence, features, figures, judge_figures, load_judge, outcome,
    term_idf,
)
from knowledge.passage import Passage
from knowledge.search import KnowledgeBase
from knowledge.tokenize import query_tokens, tokens
from tests.support.toy_kb import Q_ANZHI, Q_PINGCAN, Q_YOUDAI, embedder_for_passages, ids, toy_kb

QUESTION = "评残要带什么材料"


def passage(title: str, text: str, region: str = "全国") -> Passage:
    return Passage(id=title, doc_id=title, title=title, source="测试规定", article="", date="2021-01-01",
                   in_force=True, region=region, category="测试", text=text)


PINGCAN = passage("评残材料", "申请评残要带身份证、病历等材料。")
YOUDAI = passage("优待证申领", "优待证到服务站申领。")
CORPUS = [PINGCAN, YOUDAI]


def judged(question: str, index: int, cosine: float, dense_ids=(0, 1), dense_scores=(0.93, 0.90),
           bm25_ids=(0,), corpus=CORPUS) -> dict[str, float]:
    """The features of corpus[index] for `question`, by name."""
    texts = [f"{p.title}。{p.text}" for p in corpus]
    bm25 = BM25.build([tokens(t) for t in texts])
    q_tokens = query_tokens(question)
    ev = evidence(question, q_tokens, bm25.vocab, term_idf(bm25.weights), bm25.scores(q_tokens),
                  list(bm25_ids), list(dense_ids), list(dense_scores))
    return dict(zip(FEATURES, features(ev, index, corpus[index], texts[index], cosine)))


# -- features --------------------------------------------------------------------------------------

def test_cosine_gap_is_against_the_best_other_candidate():
    assert judged(QUESTION, 0, 0.93)["cosine_gap"] == pytest.approx(0.93 - 0.90)  # first: over the second
    assert judged(QUESTION, 1, 0.90)["cosine_gap"] == pytest.approx(0.90 - 0.93)  # second: under the first
    alone = judged(QUESTION, 0, 0.93, dense_ids=(0,), dense_scores=(0.93,))
    assert alone["cosine_gap"] == 0.0 and alone["cosine"] == 0.93


def test_ranks_are_one_over_the_rank_and_zero_when_absent():
    first = judged(QUESTION, 0, 0.93, dense_ids=(1, 0), bm25_ids=(0,))
    assert (first["bm25_rank"], first["dense_rank"]) == (1.0, 0.5)
    second = judged(QUESTION, 1, 0.90, dense_ids=(1, 0), bm25_ids=(0,))
    assert (second["bm25_rank"], second["dense_rank"]) == (0.0, 1.0)


def test_bm25_share_is_high_for_the_passage_with_the_words_and_zero_without():
    with_words, without = judged(QUESTION, 0, 0.9)["bm25_share"], judged(QUESTION, 1, 0.9)["bm25_share"]
    assert 0.2 < with_words < 1.0 and without == 0.0
    # An unknown word (no passage holds it) enlarges what the question could score: the share falls.
    assert judged(QUESTION + "鉴定费发票", 0, 0.9)["bm25_share"] < with_words


def test_term_idf_is_the_idf_bm25_weighs_with():
    # Two passages of equal length: a term occurring once weighs exactly its idf.
    bm25 = BM25.build([["甲", "乙"], ["甲", "丙"]])
    idf, unknown = term_idf(bm25.weights)
    for term in ("甲", "乙"):
        assert bm25.weights[0, bm25.vocab[term]] == pytest.approx(idf[bm25.vocab[term]], rel=1e-6)
    assert unknown == pytest.approx(math.log(1 + 2.5 / 0.5)) and unknown > idf.max()


def test_coverage_counts_the_question_words_found_in_the_passage():
    assert judged(QUESTION, 0, 0.9)["coverage"] == 1.0  # 评残, 带, 材料 are all in it
    assert judged(QUESTION, 1, 0.9)["coverage"] == 0.0
    partial = judged("评残要带户口本", 0, 0.9)
    assert partial["coverage"] == 2 / 4  # 评残, 带 of 评残 带 户口 户口本


def test_coverage_reads_the_colloquial_expansion():
    veteran = passage("退役金", "退役士兵按服役年限领取一次性退役金。")
    # 当兵 回来 拿 钱, and from knowledge/colloquial.yml 退役 退役金 补助 标准: the passage has the two
    # words of the rules (without the expansion it would share none)
    said = judged("当兵回来能拿多少钱", 0, 0.9, corpus=[veteran, YOUDAI], dense_ids=(0,), dense_scores=(0.9,))
    assert said["coverage"] == 2 / 8


def test_other_place_marks_a_question_about_another_place_unless_the_passage_is_its_rule():
    assert judged("上海" + QUESTION, 0, 0.9)["other_place"] == 1.0
    shanghai = [passage("评残材料", PINGCAN.text, region="上海"), YOUDAI]
    assert judged("上海" + QUESTION, 0, 0.9, corpus=shanghai)["other_place"] == 0.0
    assert judged("平湖" + QUESTION, 0, 0.9)["other_place"] == 0.0


# -- the stored model ------------------------------------------------------------------------------

def toy_judge(answer: float = 0.6, suggest: float = 0.4, weight: float = 20.0, centre: float = 0.75) -> Judge:
    """A judge that looks at the cosine only: probability 0.5 at `centre`."""
    coef = np.zeros(len(FEATURES))
    coef[FEATURES.index("cosine")] = weight
    return Judge(np.zeros(len(FEATURES)), np.ones(len(FEATURES)), coef, -weight * centre, answer, suggest, {})


def test_probability_is_the_logistic_of_the_standardised_features():
    judge = Judge(np.full(len(FEATURES), 1.0), np.full(len(FEATURES), 2.0), np.arange(len(FEATURES), dtype=float),
                  0.5, 0.7, 0.6, {})
    x = np.linspace(0, 1, len(FEATURES))
    z = float(((x - 1.0) / 2.0) @ np.arange(len(FEATURES))) + 0.5
    assert judge.probability(x) == pytest.approx(1 / (1 + math.exp(-z)))
    assert (judge.threshold(0.0), judge.threshold(0.02)) == (0.7, 0.6)


def test_the_judge_survives_its_file_and_a_file_for_other_features_is_refused(tmp_path, caplog):
    path = tmp_path / "judge.json"
    toy_judge().save(path)
    again = load_judge(path)
    x = np.linspace(0, 1, len(FEATURES))
    assert again.probability(x) == pytest.approx(toy_judge().probability(x)) and again.answer == 0.6
    data = json.loads(path.read_text())
    data["features"] = data["features"][:-1]
    path.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING):
        assert load_judge(path) is None
    assert "unusable" in caplog.text and "vetbot kb judge --fit" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert load_judge(tmp_path / "none.json") is None
    assert "missing" in caplog.text


def test_the_committed_judge_loads_and_says_how_it_was_fitted():
    judge = load_judge()
    assert judge is not None, "knowledge/judge.json: run vetbot kb judge --fit"
    assert 0.0 < judge.suggest <= judge.answer < 1.0
    assert judge.info["fitted"] and judge.info["figures"]["judge_heldout"]["n_unanswerable"] > 0


# -- choosing the thresholds -----------------------------------------------------------------------

def test_thresholds_are_the_lowest_that_meet_the_targets():
    rng = np.random.default_rng(3)
    answerable = np.array([True] * 300 + [False] * 60)
    right = answerable & (rng.random(360) < 0.8)
    p = np.where(right, rng.beta(5, 2, 360), rng.beta(2, 4, 360))
    answer, suggest = choose_thresholds(p, right, answerable)
    assert suggest <= answer
    assert np.mean((p >= answer) & ~right) <= judge_module.TARGET_WRONG
    assert np.mean(p[~answerable] < suggest) >= judge_module.TARGET_REFUSED
    # The next lower probability would miss a target: the thresholds answer as much as they may.
    assert np.mean((p >= p[p < answer].max()) & ~right) > judge_module.TARGET_WRONG or answer == suggest
    assert np.mean(p[~answerable] < p[p < suggest].max()) < judge_module.TARGET_REFUSED


def test_outcomes_and_figures():
    assert [decide(p, 0.8, 0.5) for p in (0.9, 0.8, 0.6, 0.2)] == ["answer", "answer", "suggest", "refuse"]
    assert [outcome("answer", True), outcome("suggest", False), outcome("refuse", True)] == \
        ["right", "wrong_suggested", "refused"]
    shares = figures(["right", "wrong", "refused", "refused", "wrong_suggested"], [True, True, True, False, False])
    assert shares["answerable_right"] == shares["answerable_wrong"] == 0.333
    assert shares["unanswerable_refused"] == shares["unanswerable_suggested"] == 0.5
    assert shares["confidently_wrong"] == 0.2 and (shares["n_answerable"], shares["n_unanswerable"]) == (3, 2)


# -- search with the judge -------------------------------------------------------------------------

@pytest.fixture
def kb(toy_kb_base, monkeypatch):
    return toy_kb(toy_kb_base, monkeypatch, judge=toy_judge())


def test_hybrid_search_answers_when_the_judge_says_so_and_suggests_within_its_lower_threshold(kb):
    # Q_YOUDAI's first passage has cosine 0.75: probability 0.5 under the toy judge.
    kb.judge = toy_judge(answer=0.5, suggest=0.3)
    assert ids(kb.search(Q_YOUDAI, top_k=1)) == ["youdai"]
    kb.judge = toy_judge(answer=0.51, suggest=0.5)
    assert kb.search(Q_YOUDAI) == []
    assert ids(kb.search(Q_YOUDAI, top_k=1, margin=0.02)) == ["youdai"]  # "did you mean"
    kb.judge = toy_judge(answer=0.6, suggest=0.51)
    assert kb.search(Q_YOUDAI, margin=0.02) == []
    assert ids(kb.search(Q_YOUDAI, top_k=1, strict=False)) == ["youdai"]  # not strict: no judge


def test_the_judge_decides_in_hybrid_mode_only(kb):
    kb.judge = toy_judge(answer=0.99, suggest=0.99)
    kb.min_dense = 0.5
    assert kb.search(Q_YOUDAI) == []
    assert ids(kb.search(Q_YOUDAI, mode="dense", top_k=1)) == ["youdai"]  # the cosine threshold
    kb.judge = None
    assert ids(kb.search(Q_YOUDAI, top_k=1)) == ["youdai"]


def test_the_passages_after_an_accepted_first_one_are_kept_by_the_cosine_threshold(kb):
    kb.judge = toy_judge(answer=0.0, suggest=0.0)
    kb.min_dense = 0.95
    assert ids(kb.search(Q_PINGCAN)) == ["pingcan"]  # cosine 0.954; YOUDAI's 0.3 is not related enough
    kb.min_dense = 0.2
    assert ids(kb.search(Q_PINGCAN)) == ["pingcan", "youdai"]


def test_the_judge_sees_the_passage_that_would_be_shown(kb):
    hits, x = kb.judged(Q_ANZHI)
    assert x[FEATURES.index("cosine")] == pytest.approx(hits[0].relevance)
    assert kb.judged("   ") is None


def test_without_the_judge_file_hybrid_search_uses_the_cosine_threshold(toy_kb_base, monkeypatch, tmp_path, caplog):
    monkeypatch.delenv("VETBOT_KB_MIN_DENSE", raising=False)
    monkeypatch.setattr(judge_module, "JUDGE_FILE", tmp_path / "judge.json")
    with caplog.at_level(logging.WARNING):
        kb = KnowledgeBase(embedder_for_passages(), base=toy_kb_base)
    assert kb.judge is None and "the cosine threshold decides" in caplog.text
    kb.min_dense = 0.75
    assert ids(kb.search(Q_YOUDAI, top_k=1)) == ["youdai"]
    kb.min_dense = 0.76
    assert kb.search(Q_YOUDAI) == []


# -- refit from the data (slow) --------------------------------------------------------------------

@pytest.fixture(scope="module")
def refit(eval_embedder):
    from knowledge.evaluate import eval_knowledge_base, load_questions
    from knowledge.judge import collect, fit

    kb = eval_knowledge_base(eval_embedder)
    rows = collect(kb, load_questions())
    judge, report = fit(rows)
    return kb, rows, judge, report


@pytest.mark.slow
def test_refit_with_cross_validation_meets_its_floors(refit):
    """Floors a little below what was measured on 2026-12-02 after the Pinghu entries were reworded
    (dev out-of-fold / held-out: answered right 0.515 / 0.509, confidently wrong 0.028 / 0.036,
    unanswerable refused 0.912 / 0.815; the cosine gate on the same held-out questions: 0.675,
    0.194, 0.259). Before the rewording, answered right was 0.547 / 0.527."""
    _, _, judge, report = refit
    oof, held = report["judge_dev_out_of_fold"], report["judge_heldout"]
    assert oof["confidently_wrong"] <= 0.03 and oof["unanswerable_refused"] >= 0.90  # chosen so on dev
    assert oof["answerable_right"] >= 0.50
    assert held["answerable_right"] >= 0.48
    assert held["confidently_wrong"] <= 0.06
    assert held["unanswerable_refused"] >= 0.70
    gate = report["cosine_gate_heldout"]  # far fewer wrong answers than the one cosine threshold
    assert held["confidently_wrong"] < gate["confidently_wrong"] / 2
    assert held["unanswerable_refused"] > gate["unanswerable_refused"] + 0.3


@pytest.mark.slow
def test_the_committed_judge_meets_the_floors_on_the_held_out_questions(refit):
    _, rows, _, _ = refit
    shares = judge_figures(load_judge(), [r for r in rows if r.question.split == "heldout"])
    assert shares["answerable_right"] >= 0.48 and shares["confidently_wrong"] <= 0.06
    assert shares["unanswerable_refused"] >= 0.70
