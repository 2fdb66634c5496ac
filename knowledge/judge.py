"""The relevance judge: does the passage search put first answer the question?

One cosine threshold cannot tell: the multilingual-e5 cosine is compressed (unrelated text still
scores about 0.85), so 当兵回来能拿多少钱 was offered a near miss while questions about other cities
were answered. The judge is a logistic regression over what else the search knows about the top
passage — whether BM25 and the dense model agree on it and single it out, how much of the question
it covers, whether the question is about another place — fitted offline on the dev part of
tests/kb_eval (`vetbot kb judge --fit`, the second half of this file) and stored in
knowledge/judge.json. Nothing is fitted at run time; without the file search falls back to the
cosine threshold. Tried and left out, as they added nothing on the dev set out of fold: whether the
passage says the aspect asked or its title asks it, the share of the title named in the question,
the share of the question's character pairs in the passage (it only took a negative weight against
the BM25 share it overlaps), cosines of the question with the entry titles."""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge.passage import Passage
from knowledge.region import other_place

log = logging.getLogger(__name__)

JUDGE_FILE = Path(__file__).with_name("judge.json")
FEATURES = (
    "cosine",  # dense cosine of question and passage
    "cosine_gap",  # minus the best other candidate's cosine: does the dense model single it out
    "bm25_share",  # BM25 score over the most the question's tokens could score (unknown words count)
    "bm25_rank",  # 1 / its rank among BM25's candidates (0 when not among them)
    "dense_rank",  # 1 / its rank among the dense candidates
    "coverage",  # share of the question's words found in the passage (title, keywords, text)
    "other_place",  # 1 the question names another place (上海, 北京 …) and the passage is not its rule
)


@dataclass(frozen=True)
class Evidence:
    """What the search knows of one question, shared by every candidate passage it judges."""

    question: str
    words: frozenset[str]  # content words, with the colloquial expansion (当兵回来 → 退役)
    bm25_most: float  # what a passage holding every query token would score, about
    bm25: np.ndarray  # BM25 score of every passage
    bm25_rank: dict[int, int]  # passage index → 1-based rank among BM25's candidates
    dense_rank: dict[int, int]  # passage index → 1-based rank among the dense candidates
    dense_best: tuple[float, float]  # the two best candidate cosines
    place: str | None  # another place the question is about


BM25_K1 = 1.2  # as knowledge/bm25.py builds it: a term scores at most idf * (K1 + 1)


def term_idf(weights) -> tuple[np.ndarray, float]:
    """BM25's idf of every indexed term (weights: passages × terms, CSC) and of a term no passage
    holds. A share of the most a question could score does not grow with the corpus, as the raw
    score does when a site imports laws."""
    n = weights.shape[0]
    df = np.diff(weights.indptr)
    return np.log(1.0 + (n - df + 0.5) / (df + 0.5)), float(np.log(1.0 + (n + 0.5) / 0.5))


def evidence(question: str, tokens: list[str], vocab: dict[str, int], idf: tuple[np.ndarray, float],
             bm25: np.ndarray, bm25_ids: list[int], dense_ids: list[int], dense_scores: list[float]) -> Evidence:
    """tokens: query_tokens(question), what BM25 was given; vocab and idf: the index's."""
    best = (list(dense_scores[:2]) + [float("-inf")] * 2)[:2]
    known, unknown = idf
    distinct = set(tokens)
    columns = [vocab[t] for t in distinct if t in vocab]
    most = (float(known[columns].sum()) + unknown * (len(distinct) - len(columns))) * (BM25_K1 + 1.0)
    return Evidence(
        question=question,
        words=frozenset(t for t in tokens if not t.startswith("#")),  # query_tokens: words, then #bigrams
        bm25_most=most,
        bm25=bm25,
        bm25_rank={i: rank for rank, i in enumerate(bm25_ids, 1)},
        dense_rank={i: rank for rank, i in enumerate(dense_ids, 1)},
        dense_best=(float(best[0]), float(best[1])),
        place=other_place(question),
    )


