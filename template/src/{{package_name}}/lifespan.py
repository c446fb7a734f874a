"""The app's lifespan, for every framework: the template's own work, then the team's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from .custom.lifespan import lifespan as custom_lifespan
from .logs import flush_logs, write_logs_through
from .outbound import Upstream
from .repository import ItemRepository
from .retention import purging
from .security.shutdown import STOP, stop_on_signal
from .settings import Settings

__all__ = ["service_lifespan"]

Lifespan = Callable[[object], AbstractAsyncContextManager[None]]


def service_lifespan(settings: Settings, upstream: Upstream, items: ItemRepository) -> Lifespan:
    """The lifespan an adapter gives its framework (which passes the app).

    The outbound client and the database pool are closed at shutdown after the
    team's own shutdown work, which may still use them; the retention purge runs
    while the app serves; from SIGTERM on (or else from the start of shutdown)
    access lines are no longer held but written at once. SIGTERM first ends every
    open stream with its final word (:mod:`.security.shutdown`).
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
                # From SIGTERM (the stop notice), or else from the start of shutdown, no
                # access line is held: Hypercorn terminates the workers still closing
                # their pool once one has exited, and that would lose held lines.
                with STOP.watching(write_logs_through):
                    try:
                        yield
                    finally:
                        write_logs_through()
        finally:
            flush_logs()  # anything still held (a start-up that failed), before the worker exits

    return lifespan
