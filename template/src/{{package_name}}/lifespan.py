"""The app's lifespan, for every framework: the template's own work, then the team's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from .custom.lifespan import lifespan as custom_lifespan
from .logs import flush_logs
from .outbound import Upstream
from .repository import ItemRepository
from .retention import purging
from .security.shutdown import stop_on_signal
from .settings import Settings

__all__ = ["service_lifespan"]

Lifespan = Callable[[object], AbstractAsyncContextManager[None]]


def service_lifespan(settings: Settings, upstream: Upstream, items: ItemRepository) -> Lifespan:
    """The lifespan an adapter gives its framework (which passes the app).

    The outbound client and the database pool are closed at shutdown after the
    team's own shutdown work, which may still use them; the retention purge runs
    while the app serves; held access lines are written out as shutdown begins
    and again last. SIGTERM first ends every open stream with its final word
    (:mod:`.security.shutdown`).
    """

    @asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        try:
            async with (
                items.database.lifespan(app),
                upstream.lifespan(app),
                purging(items, settings.item_ttl, settings.item_purge_interval),
                custom_lifespan(settings),
                stop_on_signal(),
            ):
                try:
                    yield
                finally:
                    # Held access lines out before the slow part of shutdown (closing the
                    # pool): Hypercorn terminates the workers still running once one has
                    # exited, and without our signal handler by then that kills them.
                    flush_logs()
        finally:
            flush_logs()  # lines held during shutdown, before the worker exits

    return lifespan
