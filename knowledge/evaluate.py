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


def load_questions(directory: Path = QUESTIONS_DIR) -> list[Question]:
    """The first-message questions of every file (conversations.yml holds multi-turn ones)."""
    questions = []
    for path in sorted(directory.glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            if "q" in item:
                questions.append(Question(str(item["q"]), frozenset(item.get("answers") or []),
                                          item.get("style", ""), path.name))
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


def evaluate(embedder) -> tuple[KnowledgeBase, list[Question], dict[str, ModeResult]]:
    base = subdir("eval")
    store = open_store(base)
    sync_corpus(store)
    build_index(store, embedder, base=base, cache_path=kb_dir() / "embeddings.sqlite3")
    kb = KnowledgeBase(embedder, base=base)
    questions = load_questions()
    return kb, questions, {mode: run(kb, questions, mode) for mode in MODES}


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
    if sweep:
        for mode, res in results.items():
            values = np.arange(4.0, 24.0, 2.0) if mode == "bm25" else np.arange(0.870, 0.925, 0.005)
            print(f"\n{mode} 阈值扫描：threshold refusal answered")
            for t in values:
                print(f"  {t:6.3f} {res.refused(t):8.3f} {res.answered(t):8.3f}")
    return 0