def features(ev: Evidence, index: int, passage: Passage, text: str, cosine: float) -> np.ndarray:
    """The features of one candidate (`text`: what search indexed of it), in FEATURES order."""
    first, second = ev.dense_best
    others_best = second if ev.dense_rank.get(index) == 1 else first
    gap = cosine - others_best if math.isfinite(others_best) else 0.0
    return np.array([
        cosine,
        gap,
        float(ev.bm25[index]) / ev.bm25_most if ev.bm25_most > 0 else 0.0,
        1.0 / ev.bm25_rank[index] if index in ev.bm25_rank else 0.0,
        1.0 / ev.dense_rank[index] if index in ev.dense_rank else 0.0,
        sum(word in text for word in ev.words) / len(ev.words) if ev.words else 0.0,
        1.0 if ev.place and ev.place not in passage.region else 0.0,
    ])


@dataclass(frozen=True)
class Judge:
    """Logistic regression on standardised features, with its two thresholds: from `answer` up
    the bot answers; from `suggest` up it asks "您是想问…吗？"; below it says it does not know."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    answer: float
    suggest: float
    info: dict  # when and on what it was fitted, with the figures measured

    def probability(self, x: np.ndarray) -> float:
        z = float(((x - self.mean) / self.scale) @ self.coef) + self.intercept
        return 1.0 / (1.0 + math.exp(-z))

    def threshold(self, margin: float) -> float:
        """search()'s `margin` (> 0: the "did you mean" band) on the judge's scale."""
        return self.suggest if margin > 0 else self.answer

    def to_json(self) -> dict:
        return {
            "features": list(FEATURES),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "coef": [round(float(v), 6) for v in self.coef],
            "intercept": round(self.intercept, 6),
            "answer": round(self.answer, 6),
            "suggest": round(self.suggest, 6),
            **self.info,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Judge":
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"features {data['features']} are not this code's {list(FEATURES)}")
        info = {k: v for k, v in data.items()
                if k not in ("features", "mean", "scale", "coef", "intercept", "answer", "suggest")}
        arrays = [np.asarray(data[k], dtype=float) for k in ("mean", "scale", "coef")]
        if any(a.shape != (len(FEATURES),) for a in arrays) or not float(data["suggest"]) <= float(data["answer"]):
            raise ValueError("mean, scale and coef need one value per feature, and suggest <= answer")
        return cls(*arrays, float(data["intercept"]), float(data["answer"]), float(data["suggest"]), info)

    def save(self, path: Path | None = None) -> None:
        (path or JUDGE_FILE).write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def load_judge(path: Path | None = None) -> Judge | None:
    """The fitted judge (knowledge/judge.json unless `path`), or None with a warning saying why:
    search then uses the cosine threshold."""
    path = path or JUDGE_FILE
    try:
        return Judge.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        log.warning("relevance judge %s is missing: the cosine threshold decides (run vetbot kb judge --fit)", path)
    except (ValueError, KeyError, TypeError) as error:
        log.warning("relevance judge %s is unusable (%s): the cosine threshold decides "
                    "(run vetbot kb judge --fit)", path, error)
    return None


# -- fitting: `vetbot kb judge` ----------------------------------------------------------------
# Imports of the search and of scikit-learn stay inside these functions: the bot never fits.

FOLDS = 5
C = 1.0  # L2 strength of the logistic regression (on standardised features)
TARGET_WRONG = 0.03  # of all questions, at most this share answered with a passage that does not answer
TARGET_REFUSED = 0.90  # of the unanswerable questions, at least this share refused (not "did you mean")
OUTCOMES = ("right", "right_suggested", "wrong", "wrong_suggested", "refused")


@dataclass(frozen=True)
class Row:
    """One dev question: the features of the passage hybrid search puts first, whether that
    passage is one of its labelled answers, and what the cosine gate did with it."""

    question: object  # knowledge.evaluate.Question
    x: np.ndarray
    right: bool
    old: str  # the cosine gate's outcome (OUTCOMES)


def outcome(decision: str, right: bool) -> str:
    """decision: "answer", "suggest" or "refuse"."""
    if decision == "refuse":
        return "refused"
    return ("right" if right else "wrong") + ("_suggested" if decision == "suggest" else "")


def decide(p: float, answer: float, suggest: float) -> str:
    return "answer" if p >= answer else "suggest" if p >= suggest else "refuse"


def collect(kb, questions) -> list[Row]:
    """What the judge is fitted on, and what the cosine gate (what policy.answer_question does
    with it: answer at the threshold, "did you mean" within RELATED_MARGIN below) made of each."""
    from knowledge.search import RELATED_MARGIN

    judge, kb.judge = kb.judge, None
    rows = []
    try:
        for question in questions:
            judged = kb.judged(question.text)
            if judged is None:
                continue
            hits, x = judged
            right = hits[0].passage.doc_id in question.answers
            shown = kb.search(question.text, top_k=1)
            if shown:
                old = outcome("answer", shown[0].passage.doc_id in question.answers)
            else:
                near = kb.search(question.text, top_k=1, margin=RELATED_MARGIN)
                old = outcome("suggest", near[0].passage.doc_id in question.answers) if near else "refused"
            rows.append(Row(question, x, right, old))
    finally:
        kb.judge = judge
    return rows


def _model():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000))


def out_of_fold(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each question's probability from a model fitted on the other folds."""
    from sklearn.model_selection import StratifiedKFold

    p = np.zeros(len(y))
    for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(x, y):
        p[test] = _model().fit(x[train], y[train]).predict_proba(x[test])[:, 1]
    return p


