"""Shared fixtures: the real embedder (loaded once) and small knowledge bases in temp dirs."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedder():
    from knowledge.embedder import load_embedder

    return load_embedder()
