"""Benchmark: what an event stream costs, bare framework vs the full security stack.

For each framework asked it renders the default variant with that framework (or
takes ``--project DIR``), serves the bare framework app and the app inside every
security layer with Granian (one worker, 127.0.0.1), one after the other in each
round, and measures:

- **idle**: ``--idle`` (1,000) concurrent SSE connections held open with no event:
  the worker's resident memory per connection (RSS with them open minus before,
  divided by their number);
- **throughput**: ``--readers`` (100) readers of the event stream while
  ``--events`` events of about 200 bytes are published in-process (a producer in
  the service, as a job's progress would be): deliveries per second (events x
  readers / the time until every reader has every event).

Both apps get a producer route, ``POST /_bench/publish?count=N``, outside the
stack; the bare app gets a fixed principal in the scope (the stream checks its
scope). Servers are stopped by PID (their session's group after). The report
gives per-round figures and their medians, and the full/bare ratios.

This is a benchmark, not a test: it never fails on a slow result, it reports.

    export UV_PYTHON_DOWNLOADS=never UV_PYTHON=/root/.pyenv/versions/3.13.0/bin/python3.13
    uv run python bench/streams.py                      # FastAPI, 3 rounds
    uv run python bench/streams.py --frameworks fastapi,litestar,quart
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from run import (
    API_KEY,
    FRAMEWORKS,
    HOST,
    BenchError,
    Project,
    Variant,
    find_factories,
    render,
    rss_mib,
    serving,
    uv_sync,
    venv_python,
    worker_pids,
)

EVENTS_PATH = "/api/v1/items/events"
APPS_MODULE = "bench_stream_apps"
STREAM_ENV = {
    "STREAM_MAX_PER_CLIENT": "10000",
    "STREAM_MAX_TOTAL": "10000",
    "STREAM_IDLE_TIMEOUT": "600",
    "STREAM_HEARTBEAT_INTERVAL": "600",
    "SSE_QUEUE_MAXSIZE": "100000",  # throughput: no reader is dropped for lagging
}
PHASE_TIMEOUT = 60.0  # seconds any one phase may take before the run gives up

APPS_SOURCE = '''\
"""App factories for bench/streams.py; written by it into a temporary directory."""

from __future__ import annotations

import asyncio
import importlib
import os
from typing import Any
from urllib.parse import parse_qs

from {package}.logs import configure_logging
from {package}.security.principal import Principal
from {package}.settings import Settings

_build = importlib.import_module("{package}.{build_module}")
_create = importlib.import_module("{package}.{create_module}")
_events = importlib.import_module("{package}.events")
BUILT: list[Any] = []


class _Known(_events.ItemEvents):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        BUILT[:] = [self]


setattr(_build, "ItemEvents", _Known)


def _publisher(app: Any) -> Any:
    async def publishing(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/_bench/publish":
            await app(scope, receive, send)
            return
        count = int(parse_qs(scope["query_string"].decode())["count"][0])
        broadcaster = BUILT[-1].broadcaster
        for n in range(count):
            broadcaster.publish("item.created", {{"n": n, "padding": "x" * 160}})
            if n % 50 == 49:
                await asyncio.sleep(0)
        await send({{"type": "http.response.start", "status": 204, "headers": []}})
        await send({{"type": "http.response.body", "body": b""}})

    return publishing


def bare() -> Any:
    settings = Settings()
    configure_logging(settings)
    app = _build.build_app(settings)
    principal = Principal("bench", "api_key", frozenset({{"items:read", "items:write"}}))

    async def bare(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            principal.remember(scope)
        await app(scope, receive, send)

    return _publisher(bare)


def full() -> Any:
    return _publisher(_create.create_app(Settings()))
'''


async def _open_stream(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """An SSE connection whose response head has been read (the stream is open)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(
        f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: {HOST}\r\nx-api-key: {API_KEY}\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise BenchError(f"the event stream answered {head[:40]!r}")
    return reader, writer


async def _open_many(port: int, count: int) -> list[asyncio.StreamWriter]:
    writers = []
    for start in range(0, count, 50):  # in batches: no connect storm past the listen backlog
        opened = await asyncio.gather(
            *(_open_stream(port) for _ in range(start, min(count, start + 50)))
        )
        writers += [writer for _, writer in opened]
    return writers


def _close(writers: Sequence[asyncio.StreamWriter]) -> None:
    for writer in writers:
        writer.close()


async def idle_per_connection(port: int, pid: int, count: int) -> float:
    """KiB of worker RSS per open idle stream."""
    before = rss_mib(pid) or 0.0
    writers = await asyncio.wait_for(_open_many(port, count), PHASE_TIMEOUT)
    await asyncio.sleep(1.0)  # settle
    after = rss_mib(pid) or 0.0
    _close(writers)
    await asyncio.sleep(1.0)  # the server sees them go before the next phase
    return (after - before) * 1024 / count


_MARK = b"\nevent: item.created\n"


async def _read_events(reader: asyncio.StreamReader, events: int) -> None:
    seen, rest = 0, b""
    while seen < events:
        chunk = await reader.read(65536)
        if not chunk:
            raise BenchError("a reader's stream ended early")
        text = rest + chunk  # a mark may straddle two reads; the rest holds no whole one
        seen += text.count(_MARK)
        rest = text[-(len(_MARK) - 1) :]


async def deliveries_per_second(port: int, readers: int, events: int) -> float:
    opened = await asyncio.wait_for(
        asyncio.gather(*(_open_stream(port) for _ in range(readers))), PHASE_TIMEOUT
    )
    reading = [asyncio.create_task(_read_events(reader, events)) for reader, _ in opened]
    start = time.perf_counter()
    _, publisher = await asyncio.open_connection(HOST, port)
    publisher.write(
        f"POST /_bench/publish?count={events} HTTP/1.1\r\nHost: {HOST}\r\n"
        "Content-Length: 0\r\n\r\n".encode()
    )
    await asyncio.wait_for(asyncio.gather(*reading), PHASE_TIMEOUT)
    elapsed = time.perf_counter() - start
    publisher.close()
    _close([writer for _, writer in opened])
    await asyncio.sleep(1.0)
    return readers * events / elapsed


def measure(
    project: Project, variant: Variant, args: argparse.Namespace, logs: Path
) -> dict[str, float]:
    with serving(project, variant, logs) as server:
        [pid] = worker_pids(server.session)[:1]
        idle = asyncio.run(idle_per_connection(server.port, pid, args.idle))
        rate = asyncio.run(deliveries_per_second(server.port, args.readers, args.events))
    return {"idle_kib_per_connection": idle, "deliveries_per_s": rate}


def prepare(args: argparse.Namespace, scratch: Path, framework: str) -> Project:
    if args.project is not None:
        root = args.project.resolve()
    else:
        print(f"rendering framework={framework}; uv sync ...", file=sys.stderr)
        root = render(scratch / "service", scratch, {"framework": framework})
        uv_sync(root)
    apps = scratch / "apps"
    apps.mkdir()
    factories = find_factories(root)
    source = APPS_SOURCE.format(
        package=factories.package,
        build_module=factories.build_module,
        create_module=factories.create_module,
    )
    (apps / f"{APPS_MODULE}.py").write_text(source, encoding="utf-8")
    return Project(root, venv_python(root), apps)


def run_framework(args: argparse.Namespace, framework: str) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-streams-") as directory:
        scratch = Path(directory)
        project = prepare(args, scratch, framework)
        variants = [
            Variant(label, f"{APPS_MODULE}:{label}", dict(STREAM_ENV)) for label in ("bare", "full")
        ]
        samples: dict[str, list[dict[str, float]]] = {"bare": [], "full": []}
        for round_ in range(args.rounds):
            order = variants if round_ % 2 == 0 else variants[::-1]  # alternate the order
            for variant in order:
                figures = measure(project, variant, args, scratch)
                samples[variant.label].append(figures)
                print(
                    f"  {framework} round {round_ + 1} {variant.label}: "
                    f"{figures['idle_kib_per_connection']:.1f} KiB/idle stream, "
                    f"{figures['deliveries_per_s']:,.0f} deliveries/s",
                    file=sys.stderr,
                )
        report(framework, args, samples)


def report(
    framework: str, args: argparse.Namespace, samples: dict[str, list[dict[str, float]]]
) -> None:
    def median(label: str, key: str) -> float:
        return statistics.median(sample[key] for sample in samples[label])

    def ratio(key: str) -> float:
        return statistics.median(
            full[key] / bare[key]
            for full, bare in zip(samples["full"], samples["bare"], strict=True)
        )

    print(f"\n{framework} on Granian, {args.rounds} rounds (medians)")
    print(f"{'':32} {'bare':>12} {'full':>12} {'full/bare':>10}")
    key = "idle_kib_per_connection"
    print(
        f"{f'KiB per idle stream ({args.idle})':32} {median('bare', key):12.1f} "
        f"{median('full', key):12.1f} {ratio(key):10.2f}"
    )
    key = "deliveries_per_s"
    print(
        f"{f'deliveries/s ({args.readers} readers)':32} {median('bare', key):12,.0f} "
        f"{median('full', key):12,.0f} {ratio(key):10.2f}"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="an already-rendered project")
    parser.add_argument(
        "--frameworks",
        type=lambda text: [name for name in text.split(",") if name],
        default=["fastapi"],
        help=f"comma-separated, of {','.join(FRAMEWORKS)} (default fastapi)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--idle", type=int, default=1000, help="idle streams (default 1000)")
    parser.add_argument("--readers", type=int, default=100, help="readers (default 100)")
    parser.add_argument("--events", type=int, default=2000, help="events published (default 2000)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = args.idle + args.readers + 100
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, needed), hard))
    try:
        for framework in args.frameworks:
            run_framework(args, framework)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
