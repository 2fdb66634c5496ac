"""Real-shaped synthetic data for the retrieval scale run (bench/retrieval.py).

What BM25 costs depends on how many tokens a query has and in how many passages each of them
occurs, so synthetic passages and queries copy, from the real ones (tokens as BM25 sees them:
jieba words + character bigrams):
  - the length distribution: every synthetic text takes the length of a random real one;
  - the vocabulary and term frequencies: a fresh token is drawn from the real token counts;
  - how often a text repeats its own terms: each token is, with probability `repeat`, a copy
    of an earlier token of the same text (else a fresh draw); `repeat` is fitted so that the
    distinct tokens per text match the real mean.
Limitation: the vocabulary stays the real one (about 20k tokens), where a real corpus of 100k
passages would have many more rare terms; rare terms therefore occur in more synthetic passages
than they would in real ones, which makes BM25 scoring slower here, not faster.

Passage vectors cannot be encoded for 100k passages in a bench run (about 50 ms each on 2 cores),
so they are mixtures of real passage vectors plus noise; `vector_noise` is fitted so that a real
question's nearest synthetic passages are as close as its nearest real ones."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np


def describe(lengths) -> str:
    """mean / p50 / p95 of a list of counts."""
    values = np.asarray(lengths)
    return f"{values.mean():.1f} / {np.percentile(values, 50):.0f} / {np.percentile(values, 95):.0f}"


def distinct_counts(texts: list[list[str]]) -> list[int]:
    return [len(set(text)) for text in texts]


@dataclass(frozen=True)
class TokenShape:
    lengths: np.ndarray  # tokens per real text
    vocab: list[str]
    cumulative: np.ndarray  # cumulative token frequencies, for drawing fresh tokens
    repeat: float = 0.0

    @classmethod
    def fit(cls, texts: list[list[str]], rng: np.random.Generator) -> "TokenShape":
        counts = Counter(token for text in texts for token in text)
        frequencies = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        shape = cls(np.array([len(t) for t in texts]), list(counts), np.cumsum(frequencies / frequencies.sum()))
        target = np.mean(distinct_counts(texts))
        low, high = 0.0, 0.95  # bisection: more repeats, fewer distinct tokens per text
        for _ in range(12):
            middle = (low + high) / 2
            sample = cls(shape.lengths, shape.vocab, shape.cumulative, middle).sample(2000, rng)
            low, high = (middle, high) if np.mean(distinct_counts(sample)) > target else (low, middle)
        return cls(shape.lengths, shape.vocab, shape.cumulative, (low + high) / 2)

    def sample(self, n: int, rng: np.random.Generator) -> list[list[str]]:
        lengths = rng.choice(self.lengths, n)
        starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
        total = int(lengths.sum())
        position = np.arange(total) - starts  # index of each token inside its text
        fresh = np.minimum(np.searchsorted(self.cumulative, rng.random(total)), len(self.vocab) - 1)
        source = np.arange(total)
        copies = (rng.random(total) < self.repeat) & (position > 0)
        source[copies] = starts[copies] + (rng.random(int(copies.sum())) * position[copies]).astype(np.int64)
        while True:  # follow copies of copies back to a fresh token (sources always point earlier)
            further = source[source]
            if np.array_equal(further, source):
                break
            source = further
        ids = fresh[source]
        vocab, texts, offset = self.vocab, [], 0
        for length in lengths:
            texts.append([vocab[i] for i in ids[offset:offset + length]])
            offset += length
        return texts


def mixed_vectors(seed: np.ndarray, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors mixed from two random real passage vectors plus Gaussian noise."""
    a = seed[rng.integers(0, len(seed), n)]
    b = seed[rng.integers(0, len(seed), n)]
    mix = rng.uniform(0.5, 1.0, (n, 1)).astype(np.float32)
    vectors = mix * a + (1 - mix) * b + rng.normal(0, noise, a.shape).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
