"""The access_token: fetched once, cached, shared by every process of the deployment.

WeChat allows only a couple of thousand token fetches a day and a new token invalidates the
old one after a few minutes, so every process must share one token. The shared copy is a
JSON file under data_dir()/wechat/ guarded by flock, or a Redis key when Redis is configured.
Whoever holds the lock fetches; the others re-read what it wrote.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import secrets
import time
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

from wechat_adapter.store import KeyValueStore

logger = logging.getLogger(__name__)

# Refresh this long before WeChat's expiry (tokens live 7200 s).
SAFETY_MARGIN = 300.0
# Longest wait for another process's fetch before fetching anyway (backends take lock_timeout).
LOCK_TIMEOUT = 20.0

Fetcher = Callable[[], Awaitable[tuple[str, int]]]


class FileTokenBackend:
    def __init__(self, path: Path, lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock_timeout = lock_timeout

    async def read(self) -> dict | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    async def write(self, record: dict) -> None:
        # Write-then-rename so a reader never sees half a file.
        temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(record), encoding="utf-8")
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.path)

    @contextlib.asynccontextmanager
    async def lock(self) -> AsyncIterator[None]:
        with open(self.path.with_suffix(".lock"), "a+") as handle:

            async def try_lock() -> bool:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    return False

            await _acquire(try_lock, self.lock_timeout)
            try:
                yield
            finally:
                # Explicitly, not by closing: a child forked meanwhile shares the descriptor and
                # would keep the lock. Unlocking a lock we never got (timeout) does nothing.
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


async def _acquire(try_lock: Callable[[], Awaitable[bool]], timeout: float) -> None:
    """Poll try_lock until it succeeds or `timeout` seconds pass (then go on unlocked: a stuck
    holder must not stop every message; at worst the token is fetched twice)."""
    deadline = time.monotonic() + timeout
    while not await try_lock():
        if time.monotonic() > deadline:
            logger.warning("access_token lock still held after %ss; fetching anyway", timeout)
            return
        await asyncio.sleep(0.05)


class StoreTokenBackend:
    def __init__(self, store: KeyValueStore, key: str, lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.store = store
        self.key = key
        self.lock_timeout = lock_timeout

    async def read(self) -> dict | None:
        raw = await self.store.get(self.key)
        return json.loads(raw) if raw else None

    async def write(self, record: dict) -> None:
        ttl = max(1.0, record["expires_at"] - time.time())
        await self.store.put(self.key, json.dumps(record), ttl)

    @contextlib.asynccontextmanager
    async def lock(self) -> AsyncIterator[None]:
        """SET NX with a value unique to this holder; the key expires after lock_timeout, so a
        crashed holder blocks the others only that long."""
        lock_key = self.key + ":lock"
        mine = secrets.token_hex(16)
        await _acquire(lambda: self.store.add(lock_key, mine, self.lock_timeout), self.lock_timeout)
        try:
            yield
        finally:
            # Release only our own lock: if it expired while we fetched, the key may now be
            # another process's lock (and after a lock timeout we never held it).
            await self.store.delete_if(lock_key, mine)


class TokenCache:
    def __init__(self, fetch: Fetcher, backend, margin: float = SAFETY_MARGIN, clock=time.time) -> None:
        self.fetch = fetch
        self.backend = backend
        self.margin = margin
        self.clock = clock
        self._memo: dict | None = None
        self._local_lock = asyncio.Lock()

    def _fresh(self, record: dict | None) -> bool:
        return bool(record and record.get("access_token") and record.get("refresh_at", 0) > self.clock())

    async def get(self) -> str:
        if self._fresh(self._memo):
            return self._memo["access_token"]
        record = await self.backend.read()
        if self._fresh(record):
            self._memo = record
            return record["access_token"]
        return await self.refresh()

    async def refresh(self, stale: str | None = None) -> str:
        """Get a new token, unless another process already replaced `stale` (or none was fresh)."""
        async with self._local_lock, self.backend.lock():
            record = await self.backend.read()
            replaced = record and stale is not None and record.get("access_token") != stale
            if self._fresh(record) and (stale is None or replaced):
                self._memo = record
                return record["access_token"]
            token, expires_in = await self.fetch()
            now = self.clock()
            margin = min(self.margin, expires_in / 5)
            record = {
                "access_token": token,
                "fetched_at": now,
                "expires_at": now + expires_in,
                "refresh_at": now + expires_in - margin,
            }
            await self.backend.write(record)
            self._memo = record
            logger.info("Fetched a new WeChat access_token (valid %ss)", expires_in)
            return token
