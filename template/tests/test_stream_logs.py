"""Streams in the logs: one ``stream`` line each when it ends; refused handshakes audited.

Read from what the variant's real server prints (JSON lines on stdout).
"""

from __future__ import annotations

import json
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from .asgi import DEFAULT_CREDENTIAL
from .service import ITEM_EVENTS_PATH, ITEM_WS_PATH, PACKAGE
from .test_streams import UNLIMITED, closed_code, events_of, post_item, ws_connect
from .test_wire import TEST_APP, json_lines, serving

TOKEN = "bt_Q7wE2rT9yU4iO1pA6sD3fG8h"  # never to be logged


def _read(base: str) -> tuple[str, bytes]:
    with (
        httpx.Client(timeout=10) as client,
        client.stream(
            "GET",
            f"{base}{ITEM_EVENTS_PATH}",
            headers={**DEFAULT_CREDENTIAL, "x-request-id": "sse-trace-1"},
        ) as response,
    ):
        return response.headers["x-request-id"], response.read()


def _lines_of(output: Path, event: str) -> list[dict[str, Any]]:
    printed = (output / "stdout").read_text() + (output / "stderr").read_text()
    return [line for line in json_lines(printed) if line.get("event") == event]


def test_each_stream_ends_with_one_access_line_and_refused_handshakes_are_audited(
    tmp_path: Path,
) -> None:
    environment = {"STREAM_IDLE_TIMEOUT": "1", "STREAM_HEARTBEAT_INTERVAL": "0.3", **UNLIMITED}
    with (
        serving(TEST_APP, environment, tmp_path) as (base, process),
        ThreadPoolExecutor(1) as pool,
    ):
        reading = pool.submit(_read, base)
        traced = {**DEFAULT_CREDENTIAL, "x-request-id": "ws-trace-1"}
        with ws_connect(base, "", traced) as websocket:
            time.sleep(0.3)  # both streams are open
            post_item(base, "one")
            post_item(base, "two")
            assert json.loads(websocket.recv(timeout=5))["data"]["name"] == "one"
            assert json.loads(websocket.recv(timeout=5))["data"]["name"] == "two"
            assert closed_code(websocket) == (1000, "idle")
        request_id, body = reading.result(timeout=10)
        with pytest.raises(InvalidStatus):
            ws_connect(base, origin="https://evil.example")  # cross-site
        with pytest.raises(InvalidStatus):
            ws_connect(base, f"?access_token={TOKEN}", {})
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    assert [e["event"] for e in events_of(body.decode())] == ["item.created"] * 2 + ["end"]
    streams = {line["kind"]: line for line in _lines_of(tmp_path, "stream")}
    assert set(streams) == {"sse", "websocket"}
    sse, ws = streams["sse"], streams["websocket"]
    assert sse["logger"] == ws["logger"] == f"{PACKAGE}.access"
    assert (sse["path"], sse["reason"], sse["events"]) == (ITEM_EVENTS_PATH, "idle", 3)
    assert sse["bytes"] == len(body)  # every byte the reader got, heartbeats included
    assert sse["request_id"] == request_id == "sse-trace-1"
    assert sse["duration_ms"] > 1000
    assert (ws["path"], ws["reason"], ws["close_code"], ws["events"]) == (
        ITEM_WS_PATH,
        "idle",
        1000,
        2,
    )
    assert ws["bytes"] > 0
    assert ws["request_id"] == "ws-trace-1"
    refused = [line for line in _lines_of(tmp_path, "audit") if line["method"] == "WEBSOCKET"]
    assert [(line["path"], line["status"]) for line in refused] == [(ITEM_WS_PATH, 403)] * 2
    assert all(line["close_code"] in (1008, 1013) for line in refused)
    printed = (tmp_path / "stdout").read_text() + (tmp_path / "stderr").read_text()
    assert TOKEN not in printed
