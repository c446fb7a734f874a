"""SIGTERM with streams open: each ends with its final word, the process exits in time.

Run as ``python -m`` runs the service (the supervisor, the variant's server): an
open event stream gets ``event: end`` with ``{"reason": "shutdown"}``, an open
WebSocket the close code 1001, both well before SHUTDOWN_GRACE would cut them.
"""

from __future__ import annotations

import asyncio
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from .asgi import DEFAULT_CREDENTIAL
from .service import ITEM_EVENTS_PATH, STOP, Broadcaster
from .test_streams import closed_code, events_of, ws_connect
from .test_wire import SUPERVISED_TEST_APP, serving

GRACE = 6.0  # seconds; the streams must end well before it


def _read_until_end(base: str, opened: list[float]) -> tuple[int, str]:
    """Open the event stream, note when it is open, read it to its end."""
    with (
        httpx.Client(timeout=20) as client,
        client.stream("GET", f"{base}{ITEM_EVENTS_PATH}", headers=DEFAULT_CREDENTIAL) as r,
    ):
        body = b""
        for chunk in r.iter_bytes():
            opened.append(time.monotonic())
            body += chunk
        return r.status_code, body.decode()


def test_sigterm_ends_open_streams_with_their_final_word_and_exits_in_time(
    tmp_path: Path,
) -> None:
    environment = {
        "SHUTDOWN_GRACE": str(GRACE),
        "STREAM_IDLE_TIMEOUT": "60",
        "STREAM_HEARTBEAT_INTERVAL": "0.2",
    }
    with (
        serving(SUPERVISED_TEST_APP, environment, tmp_path) as (base, process),
        ThreadPoolExecutor(1) as pool,
    ):
        opened: list[float] = []
        reading = pool.submit(_read_until_end, base, opened)
        with ws_connect(base) as websocket:
            deadline = time.monotonic() + 5
            while not opened:  # the first heartbeat: the stream is open
                assert time.monotonic() < deadline, "the event stream never opened"
                time.sleep(0.05)
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code, reason = closed_code(websocket)
            status, body = reading.result(timeout=GRACE + 5)
            assert process.wait(timeout=GRACE + 5) == 0
            took = time.monotonic() - signalled
    assert (code, reason) == (1001, "shutdown")
    assert status == 200
    assert events_of(body)[-1] == {"event": "end", "data": '{"reason": "shutdown"}'}
    assert took < GRACE - 2, f"exit took {took:.1f} s: the streams waited for the grace"


@pytest.mark.anyio
async def test_the_stop_notice_ends_open_subscriptions_and_refuses_none_later() -> None:
    """At the ASGI level: the notice closes what is open; its watchers are gone after."""
    broadcaster = Broadcaster(queue_maxsize=10, replay_size=0)
    watchers = len(STOP)
    try:
        with broadcaster.subscribe() as first, broadcaster.subscribe() as second:
            assert len(STOP) == watchers + 2
            await asyncio.sleep(0)
            STOP.stop()
            assert (first.closed, second.closed) == ("shutdown", "shutdown")
            with broadcaster.subscribe() as late:  # after the notice: closed at once
                assert late.closed == "shutdown"
    finally:
        STOP.reset()
    assert len(STOP) == 0
    with broadcaster.subscribe() as again:  # a new app in this process streams again
        assert again.closed is None
    assert len(broadcaster) == 0
