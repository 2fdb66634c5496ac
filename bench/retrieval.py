"""Retrieval benchmark: query latency on the real corpus + imported laws, index build time,
and a scale run on real-shaped synthetic data (BM25 timing; HNSW recall@10 against exact search
for encoded dev questions; latency; memory).

    .venv/bin/python bench/retrieval.py [--laws ../shared/laws] [--passages 100000]

Runs in its own data directory (<data dir>/bench) so the product's index is untouched.
How the synthetic data is made to look like the real one: bench/shapes.py."""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.shapes import TokenShape, describe, distinct_counts, mixed_vectors  # noqa: E402
from knowledge import dense  # noqa: E402
from knowledge.bm25 import BM25  # noqa: E402
from knowledge.evaluate import load_questions  # noqa: E402
from knowledge.index import (  # noqa: E402
    build_index, current_manifest, import_document, kb_dir, open_store, search_text, sync_corpus,
)
from knowledge.search import CANDIDATES, KnowledgeBase, _top  # noqa: E402
from knowledge.tokenize import query_tokens, tokens  # noqa: E402
from vetbot.config import subdir  # noqa: E402

SYNTHETIC_QUERIES = 1000
RECALL_AT = 10


def percentiles(samples_ms: list[float]) -> str:
    return f"{np.percentile(samples_ms, 50):.2f} / {np.percentile(samples_ms, 95):.2f} ms"


def timed(fn, queries) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per call. On a shared machine the CPU time of this
    process is closer to the work itself; the wall clock adds the time spent waiting for a core."""
    wall, cpu = [], []
    for query in queries:
        started, started_cpu = time.perf_counter(), time.process_time()
        fn(query)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu


def timing_rows(label: str, fn, queries) -> list[tuple[str, str]]:
    wall, cpu = timed(fn, queries)
    return [(f"{label} p50 / p95, wall", percentiles(wall)), (f"{label} p50 / p95, CPU", percentiles(cpu))]


def rss_mb() -> float:
    """Resident memory now (not the peak, which the data generation has already set)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
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

    steps = [
        ("query encode only", lambda q: embedder.encode_queries([q])),
        ("bm25 search (incl. tokenizing)", uncached("bm25")),
        ("dense search (incl. encode)", uncached("dense")),
        ("hybrid search (incl. encode)", uncached("hybrid")),
    ]
    samples = {label: [] for label, _ in steps}
    for question in questions:  # the steps take turns, so a burst of other work hits them all alike
        for label, fn in steps:
            samples[label] += timed(fn, [question])[0]
    rows += [(f"{label} p50 / p95, wall", percentiles(values)) for label, values in samples.items()]
    return rows


def fit_noise(seed: np.ndarray, questions: np.ndarray, rng) -> tuple[float, float, float]:
    """Noise for mixed_vectors such that encoded questions find their nearest synthetic passages
    as close as their nearest real ones (a synthetic set of the real set's size, mean cosine of
    the top 10). Returns (noise, real mean top-10 cosine, synthetic one)."""
    def top_cosine(vectors):
        return float(np.sort(questions @ vectors.T, axis=1)[:, -RECALL_AT:].mean())

    real = top_cosine(seed)
    low, high = 0.0, 0.05  # bisection: more noise, lower cosine
    for _ in range(12):
        middle = (low + high) / 2
        synthetic = np.mean([top_cosine(mixed_vectors(seed, len(seed), middle, rng)) for _ in range(3)])
        low, high = (middle, high) if synthetic > real else (low, middle)
    noise = (low + high) / 2
    return noise, real, top_cosine(mixed_vectors(seed, len(seed), noise, rng))


def mean_pair_cosine(vectors: np.ndarray, rng) -> float:
    i, j = rng.integers(0, len(vectors), (2, 20_000))
    return float(np.einsum("ij,ij->i", vectors[i], vectors[j]).mean())


