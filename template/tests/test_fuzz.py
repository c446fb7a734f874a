"""Fuzz the example API from its own OpenAPI schema (debug mode, in-process).

Bounded and deterministic: a fixed number of examples, derandomized. Every
response must conform to the schema, never be a 5xx, and carry the security
headers and a request id. The upstream route calls a real upstream server on
127.0.0.1 that answers every key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, Response

from .asgi import DEFAULT_CREDENTIAL
from .credentials import AUTH_SETTINGS
from .databases import database_settings
from .framework import FUZZ_EXCLUDED_CHECKS, OPENAPI_PATH
from .processes import free_port
from .service import Settings, create_app
from .upstream import upstream_server

UPSTREAM_PORT = free_port()

# Debug for the docs; limits the fuzzer cannot reach, in memory (limits have their own tests).
SETTINGS = {
    **AUTH_SETTINGS,
    "debug": True,
    "rate_limit_default": "1000000/minute",
    "rate_limit_routes": {},
    "rate_limit_storage_url": "memory://",
    "upstream_url": f"http://127.0.0.1:{UPSTREAM_PORT}",
    **database_settings(),
}
APP = create_app(Settings.model_validate(SETTINGS))
schema = schemathesis.openapi.from_asgi(OPENAPI_PATH, APP)


@pytest.fixture(scope="module", autouse=True)
def _upstream() -> Iterator[None]:
    with upstream_server(UPSTREAM_PORT):
        yield


def security_headers_present(ctx: CheckContext, response: Response, case: Case[Any]) -> bool:
    headers = {name.lower(): values for name, values in response.headers.items()}
    for required in ("content-security-policy", "x-content-type-options", "x-request-id"):
        assert required in headers, f"{required} missing on {response.status_code}"
    assert response.status_code < 500, f"server error {response.status_code}"
    return True


@schema.parametrize()
@settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_api_conforms_to_its_schema(case: Case[Any]) -> None:
    response = case.call(headers=dict(DEFAULT_CREDENTIAL))  # a copy: schemathesis adds to it
    case.validate_response(
        response,
        additional_checks=[security_headers_present],
        excluded_checks=list(FUZZ_EXCLUDED_CHECKS),
    )
