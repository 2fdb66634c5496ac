"""Which category an appeal belongs to, from the veteran's own description.

A logistic regression over TF-IDF character 1–3-grams, trained at first use (about 0.05 s) on
appeals/categories_examples.yml. Characters rather than jieba words: voice typing splits and
misspells words, and on the dev set words (alone or added to the characters) did worse; the
e5 embeddings did no better either (`bench/appeals_classifier.py --compare` prints the figures).
"""
from __future__ import annotations

import re
import threading
from functools import lru_cache
from pathlib import Path

import yaml

from appeals.workflow import load_workflow

EXAMPLES_FILE = Path(__file__).with_name("categories_examples.yml")

# On the dev set 57% of descriptions reach this score and 91 of those 92 are right, so the
# dialogue may propose the top category alone; below it, the few likeliest are offered.
CONFIDENT = 0.5
OFFER_MASS = 0.8  # offer categories until their scores add up to this ...
MAX_OFFER = 3  # ... but never more buttons than this

_NOT_TEXT = re.compile(r"[^\w]+")  # punctuation: voice typing has none, so typed text drops it too
_lock = threading.Lock()


def load_examples(path: Path = EXAMPLES_FILE) -> dict[str, list[str]]:
    """Category id → example descriptions; every workflow category needs some, and no others."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    known = [c.id for c in load_workflow().categories]
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: 应是 分类id: [例句…]")
    for category, texts in data.items():
        if category not in known:
            raise ValueError(f"{path.name}: {category} 不是 workflow.yml 里的分类")
        if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise ValueError(f"{path.name}: {category} 的例句缺少或有空行")
    missing = [c for c in known if c not in data]
    if missing:
        raise ValueError(f"{path.name}: 缺少分类 {', '.join(missing)} 的例句")
    return data


def normalise(text: str) -> str:
    return _NOT_TEXT.sub(" ", text.lower()).strip()


@lru_cache(maxsize=1)
def _trained():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    examples = load_examples()
    texts = [normalise(t) for texts in examples.values() for t in texts]
    labels = [category for category, texts in examples.items() for _ in texts]
    model = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
        # sag: the same fit as the default lbfgs here, in ~40 ms instead of 0.2–0.9 s on a busy box
        LogisticRegression(C=10, solver="sag", max_iter=3000, random_state=0),
    )
    return model.fit(texts, labels)


def model():
    """The trained model, trained once per process (call at start to pay for it early)."""
    with _lock:  # two threads asking at once train it once
        return _trained()


def classify(text: str) -> list[tuple[str, float]]:
    """Every category id with its probability, best first."""
    trained = model()
    scores = trained.predict_proba([normalise(text)])[0]
    ranked = sorted(zip(trained.classes_, scores), key=lambda pair: -pair[1])
    return [(str(category), float(score)) for category, score in ranked]


def propose(text: str) -> tuple[list[str], bool]:
    """The categories to offer as buttons, best first, and whether the first is confident.

    Confident: the first alone. Otherwise the likeliest until their scores reach OFFER_MASS
    (always two at least, as the first is below CONFIDENT), at most MAX_OFFER."""
    ranked = classify(text)
    if ranked[0][1] >= CONFIDENT:
        return [ranked[0][0]], True
    offer, mass = [], 0.0
    for category, score in ranked[:MAX_OFFER]:
        offer.append(category)
        mass += score
        if mass >= OFFER_MASS:
            break
    return offer, False