def scale_run(embedder, n: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(7)
    base = subdir("bench")
    passages = open_store(base).passages()
    real_docs = [tokens(search_text(p)) for p in passages]
    questions = [q.text for q in load_questions()]
    real_queries = [query_tokens(q) for q in questions]
    print(f"\nscale run: {n} real-shaped synthetic passages", flush=True)

    rows = []
    started = time.perf_counter()
    docs = TokenShape.fit(real_docs, rng).sample(n, rng)
    synthetic_queries = TokenShape.fit(real_queries, rng).sample(SYNTHETIC_QUERIES, rng)
    rows.append(("synthetic texts generated in", f"{time.perf_counter() - started:.1f} s"))
    for label, texts in [(f"passages, real ({len(real_docs)})", real_docs),
                         (f"passages, synthetic ({n})", docs),
                         (f"queries, real dev questions ({len(real_queries)})", real_queries),
                         (f"queries, synthetic ({SYNTHETIC_QUERIES})", synthetic_queries)]:
        rows.append((f"{label}: tokens mean / p50 / p95", describe([len(t) for t in texts])))
        rows.append((f"{label}: distinct tokens mean / p50 / p95", describe(distinct_counts(texts))))

    seed = np.load(kb_dir(base) / "indexes" / current_manifest(base)["version"] / "vectors.npy")
    encoded = embedder.encode_queries(questions)
    noise, real_cos, synthetic_cos = fit_noise(seed, encoded, rng)
    vectors = mixed_vectors(seed, n, noise, rng)
    rows += [("passage vectors: noise fitted", f"{noise:.4f}"),
             ("dev questions' top-10 cosine, real / synthetic (same size)", f"{real_cos:.3f} / {synthetic_cos:.3f}"),
             ("cosine of random passage pairs, real / synthetic",
              f"{mean_pair_cosine(seed, rng):.3f} / {mean_pair_cosine(vectors, rng):.3f}")]

    before = rss_mb()
    started = time.perf_counter()
    bm25 = BM25.build(docs)
    rows.append(("BM25 build", f"{time.perf_counter() - started:.1f} s ({bm25.weights.nnz / n:.0f} terms per passage)"))
    started = time.perf_counter()
    exact = dense.build_index(vectors, threshold=n + 1)
    rows.append(("exact (flat) build", f"{time.perf_counter() - started:.1f} s"))
    started = time.perf_counter()
    ann = dense.build_index(vectors, threshold=0)
    rows.append((f"HNSW build (M={dense.HNSW_NEIGHBOURS}, efConstruction={ann.hnsw.efConstruction})",
                 f"{time.perf_counter() - started:.1f} s"))
    rows.append(("memory held by the scale indexes (RSS growth)", f"{rss_mb() - before:.0f} MB"))

    recalls = []
    for query in encoded:
        _, truth = dense.search(exact, query, RECALL_AT)
        _, found = dense.search(ann, query, CANDIDATES)
        recalls.append(len(set(truth) & set(found[:RECALL_AT])) / RECALL_AT)
    rows.append((f"HNSW recall@10 vs exact, encoded dev questions (efSearch={ann.hnsw.efSearch})",
                 f"{np.mean(recalls):.3f} (worst 5%: {np.percentile(recalls, 5):.1f}, min {min(recalls):.1f})"))
    rows += timing_rows("exact search top 50", lambda q: dense.search(exact, q, CANDIDATES), encoded)
    rows += timing_rows("HNSW search top 50", lambda q: dense.search(ann, q, CANDIDATES), encoded)

    def bm25_step(query):  # what search() does with BM25: score every passage, keep the top 50
        return _top(bm25.scores(query), CANDIDATES)

    rows += timing_rows("BM25 scoring + top 50, dev questions", bm25_step, real_queries)
    rows += timing_rows("BM25 scoring + top 50, synthetic queries", bm25_step, synthetic_queries)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--laws", type=Path, default=ROOT.parent / "shared" / "laws")
    parser.add_argument("--passages", type=int, default=100_000, help="scale run size; 0 skips it")
    args = parser.parse_args()
    from knowledge.embedder import load_embedder

    embedder = load_embedder()
    print(f"CPU cores: {len(os.sched_getaffinity(0))}, load average at start: {os.getloadavg()[0]:.1f}")
    started = time.perf_counter()
    rows = real_corpus(embedder, args.laws)
    rows.append(("real-corpus part took", f"{time.perf_counter() - started:.0f} s"))
    if args.passages:
        started = time.perf_counter()
        rows += scale_run(embedder, args.passages)
        rows.append(("scale run took", f"{time.perf_counter() - started:.0f} s"))
    rows.append(("peak RSS of the whole run", f"{peak_rss_mb():.0f} MB"))
    rows.append(("load average (1 min) at the end", f"{os.getloadavg()[0]:.1f}"))
    width = max(len(label) for label, _ in rows)
    print("\n" + "-" * (width + 30))
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
