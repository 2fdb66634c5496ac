"""The retrieval targets on the dev question set hold (the figures `vetbot kb eval` prints)."""
import pytest

from knowledge.evaluate import evaluate, threshold_for

pytestmark = pytest.mark.slow  # evaluates every dev question in three modes (about a minute)


# The unanswerable questions the threshold was chosen on. The near misses added since
# (unanswerable_more.yml) are refused far less often by one cosine threshold: that is the relevance
# judge of issue 10, reported by `vetbot kb eval`, not a regression this gate should hide or fail on.
THRESHOLD_SET = "unanswerable.yml"


@pytest.fixture(scope="module")
def results(eval_embedder):
    kb, questions, by_mode = evaluate(eval_embedder)
    assert sum(1 for q in questions if q.answers) >= 150 and sum(1 for q in questions if not q.answers) >= 20
    return kb, questions, by_mode


def test_hybrid_finds_the_answer_in_the_top_three_and_beats_each_alone(results):
    _, _, by_mode = results
    assert by_mode["hybrid"].hit(3) >= 0.90
    assert by_mode["hybrid"].hit(3) > max(by_mode["bm25"].hit(3), by_mode["dense"].hit(3))
    assert by_mode["hybrid"].mrr() > max(by_mode["bm25"].mrr(), by_mode["dense"].mrr())


def test_unanswerable_questions_are_refused(results):
    kb, questions, by_mode = results
    hybrid, threshold = by_mode["hybrid"], threshold_for(kb, "hybrid")
    unanswerable = [q for q in questions if not q.answers]
    best = [b for q, b in zip(unanswerable, hybrid.unanswerable_best) if q.file == THRESHOLD_SET]
    assert len(best) >= 30 and sum(b < threshold for b in best) / len(best) >= 0.80
    assert hybrid.answered(threshold) >= 0.75  # and most answerable ones are not
