"""A TTL + LRU cache whose concurrent misses on one key share one load (no stampede)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, Generic, TypeVar

from cachetools import TTLCache

from ..security.observe import observer

__all__ = ["CoalescingCache"]

V = TypeVar("V")


def digest(key: str) -> str:
    """Keys are stored by their SHA-256: bounded in size, and not the client's text."""
    return hashlib.sha256(key.encode()).hexdigest()


class CoalescingCache(Generic[V]):
    """Values for ``ttl`` seconds, at most ``max_size`` of them (least recently used go first).

    Storage is ``cachetools.TTLCache``. On a miss the load runs as its own task,
    and every concurrent miss on the same key awaits that one task: a thousand
    requests for a cold key make one upstream call. A waiter that is cancelled
    (its request timed out) leaves the load running for the others.

    The map of loads in flight stays bounded: an entry is removed when its load
    finishes, whether it succeeded or failed (failures are never cached), and at
    most ``max_in_flight`` keys are tracked. A miss beyond that loads on its own,
    uncoalesced; its value is still cached.
    """

    def __init__(
        self,
        *,
        ttl: float,
        max_size: int,
        max_in_flight: int,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0 or max_size < 1 or max_in_flight < 1:
            raise ValueError("ttl, max_size and max_in_flight must be positive")
        self._values: TTLCache[str, V] = TTLCache(maxsize=max_size, ttl=ttl, timer=timer)
        self._loading: dict[str, asyncio.Task[V]] = {}
        self.max_in_flight = max_in_flight

    def __len__(self) -> int:
        self._values.expire()
        return len(self._values)

    @property
    def in_flight(self) -> int:
        """How many keys are being loaded now."""
        return len(self._loading)

    async def get_or_load(self, key: str, load: Callable[[], Coroutine[Any, Any, V]]) -> V:
        """The cached value of ``key``, else the result of ``load()`` (shared, then cached)."""
        hashed = digest(key)
        try:
            value = self._values[hashed]
        except KeyError:
            observer().cache_lookup(hit=False)
        else:
            observer().cache_lookup(hit=True)
            return value
        task = self._loading.get(hashed)
        if task is None:
            if len(self._loading) >= self.max_in_flight:
                value = await load()
                self._values[hashed] = value
                return value
            task = asyncio.create_task(load())
            self._loading[hashed] = task
            task.add_done_callback(partial(self._settle, hashed))
        return await asyncio.shield(task)

    def cancel_loads(self) -> None:
        """Cancel the loads in flight (at shutdown): no task outlives the app."""
        for task in list(self._loading.values()):
            task.cancel()

    def _settle(self, hashed: str, task: asyncio.Task[V]) -> None:
        if self._loading.get(hashed) is task:
            del self._loading[hashed]
        if task.cancelled():
            return
        if task.exception() is None:  # (reading it also marks a failure as seen)
            self._values[hashed] = task.result()
