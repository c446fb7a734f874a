"""The app's lifespan, for every framework: the template's own work, then the team's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from .custom.lifespan import lifespan as custom_lifespan
from .outbound import Upstream
from .settings import Settings

__all__ = ["service_lifespan"]

Lifespan = Callable[[object], AbstractAsyncContextManager[None]]


def service_lifespan(settings: Settings, upstream: Upstream) -> Lifespan:
    """The lifespan an adapter gives its framework (which passes the app).

    The outbound client is closed at shutdown after the team's own shutdown work,
    which may still call it.
    """

    @asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        async with upstream.lifespan(app), custom_lifespan(settings):
            yield

    return lifespan
