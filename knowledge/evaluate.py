"""`vetbot kb eval`: retrieval quality on the dev question set, BM25 vs dense vs hybrid.

The index is built from the project corpus alone in its own directory, so the figures do not
depend on which documents a site has imported."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from knowledge.index import build_index, kb_dir, open_store, sync_corpus
from knowledge.search import CANDIDATES, MODES, KnowledgeBase
from vetbot.config import PROJECT_ROOT, subdir

QUESTIONS_DIR = PROJECT_ROOT / "tests" / "kb_eval"


@dataclass(frozen=True)
class Question:
    text: str
    answers: frozenset[str]
    style: str
    file: str = ""  # the file it comes from
    split: str = "dev"  # "heldout": never used to fit or choose a threshold


HELDOUT_EVERY = 3  # files without a split field: their n-th question (from 1) is held out when n % 3 == 0


def load_questions(directory: Path = QUESTIONS_DIR) -> list[Question]:
    """The first-message questions of every file (conversations.yml holds multi-turn ones), each
    with its split: the item's own `split`, else the rule the files that have one follow."""
    questions = []
    for path in sorted(directory.glob("*.yml")):
        items = [item for item in yaml.safe_load(path.read_text(encoding="utf-8")) or [] if "q" in item]
        for n, item in enumerate(items, 1):
            split = item.get("split") or ("heldout" if n % HELDOUT_EVERY == 0 else "dev")
            questions.append(Question(str(item["q"]), frozenset(item.get("answers") or []),
                                      item.get("style", ""), path.name, split))
    return questions


@dataclass
class ModeResult:
    ranks: list[int | None]  # rank (1-based) of the first correct passage, per answerable question
    answerable_best: list[float]  # best relevance per answerable question
    unanswerable_best: list[float]

    def hit(self, k: int) -> float:
        return float(np.mean([r is not None and r <= k for r in self.ranks]))

    def mrr(self) -> float:
        return float(np.mean([1.0 / r if r else 0.0 for r in self.ranks]))

    def refused(self, threshold: float) -> float:
        return float(np.mean([b < threshold for b in self.unanswerable_best])) if self.unanswerable_best else 1.0

    def answered(self, threshold: float) -> float:
        return float(np.mean([b >= threshold for b in self.answerable_best]))


def run(kb: KnowledgeBase, questions: list[Question], mode: str) -> ModeResult:
    result = ModeResult([], [], [])
    for question in questions:
        hits = kb.search(question.text, top_k=CANDIDATES, mode=mode, strict=False)
        best = hits[0].relevance if hits else float("-inf")  # strict search judges the top passage
        if not question.answers:
            result.unanswerable_best.append(best)
            continue
        result.answerable_best.append(best)
        rank = next((i for i, h in enumerate(hits[:10], 1) if h.passage.doc_id in question.answers), None)
        result.ranks.append(rank)
    return result


def threshold_for(kb: KnowledgeBase, mode: str) -> float:
    return kb.min_bm25 if mode == "bm25" else kb.min_dense


def eval_knowledge_base(embedder) -> KnowledgeBase:
    """The project corpus alone, indexed in its own directory (vectors from the site's cache)."""
    base = subdir("eval")
    store = open_store(base)
    sync_corpus(store)
    build_index(store, embedder, base=base, cache_path=kb_dir() / "embeddings.sqlite3")
    return KnowledgeBase(embedder, base=base)


def evaluate(embedder) -> tuple[KnowledgeBase, list[Question], dict[str, ModeResult]]:
    kb = eval_knowledge_base(embedder)
    questions = load_questions()
    return kb, questions, {mode: run(kb, questions, mode) for mode in MODES}


def print_judge(kb: KnowledgeBase, questions: list[Question]) -> None:
    """What the bot does with the top passage of the held-out questions: the relevance judge
    (knowledge/judge.json, fitted on the others) beside the one cosine threshold."""
    from knowledge.judge import collect, figures, judge_figures

    if kb.judge is None:
        print("\n没有相关度判定文件（knowledge/judge.json）：运行 vetbot kb judge --fit")
        return
    rows = collect(kb, [q for q in questions if q.split == "heldout"])
    gate = figures([r.old for r in rows], [bool(r.question.answers) for r in rows])
    judged = judge_figures(kb.judge, rows)
    print(f"\n留出的 {len(rows)} 个问题（hybrid，首条）：       答对  “您是想问”猜对  答错  不可回答拒答")
    for name, shares in (("余弦阈值", gate), ("相关度判定", judged)):
        print(f"  {name:<10}{shares['answerable_right']:>18.3f}{shares['answerable_right_suggested']:>14.3f}"
              f"{shares['confidently_wrong']:>8.3f}{shares['unanswerable_refused']:>14.3f}")
    print("  （答错 = 所有留出问题里自信地答错的比例；详见 vetbot kb judge）")


def main(embedder, sweep: bool = False) -> int:
    kb, questions, results = evaluate(embedder)
    answerable = sum(1 for q in questions if q.answers)
    print(f"开发集：{len(questions)} 个问题（可回答 {answerable}，不可回答 {len(questions) - answerable}），语料 {kb.size} 段\n")
    print(f"{'mode':<8}{'hit@1':>8}{'hit@3':>8}{'MRR':>8}{'refusal':>9}{'answered':>10}{'threshold':>11}")
    for mode, res in results.items():
        t = threshold_for(kb, mode)
        print(f"{mode:<8}{res.hit(1):>8.3f}{res.hit(3):>8.3f}{res.mrr():>8.3f}"
              f"{res.refused(t):>9.3f}{res.answered(t):>10.3f}{t:>11.2f}")
    print("\nrefusal = 不可回答的问题被拒答的比例；answered = 可回答的问题没有被误拒的比例")
    print_judge(kb, questions)
    if sweep:
        for mode, res in results.items():
            values = np.arange(4.0, 24.0, 2.0) if mode == "bm25" else np.arange(0.870, 0.925, 0.005)
            print(f"\n{mode} 阈值扫描：threshold refusal answered")
            for t in values:
                print(f"  {t:6.3f} {res.refused(t):8.3f} {res.answered(t):8.3f}")
    return 0
