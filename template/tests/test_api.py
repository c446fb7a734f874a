"""The framework adapter's behaviour: health, docs only in debug, validated example API."""

from __future__ import annotations

import httpx
import pytest

from .asgi import lifespan_cycle
from .conftest import AppFactory, client_for
from .framework import DOCS_PATHS
from .service import DOCS_ASSET_PATHS, HEALTH_PATHS, ITEMS_PATH

pytestmark = pytest.mark.anyio

VALID_ITEM = {"name": "Blue widget", "quantity": 3, "tags": ["blue", "small"]}


@pytest.mark.parametrize("path", HEALTH_PATHS)
async def test_health_endpoints(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/healthX", "/health/x", "/health/../api/v1"])
async def test_only_exact_health_paths(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code in (404, 405)


@pytest.mark.parametrize("path", DOCS_PATHS)
async def test_docs_are_absent_in_production(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("path", DOCS_PATHS)
async def test_docs_are_served_in_debug(make_app: AppFactory, path: str) -> None:
    async with client_for(make_app(debug=True)) as http:
        assert (await http.get(path)).status_code == 200


@pytest.mark.parametrize("path", [*DOCS_PATHS, *DOCS_ASSET_PATHS])
async def test_docs_need_no_credentials_in_debug(make_app: AppFactory, path: str) -> None:
    async with client_for(make_app(debug=True), credentials=None) as http:
        assert (await http.get(path)).status_code == 200


@pytest.mark.parametrize("path", DOCS_ASSET_PATHS)
async def test_docs_assets_are_absent_in_production(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_docs_page_loads_only_the_services_own_assets(make_app: AppFactory) -> None:
    """The docs page names no other origin (no CDN); the files it names are served."""
    async with client_for(make_app(debug=True)) as http:
        page = (await http.get(DOCS_PATHS[0])).text
        assert "://" not in page  # every URL it loads is relative: the service's own
        loaded = [asset for asset in DOCS_ASSET_PATHS if asset in page]
        assert any(asset.endswith(".js") for asset in loaded), page
        for asset in loaded:
            response = await http.get(asset)
            assert response.status_code == 200
            assert len(response.content) > 500  # the file itself, not an error body
        media_types = {
            asset.rpartition(".")[2]: (await http.head(asset)).headers["content-type"]
            for asset in DOCS_ASSET_PATHS
        }
    assert media_types["js"].startswith("text/javascript")
    assert media_types["css"].startswith("text/css")
    assert media_types["png"] == "image/png"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_docs_assets_are_read_only(make_app: AppFactory, method: str) -> None:
    async with client_for(make_app(debug=True)) as http:
        response = await http.request(method, DOCS_ASSET_PATHS[0])
    assert response.status_code in (404, 405)
    assert response.json()["error"] in ("not_found", "method_not_allowed")


async def test_create_and_read_item(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/v1/items", json=VALID_ITEM)
    assert created.status_code == 201
    item = created.json()
    assert {k: item[k] for k in VALID_ITEM} == VALID_ITEM
    read = await client.get(f"/api/v1/items/{item['id']}")
    assert read.status_code == 200
    assert read.json() == item


async def test_unknown_item_is_404_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/items/" + "0" * 32)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "payload",
    [
        {**VALID_ITEM, "name": ""},
        {**VALID_ITEM, "name": "x" * 201},
        {**VALID_ITEM, "name": "<script>alert(1)</script>"},
        {**VALID_ITEM, "quantity": -1},
        {**VALID_ITEM, "quantity": 10_001},
        {**VALID_ITEM, "quantity": "many"},
        {**VALID_ITEM, "tags": ["UPPER"]},
        {**VALID_ITEM, "tags": [f"t{i}" for i in range(21)]},
        {**VALID_ITEM, "admin": True},
        {"quantity": 1},
        [],
        "null",
    ],
)
async def test_bad_input_is_422_with_one_shape(client: httpx.AsyncClient, payload: object) -> None:
    response = await client.post("/api/v1/items", json=payload)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["detail"]
    for problem in body["detail"]:
        assert set(problem) == {"loc", "msg", "type"}  # the rejected input is not echoed


async def test_malformed_json_is_422_not_500(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/items", content=b'{"name": "x", ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


async def test_bad_path_parameter_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/items/not-an-id")
    assert response.status_code == 422


async def test_method_not_allowed_is_405_json(client: httpx.AsyncClient) -> None:
    response = await client.delete("/health")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


async def test_options_names_every_method_of_the_items_path(client: httpx.AsyncClient) -> None:
    """Answered (Litestar) or refused (405), OPTIONS names both methods of the list route."""
    response = await client.options(ITEMS_PATH)
    assert response.status_code in (204, 405)
    allowed = {method.strip() for method in response.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allowed, allowed


async def test_the_app_starts_and_stops_more_than_once(make_app: AppFactory) -> None:
    """A test client (or a server's reload) runs the same app's lifespan again."""
    app = make_app()
    for _ in range(2):
        assert await lifespan_cycle(app) == [
            "lifespan.startup.complete",
            "lifespan.shutdown.complete",
        ]
