"""Retrieval benchmark: query latency on the real corpus + imported laws, index build time,
and a 100k-passage scale run (HNSW recall@10 against exact search, latency, memory).

    .venv/bin/python bench/retrieval.py [--laws ../shared/laws] [--scale 100000]

Runs in its own data directory (<data dir>/bench) so the product's index is untouched."""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge import dense  # noqa: E402
from knowledge.bm25 import BM25  # noqa: E402
from knowledge.evaluate import load_questions  # noqa: E402
from knowledge.index import build_index, import_document, open_store, sync_corpus  # noqa: E402
from knowledge.search import KnowledgeBase  # noqa: E402
from knowledge.tokenize import tokens  # noqa: E402
from vetbot.config import subdir  # noqa: E402


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    return float(np.percentile(samples_ms, 50)), float(np.percentile(samples_ms, 95))


def timed(fn, queries, repeat=2) -> list[float]:
    samples = []
    for _ in range(repeat):
        for query in queries:
            started = time.perf_counter()
            fn(query)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def real_corpus(embedder, laws: Path | None) -> list[tuple[str, str]]:
    base = subdir("bench")
    store = open_store(base)
    sync_corpus(store)
    if laws and laws.is_dir():
        for path in sorted(laws.glob("*.md")):
            import_document(store, path)
    started = time.perf_counter()
    report = build_index(store, embedder, base=base, progress=True)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    build_index(store, embedder, base=base)  # every vector cached now: the incremental cost
    warm = time.perf_counter() - started
    kb = KnowledgeBase(embedder, base=base)
    questions = [q.text for q in load_questions()]
    kb.search(questions[0])  # load the index
    rows = [("passages (corpus + laws)", f"{report.passages}"),
            ("index build, first (encodes new passages)", f"{cold:.1f} s ({report.encoded_seconds:.1f} s encoding)"),
            ("index rebuild, vectors cached", f"{warm:.2f} s")]
    def uncached(mode):  # every timed query pays for its encoding
        return lambda q: (kb._query_vectors.clear(), kb.search(q, mode=mode))

    for label, fn in [
        ("query encode only", lambda q: embedder.encode_queries([q])),
        ("bm25 search", uncached("bm25")),
        ("dense search (incl. encode)", uncached("dense")),
        ("hybrid search (incl. encode)", uncached("hybrid")),
    ]:
        p50, p95 = percentiles(timed(fn, questions))
        rows.append((f"{label} p50 / p95", f"{p50:.1f} / {p95:.1f} ms"))
    return rows


def synthetic_vectors(seed_vectors: np.ndarray, n: int, rng) -> np.ndarray:
    """Mixtures of real passage vectors plus noise: distributed like real embeddings."""
    a = seed_vectors[rng.integers(0, len(seed_vectors), n)]
    b = seed_vectors[rng.integers(0, len(seed_vectors), n)]
    mix = rng.uniform(0.5, 1.0, (n, 1)).astype(np.float32)
    vectors = mix * a + (1 - mix) * b + rng.normal(0, 0.03, a.shape).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def scale_run(embedder, n: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(7)
    kb_root = subdir("bench") / "kb"
    seed = np.load(next((kb_root / "indexes").glob("*/vectors.npy")))
    vocab = [t for t in BM25.load(next((kb_root / "indexes").glob("*/"))).vocab if not t.startswith("#")]
    print(f"\nscale run: {n} synthetic passages")
    vectors = np.concatenate([synthetic_vectors(seed, n // 10, rng) for _ in tqdm(range(10), desc="向量")])
    docs = [list(rng.choice(vocab, size=40)) for _ in tqdm(range(n), desc="文本")]
    rows = []
    before = rss_mb()
    started = time.perf_counter()
    bm25 = BM25.build(docs)
    rows.append(("BM25 build", f"{time.perf_counter() - started:.1f} s"))
    started = time.perf_counter()
    exact = dense.build_index(vectors, threshold=n + 1)
    rows.append(("exact (flat) build", f"{time.perf_counter() - started:.1f} s"))
    started = time.perf_counter()
    ann = dense.build_index(vectors, threshold=0)
    rows.append(("HNSW build", f"{time.perf_counter() - started:.1f} s"))
    rows.append(("memory for the scale indexes (peak RSS growth)", f"{rss_mb() - before:.0f} MB"))
    queries = synthetic_vectors(seed, 200, rng)
    recalls = []
    for query in queries:
        _, truth = dense.search(exact, query, 10)
        _, found = dense.search(ann, query, 10)
        recalls.append(len(set(truth) & set(found)) / 10)
    rows.append(("HNSW recall@10 vs exact", f"{np.mean(recalls):.3f}"))
    for label, fn in [("exact search", lambda q: dense.search(exact, q, 50)),
                      ("HNSW search", lambda q: dense.search(ann, q, 50))]:
        p50, p95 = percentiles(timed(fn, queries, repeat=1))
        rows.append((f"{label} p50 / p95", f"{p50:.2f} / {p95:.2f} ms"))
    texts = [" ".join(rng.choice(vocab, size=4)) for _ in range(200)]
    p50, p95 = percentiles(timed(lambda t: bm25.scores(t.split()), texts, repeat=1))
    rows.append(("BM25 scoring p50 / p95", f"{p50:.2f} / {p95:.2f} ms"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--laws", type=Path, default=ROOT.parent / "shared" / "laws")
    parser.add_argument("--scale", type=int, default=100_000)
    args = parser.parse_args()
    from knowledge.embedder import load_embedder

    embedder = load_embedder()
    print(f"CPU threads: {os.cpu_count()}")
    rows = real_corpus(embedder, args.laws)
    if args.scale:
        rows += scale_run(embedder, args.scale)
    width = max(len(label) for label, _ in rows)
    print("\n" + "-" * (width + 30))
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
