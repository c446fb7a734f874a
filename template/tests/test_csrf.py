"""CSRF: state changes from a foreign Origin are refused; non-browser clients pass."""

from __future__ import annotations

import pytest

from .conftest import AppFactory, client_for

pytestmark = pytest.mark.anyio

ALLOWED = "https://app.example.com"
ITEM = {"name": "Blue widget", "quantity": 3}


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        (None, 201),  # curl, server-to-server: not a CSRF vector
        (ALLOWED, 201),  # listed in CORS_ALLOWED_ORIGINS
        ("http://testserver", 201),  # our own origin
        ("https://evil.example", 403),
        ("https://app.example.com.evil.example", 403),
        ("null", 403),  # sandboxed frame or opaque redirect
        ("http://testserver:8080", 403),  # another port is another origin
    ],
)
async def test_state_change_origin_check(
    make_app: AppFactory, origin: str | None, status: int
) -> None:
    headers = {} if origin is None else {"origin": origin}
    async with client_for(make_app(cors_allowed_origins=ALLOWED)) as http:
        response = await http.post("/api/v1/items", json=ITEM, headers=headers)
    assert response.status_code == status
    if status == 403:
        assert response.json()["error"] == "forbidden"


async def test_safe_methods_are_not_checked(make_app: AppFactory) -> None:
    async with client_for(make_app()) as http:
        response = await http.get("/health", headers={"origin": "https://evil.example"})
    assert response.status_code == 200


async def test_refused_before_credentials_are_looked_at(make_app: AppFactory) -> None:
    """A cross-site attempt learns nothing about the credential it carried."""
    async with client_for(make_app(), credentials={}) as http:
        response = await http.post(
            "/api/v1/items", json=ITEM, headers={"origin": "https://evil.example"}
        )
    assert response.status_code == 403
