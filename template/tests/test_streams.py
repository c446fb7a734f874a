"""Event streams through the security core: bounded in time, memory and count.

The wire tests run the variant's own server on 127.0.0.1; the core's bounds on a
reader that never reads are checked at the ASGI level, where a send that never
completes is exactly such a reader.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from .asgi import DEFAULT_CREDENTIAL
from .service import (
    ITEM_EVENTS_PATH,
    ITEM_WS_PATH,
    ITEMS_PATH,
    Broadcaster,
    Principal,
    StreamConfig,
    StreamSlots,
    serve_events,
)
from .test_wire import TEST_APP, running_server, serving

EVENTS = ITEM_EVENTS_PATH
ITEMS = ITEMS_PATH
WS = ITEM_WS_PATH
# Enough POSTs for the tests, whatever the default limits say.
UNLIMITED = {"RATE_LIMIT_DEFAULT": "100000/minute", "RATE_LIMIT_ROUTES": "{}"}


def events_of(body: str) -> list[dict[str, str]]:
    """The events of an SSE body (comments dropped), each as its fields."""
    found = []
    for block in body.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":")
        )
        if fields:
            found.append(fields)
    return found


def read_stream(base: str, seconds: float, **headers: str) -> tuple[httpx.Response, str]:
    """GET the event stream and read it to its end (at most ``seconds``)."""
    with (
        httpx.Client(timeout=seconds) as client,
        client.stream("GET", f"{base}{EVENTS}", headers={**DEFAULT_CREDENTIAL, **headers}) as r,
    ):
        return r, r.read().decode()


def post_item(base: str, name: str) -> None:
    response = httpx.post(
        f"{base}{ITEMS}", json={"name": name, "quantity": 1}, headers=DEFAULT_CREDENTIAL, timeout=5
    )
    assert response.status_code == 201


@pytest.fixture(scope="module")
def short_streams() -> Iterator[str]:
    """A server whose streams end after 1 s without an event."""
    with running_server(STREAM_IDLE_TIMEOUT="1", STREAM_HEARTBEAT_INTERVAL="0.3", **UNLIMITED) as (
        base,
        _,
    ):
        yield base


def test_an_event_stream_carries_its_headers_and_is_never_compressed(short_streams: str) -> None:
    response, body = read_stream(short_streams, 10, **{"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-encoding" not in response.headers
    assert response.headers["x-request-id"]
    assert ": heartbeat" in body  # comments flow while no event does


def test_an_idle_stream_ends_with_a_final_event(short_streams: str) -> None:
    start = time.monotonic()
    response, body = read_stream(short_streams, 10)
    assert response.status_code == 200
    assert events_of(body)[-1] == {"event": "end", "data": '{"reason": "idle"}'}
    assert 0.9 < time.monotonic() - start < 6


def test_created_items_are_streamed_and_resumed_by_last_event_id(short_streams: str) -> None:
    with ThreadPoolExecutor(1) as pool:
        reading = pool.submit(read_stream, short_streams, 10)
        time.sleep(0.5)  # the stream is open
        post_item(short_streams, "first")
        post_item(short_streams, "second")
        _, body = reading.result(timeout=15)
    created = [e for e in events_of(body) if e["event"] == "item.created"]
    assert [json.loads(e["data"])["name"] for e in created] == ["first", "second"]
    first_id = created[0]["id"]
    # Reconnecting after the first: the second is replayed, the first is not.
    _, body = read_stream(short_streams, 10, **{"last-event-id": first_id})
    replayed = [e for e in events_of(body) if e["event"] == "item.created"]
    assert [json.loads(e["data"])["name"] for e in replayed] == ["second"]


@pytest.mark.parametrize("value", ["abc", "-1", "1" * 30, "1, 2"])
def test_a_bad_last_event_id_is_refused_before_any_event(short_streams: str, value: str) -> None:
    response, body = read_stream(short_streams, 10, **{"last-event-id": value})
    assert response.status_code == 400
    assert json.loads(body)["error"] == "bad_request"


def test_no_credential_no_stream(short_streams: str) -> None:
    response = httpx.get(f"{short_streams}{EVENTS}", timeout=5)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert "event:" not in response.text


def test_a_healthy_stream_outlives_the_request_timeout() -> None:
    with (
        running_server(REQUEST_TIMEOUT="1", STREAM_IDLE_TIMEOUT="1.5", **UNLIMITED) as (base, _),
        ThreadPoolExecutor(1) as pool,
    ):
        start = time.monotonic()
        reading = pool.submit(read_stream, base, 20)
        for n in range(5):  # an event every 0.5 s for 2.5 s: past REQUEST_TIMEOUT
            time.sleep(0.5)
            post_item(base, f"item {n}")
        response, body = reading.result(timeout=25)
    assert response.status_code == 200
    received = events_of(body)
    assert [e["event"] for e in received] == ["item.created"] * 5 + ["end"]
    assert received[-1]["data"] == '{"reason": "idle"}'
    assert time.monotonic() - start > 2.5


def test_a_stream_ends_at_its_maximum_duration_even_with_heartbeats() -> None:
    with running_server(
        STREAM_MAX_DURATION="1", STREAM_IDLE_TIMEOUT="30", STREAM_HEARTBEAT_INTERVAL="0.2"
    ) as (base, _):
        start = time.monotonic()
        response, body = read_stream(base, 10)
    assert response.status_code == 200
    assert events_of(body) == [{"event": "end", "data": '{"reason": "max_duration"}'}]
    assert body.count(": heartbeat") >= 2
    assert time.monotonic() - start < 6


def test_stream_caps_answer_429_and_503_and_free_their_slot_on_disconnect() -> None:
    with (
        running_server(STREAM_MAX_PER_CLIENT="1", STREAM_MAX_TOTAL="1") as (base, _),
        httpx.Client(timeout=5, headers=DEFAULT_CREDENTIAL) as client,
    ):
        with client.stream("GET", f"{base}{EVENTS}") as held:
            assert held.status_code == 200
            refused = client.get(f"{base}{EVENTS}")
            assert refused.status_code == 429
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["error"] == "rate_limited"
        # The client went away: its slot (and subscription) is freed promptly.
        deadline = time.monotonic() + 5
        while (status := _status_of_a_new_stream(client, base)) != 200:
            assert time.monotonic() < deadline, f"slot never freed: {status}"
            time.sleep(0.1)
    with running_server(STREAM_MAX_PER_CLIENT="5", STREAM_MAX_TOTAL="1") as (base, _):  # noqa: SIM117
        with httpx.Client(timeout=5, headers=DEFAULT_CREDENTIAL) as client:
            with client.stream("GET", f"{base}{EVENTS}") as held:
                assert held.status_code == 200
                refused = client.get(f"{base}{EVENTS}")
                assert refused.status_code == 503
                assert refused.headers["retry-after"] == "1"


def _status_of_a_new_stream(client: httpx.Client, base: str) -> int:
    with client.stream("GET", f"{base}{EVENTS}") as response:
        return response.status_code


# The core itself, at the ASGI level.


def _scope(scopes: frozenset[str] = frozenset({"items:read"})) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": EVENTS,
        "headers": [],
        "client": ("127.0.0.1", 1234),
    }
    Principal("tester", "api_key", scopes).remember(scope)
    return scope


def _config(**overrides: float) -> StreamConfig:
    values = {
        "idle_timeout": 30.0,
        "max_duration": 30.0,
        "heartbeat_interval": 30.0,
        "backpressure_timeout": 0.5,
        **overrides,
    }
    return StreamConfig(**values)


async def _serve(broadcaster: Broadcaster, scope: dict[str, Any], receive: Any, send: Any) -> None:
    await serve_events(
        scope,
        receive,
        send,
        broadcaster=broadcaster,
        slots=StreamSlots(per_client=5, total=5),
        config=_config(),
        scopes=("items:read",),
    )


@pytest.mark.anyio
async def test_a_reader_that_never_reads_is_dropped_and_memory_stays_bounded() -> None:
    broadcaster = Broadcaster(queue_maxsize=10, replay_size=10)
    started = asyncio.Event()
    never = asyncio.Event()
    sent: list[dict[str, Any]] = []

    async def stuck_send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.start":
            started.set()
        else:
            await never.wait()  # the reader takes nothing: the socket is full

    async def receive() -> dict[str, Any]:
        await never.wait()
        return {"type": "http.disconnect"}

    before = len(asyncio.all_tasks())
    serving = asyncio.create_task(_serve(broadcaster, _scope(), receive, stuck_send))
    await asyncio.wait_for(started.wait(), 5)
    start = time.monotonic()
    longest = 0
    for n in range(10_000):
        broadcaster.publish("item.created", {"n": n})
        longest = max(longest, *(len(s) for s in broadcaster._subscribers), 0)
        if n % 100 == 0:
            await asyncio.sleep(0)
    await asyncio.wait_for(serving, 5)
    assert time.monotonic() - start < 3  # the backpressure timeout (0.5 s) and the final event's
    assert longest <= 10  # never more queued than SSE_QUEUE_MAXSIZE
    assert len(broadcaster) == 0
    assert len(sent) <= 3  # the start, one chunk that never left, the final event's attempt
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before


@pytest.mark.anyio
async def test_a_disconnect_leaves_no_task_or_subscription_behind() -> None:
    broadcaster = Broadcaster(queue_maxsize=10, replay_size=10)
    gone = asyncio.Event()
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        chunks.append(message.get("body", b""))

    async def receive() -> dict[str, Any]:
        await gone.wait()
        return {"type": "http.disconnect"}

    before = len(asyncio.all_tasks())
    serving = asyncio.create_task(_serve(broadcaster, _scope(), receive, send))
    for _ in range(500):  # until the stream has subscribed (at most 5 s)
        if len(broadcaster):
            break
        await asyncio.sleep(0.01)
    assert len(asyncio.all_tasks()) == before + 2  # the stream and its disconnect watcher
    broadcaster.publish("item.created", {"n": 1})
    gone.set()
    await asyncio.wait_for(serving, 2)
    await asyncio.sleep(0)
    assert len(broadcaster) == 0
    assert len(asyncio.all_tasks()) == before
    assert any(b"item.created" in chunk for chunk in chunks)
    assert not any(b"event: end" in chunk for chunk in chunks)  # nobody left to tell


@pytest.mark.anyio
async def test_a_caller_without_the_scope_gets_403_before_any_event() -> None:
    broadcaster = Broadcaster(queue_maxsize=10, replay_size=10)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    await _serve(broadcaster, _scope(frozenset({"items:write"})), receive, send)
    assert sent[0]["status"] == 403
    assert json.loads(sent[1]["body"])["error"] == "forbidden"
    assert len(broadcaster) == 0


# The same events over a WebSocket.


@pytest.fixture(scope="module")
def ws_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A server for the WebSocket tests, and the directory its output goes to."""
    output = tmp_path_factory.mktemp("ws-server")
    env = {"STREAM_IDLE_TIMEOUT": "3", "MAX_BODY_SIZE": "1024", **UNLIMITED}
    with serving(TEST_APP, env, output) as (base, _):
        yield base, output


