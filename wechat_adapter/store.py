"""A tiny async key-value store with expiry: in memory by default, Redis when configured.

Dedupe claims, stored answers, numbered options and (with Redis) the access_token live here.
`add` is SET NX EX: the one operation that makes "process each message once" work across
retries and across instances.
"""
from __future__ import annotations

import time
from typing import Any, Protocol

from vetbot.config import redis_url


class KeyValueStore(Protocol):
    async def add(self, key: str, value: str, ttl: float) -> bool:
        """Set only if absent (with expiry); True when this call created the key."""

    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str, ttl: float) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def delete_if(self, key: str, value: str) -> bool:
        """Delete only while the key still holds value (a lock owner releasing its own lock);
        True when this call deleted it."""


class MemoryStore:
    """Per-process store; right for one Rasa instance."""

    def __init__(self, clock=time.monotonic) -> None:
        self._items: dict[str, tuple[str, float]] = {}
        self._clock = clock

    def _alive(self, key: str) -> tuple[str, float] | None:
        item = self._items.get(key)
        if item and item[1] <= self._clock():
            del self._items[key]
            return None
        return item

    def _sweep(self) -> None:
        # Cheap amortised cleanup so a long-running process does not grow forever.
        if len(self._items) > 10_000:
            now = self._clock()
            for key in [k for k, (_, expires) in self._items.items() if expires <= now]:
                del self._items[key]

    async def add(self, key: str, value: str, ttl: float) -> bool:
        if self._alive(key):
            return False
        self._sweep()
        self._items[key] = (value, self._clock() + ttl)
        return True

    async def get(self, key: str) -> str | None:
        item = self._alive(key)
        return item[0] if item else None

    async def put(self, key: str, value: str, ttl: float) -> None:
        self._sweep()
        self._items[key] = (value, self._clock() + ttl)

    async def delete(self, key: str) -> None:
        self._items.pop(key, None)

    async def delete_if(self, key: str, value: str) -> bool:
        item = self._alive(key)
        if item is None or item[0] != value:
            return False
        del self._items[key]
        return True


# GET and DEL in one atomic step: a separate GET then DEL could delete a lock that expired and
# was taken by another process in between.
_DELETE_IF_EQUAL = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class RedisStore:
    """Shared store for several instances (VETBOT_REDIS_URL)."""

    def __init__(self, client: Any) -> None:
        # An asyncio Redis client with decode_responses=True (redis.asyncio.Redis or
        # fakeredis.aioredis.FakeRedis; delete_if runs a Lua script, which fakeredis runs only
        # with lupa installed).
        self.client = client

    @classmethod
    def from_url(cls, url: str) -> "RedisStore":
        import redis.asyncio

        return cls(redis.asyncio.Redis.from_url(url, decode_responses=True))

    @staticmethod
    def _ms(ttl: float) -> int:
        return max(1, int(ttl * 1000))

    async def add(self, key: str, value: str, ttl: float) -> bool:
        return bool(await self.client.set(key, value, nx=True, px=self._ms(ttl)))

    async def get(self, key: str) -> str | None:
        return await self.client.get(key)

    async def put(self, key: str, value: str, ttl: float) -> None:
        await self.client.set(key, value, px=self._ms(ttl))

    async def delete(self, key: str) -> None:
        await self.client.delete(key)

    async def delete_if(self, key: str, value: str) -> bool:
        return bool(await self.client.eval(_DELETE_IF_EQUAL, 1, key, value))


def make_store() -> KeyValueStore:
    url = redis_url()
    return RedisStore.from_url(url) if url else MemoryStore()
