"""The item store's connections: one engine per app, made on first use, closed at shutdown.

Bounded everywhere, so that a slow or absent database is a quick 503 and never a
hang: a pool of ``DATABASE_POOL_SIZE`` (+ ``DATABASE_MAX_OVERFLOW``) connections,
``DATABASE_POOL_TIMEOUT`` to get one (and to connect), ``DATABASE_STATEMENT_TIMEOUT``
per statement. SQLite is pooled too (WAL: readers beside the writer). PostgreSQL
connections are checked before use (a round trip per checkout), so a restarted
server is reconnected to rather than answered with the dead connection's error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from sqlalchemy import event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from . import DISTRIBUTION
from .database_url import is_sqlite, sqlite_path, tls_mode
from .models import ItemRow
from .security.readiness import Dependency, error_kind
from .security.redaction import Redactor
from .settings import Settings

__all__ = ["Database", "DatabaseUnavailableError", "database_dependency", "make_engine"]


# What a database that is down, restarting, overloaded or unreachable raises.
UNAVAILABLE_ERRORS = (PoolTimeoutError, OperationalError, InterfaceError, OSError, TimeoutError)


class DatabaseUnavailableError(Exception):
    """The database did not answer in time (or at all): the client gets a 503, retried later."""

    status = 503
    detail = "The database is unavailable: try again shortly."
    headers = {"Retry-After": "1"}  # noqa: RUF012 - never mutated

    def __init__(self, kind: str) -> None:
        super().__init__(kind)  # the error's kind only: its text may quote the URL
        self.kind = kind


def _sqlite_pragmas(connection: Any, _: Any) -> None:
    """WAL: readers never wait for the writer. (The busy timeout is the driver's ``timeout``.)"""
    cursor = connection.cursor()
    for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON"):
        cursor.execute(pragma)
    cursor.close()


def make_engine(settings: Settings, *, pooled: bool = True) -> AsyncEngine:
    """An engine for DATABASE_URL with the bounds above (``pooled=False``: one connection per use).

    SQLite is pooled too: a new aiosqlite connection is a thread started, a file
    opened and the PRAGMAs run, several times what the query costs. WAL lets the
    pool's readers run beside its one writer, and a connection is returned with no
    transaction open, so the next user sees every commit. ``DATABASE_POOL_SIZE=0``
    turns the pool off (for PostgreSQL behind PgBouncer, which pools already).
    """
    url = make_url(settings.database_url.get_secret_value())
    statement_timeout = settings.database_statement_timeout
    pooled = pooled and settings.database_pool_size > 0
    pool: dict[str, Any] = {"poolclass": NullPool}
    if pooled:
        pool = {
            "pool_size": settings.database_pool_size,
            "max_overflow": settings.database_max_overflow,
            "pool_timeout": settings.database_pool_timeout,
        }
    if is_sqlite(url.render_as_string(hide_password=False)):
        path = sqlite_path(url.render_as_string(hide_password=False))
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # ``timeout``: how long a writer waits for another one (SQLite's busy timeout).
        # No pre-ping: a file does not restart under a connection.
        engine = create_async_engine(url, connect_args={"timeout": statement_timeout}, **pool)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    mode = tls_mode(url.render_as_string(hide_password=False))
    connect_args: dict[str, Any] = {
        "timeout": settings.database_pool_timeout,  # to connect
        "command_timeout": statement_timeout + 1,  # the server's own limit comes first
        "server_settings": {
            "statement_timeout": str(int(statement_timeout * 1000)),
            "application_name": DISTRIBUTION,
        },
    }
    if mode is not None:
        connect_args["ssl"] = mode
    url = url.difference_update_query(["sslmode", "ssl"])
    if pooled:
        pool["pool_pre_ping"] = True  # a restarted server's dead connections are replaced
    return create_async_engine(url, connect_args=connect_args, **pool)


class Database:
    """The app's engine. Made lazily: building an app opens no connection."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = make_engine(self.settings)
        return self._engine

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection (SQLAlchemy Core: no session, no ORM identity map, per call).

        Its failures to answer become :class:`DatabaseUnavailableError`; an open
        transaction is rolled back when it goes back to the pool.
        """
        try:  # the engine made here: a SQLite directory it cannot create is unavailable too
            async with self.engine.connect() as connection:
                yield connection
        except UNAVAILABLE_ERRORS as error:
            kind = error_kind(error)
            structlog.get_logger().bind(logger=__name__).warning(
                "database_unavailable", error_kind=kind
            )
            raise DatabaseUnavailableError(kind) from None

    async def aclose(self) -> None:
        """Close the pool (at shutdown): the database sees the connections end, not vanish."""
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    @asynccontextmanager
    async def lifespan(self, _: object) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self.aclose()


def database_dependency(settings: Settings) -> Dependency:
    """Readiness' view of the database: a connection of its own, and the items table there.

    Not from the app's pool: a full pool is load, not a database that is down. The
    table is asked for too, so a database not yet migrated (``just migrate``) is
    not ready either.
    """
    url = settings.database_url.get_secret_value()

    async def probe() -> str | None:
        engine = make_engine(settings, pooled=False)
        try:
            async with engine.connect() as connection:
                await connection.execute(select(ItemRow.seq).limit(1))
        finally:
            await engine.dispose()
        return None

    return Dependency(
        name="database",
        setting="DATABASE_URL",
        target=Redactor().scrub_text(make_url(url).render_as_string(hide_password=True)),
        probe=probe,
    )