def ws_connect(
    base: str, query: str = "", credential: dict[str, str] = DEFAULT_CREDENTIAL, **headers: str
) -> ClientConnection:
    return connect(
        f"ws{base.removeprefix('http')}{WS}{query}",
        additional_headers={**credential, **headers},
        open_timeout=5,
        close_timeout=2,
    )


def closed_code(websocket: ClientConnection) -> tuple[int, str]:
    """Read until the server closes; its close code and reason."""
    with pytest.raises(ConnectionClosed) as closed:
        _receive_forever(websocket)
    frame = closed.value.rcvd
    assert frame is not None
    return frame.code, frame.reason


def _receive_forever(websocket: ClientConnection) -> None:
    while True:
        websocket.recv(timeout=10)


def test_a_websocket_streams_the_events_its_filter_asks_for(ws_server: tuple[str, Path]) -> None:
    base, _ = ws_server
    with ws_connect(base, origin=base) as websocket:  # its own origin passes
        websocket.send(json.dumps({"tags": ["blue"]}))
        time.sleep(0.3)  # the filter is in place
        for name, tags in [("red one", ["red"]), ("blue one", ["blue", "big"])]:
            response = httpx.post(
                f"{base}{ITEMS}",
                json={"name": name, "quantity": 1, "tags": tags},
                headers=DEFAULT_CREDENTIAL,
                timeout=5,
            )
            assert response.status_code == 201
        message = json.loads(websocket.recv(timeout=5))
        assert message["event"] == "item.created"
        assert message["data"]["name"] == "blue one"
        assert closed_code(websocket) == (1000, "idle")  # the red one never came


