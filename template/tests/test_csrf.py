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


# Behind a load balancer that terminates TLS, the request reaches the service over
# plain HTTP while the browser's page is https://<Host>: that is this service's own
# origin, and the plain-HTTP one is not (the service is HTTPS-only then).
@pytest.mark.parametrize(
    ("tls_terminated_upstream", "origin", "status"),
    [
        (True, "https://testserver", 201),  # same-origin browser POST behind the proxy
        (True, "http://testserver", 403),  # a plain-HTTP page of an HTTPS-only service
        (True, "https://evil.example", 403),
        (True, "https://testserver:8443", 403),  # another port is another origin
        (False, "https://testserver", 403),  # plain HTTP and nothing says TLS is upstream
        (False, "https://evil.example", 403),
    ],
)
async def test_own_origin_when_tls_terminates_upstream(
    make_app: AppFactory, tls_terminated_upstream: bool, origin: str, status: int
) -> None:
    app = make_app(tls_terminated_upstream=tls_terminated_upstream)
    async with client_for(app) as http:  # http://testserver: the proxy's plain-HTTP hop
        response = await http.post("/api/v1/items", json=ITEM, headers={"origin": origin})
    assert response.status_code == status


async def test_own_https_origin_when_the_request_itself_came_over_https(
    make_app: AppFactory,
) -> None:
    async with client_for(make_app(), base_url="https://testserver") as http:
        allowed = await http.post(
            "/api/v1/items", json=ITEM, headers={"origin": "https://testserver"}
        )
        refused = await http.post(
            "/api/v1/items", json=ITEM, headers={"origin": "http://testserver"}
        )
    assert (allowed.status_code, refused.status_code) == (201, 403)


async def test_the_host_is_checked_before_the_origin(make_app: AppFactory) -> None:
    """An Origin matching a forged Host never counts as own: the Host is refused first."""
    app = make_app(tls_terminated_upstream=True, trusted_hosts="testserver")
    async with client_for(app) as http:
        response = await http.post(
            "/api/v1/items",
            json=ITEM,
            headers={"host": "evil.example", "origin": "https://evil.example"},
        )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