def _cuts(p: np.ndarray) -> list[float]:
    """Candidate thresholds: midway between neighbouring probabilities, and beyond both ends."""
    values = np.unique(p)
    return [0.0] + [float(a + b) / 2 for a, b in zip(values[:-1], values[1:])] + [1.0 + 1e-9]


def choose_thresholds(p: np.ndarray, right: np.ndarray, answerable: np.ndarray,
                      max_wrong: float = TARGET_WRONG, min_refused: float = TARGET_REFUSED) -> tuple[float, float]:
    """(answer, suggest): answer from the lowest threshold at which at most `max_wrong` of the
    questions get a confident wrong answer; suggest from the lowest at which at least `min_refused`
    of the unanswerable ones are refused (answer is raised to it when it is higher)."""
    cuts = _cuts(p)
    answer = next(t for t in cuts if np.mean((p >= t) & ~right) <= max_wrong)
    unanswerable = p[~answerable]
    suggest = next(t for t in cuts if not len(unanswerable) or np.mean(unanswerable < t) >= min_refused)
    return max(answer, suggest), suggest


def figures(outcomes: list[str], answerable: list[bool]) -> dict[str, float]:
    """Shares of the answerable questions by outcome, of the unanswerable ones refused / suggested /
    answered, and of all questions answered wrongly (confidently wrong)."""
    yes = [o for o, a in zip(outcomes, answerable) if a]
    no = [o for o, a in zip(outcomes, answerable) if not a]

    def share(items, *kinds):
        return round(sum(o in kinds for o in items) / len(items), 3) if items else 0.0
    return {
        "n_answerable": len(yes), "n_unanswerable": len(no),
        **{f"answerable_{kind}": share(yes, kind) for kind in OUTCOMES},
        "unanswerable_refused": share(no, "refused"),
        "unanswerable_suggested": share(no, "wrong_suggested"),
        "unanswerable_answered": share(no, "wrong"),
        "confidently_wrong": share(outcomes, "wrong"),
    }


def judge_figures(judge: Judge, rows: list[Row]) -> dict[str, float]:
    """What a fitted judge makes of the questions of `rows` (figures())."""
    return figures([outcome(decide(judge.probability(r.x), judge.answer, judge.suggest), r.right) for r in rows],
                   [bool(r.question.answers) for r in rows])