@pytest.mark.parametrize(
    ("query", "credential", "headers"),
    [
        ("", DEFAULT_CREDENTIAL, {"origin": "https://evil.example"}),  # cross-site hijacking
        ("?token=bt_Q7wE2rT9yU4iO1pA6sD3fG8h", DEFAULT_CREDENTIAL, {}),  # token in the query
        ("?access_token=bt_Q7wE2rT9yU4iO1pA6sD3fG8h", {}, {}),
        ("", {}, {}),  # no credential at all
    ],
    ids=["foreign-origin", "query-token", "query-token-alone", "anonymous"],
)
def test_a_websocket_handshake_is_refused(
    ws_server: tuple[str, Path], query: str, credential: dict[str, str], headers: dict[str, str]
) -> None:
    base, output = ws_server
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(base, query, credential, **headers)
    assert refused.value.response.status_code == 403
    if query:
        time.sleep(0.2)
        printed = (output / "stdout").read_text() + (output / "stderr").read_text()
        assert query.partition("=")[2] not in printed  # the token is never logged


@pytest.mark.parametrize(
    ("message", "code"),
    [("x" * 2000, 1009), ("not json", 1007), ('{"tags": ["NOT A TAG"]}', 1007)],
    ids=["too-big", "not-json", "bad-filter"],
)
def test_a_bad_client_message_closes_the_websocket(
    ws_server: tuple[str, Path], message: str, code: int
) -> None:
    base, _ = ws_server
    with ws_connect(base) as websocket:
        websocket.send(message)
        assert closed_code(websocket)[0] == code


def test_a_websocket_over_the_stream_cap_is_closed_with_1013() -> None:
    with (
        running_server(STREAM_MAX_PER_CLIENT="1") as (base, _),
        httpx.Client(timeout=5, headers=DEFAULT_CREDENTIAL) as client,
        client.stream("GET", f"{base}{EVENTS}") as held,
    ):
        assert held.status_code == 200
        with ws_connect(base) as websocket:
            assert closed_code(websocket) == (1013, "too many open streams")
