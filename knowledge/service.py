"""One knowledge base per process, built on first use (the action server and the CLI share it)."""
from __future__ import annotations

import threading

from knowledge.search import KnowledgeBase

_lock = threading.Lock()
_instance: KnowledgeBase | None = None


def get_knowledge_base() -> KnowledgeBase:
    global _instance
    with _lock:
        if _instance is None:
            from knowledge.embedder import load_embedder

            _instance = KnowledgeBase(load_embedder())
        return _instance
