"""Held access lines: bounded in time and size, in order, never for refusals; quiet probes.

Successful requests' access lines may wait in a buffer (ACCESS_LOG_FLUSH_INTERVAL,
ACCESS_LOG_BUFFER_BYTES); a refusal's or an error's line goes out at once, after
them. Health probes answered 200 are not logged unless ACCESS_LOG_HEALTH says so.
The flush at shutdown of a real server is in test_wire.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from starlette.types import Message

from .conftest import AppFactory, client_for, log_lines
from .service import STOP

pytestmark = pytest.mark.anyio

ITEM = "/api/v1/items/" + "0" * 32  # an authenticated read of an item that is not there
HELD = {"access_log_buffered": True, "access_log_health": True}


def access(out: str) -> list[dict[str, Any]]:
    return log_lines(out, "access")


async def test_a_held_line_is_out_within_the_interval_with_no_more_traffic(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(**HELD, access_log_flush_interval=0.2)
    capsys.readouterr()
    async with client_for(app) as http:
        response = await http.get("/health")
        assert access(capsys.readouterr().out) == []  # held, not written yet
        await anyio.sleep(0.5)  # the interval and then some; no request meanwhile
        lines = access(capsys.readouterr().out)
    assert [line["request_id"] for line in lines] == [response.headers["x-request-id"]]


async def test_an_error_line_is_written_at_once_after_the_held_ones(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(**HELD, access_log_flush_interval=10)
    capsys.readouterr()
    async with client_for(app, credentials=None) as http:
        first = await http.get("/health")
        second = await http.get("/health")
        assert access(capsys.readouterr().out) == []
        refused = await http.get(ITEM)  # no credential
        lines = access(capsys.readouterr().out)  # no waiting: the refusal pushed them out
    assert refused.status_code == 401
    assert [line["request_id"] for line in lines] == [
        first.headers["x-request-id"],
        second.headers["x-request-id"],
        refused.headers["x-request-id"],
    ]
    assert [line["status"] for line in lines] == [200, 200, 401]


async def test_the_buffer_is_written_when_it_reaches_its_size(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(**HELD, access_log_flush_interval=10, access_log_buffer_bytes=1024)
    capsys.readouterr()
    async with client_for(app) as http:
        ids = [(await http.get("/health")).headers["x-request-id"] for _ in range(12)]
        written = [line["request_id"] for line in access(capsys.readouterr().out)]
    # Each line is ~250 bytes: some went out at the bound, in order, none lost or doubled.
    assert 3 <= len(written) < len(ids)
    assert written == ids[: len(written)]


async def test_lines_are_written_at_once_when_buffering_is_off(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(access_log_buffered=False, access_log_health=True)
    capsys.readouterr()
    async with client_for(app) as http:
        response = await http.get("/health")
        lines = access(capsys.readouterr().out)
    assert [line["request_id"] for line in lines] == [response.headers["x-request-id"]]


async def test_from_the_stop_notice_on_no_line_is_held(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGTERM's notice: held lines go out at once, and later ones are not held.

    The app is still serving (its lifespan has not ended): a server may end a
    worker before then (Hypercorn terminates the others once one has exited),
    and a line still held would be lost with it.
    """
    app = make_app(**HELD, access_log_flush_interval=10)
    capsys.readouterr()
    started, shutdown = anyio.Event(), anyio.Event()
    incoming = [{"type": "lifespan.startup"}]

    async def receive() -> Message:
        if incoming:
            return incoming.pop()
        await shutdown.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message: Message) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    async def serve() -> None:  # the server's lifespan task
        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)

    async with anyio.create_task_group() as server:
        server.start_soon(serve)
        with anyio.fail_after(10):
            await started.wait()
        async with client_for(app) as http:
            before = await http.get("/health")
            assert access(capsys.readouterr().out) == []  # held: the interval is 10 s
            STOP.stop()  # what the SIGTERM handler schedules on the loop
            written = access(capsys.readouterr().out)
            assert [line["request_id"] for line in written] == [before.headers["x-request-id"]]
            after = await http.get("/health")
            written = access(capsys.readouterr().out)  # no waiting: nothing is held now
            assert [line["request_id"] for line in written] == [after.headers["x-request-id"]]
        shutdown.set()


async def test_health_probes_answered_200_are_not_logged_by_default(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(access_log_buffered=False, access_log_health=False, trusted_hosts="testserver")
    capsys.readouterr()
    async with client_for(app) as http:
        probes = [await http.get(path) for path in ("/health", "/healthz", "/ready", "/readyz")]
        refused = await http.get("/health", headers={"host": "evil.example"})
        other = await http.get(ITEM)
    assert {probe.status_code for probe in probes} == {200}
    lines = access(capsys.readouterr().out)
    # A probe that did not answer 200 is logged, and so is everything else.
    assert [(line["path"], line["status"]) for line in lines] == [
        ("/health", refused.status_code),
        (ITEM, other.status_code),
    ]
    assert (refused.status_code, other.status_code) == (400, 404)


async def test_health_probes_stay_exempt_from_auth_and_limits_when_quiet(
    make_app: AppFactory,
) -> None:
    app = make_app(access_log_health=False, rate_limit_default="2/minute")
    async with client_for(app, credentials=None) as http:
        statuses = [(await http.get("/health")).status_code for _ in range(5)]
    assert statuses == [200] * 5
