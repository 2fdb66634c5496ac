"""Shared fixtures: the real embedder (loaded once) and small knowledge bases in temp dirs."""
from __future__ import annotations

import os

import pytest

from tests.booking.databases import BACKENDS, fresh_database

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path, monkeypatch):
    """A fresh migrated database on each backend (SQLite; PostgreSQL where available), with this
    test's data dir and PII key in the environment (spawned processes inherit both)."""
    monkeypatch.setenv("VETBOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VETBOT_PII_KEY", "test-key")
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def embedder():
    from knowledge.embedder import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def eval_embedder(embedder):
    """The real embedder with every evaluation question encoded once, in batches (the retrieval eval
    and the judge's refit both search them all)."""
    from knowledge.evaluate import load_questions
    from tests.support.encoded_once import QuestionsEncodedOnce

    return QuestionsEncodedOnce(embedder, [q.text for q in load_questions()])


@pytest.fixture(scope="session")
def toy_kb_base(tmp_path_factory):
    """The toy knowledge base (tests/support/toy_kb.py) published once; searches only read it."""
    from tests.support.toy_kb import PASSAGES, embedder_for_passages, publish

    base = tmp_path_factory.mktemp("toy-kb")
    publish(base, embedder_for_passages(), PASSAGES)
    return base


@pytest.fixture(scope="session")
def live_stack():
    """The real action + Rasa servers, started once for every stack test (a start takes minutes),
    with the WeChat channel pointed at a local fake WeChat server and the action calls going
    through stack.proxy (a test may slow it or take it down inside a `with`): yields (fake, stack)."""
    from tests.support.stack import LIVE_STACK_ENV, start_wechat_stack

    with start_wechat_stack(LIVE_STACK_ENV, proxied=True) as (fake, stack):
        yield fake, stack


@pytest.fixture(scope="session")
def live_console(live_stack):
    """The real console beside live_stack, sharing its data directory: yields its base URL."""
    from tests.support.console_server import start_console

    with start_console(live_stack[1]) as url:
        yield url


@pytest.fixture(scope="session")
def real_redis():
    """URL of a real redis-server started for this test session (see tests/support/redis_server.py)."""
    from tests.support.redis_server import running_redis

    with running_redis() as url:
        yield url
