"""Bodiless liveness probes skip the request checks below the host check; nothing else does.

Observed through the one check whose effect a probe can show: the request
timeout. A probe answered slowly is still answered (the short cut), while the
same path with a body, another method or another path is cut off at 504 (the
whole stack). Either way every response keeps the headers, request id and
host check of the layers above the short cut.
"""

from __future__ import annotations

import anyio
import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from .conftest import SettingsFactory, client_for
from .service import HEALTH_PATHS, READY_PATHS, apply_security

pytestmark = pytest.mark.anyio

TIMEOUT = 0.05
LIVENESS = [path for path in HEALTH_PATHS if path not in READY_PATHS]


async def slow_answer(scope: Scope, receive: Receive, send: Send) -> None:
    """A framework app that answers every request 200 after three timeouts' time."""
    await anyio.sleep(TIMEOUT * 3)
    start: Message = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain")],
    }
    await send(start)
    await send({"type": "http.response.body", "body": b"ok"})


def secured(make_settings: SettingsFactory, **settings: object) -> httpx.AsyncClient:
    app = apply_security(slow_answer, make_settings(request_timeout=TIMEOUT, **settings))
    return client_for(app, credentials=None)


@pytest.mark.parametrize("path", LIVENESS)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_a_bodiless_liveness_probe_takes_the_short_cut(
    make_settings: SettingsFactory, path: str, method: str
) -> None:
    async with secured(make_settings) as http:
        response = await http.request(method, path)
    assert response.status_code == 200
    assert response.headers["x-request-id"]
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/livez", {"content-length": "0"}),  # announces a body: the body limit applies
        ("GET", "/livez", {"transfer-encoding": "chunked"}),
        ("POST", "/livez", {}),
        ("GET", "/livez/", {}),  # not the path itself
        ("GET", "/other", {}),
    ],
)
async def test_everything_else_goes_down_the_whole_stack(
    make_settings: SettingsFactory, method: str, path: str, headers: dict[str, str]
) -> None:
    async with secured(make_settings, require_auth=False) as http:
        response = await http.request(method, path, headers=headers)
    assert response.status_code == 504
    assert response.headers["x-request-id"]


async def test_the_host_check_still_applies_to_probes(make_settings: SettingsFactory) -> None:
    async with secured(make_settings, trusted_hosts="api.example") as http:
        refused = await http.get("/livez")  # the client says Host: testserver
        allowed = await http.get("/livez", headers={"host": "api.example"})
    assert refused.status_code == 400
    assert allowed.status_code == 200
