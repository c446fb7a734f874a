"""The item store against a real database: paging, injection, migrations, failure modes.

Runs against the variant's database (tests/databases.py: a migrated SQLite file, or
a PostgreSQL server the suite starts on 127.0.0.1). The pool and restarts of a
PostgreSQL server have their own module (test_postgres.py, PostgreSQL variants).
"""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import httpx
import pytest
from pydantic import ValidationError

from .asgi import lifespan_cycle
from .conftest import AppFactory, SettingsFactory, client_for
from .credentials import READ_ONLY
from .databases import PROJECT_ROOT, alembic, sqlite_database_url
from .service import (
    DATABASE,
    ITEM_PATH,
    ITEMS_PATH,
    READY_PATHS,
    ROUTE_SCOPES,
    Database,
    ItemIn,
    ItemRepository,
    Settings,
    config_errors,
)

pytestmark = pytest.mark.anyio
PACKAGE_DIR = next((PROJECT_ROOT / "src").iterdir())
# Spelled as client input that tries to change the statement it lands in.
HOSTILE = (
    "' OR '1'='1",
    "x'); DROP TABLE items; --",
    '" OR ""="',
    "1; SELECT pg_sleep(10)",
    "\\'; --",
    "%' AND 1=0 UNION SELECT id, name FROM items --",
)


async def create(client: httpx.AsyncClient, name: str = "widget", **extra: object) -> str:
    response = await client.post(ITEMS_PATH, json={"name": name, "quantity": 1, **extra})
    assert response.status_code == 201, response.text
    item_id: str = response.json()["id"]
    return item_id


async def test_items_are_listed_a_page_at_a_time(client: httpx.AsyncClient) -> None:
    first, second, third = [await create(client, f"item {n}") for n in range(3)]
    page = (await client.get(ITEMS_PATH, params={"after": first, "limit": 1})).json()
    assert [item["id"] for item in page["items"]] == [second]
    assert page["next_after"] == second
    page = (await client.get(ITEMS_PATH, params={"after": second, "limit": 100})).json()
    assert [item["id"] for item in page["items"]] == [third]
    assert page["next_after"] is None  # the last page
    assert page["items"][0] == {"id": third, "name": "item 2", "quantity": 1, "tags": []}


async def test_the_first_page_has_the_default_size_at_most(make_app: AppFactory) -> None:
    app = make_app(rate_limit_routes={}, rate_limit_default="1000/minute")
    async with client_for(app) as client:
        for n in range(21):
            await create(client, f"bulk {n}")
        page = (await client.get(ITEMS_PATH)).json()
    assert len(page["items"]) == 20
    assert page["next_after"] == page["items"][-1]["id"]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "101"},  # the hard maximum is 100: refused, not silently cut
        {"limit": "0"},
        {"limit": "-1"},
        {"limit": "ten"},
        {"after": "not-an-id"},
        {"after": "' OR '1'='1"},
    ],
)
async def test_a_bad_page_query_is_refused(
    client: httpx.AsyncClient, query: dict[str, str]
) -> None:
    response = await client.get(ITEMS_PATH, params=query)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"
    # Each problem names the query string and the parameter, as in every framework.
    [name] = query
    locations = [problem["loc"] for problem in response.json()["detail"]]
    assert locations, response.json()
    assert all(loc[:2] == ["query", name] for loc in locations), locations


async def test_an_unknown_cursor_gives_an_empty_page(client: httpx.AsyncClient) -> None:
    page = (await client.get(ITEMS_PATH, params={"after": "0" * 32})).json()
    assert page == {"items": [], "next_after": None}


async def test_listing_needs_the_read_scope(make_app: AppFactory) -> None:
    assert ROUTE_SCOPES[f"GET {ITEMS_PATH}"] == ("items:read",)
    async with client_for(make_app(), credentials=None) as anonymous:
        assert (await anonymous.get(ITEMS_PATH)).status_code == 401
    reader = next(iter(READ_ONLY.values()))
    async with client_for(make_app(), credentials=reader) as client:
        assert (await client.get(ITEMS_PATH)).status_code == 200
        assert (await client.post(ITEMS_PATH, json={"name": "x", "quantity": 1})).status_code == 403


@pytest.mark.parametrize("name", ["O'Brien -- the 'quoted' one", "a, b. c' d-e"])
async def test_quotes_and_dashes_in_a_name_are_kept_as_data(
    client: httpx.AsyncClient, name: str
) -> None:
    item_id = await create(client, name)
    assert (await client.get(ITEM_PATH.format(item_id=item_id))).json()["name"] == name


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_hostile_input_through_the_api_never_reaches_sql(
    client: httpx.AsyncClient, hostile: str
) -> None:
    """Input the models refuse is refused (422); what they accept is a bound parameter."""
    before = await create(client, "before")
    for request in (
        client.post(ITEMS_PATH, json={"name": hostile, "quantity": 1}),
        client.post(ITEMS_PATH, json={"name": "ok", "quantity": 1, "tags": [hostile]}),
        client.get(ITEM_PATH.format(item_id=hostile)),
        client.get(ITEMS_PATH, params={"after": hostile}),
        client.get(ITEMS_PATH, params={"limit": hostile}),
    ):
        assert (await request).status_code in (404, 422)
    # The table is there and untouched.
    assert (await client.get(ITEM_PATH.format(item_id=before))).status_code == 200


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_hostile_values_reach_the_database_as_data(
    make_settings: SettingsFactory, hostile: str
) -> None:
    """Below the models' checks: the repository binds every value it is given, whatever it is."""
    database = Database(make_settings())
    items = ItemRepository(database)
    try:
        # Quotes, dashes and SQL words pass the name's pattern: stored and read back as typed.
        name = "x' OR 'a' LIKE 'a' --"
        stored = await items.add(ItemIn(name=name, quantity=1, tags=["or-1-1"]))
        assert await items.get(stored.id) == stored
        assert stored.name == name
        # The id and the cursor reach the repository unchecked here: still only data.
        assert await items.get(hostile) is None
        assert (await items.page(1, after=hostile)).items == []
        assert await items.get(stored.id) == stored  # nothing was dropped or changed
    finally:
        await database.aclose()