def fit(rows: list[Row], max_wrong: float = TARGET_WRONG,
        min_refused: float = TARGET_REFUSED) -> tuple[Judge, dict[str, dict[str, float]]]:
    """Fit on the dev rows; thresholds from their out-of-fold probabilities; figures of the judge
    (out-of-fold on dev, the final model on held-out) and of the cosine gate on the same questions."""
    import datetime as dt

    dev = [r for r in rows if r.question.split != "heldout"]
    held = [r for r in rows if r.question.split == "heldout"]
    x = np.stack([r.x for r in dev])
    y = np.array([r.right for r in dev])
    answerable = np.array([bool(r.question.answers) for r in dev])
    p_oof = out_of_fold(x, y)
    answer, suggest = choose_thresholds(p_oof, y, answerable, max_wrong, min_refused)
    model = _model().fit(x, y)
    scaler, regression = model.steps[0][1], model.steps[1][1]
    judge = Judge(scaler.mean_, scaler.scale_, regression.coef_[0], float(regression.intercept_[0]),
                  answer, suggest, {})

    def judged(part, probabilities):
        return figures([outcome(decide(p, answer, suggest), r.right) for r, p in zip(part, probabilities)],
                       [bool(r.question.answers) for r in part])
    report = {
        "trade_off": trade_off(p_oof, y, answerable),
        "cosine_gate_dev": figures([r.old for r in dev], list(answerable)),
        "judge_dev_out_of_fold": judged(dev, p_oof),
        "cosine_gate_heldout": figures([r.old for r in held], [bool(r.question.answers) for r in held]),
        "judge_heldout": judge_figures(judge, held),
    }
    info = {"fitted": dt.date.today().isoformat(), "questions_dev": len(dev), "questions_heldout": len(held),
            "model": f"logistic regression, C={C}, standardised; thresholds from {FOLDS}-fold out-of-fold "
                     f"probabilities on dev (confidently wrong <= {max_wrong}, unanswerable refused >= "
                     f"{min_refused})",
            "figures": report}
    return Judge(judge.mean, judge.scale, judge.coef, judge.intercept, answer, suggest, info), report


TRADE_OFFS = ((0.02, 0.95), (0.03, 0.90), (0.05, 0.85), (0.08, 0.80), (0.12, 0.70), (0.16, 0.50))


def trade_off(p: np.ndarray, right: np.ndarray, answerable: np.ndarray) -> list[dict]:
    """What other targets would give, out of fold on dev: what is reachable."""
    rows = []
    for max_wrong, min_refused in TRADE_OFFS:
        answer, suggest = choose_thresholds(p, right, answerable, max_wrong, min_refused)
        shares = figures([outcome(decide(v, answer, suggest), r) for v, r in zip(p, right)], list(answerable))
        rows.append({"max_wrong": max_wrong, "min_refused": min_refused,
                     "answer": round(answer, 3), "suggest": round(suggest, 3),
                     **{k: shares[k] for k in ("answerable_right", "answerable_right_suggested",
                                               "answerable_refused", "unanswerable_refused", "confidently_wrong")}})
    return rows


ROW_LABELS = (
    ("answerable_right", "可回答：答对"), ("answerable_right_suggested", "可回答：“您是想问”猜对"),
    ("answerable_wrong", "可回答：答错"), ("answerable_wrong_suggested", "可回答：“您是想问”猜错"),
    ("answerable_refused", "可回答：拒答"), ("unanswerable_refused", "不可回答：拒答"),
    ("unanswerable_suggested", "不可回答：“您是想问”"), ("unanswerable_answered", "不可回答：答了"),
    ("confidently_wrong", "全部：答错（含不可回答却答了）"),
)


def table(report: dict[str, dict[str, float]]) -> str:
    columns = [("cosine_gate_dev", "余弦 dev"), ("judge_dev_out_of_fold", "判定 dev(OOF)"),
               ("cosine_gate_heldout", "余弦 留出"), ("judge_heldout", "判定 留出")]
    lines = ["".ljust(34) + "".join(title.rjust(14) for _, title in columns)]
    for key, label in ROW_LABELS:
        lines.append(label.ljust(34 - sum(1 for ch in label if ord(ch) > 0x2e80))
                     + "".join(f"{report[col][key]:>14.3f}" for col, _ in columns))
    counts = "  ".join(f"{title} {report[col]['n_answerable']}+{report[col]['n_unanswerable']}"
                       for col, title in columns[::2])
    lines.append(f"问题数（可回答+不可回答）：{counts}")
    lines.append("\n别的目标能做到什么（dev，交叉验证）：")
    lines.append("  答错上限 拒答下限 | 回答阈值 猜测阈值 | 可回答：答对 猜对 拒答 | 不可回答拒答 | 全部答错")
    for row in report["trade_off"]:
        lines.append(f"  {row['max_wrong']:>8.2f} {row['min_refused']:>8.2f} | {row['answer']:>8.3f} {row['suggest']:>8.3f} |"
                     f" {row['answerable_right']:>11.3f} {row['answerable_right_suggested']:>5.3f}"
                     f" {row['answerable_refused']:>5.3f} | {row['unanswerable_refused']:>12.3f} |"
                     f" {row['confidently_wrong']:>8.3f}")
    return "\n".join(lines)
