"""SQLite's pool: bounded waits, and readers beside a writer (WAL), on a migrated file.

Every variant has SQLite (the migrations' tests use it too). PostgreSQL's pool and
restarts have their own module (test_postgres.py, PostgreSQL variants).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from .asgi import lifespan_cycle
from .conftest import SettingsFactory, client_for
from .databases import sqlite_database_url
from .framework import build_test_app
from .service import ITEMS_PATH, ASGIApp, Database, ItemRow, create_app

pytestmark = pytest.mark.anyio
BODY = {"name": "widget", "quantity": 1}
PooledApp = tuple[ASGIApp, Database]


@pytest.fixture
async def make_pooled_app(
    make_settings: SettingsFactory,
) -> AsyncIterator[Callable[..., PooledApp]]:
    """Apps with a real SQLite pool (one connection unless told); shut down after the test."""
    made: list[PooledApp] = []

    def factory(**overrides: object) -> PooledApp:
        settings = make_settings(
            **{
                "database_url": sqlite_database_url(),
                "database_pool_size": 1,
                "database_max_overflow": 0,
                "database_pool_timeout": 0.5,
                "rate_limit_routes": {},
                "rate_limit_default": "100000/minute",
                **overrides,
            }
        )
        database = Database(settings)
        app = create_app(settings, build=lambda s: build_test_app(s, database))
        made.append((app, database))
        return app, database

    yield factory
    for app, database in made:
        await lifespan_cycle(app)  # closes the pool, as a shutdown does
        await database.aclose()


async def test_a_full_sqlite_pool_answers_503_quickly(
    make_pooled_app: Callable[..., PooledApp],
) -> None:
    app, database = make_pooled_app()
    async with client_for(app) as client:
        assert (await client.post(ITEMS_PATH, json=BODY)).status_code == 201
        # Its only connection busy, as under a slow request: the next waits 0.5 s, then 503.
        async with database.engine.connect():
            started = time.monotonic()
            response = await client.post(ITEMS_PATH, json=BODY)
            waited = time.monotonic() - started
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert 0.4 < waited < 3, waited
        assert (await client.post(ITEMS_PATH, json=BODY)).status_code == 201  # free again


async def test_pooled_readers_run_beside_a_writer_and_see_its_commits(
    make_pooled_app: Callable[..., PooledApp],
) -> None:
    app, database = make_pooled_app(database_pool_size=3)
    async with client_for(app) as client:
        created = await client.post(ITEMS_PATH, json=BODY)
        assert created.status_code == 201
        item_path = f"{ITEMS_PATH}/{created.json()['id']}"
        # A write transaction held open on one pooled connection (WAL: readers do not wait).
        async with database.engine.connect() as writer:
            await writer.execute(
                insert(ItemRow).values(
                    id="f" * 32,
                    name="held",
                    quantity=1,
                    tags=[],
                    created_at=datetime.now(UTC).replace(tzinfo=None),
                )
            )
            started = time.monotonic()
            read = await client.get(item_path)
            assert read.status_code == 200
            assert time.monotonic() - started < 1  # not the busy timeout
            assert (await client.get(f"{ITEMS_PATH}/{'f' * 32}")).status_code == 404
            await writer.commit()
        # Committed: the pool's other connections see it (none is left in a transaction).
        for _ in range(3):
            assert (await client.get(f"{ITEMS_PATH}/{'f' * 32}")).status_code == 200
