"""External graders on rendered services: drheader on a real server's production responses.

drheader (the OWASP Secure Headers Project's rules, run as a library, offline) reads
the headers of the responses a deployed service sends, one framework on each server,
for a success, a refusal of each layer and a framework error. It must find nothing,
except on Granian one finding documented here: its ``Server`` header is present
though empty, because Granian adds its own name to a response without one and has
no setting to stop it, so an empty value is the least a Granian service can send.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from drheader import Drheader

from .projects import Project, installed_project

API_KEY = "ak_live_graders_" + "Q7m2c9VxT4pLw8Nz"
# One framework on each server: every framework and every server is graded once.
GRADED = [("fastapi", "granian"), ("litestar", "uvicorn"), ("quart", "hypercorn")]
ITEM = b'{"name": "Blue widget", "quantity": 3}'
# name: (method, path, body, headers) -> what each request provokes.
REQUESTS: dict[str, tuple[str, str, bytes | None, dict[str, str]]] = {
    "health 200": ("GET", "/health", None, {}),
    "created 201": ("POST", "/api/v1/items", ITEM, {"content-type": "application/json"}),
    "invalid 422": ("POST", "/api/v1/items", b"{}", {"content-type": "application/json"}),
    "media type 415": ("POST", "/api/v1/items", ITEM, {"content-type": "text/plain"}),
    "unknown 404": ("GET", "/api/v1/items/" + "0" * 32, None, {}),
    "method 405": ("DELETE", "/health", None, {}),
    "anonymous 401": ("GET", "/api/v1/items/" + "0" * 32, None, {"x-api-key": ""}),
}
GRANIAN_SERVER_FINDING = {
    "rule": "Server",
    "message": "Header should not be returned",
    "severity": "high",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def package_of(project: Project) -> str:
    (package,) = (path.parent.name for path in (project.path / "src").glob("*/settings.py"))
    return package


@contextmanager
def production_server(project: Project) -> Iterator[int]:
    """``python -m <package>`` as deployed behind a TLS proxy; stopped by PID."""
    port = free_port()
    keys = {"grader": {"secret": API_KEY, "scopes": ["items:read", "items:write"]}}
    env = {
        "PATH": os.environ["PATH"],
        "PORT": str(port),
        "TRUSTED_HOSTS": "127.0.0.1",
        "TLS_TERMINATED_UPSTREAM": "true",  # production: HSTS on every response
        "API_KEYS": json.dumps(keys),
        "RATE_LIMIT_STORAGE_URL": "memory://",
    }
    python = project.path / ".venv" / "bin" / "python"
    # The schema first, as a deployment does (the service never migrates itself).
    subprocess.run(
        [str(python), "-m", f"{package_of(project)}.migrate"],
        cwd=project.path,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    process = subprocess.Popen(
        [str(python), "-m", package_of(project)],
        cwd=project.path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while fetch(port, "GET", "/health", None, {}, quiet=True)[0] != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def fetch(
    port: int,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    *,
    quiet: bool = False,
) -> tuple[int, list[tuple[str, str]]]:
    """One request on the wire; the status and the response headers as sent."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, response.getheaders()
    except OSError:
        if quiet:
            return 0, []
        raise
    finally:
        connection.close()


def findings(headers: list[tuple[str, str]]) -> list[dict[str, Any]]:
    names = [name.lower() for name, _ in headers]
    assert len(names) == len(set(names)), names  # one value each: graded as sent
    report: list[dict[str, Any]] = Drheader(headers=dict(headers)).analyze()
    return report


@pytest.fixture(scope="module", params=GRADED, ids=["-".join(pair) for pair in GRADED])
def graded(
    request: pytest.FixtureRequest, template: Path, shared_dir: Path, tmp_path_factory: Any
) -> tuple[str, Project]:
    framework, server = request.param
    answers = {"framework": framework, "server": server}
    destination = tmp_path_factory.mktemp(f"{framework}-{server}") / "svc"
    return server, installed_project(template, shared_dir, destination, answers)


def test_drheader_finds_nothing_in_production_responses(graded: tuple[str, Project]) -> None:
    server, project = graded
    credential = {"x-api-key": API_KEY}
    with production_server(project) as port:
        answers = {
            name: fetch(port, method, path, body, {**credential, **headers})
            for name, (method, path, body, headers) in REQUESTS.items()
        }
    assert {name: status for name, (status, _) in answers.items()} == {
        name: int(name.split()[-1]) for name in REQUESTS
    }
    expected = [GRANIAN_SERVER_FINDING] if server == "granian" else []
    assert {name: findings(headers) for name, (_, headers) in answers.items()} == dict.fromkeys(
        REQUESTS, expected
    )
    for _, headers in answers.values():
        sent = dict((name.lower(), value) for name, value in headers)
        assert sent.get("server") == ("" if server == "granian" else None)


def test_granian_names_itself_in_a_response_without_a_server_header(
    template: Path, shared_dir: Path, tmp_path: Path
) -> None:
    """Why the empty ``Server`` stays on Granian: omitted, it would be ``granian``."""
    project = installed_project(template, shared_dir, tmp_path / "svc", {"server": "granian"})
    (tmp_path / "bare.py").write_text(
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'ok'})\n"
    )
    port = free_port()
    python = str(project.path / ".venv" / "bin" / "python")
    granian = [python, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*granian, "--port", str(port), "bare:app"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while (answer := fetch(port, "GET", "/", None, {}, quiet=True))[0] != 200:
            assert process.poll() is None, "granian did not start"
            assert time.monotonic() < deadline, "granian did not start in time"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    assert ("server", "granian") in [(name.lower(), value) for name, value in answer[1]]
