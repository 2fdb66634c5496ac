"""The in-process hub of live updates: the feed (and takeover) announce that a conversation changed,
and every open server-sent-events stream (GET /api/stream) passes it on to its browser."""
from __future__ import annotations

import asyncio
import json
import threading
from typing import AsyncIterator, Callable

KEEP_ALIVE_SECONDS = 15  # a comment line this often, so proxies and the browser keep the stream open
QUEUE_SIZE = 1000  # a browser that stops reading loses updates beyond this, not the server's memory


class Hub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = set()

    def subscribe(self) -> asyncio.Queue:
        """A queue of the messages published from now on; call from the event loop."""
        queue: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        with self._lock:
            self._subscribers.add((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        with self._lock:
            self._subscribers = {(loop, q) for loop, q in self._subscribers if q is not queue}

    def publish(self, message: dict) -> None:
        """To every subscriber; safe from any thread."""
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_offer, queue, message)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)


def _offer(queue: asyncio.Queue, message: dict) -> None:
    if not queue.full():
        queue.put_nowait(message)


hub = Hub()


def notify_conversation(sender_id: str, state: str) -> None:
    """Tell every open console that this conversation changed (a message, its state, its holder)."""
    hub.publish({"type": "conversation", "sender_id": sender_id, "state": state})


async def event_stream(disconnected: Callable[[], "asyncio.Future[bool]"], *, keep_alive: float = KEEP_ALIVE_SECONDS
                       ) -> AsyncIterator[str]:
    """text/event-stream lines: one `data:` message per update, a comment line when nothing happened
    for `keep_alive` seconds; ends when the browser goes away."""
    queue = hub.subscribe()
    try:
        yield "retry: 2000\n: connected\n\n"
        while not await disconnected():
            try:
                message = await asyncio.wait_for(queue.get(), timeout=keep_alive)
            except asyncio.TimeoutError:
                yield ": keep-alive\n\n"
                continue
            yield f"data: {json.dumps(message, ensure_ascii=False)}\n\n"
    finally:
        hub.unsubscribe(queue)