def test_no_sql_is_built_from_strings() -> None:
    """Statements come from SQLAlchemy's expression language only (ruff's S608 covers f-strings)."""
    raw_sql = re.compile(r"\btext\(|exec_driver_sql|literal_column\(|\.execute\(f[\"']")
    offenders = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}"
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if raw_sql.search(line)
    ]
    assert offenders == []


def test_migrations_go_up_and_down_and_agree_with_the_models(tmp_path: Path) -> None:
    urls = [f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"]
    if DATABASE == "postgresql":
        from .databases import postgres_server

        server = postgres_server()
        urls.append(server.create_database("migrations"))
    for url in urls:
        alembic(url, "upgrade", "head")
        alembic(url, "check")  # models.py and the migrations describe the same schema
        alembic(url, "downgrade", "base")
        alembic(url, "upgrade", "head")


async def test_a_database_without_its_schema_is_unavailable_and_not_ready(
    make_app: AppFactory, tmp_path: Path
) -> None:
    """Never migrated (no `just migrate`): 503 with Retry-After, and readiness says why."""
    app = make_app(database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    async with client_for(app) as client:
        response = await client.post(ITEMS_PATH, json={"name": "x", "quantity": 1})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert "database" in response.json()["detail"]
        for path in READY_PATHS:
            ready = await client.get(path)
            assert ready.status_code == 503
            assert "database is unreachable" in ready.json()["detail"]
        assert (await client.get("/healthz")).status_code == 200  # liveness does not follow


async def test_a_migrated_database_is_ready(client: httpx.AsyncClient) -> None:
    for path in READY_PATHS:
        assert (await client.get(path)).status_code == 200


async def test_expired_items_are_purged(make_settings: SettingsFactory) -> None:
    database = Database(make_settings())
    items = ItemRepository(database)
    try:
        old = await items.add(ItemIn(name="old", quantity=1))
        await anyio.sleep(1)
        fresh = await items.add(ItemIn(name="fresh", quantity=1))
        assert await items.purge(ttl=0.5) >= 1
        assert await items.get(old.id) is None
        assert await items.get(fresh.id) is not None
    finally:
        await database.aclose()


async def test_the_app_purges_at_start_up(
    make_app: AppFactory, make_settings: SettingsFactory
) -> None:
    database = Database(make_settings())
    old = await ItemRepository(database).add(ItemIn(name="old", quantity=1))
    await database.aclose()
    await anyio.sleep(0.05)
    await lifespan_cycle(make_app(item_ttl=0.01, item_purge_interval=0.01))
    async with client_for(make_app()) as client:
        assert (await client.get(ITEM_PATH.format(item_id=old.id))).status_code == 404


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "DATABASE_URL: not a database URL"),
        ("mysql://app:s3cr3t-pw@db/items", "DATABASE_URL: a database this service does not use"),
        ("sqlite+aiosqlite://", "DATABASE_URL: a SQLite URL needs a file"),
        ("postgresql://app:s3cr3t-pw@db:notaport/items", "DATABASE_URL: not a database URL"),
    ],
)
def test_a_bad_url_is_one_line_without_its_password(url: str, expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate({"database_url": url})
    lines = config_errors.problems(caught.value)
    assert len(lines) == 1
    assert lines[0].startswith(expected)
    assert "s3cr3t-pw" not in lines[0]


def test_an_unset_url_is_one_line_for_postgresql_and_a_file_for_sqlite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATABASE_URL")  # the suite's own (conftest.py)
    if DATABASE == "sqlite":
        default = Settings.model_validate({}).database_url.get_secret_value()
        assert default == "sqlite+aiosqlite:///var/items.db"
        return
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate({})
    assert config_errors.problems(caught.value) == [
        "DATABASE_URL: not set: say where the database is, e.g. sqlite+aiosqlite:///var/items.db "
        "or postgresql+asyncpg://user:password@host:5432/db?sslmode=verify-full"
    ]


def test_a_remote_postgresql_needs_tls_outside_debug() -> None:
    remote = "postgresql://app:s3cr3t-pw@db.example.com/items"
    if DATABASE == "sqlite":
        with pytest.raises(ValidationError) as caught:
            Settings.model_validate({"database_url": remote})
        (line,) = config_errors.problems(caught.value)
        assert "update it with --data database=postgresql" in line
        return
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate({"database_url": remote})
    (line,) = config_errors.problems(caught.value)
    assert "sslmode=verify-full" in line
    assert "s3cr3t-pw" not in line
    for allowed in (
        {"database_url": remote + "?sslmode=verify-full"},
        {"database_url": remote, "database_allow_plaintext": True},
        {"database_url": remote, "debug": True},
        {"database_url": "postgresql://app:pw@127.0.0.1/items"},
    ):
        Settings.model_validate(allowed)


def test_the_url_is_a_secret_everywhere() -> None:
    settings = Settings.model_validate({"database_url": sqlite_database_url()})
    assert sqlite_database_url() not in repr(settings)
    assert sqlite_database_url() not in str(settings.model_dump())
