"""Your start-up and shutdown work, run once per worker process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["lifespan"]


@asynccontextmanager
async def lifespan(settings: Settings) -> AsyncIterator[None]:
    """Before ``yield``: runs before the first request (open a pool, warm a cache).

    After ``yield``: runs at shutdown, within ``SHUTDOWN_GRACE`` (close what you
    opened). An exception before ``yield`` stops the worker from serving.
    """
    yield
