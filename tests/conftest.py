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


@pytest.fixture(scope="session")
def live_stack():
    """The real action + Rasa servers, started once, with the WeChat channel pointed at a local
    fake WeChat server: yields (fake_wechat, stack)."""
    from tests.support.stack import start_wechat_stack

    with start_wechat_stack() as (fake, stack):
        yield fake, stack


@pytest.fixture(scope="session")
def real_redis():
    """URL of a real redis-server started for this test session (see tests/support/redis_server.py)."""
    from tests.support.redis_server import running_redis

    with running_redis() as url:
        yield url
