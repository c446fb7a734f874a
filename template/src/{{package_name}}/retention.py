"""Data retention: items older than ITEM_TTL are deleted, every ITEM_PURGE_INTERVAL seconds.

Runs in each serving process (a purge is one bounded DELETE, harmless to repeat):
once at start-up, then at each interval. ``ITEM_TTL=0`` keeps items until deleted
by hand. At shutdown a purge under way is finished, not cancelled half-way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from .database import DatabaseUnavailableError
from .repository import ItemRepository

__all__ = ["purging"]


async def _purge_until(
    stopping: asyncio.Event, items: ItemRepository, ttl: float, interval: float
) -> None:
    logger = structlog.get_logger().bind(logger=__name__)
    while True:  # a first purge at start-up, even if the app stops at once
        try:
            if purged := await items.purge(ttl):
                logger.info("items_purged", count=purged, ttl=ttl)
        except DatabaseUnavailableError:
            pass  # said by the database layer already; the next round tries again
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval)
        if stopping.is_set():
            return


@asynccontextmanager
async def purging(items: ItemRepository, ttl: float, interval: float) -> AsyncIterator[None]:
    """Purge in the background while the app serves; stop at shutdown."""
    if ttl <= 0:
        yield
        return
    stopping = asyncio.Event()
    task = asyncio.create_task(_purge_until(stopping, items, ttl, interval))
    try:
        yield
    finally:
        stopping.set()
        await task
