"""Error bodies in each ERROR_FORMAT: RFC 9457 problem details, legacy, or both.

Each error is produced where it really arises: the framework's router (404, 405)
and validation (422), a handler's own 404, the core's layers (401, 413, 500), so
every framework is held to the one shape.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import AppFactory, client_for
from .test_api import VALID_ITEM

pytestmark = pytest.mark.anyio

PROBLEM = {"type", "title", "status", "detail", "instance", "code"}
LEGACY = {"error", "detail", "request_id"}
UNKNOWN_ITEM = "/api/v1/items/" + "0" * 32


async def errors_of(app: Any) -> dict[str, httpx.Response]:
    """One answer of each kind, by what produced it."""
    async with client_for(app) as http:
        answers = {
            "router 404": await http.get("/missing"),
            "handler 404": await http.get(UNKNOWN_ITEM),
            "router 405": await http.delete("/health"),
            "validation 422": await http.post("/api/v1/items", json={**VALID_ITEM, "quantity": -1}),
            "core 413": await http.post("/api/v1/items", content=b"x" * 2048),
            "core 500": await http.get("/_test/boom"),
        }
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as anonymous:
            answers["core 401"] = await anonymous.get(UNKNOWN_ITEM)
    return answers


EXPECTED = {
    "router 404": (404, "not_found", "Not Found"),
    "handler 404": (404, "not_found", "Not Found"),
    "router 405": (405, "method_not_allowed", "Method Not Allowed"),
    "validation 422": (422, "validation_error", "Unprocessable Content"),
    "core 413": (413, "payload_too_large", "Content Too Large"),
    "core 500": (500, "internal_error", "Internal Server Error"),
    "core 401": (401, "unauthorized", "Unauthorized"),
}


async def test_problem_details_alone(make_app: AppFactory) -> None:
    answers = await errors_of(make_app(error_format="problem", max_body_size=1024))
    for kind, response in answers.items():
        status, code, title = EXPECTED[kind]
        body = response.json()
        assert response.status_code == status, kind
        assert response.headers["content-type"] == "application/problem+json", kind
        assert set(body) - {"errors"} == PROBLEM, kind
        assert (body["type"], body["title"], body["status"], body["code"]) == (
            "about:blank",
            title,
            status,
            code,
        ), kind
        assert isinstance(body["detail"], str), kind
        assert body["instance"] == response.headers["x-request-id"], kind
    invalid = answers["validation 422"].json()
    assert invalid["detail"] == "Invalid request."
    assert [problem["type"] for problem in invalid["errors"]]  # the invalid fields, listed
    assert answers["handler 404"].json()["detail"] == "Item not found."


async def test_legacy_is_the_old_body(make_app: AppFactory) -> None:
    answers = await errors_of(make_app(error_format="legacy", max_body_size=1024))
    for kind, response in answers.items():
        status, code, _ = EXPECTED[kind]
        body = response.json()
        assert response.status_code == status, kind
        assert response.headers["content-type"] == "application/json", kind
        assert set(body) == LEGACY, kind
        assert body["error"] == code, kind
        assert body["request_id"] == response.headers["x-request-id"], kind
    assert isinstance(answers["validation 422"].json()["detail"], list)


async def test_both_by_default_keeps_every_old_member(make_app: AppFactory) -> None:
    answers = await errors_of(make_app(max_body_size=1024))
    for kind, response in answers.items():
        status, code, title = EXPECTED[kind]
        body = response.json()
        assert response.headers["content-type"] == "application/problem+json", kind
        assert set(body) - {"errors"} == PROBLEM | LEGACY, kind
        assert (body["status"], body["code"], body["error"], body["title"]) == (
            status,
            code,
            code,
            title,
        ), kind
        assert body["instance"] == body["request_id"] == response.headers["x-request-id"]
    invalid = answers["validation 422"].json()
    assert invalid["detail"] == invalid["errors"]  # the old list, where old clients read it
