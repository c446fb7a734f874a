"""What a stream costs the real server: a reader that never reads, a reader that leaves.

The client opens the event stream with a small receive buffer and never reads
while the service produces 10,000 events of 4 KiB (40 MiB). What the server
may hold for it is bounded by design: its queue (``SSE_QUEUE_MAXSIZE`` events),
the replay buffer (``STREAM_REPLAY_SIZE`` events) and the server's write buffer,
about 1 MiB here (the kernel's socket buffers are not the process's memory).
So the worker's resident memory may grow by at most ``RSS_BOUND`` (that, plus
the allocator's slack), far below the 40 MiB that an unbounded queue or a
server buffering everything for the reader would hold. And the reader is gone
(its slot free again) within ``SSE_BACKPRESSURE_FAIL_TIMEOUT_S`` of the last event.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

import httpx

from .asgi import DEFAULT_CREDENTIAL
from .service import ITEM_EVENTS_PATH
from .test_streams import ws_connect
from .test_wire import TEST_APP, json_lines, running_server, serving

EVENTS, SIZE = 10_000, 4096
BACKPRESSURE = 2.0  # SSE_BACKPRESSURE_FAIL_TIMEOUT_S here
RSS_BOUND = 16 * 1024 * 1024  # bytes of growth allowed; 40 MiB are produced
_PPID = re.compile(r"^PPid:\s+(\d+)$", re.MULTILINE)
_RSS = re.compile(r"^VmRSS:\s+(\d+) kB$", re.MULTILINE)


def _status(pid: int) -> str:
    return Path(f"/proc/{pid}/status").read_text()


def _worker(server: subprocess.Popen[bytes]) -> int:
    """The process serving the app: the server itself or its largest descendant."""
    family = {server.pid}
    for _ in range(3):  # children, grandchildren
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    match = _PPID.search(_status(int(entry.name)))
                except OSError:
                    continue
                if match and int(match[1]) in family:
                    family.add(int(entry.name))
    return max(family, key=_rss)


def _rss(pid: int) -> int:
    try:
        match = _RSS.search(_status(pid))
    except OSError:
        return 0
    return int(match[1]) * 1024 if match else 0


def _stuck_reader(port: int) -> socket.socket:
    """A client that reads the answer's head (the stream is open) and never reads on."""
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.settimeout(5)
    stuck.connect(("127.0.0.1", port))
    credential = "".join(f"{name}: {value}\r\n" for name, value in DEFAULT_CREDENTIAL.items())
    stuck.sendall(
        f"GET {ITEM_EVENTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n{credential}\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:  # a byte at a time: nothing of the body is taken
        byte = stuck.recv(1)
        assert byte, f"closed before the stream opened: {head!r}"
        head += byte
    assert head.startswith(b"HTTP/1.1 200"), head
    return stuck


def test_a_reader_that_never_reads_is_dropped_in_time_with_memory_bounded(
    tmp_path: Path,
) -> None:
    environment = {
        "SSE_BACKPRESSURE_FAIL_TIMEOUT_S": str(BACKPRESSURE),
        "STREAM_MAX_PER_CLIENT": "1",  # a new stream is refused while the stuck one holds on
        "STREAM_IDLE_TIMEOUT": "60",
    }
    with serving(TEST_APP, environment, tmp_path) as (base, process):
        port = int(base.rpartition(":")[2])
        worker = _worker(process)
        with httpx.Client(timeout=30, headers=DEFAULT_CREDENTIAL) as client:
            client.post(f"{base}/_test/publish", params={"count": 200, "size": SIZE})  # warm
            stuck = _stuck_reader(port)
            try:
                assert _new_stream(client, base) == 429  # the stuck stream holds the slot
                before = _rss(worker)
                published = client.post(
                    f"{base}/_test/publish", params={"count": EVENTS, "size": SIZE}
                )
                done = time.monotonic()
                assert published.json()["published"] == EVENTS
                grown = _rss(worker) - before
                while (status := _new_stream(client, base)) != 200:
                    assert time.monotonic() - done < BACKPRESSURE + 3, f"still held: {status}"
                    time.sleep(0.1)
                grown = max(grown, _rss(worker) - before)
            finally:
                stuck.close()
    assert grown < RSS_BOUND, f"the worker grew by {grown / 2**20:.1f} MiB"
    printed = (tmp_path / "stdout").read_text()
    [line] = [line for line in json_lines(printed) if line.get("event") == "stream"][:1]
    assert line["reason"] in ("backpressure", "overflow")
    assert line["bytes"] < EVENTS * SIZE // 4  # most of it was never sent, nor held


def _new_stream(client: httpx.Client, base: str) -> int:
    with client.stream("GET", f"{base}{ITEM_EVENTS_PATH}") as response:
        return response.status_code


def test_readers_that_leave_leave_no_subscription_or_task_behind() -> None:
    """Three event streams and a WebSocket open, then gone: the server is as before."""
    with (
        running_server(STREAM_MAX_PER_CLIENT="10") as (base, _),
        httpx.Client(timeout=10, headers=DEFAULT_CREDENTIAL) as client,
    ):
        before = _counts(client, base)
        assert before["subscribers"] == 0
        with (
            client.stream("GET", f"{base}{ITEM_EVENTS_PATH}"),
            client.stream("GET", f"{base}{ITEM_EVENTS_PATH}"),
            client.stream("GET", f"{base}{ITEM_EVENTS_PATH}"),
            ws_connect(base),
        ):
            time.sleep(0.3)
            assert _counts(client, base)["subscribers"] == 4
        deadline = time.monotonic() + 3
        while (after := _counts(client, base)) != before:
            assert time.monotonic() < deadline, f"left behind: {after} (before: {before})"
            time.sleep(0.1)


def _counts(client: httpx.Client, base: str) -> dict[str, int]:
    counts: dict[str, int] = client.post(
        f"{base}/_test/publish", params={"count": 1, "size": 1}
    ).json()
    return counts
