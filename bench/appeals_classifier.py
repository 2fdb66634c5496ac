"""How the appeal classifier (appeals/classify.py) does on veterans' descriptions: the dev and
held-out sets in tests/appeals/descriptions_{dev,heldout}.yml.

    .venv/bin/python bench/appeals_classifier.py              # the classifier in use
    .venv/bin/python bench/appeals_classifier.py --compare    # + the other methods, on dev only

Prints accuracy and macro-F1 for both sets, each set's confusion matrix, how often the top
category is confident and then right, the failing DEV rows, and classify()'s latency (p50 / p95
over the dev set, model already trained). Held-out rows are never printed, only counted, so
nobody tunes the classifier on them. --compare also scores, on dev: jieba words, words + char
n-grams, a linear SVM, and the e5 embeddings (needs the converted model under VETBOT_DATA_DIR)
with logistic regression and kNN."""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from appeals import classify  # noqa: E402
from appeals.workflow import load_workflow  # noqa: E402

DEV = ROOT / "tests" / "appeals" / "descriptions_dev.yml"
HELDOUT = ROOT / "tests" / "appeals" / "descriptions_heldout.yml"


def load_rows(path: Path) -> list[tuple[str, str]]:
    """(text, category id) per row; the sets name categories by their label."""
    ids = {c.label: c.id for c in load_workflow().categories}
    rows = []
    for number, row in enumerate(yaml.safe_load(path.read_text(encoding="utf-8")), start=1):
        if set(row) != {"category", "text"} or row["category"] not in ids or not row["text"].strip():
            raise ValueError(f"{path.name} row {number}: bad row {row}")
        rows.append((row["text"], ids[row["category"]]))
    return rows


def scores(truth: list[str], guess: list[str]) -> tuple[float, float]:
    """Accuracy and macro-F1 over the categories present in truth or guess."""
    right = sum(t == g for t, g in zip(truth, guess))
    f1s = []
    for category in sorted(set(truth) | set(guess)):
        hit = sum(t == g == category for t, g in zip(truth, guess))
        predicted, actual = guess.count(category), truth.count(category)
        f1s.append(2 * hit / (predicted + actual) if predicted + actual else 0.0)
    return right / len(truth), sum(f1s) / len(f1s)


def confusion(truth: list[str], guess: list[str]) -> str:
    """Rows: the true category; columns: the one given."""
    labels = {c.id: c.label for c in load_workflow().categories}
    order = list(labels)
    lines = ["真实＼判为  " + " ".join(f"{labels[c][:2]:>3}" for c in order) + "   对/总"]
    for actual in order:
        cells = [sum(t == actual and g == given for t, g in zip(truth, guess)) for given in order]
        right, total = cells[order.index(actual)], truth.count(actual)
        lines.append(f"{labels[actual]:　<6}" + " ".join(f"{n:>4}" for n in cells) + f"   {right}/{total}")
    return "\n".join(lines)


def report(name: str, rows: list[tuple[str, str]], show_failures: bool) -> None:
    truth = [category for _, category in rows]
    ranked = [classify.classify(text) for text, _ in rows]
    guess = [r[0][0] for r in ranked]
    accuracy, macro_f1 = scores(truth, guess)
    print(f"\n== {name}: {len(rows)} descriptions — accuracy {accuracy:.3f}, macro-F1 {macro_f1:.3f}")
    confident = [(r[0][0] == t) for r, t in zip(ranked, truth) if r[0][1] >= classify.CONFIDENT]
    offered = [t in classify.propose(text)[0] for text, t in rows]
    print(f"confident (score ≥ {classify.CONFIDENT}): {len(confident)}/{len(rows)}, "
          f"of them right {sum(confident)}/{len(confident)}; "
          f"true category among the buttons offered: {sum(offered)}/{len(rows)}")
    print(confusion(truth, guess))
    if show_failures:
        for (text, actual), r in zip(rows, ranked):
            if r[0][0] != actual:
                print(f"  ✗ {actual} → {r[0][0]} ({r[0][1]:.2f}): {text}")


def latency(rows: list[tuple[str, str]]) -> None:
    classify.model()  # trained before timing
    times = []
    for text, _ in rows:
        start = time.perf_counter()
        classify.classify(text)
        times.append((time.perf_counter() - start) * 1000)
    p95 = statistics.quantiles(times, n=20)[-1]
    print(f"\nclassify() latency over {len(times)} dev texts: p50 {statistics.median(times):.2f} ms, "
          f"p95 {p95:.2f} ms")


def compare(rows: list[tuple[str, str]]) -> None:
    """Other methods on dev, trained on the same examples."""
    from sklearn.base import clone
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.svm import LinearSVC

    from knowledge.tokenize import _jieba

    examples = classify.load_examples()
    train = [classify.normalise(t) for texts in examples.values() for t in texts]
    labels = [c for c, texts in examples.items() for _ in texts]
    texts = [classify.normalise(t) for t, _ in rows]
    truth = [c for _, c in rows]

    def jieba_words(text):
        return [w for w in _jieba().lcut(text) if w.strip()]

    def chars():
        return TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)

    def words():
        return TfidfVectorizer(analyzer=jieba_words, sublinear_tf=True)

    def logistic():
        return LogisticRegression(C=10, solver="sag", max_iter=3000, random_state=0)

    tfidf = {
        "chars 1-3 + logistic (in use)": clone(classify.model()),
        "jieba words + logistic": make_pipeline(words(), logistic()),
        "words + chars 1-3 + logistic": make_pipeline(make_union(words(), chars()), logistic()),
        "chars 1-3 + linear SVM": make_pipeline(chars(), LinearSVC(C=1)),
    }
    print("\n== methods on dev (same training examples)")
    for name, pipeline in tfidf.items():
        start = time.perf_counter()
        pipeline.fit(train, labels)
        took = time.perf_counter() - start
        accuracy, macro_f1 = scores(truth, list(pipeline.predict(texts)))
        print(f"{name:34s} accuracy {accuracy:.3f}  macro-F1 {macro_f1:.3f}  training {took * 1000:.0f} ms")

    from knowledge.embedder import load_embedder

    embedder = load_embedder()
    start = time.perf_counter()
    train_vectors = embedder.encode_queries(train)
    took = time.perf_counter() - start
    vectors = embedder.encode_queries(texts)
    e5 = {
        "e5 + logistic C=10": LogisticRegression(C=10, max_iter=3000),
        "e5 + logistic C=100": LogisticRegression(C=100, max_iter=3000),
        "e5 + kNN k=1": KNeighborsClassifier(1, metric="cosine"),
        "e5 + kNN k=3 (distance-weighted)": KNeighborsClassifier(3, metric="cosine", weights="distance"),
    }
    for name, estimator in e5.items():
        accuracy, macro_f1 = scores(truth, list(estimator.fit(train_vectors, labels).predict(vectors)))
        print(f"{name:34s} accuracy {accuracy:.3f}  macro-F1 {macro_f1:.3f}  "
              f"(encoding the examples {took * 1000:.0f} ms)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true", help="also score the other methods on dev")
    args = parser.parse_args(argv)
    dev, heldout = load_rows(DEV), load_rows(HELDOUT)
    report("dev", dev, show_failures=True)
    report("held-out (rows never shown)", heldout, show_failures=False)
    latency(dev)
    if args.compare:
        compare(dev)


if __name__ == "__main__":
    main()
