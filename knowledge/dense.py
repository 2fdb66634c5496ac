"""FAISS inner-product index over normalised embeddings: exact (flat) for small corpora,
HNSW above a configurable size."""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from vetbot.settings import settings

HNSW_NEIGHBOURS = 32


def ann_threshold() -> int:
    """Passage count above which an approximate (HNSW) index replaces the exact one."""
    return settings().ann_threshold


def build_index(vectors: np.ndarray, threshold: int | None = None) -> faiss.Index:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    limit = ann_threshold() if threshold is None else threshold
    if len(vectors) > limit:
        index = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 512  # recall@10 ≥ 0.95 on the 100k bench (bench/README.md)
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(vectors)
    return index


def search(index: faiss.Index, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (scores, ids) of the k nearest passages; ids of -1 are padding."""
    k = min(k, index.ntotal)
    if k <= 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]


def save(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load(path: Path) -> faiss.Index:
    return faiss.read_index(str(path))
