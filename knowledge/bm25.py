"""Okapi BM25 with the per-(term, passage) weights precomputed in a sparse matrix,
so a query is the sum of a few matrix columns."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import sparse


class BM25:
    def __init__(self, vocab: dict[str, int], weights: sparse.csc_matrix):
        self.vocab = vocab
        self.weights = weights  # shape (n_passages, n_terms)

    @classmethod
    def build(cls, docs: list[list[str]], k1: float = 1.2, b: float = 0.75) -> "BM25":
        vocab: dict[str, int] = {}
        rows, cols, tfs = [], [], []
        lengths = np.zeros(len(docs), dtype=np.float32)
        for row, doc in enumerate(docs):
            lengths[row] = len(doc)
            for term, tf in Counter(doc).items():
                rows.append(row)
                cols.append(vocab.setdefault(term, len(vocab)))
                tfs.append(tf)
        n_docs = max(len(docs), 1)
        tf = np.asarray(tfs, dtype=np.float32)
        rows_a = np.asarray(rows, dtype=np.int64)
        cols_a = np.asarray(cols, dtype=np.int64)
        df = np.bincount(cols_a, minlength=len(vocab)).astype(np.float32)
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        avg_len = float(lengths.mean()) if len(docs) else 1.0
        norm = k1 * (1.0 - b + b * lengths[rows_a] / max(avg_len, 1e-6))
        weight = idf[cols_a] * tf * (k1 + 1.0) / (tf + norm)
        matrix = sparse.csc_matrix((weight, (rows_a, cols_a)), shape=(len(docs), len(vocab)))
        return cls(vocab, matrix)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        columns = sorted({self.vocab[t] for t in query_tokens if t in self.vocab})
        if not columns:
            return np.zeros(self.weights.shape[0], dtype=np.float32)
        return np.asarray(self.weights[:, columns].sum(axis=1)).ravel()

    def save(self, directory: Path) -> None:
        sparse.save_npz(directory / "bm25.npz", self.weights.tocsr())
        (directory / "bm25_vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False))

    @classmethod
    def load(cls, directory: Path) -> "BM25":
        weights = sparse.load_npz(directory / "bm25.npz").tocsc()
        vocab = json.loads((directory / "bm25_vocab.json").read_text())
        return cls(vocab, weights)
