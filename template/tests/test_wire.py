"""Wire-level checks against the real server process on 127.0.0.1.

What only a real server shows: its own headers, chunked uploads, timeouts on
the wire, and a clean exit on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from .asgi import DEFAULT_CREDENTIAL
from .credentials import AUTH_SETTINGS
from .processes import free_port
from .service import PACKAGE

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LIMIT = 64 * 1024


def auth_environment() -> dict[str, str]:
    """The test credentials as the environment variables a deployment would set."""
    return {
        name.upper(): value if isinstance(value, str) else json.dumps(value)
        for name, value in AUTH_SETTINGS.items()
    }


@contextmanager
def running_server(**env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start the service's server on a free port with the test app; stop it by PID."""
    port = free_port()
    script = (
        f"from {PACKAGE}.server import serve; from {PACKAGE}.settings import Settings; "
        "serve(Settings(), target='tests.wire_app:create_test_app')"
    )
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PORT": str(port),
        "TRUSTED_HOSTS": "127.0.0.1",
        "SHUTDOWN_GRACE": "3",
        "RATE_LIMIT_STORAGE_URL": "memory://",
        **auth_environment(),
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server(MAX_BODY_SIZE=str(LIMIT), REQUEST_TIMEOUT="1") as (base, _):
        yield base


def test_headers_on_the_wire(server: str) -> None:
    response = httpx.get(f"{server}/health")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert csp == "default-src 'none'; frame-ancestors 'none'"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-request-id"]
    assert response.headers["server"] == ""  # the server's own name does not leak either


def test_chunked_upload_over_limit_is_413(server: str) -> None:
    sent = 0

    def endless_chunks() -> Iterator[bytes]:
        nonlocal sent
        while sent < 4 * LIMIT:
            sent += 8192
            yield b"x" * 8192

    with httpx.Client(timeout=10) as http:
        response = http.post(
            f"{server}/_test/size", content=endless_chunks(), headers=DEFAULT_CREDENTIAL
        )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_chunked_upload_under_limit_passes(server: str) -> None:
    with httpx.Client(timeout=10) as http:
        response = http.post(
            f"{server}/_test/size", content=iter([b"x" * 1000] * 10), headers=DEFAULT_CREDENTIAL
        )
    assert response.status_code == 200
    assert response.json() == {"size": 10_000}


def test_slow_handler_times_out_on_the_wire(server: str) -> None:
    start = time.perf_counter()
    response = httpx.get(
        f"{server}/_test/slow", params={"seconds": 10}, timeout=15, headers=DEFAULT_CREDENTIAL
    )
    assert response.status_code == 504
    assert time.perf_counter() - start < 5
    assert response.headers["x-request-id"]


def test_wrong_host_is_refused_on_the_wire(server: str) -> None:
    response = httpx.get(f"{server}/health", headers={"host": "evil.example"})
    assert response.status_code == 400


def test_sigterm_drains_in_flight_requests_and_exits_zero() -> None:
    with running_server() as (base, process), ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(
            httpx.get,
            f"{base}/_test/slow",
            params={"seconds": 1},
            timeout=10,
            headers=DEFAULT_CREDENTIAL,
        )
        time.sleep(0.3)  # let the request reach the handler
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # the server stops taking new requests at once
        with pytest.raises(httpx.TransportError):  # refused, or closed unanswered
            httpx.get(f"{base}/health", timeout=2)
        response = in_flight.result(timeout=10)
        assert response.status_code == 200
        assert response.json() == {"status": "done"}
        assert process.wait(timeout=15) == 0


def test_a_stuck_request_does_not_hold_up_shutdown() -> None:
    """SIGTERM during a request that would run for 20 s: the process still exits soon.

    Granian and Uvicorn stop waiting after SHUTDOWN_GRACE; Hypercorn on Python
    3.12+ waits for open connections, so there REQUEST_TIMEOUT is the bound (the
    timeout layer answers 504). Either way: within the larger of the two.
    """
    environment = {"SHUTDOWN_GRACE": "1", "REQUEST_TIMEOUT": "3"}
    with running_server(**environment) as (base, process), ThreadPoolExecutor(1) as pool:
        stuck = pool.submit(
            httpx.get,
            f"{base}/_test/slow",
            params={"seconds": 20},
            timeout=30,
            headers=DEFAULT_CREDENTIAL,
        )
        time.sleep(0.3)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        assert time.monotonic() - signalled < 8  # max(grace, request timeout) plus slack
        try:
            answer: int | None = stuck.result(timeout=10).status_code
        except httpx.TransportError:
            answer = None  # cut off
        assert answer != 200  # cut off or answered with an error, never finished late
