"""Real processes for the concurrency tests of the token cache and the dedupe ledger.

The processes are forked (not spawned): they start in milliseconds and inherit the test's
environment, and under mutmut the mutant under test (chosen by an environment variable).
"""
from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import traceback
from typing import Any, Awaitable, Callable, Iterator

import redis

CONTEXT = multiprocessing.get_context("fork")
TIMEOUT = 60.0


def run_together(target: Callable[..., Awaitable[Any]], argument_lists: list[tuple]) -> list[Any]:
    """Run `await target(ready, *arguments)` in one process per argument list. Each calls
    ready() once it is set up (clients built, connections open); all of them go on from there
    at the same moment. Returns what each returned, in order; an exception in any process fails
    the test with that process's traceback."""
    barrier = CONTEXT.Barrier(len(argument_lists))
    results = CONTEXT.Queue()

    def ready() -> None:
        barrier.wait(TIMEOUT)

    processes = [
        CONTEXT.Process(target=_child, args=(index, target, (ready, *arguments), results), daemon=True)
        for index, arguments in enumerate(argument_lists)
    ]
    for process in processes:
        process.start()
    try:
        collected = dict(_result(results) for _ in processes)
    finally:
        _stop(processes)
    return [collected[index] for index in range(len(processes))]


@contextlib.contextmanager
def holding(target: Callable[..., Awaitable[Any]], *arguments: Any) -> Iterator[None]:
    """Run `await target(ready, release, *arguments)` in a background process, e.g. a stuck lock
    holder: the block runs once it called ready(); release() (blocking) returns when it ends."""
    started, ended = CONTEXT.Event(), CONTEXT.Event()
    results = CONTEXT.Queue()

    def release() -> None:
        ended.wait(TIMEOUT)

    process = CONTEXT.Process(target=_child, args=(0, target, (started.set, release, *arguments), results), daemon=True)
    process.start()
    try:
        if not started.wait(TIMEOUT):
            raise AssertionError("the background process did not get ready")
        yield
        ended.set()
        _result(results)
    finally:
        _stop([process])


def flushed(url: str) -> str:
    """The session's real Redis, emptied for this test."""
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return url


def _child(index: int, target: Callable[..., Awaitable[Any]], arguments: tuple, results) -> None:
    try:
        results.put((index, True, asyncio.run(target(*arguments))))
    except BaseException:
        results.put((index, False, traceback.format_exc()))


def _result(results) -> tuple[int, Any]:
    index, ok, value = results.get(timeout=TIMEOUT)
    if not ok:
        raise AssertionError(f"process {index} failed:\n{value}")
    return index, value


def _stop(processes: list) -> None:
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()
