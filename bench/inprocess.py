"""In-process cost of the security stack: bare, full and floor driven by ASGI scopes directly.

No server, no sockets: each app is built the way ``bench/run.py`` builds it (its
``bench_apps`` module, written into a temporary directory), its lifespan is run
on a freshly migrated database, and each route's request is sent straight into
the ASGI callable, many times. What the wire benchmark cannot separate from the
server and the load generator is left: the main thread's CPU per request over
bare.

Printed, per route: µs per request (main-thread CPU, ``time.thread_time``; the
minimum and the median over passes) for bare, and for full and floor over bare;
the wall time per request; and the number of Python function calls per request
over bare (``sys.setprofile`` counting, the same on every run: a noise-free
measure of work done). One request at a time, the apps take turns request by
request (round-robin, the order rotating), so a change in the machine's load
falls on every app alike; with ``--concurrency N`` each app serves its pass's
requests N at a time, the apps taking turns pass by pass.

- ``--profile``: cProfile's per-function self time and calls per request, full
  minus bare (cProfile counts each re-entry of a suspended coroutine frame as a
  call, and on 3.12+ its wall-clock times include other threads: read with care).
- ``--cold``: untimed work runs before each request to push the caches out, as a
  server's other work does: hot loops flatter code spread over many modules.
- ``--database postgresql``: a PostgreSQL server started on 127.0.0.1 (bench/databases.py)
  instead of a SQLite file; render the project with ``database=postgresql``.
- ``--items memory``: the repository answers from memory at once, in every app
  alike: what the stack costs without the database around it.
- ``--without Layer,...`` (or ``all``): the full app again with each named layer
  left out, one at a time, in the same round-robin: what each control costs in
  the stack, the rest in place (its saving: full minus full-without, per pass).
  A name no layer has (``all,none``) builds the full app once more: its "saving"
  is the noise the others are read against.

Run it with any interpreter: it re-runs itself with ``PROJECT/.venv/bin/python``::

    /work/wt/render.sh default /tmp/perf-default .      # or: copier copy, uv sync
    python bench/inprocess.py --project /tmp/perf-default
    python bench/inprocess.py --project /tmp/perf-default --profile --routes read
    python bench/inprocess.py --project /tmp/perf-default --cold --routes health
    python bench/inprocess.py --project /tmp/perf-default --items memory --concurrency 8
    python bench/inprocess.py --project /tmp/perf-default --items memory --without all

This is a measurement, not a test: it reports and never fails on a slow result.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as wire  # noqa: E402 - bench/run.py: the app factories and settings, shared
from databases import DATABASES, PostgresServer, sqlite_url  # noqa: E402 - bench/databases.py

APPS = ("bare", "full", "floor")
HOST = "127.0.0.1:8000"
CLIENT = ("127.0.0.1", 50000)


def reexec_in(project: Path) -> None:
    """Run this script again with the project's interpreter (its packages), unless already."""
    python = project / ".venv" / "bin" / "python"
    if not python.exists():
        wire.uv_sync(project)
    if Path(sys.prefix).resolve() != (project / ".venv").resolve():
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        os.execve(str(python), [str(python), __file__, *sys.argv[1:]], env)  # noqa: S606 - no shell wanted


def prepare(project: Path, scratch: Path, database_url: str, items: str) -> Any:
    """Environment, migrated database and the ``bench_apps`` module; that module."""
    os.environ.update(wire.SERVER_ENV)
    os.environ["DATABASE_URL"] = database_url
    factories = wire.find_factories(project)
    if (project / "src" / factories.package / "migrate.py").exists():  # none before issue 18
        subprocess.run(
            [sys.executable, "-m", f"{factories.package}.migrate"],
            cwd=project,
            env=os.environ,
            check=True,
            capture_output=True,
        )
    wire.write_bench_module(scratch, factories)
    sys.path.insert(0, str(scratch))
    # --items memory: bench_apps patches the repository as it is imported (before any
    # app is built), the same patch as run.py's --items memory.
    os.environ[wire.ITEMS_ENV] = items
    import bench_apps  # type: ignore[import-not-found]

    return bench_apps


def scope_of(route: str, item: str | None) -> tuple[dict[str, Any], bytes]:
    """A fresh HTTP scope for the route, and the request body."""
    headers = [(b"host", HOST.encode()), (b"user-agent", b"profile"), (b"accept", b"*/*")]
    method, path, body = "GET", "/health", b""
    if route != "health":
        headers.append((b"x-api-key", wire.API_KEY.encode()))
    if route == "read":
        path = f"{wire.ITEMS_PATH}/{item}"
    elif route == "create":
        method, path, body = "POST", wire.ITEMS_PATH, wire.ITEM_BODY.encode()
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": CLIENT,
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "state": {},
    }
    return scope, body


class Exchange:
    """One request's receive and send; the status and body the app answered."""

    __slots__ = ("body", "chunks", "sent", "status")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.sent = False
        self.status = 0
        self.chunks: list[bytes] = []

    async def receive(self) -> dict[str, Any]:
        if not self.sent:
            self.sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))


async def call(app: Any, route: str, item: str | None) -> Exchange:
    scope, body = scope_of(route, item)
    exchange = Exchange(body)
    await app(scope, exchange.receive, exchange.send)
    return exchange


async def start_lifespan(app: Any) -> Callable[[], Any]:
    """Run the app's lifespan startup; the coroutine function that shuts it down."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"lifespan startup failed: {started}")

    async def stop() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task

    return stop


class Thrasher:
    """Untimed work between requests that pushes the stack's code and data out of the caches.

    In a server, a request's layers run after the framework's, the database
    driver's and other requests' code: rarely hot. 16 MiB scanned, plus a JSON
    round trip of a large document (other code through the instruction cache).
    """

    def __init__(self) -> None:
        self.junk = os.urandom(16 << 20)
        self.document = [{f"k{i}": [i, str(i), {"x": i * 1.5}]} for i in range(3000)]

    def __call__(self) -> None:
        self.junk.count(b"\x00\x01\x02")
        json.loads(json.dumps(self.document))


Timing = dict[str, tuple[float, float]]  # app -> (main-thread CPU µs, wall µs) per request


async def timed_pass(
    apps: dict[str, Any],
    route: str,
    item: str | None,
    requests: int,
    between: Callable[[], None] | None = None,
) -> Timing:
    """Main-thread CPU and wall µs per request of each app over one pass, one at a time.

    Round-robin, one request each in turn (the order rotating), so a change in
    the machine's load falls on every app alike. ``between`` runs, untimed,
    before each request (``--cold``).
    """
    cpu, wall = time.thread_time_ns, time.perf_counter_ns
    names = list(apps)
    spent = {name: [0, 0] for name in names}
    for index in range(requests):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            app = apps[name]
            if between is not None:
                between()
            begin, begin_wall = cpu(), wall()
            await call(app, route, item)
            spent[name][0] += cpu() - begin
            spent[name][1] += wall() - begin_wall
    return {name: (c / requests / 1e3, w / requests / 1e3) for name, (c, w) in spent.items()}


async def concurrent_pass(
    apps: dict[str, Any], route: str, item: str | None, requests: int, concurrency: int, turn: int
) -> Timing:
    """The same, each app serving its requests ``concurrency`` at a time, apps in turn."""
    names = list(apps) if turn % 2 == 0 else list(apps)[::-1]
    share, extra = divmod(requests, concurrency)
    timing: Timing = {}

    async def lane(app: Any, count: int) -> None:
        for _ in range(count):
            await call(app, route, item)

    for name in names:
        begin, begin_wall = time.thread_time_ns(), time.perf_counter_ns()
        lanes = (lane(apps[name], share + (i < extra)) for i in range(concurrency))
        await asyncio.gather(*lanes)
        spent, spent_wall = time.thread_time_ns() - begin, time.perf_counter_ns() - begin_wall
        timing[name] = (spent / requests / 1e3, spent_wall / requests / 1e3)
    return timing


async def counted_calls(app: Any, route: str, item: str | None, requests: int) -> float:
    """Python function calls per request (``sys.setprofile`` 'call' events, this thread)."""
    calls = 0

    def count(_frame: Any, event: str, _arg: Any) -> None:
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(count)
    try:
        for _ in range(requests):
            await call(app, route, item)
    finally:
        sys.setprofile(None)
    return calls / requests


async def profiled(app: Any, route: str, item: str | None, requests: int) -> pstats.Stats:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        await call(app, route, item)
    profiler.disable()
    return pstats.Stats(profiler)


def per_function(stats: pstats.Stats, requests: int) -> dict[str, tuple[float, float]]:
    """``file:line(name)`` → (self µs per request, calls per request)."""
    table: dict[str, tuple[float, float]] = {}
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (file, line, name), (_cc, calls, tottime, _ct, _callers) in raw.items():
        short = "/".join(Path(file).parts[-2:]) if file != "~" else ""
        key = f"{short}:{line}({name})"
        old = table.get(key, (0.0, 0.0))
        table[key] = (old[0] + tottime / requests * 1e6, old[1] + calls / requests)
    return table


def print_profile(route: str, tables: dict[str, dict[str, tuple[float, float]]], top: int) -> None:
    full, bare = tables["full"], tables["bare"]
    rows = []
    for key in full.keys() | bare.keys():
        f, b = full.get(key, (0.0, 0.0)), bare.get(key, (0.0, 0.0))
        rows.append((f[0] - b[0], f[1] - b[1], f[0], b[0], key))
    rows.sort(reverse=True)
    print(f"\n-- {route}: cProfile self time, full minus bare (µs/request, profiled) --")
    print(f"{'Δµs':>7} {'Δcalls':>7} {'full':>7} {'bare':>7}  function")
    for delta, dcalls, self_full, self_bare, key in rows[:top]:
        print(f"{delta:7.2f} {dcalls:7.1f} {self_full:7.2f} {self_bare:7.2f}  {key}")
    total = sum(r[0] for r in rows)
    print(f"{total:7.2f} {'':7} {'':7} {'':7}  (all functions)")


async def main_async(args: argparse.Namespace, apps_module: Any) -> dict[str, Any]:
    apps = {name: getattr(apps_module, name)() for name in APPS}
    # "all": every layer in turn; a name no layer has rebuilds full as it is (the noise).
    left_out = [
        *(apps_module.layer_names() if "all" in args.without else ()),
        *(name for name in args.without if name != "all"),
    ]
    for layer in left_out:
        apps[f"-{layer}"] = apps_module.without(layer)
    stops = [await start_lifespan(app) for app in apps.values()]
    between = Thrasher() if args.cold else None
    created = await call(apps["full"], "create", None)
    if created.status != 201:
        raise RuntimeError(f"create answered {created.status}: {b''.join(created.chunks)!r}")
    item = json.loads(b"".join(created.chunks))["id"]
    results: dict[str, Any] = {}
    for route in args.routes:
        for name, app in apps.items():
            answer = await call(app, route, item)
            if answer.status not in (200, 201):
                raise RuntimeError(f"{name} {route} answered {answer.status}")
        samples: dict[str, list[float]] = {name: [] for name in apps}
        walls: dict[str, list[float]] = {name: [] for name in apps}
        for turn in range(-args.warmup, args.passes):  # every app warm before the first timed pass
            if args.concurrency > 1:
                timed = await concurrent_pass(
                    apps, route, item, args.requests, args.concurrency, turn
                )
            else:
                timed = await timed_pass(apps, route, item, args.requests, between)
            if turn >= 0:
                for name, (spent, spent_wall) in timed.items():
                    samples[name].append(spent)
                    walls[name].append(spent_wall)
        calls = {
            name: await counted_calls(app, route, item, args.count_requests)
            for name, app in apps.items()
        }
        results[route] = {"samples": samples, "walls": walls, "calls": calls}
        if args.profile:
            tables = {}
            for name in ("bare", "full"):
                stats = await profiled(apps[name], route, item, args.requests)
                tables[name] = per_function(stats, args.requests)
            results[route]["profile"] = tables
    for stop in stops:
        await stop()
    return results


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"{args.database}, items from {args.items}, concurrency {args.concurrency}: "
        f"µs per request, main-thread CPU, {args.passes} passes x {args.requests} requests "
        f"(min | median over passes); wall = median µs per request; "
        f"calls = Python function calls per request"
    )
    header = (
        f"{'route':<7} {'bare':>13} {'full-bare':>13} {'floor-bare':>13} "
        f"{'wall bare':>9} {'full':>6} {'floor':>6} "
        f"{'calls bare':>10} {'full-bare':>9} {'floor-bare':>10}"
    )
    print(header)
    for route, result in results.items():
        s, c = result["samples"], result["calls"]
        wall = {name: statistics.median(v) for name, v in result["walls"].items()}
        lo = {name: min(v) for name, v in s.items()}
        med = {name: statistics.median(v) for name, v in s.items()}
        # Per pass differences: the same pass's bare, so drifting load cancels.
        over = {
            name: [x - b for x, b in zip(s[name], s["bare"], strict=True)]
            for name in ("full", "floor")
        }
        print(
            f"{route:<7} {lo['bare']:6.1f}|{med['bare']:6.1f} "
            f"{min(over['full']):6.1f}|{statistics.median(over['full']):6.1f} "
            f"{min(over['floor']):6.1f}|{statistics.median(over['floor']):6.1f} "
            f"{wall['bare']:9.0f} {wall['full']:6.0f} {wall['floor']:6.0f} "
            f"{c['bare']:10.1f} {c['full'] - c['bare']:9.1f} {c['floor'] - c['bare']:10.1f}"
        )
    if args.without:
        report_without(results)
    if args.profile:
        for route, result in results.items():
            print_profile(route, result["profile"], args.top)


def report_without(results: dict[str, Any]) -> None:
    """Per left-out layer: µs over bare, and what leaving it out saves (per-pass medians)."""
    for route, result in results.items():
        s, c = result["samples"], result["calls"]
        print(f"\n-- {route}: the full app with one layer left out (main-thread CPU µs/request) --")
        print(f"{'app':<28} {'over bare':>9} {'saves':>7} {'calls saved':>11}")
        for name in s:
            if not name.startswith("-") and name != "full":
                continue
            over = statistics.median(x - b for x, b in zip(s[name], s["bare"], strict=True))
            saves = statistics.median(f - x for f, x in zip(s["full"], s[name], strict=True))
            calls = c["full"] - c[name]
            print(f"{name:<28} {over:9.1f} {saves:7.1f} {calls:11.1f}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True, help="a rendered project")
    parser.add_argument("--routes", default="health,read,create", help="of health,read,create")
    parser.add_argument("--passes", type=int, default=15)
    parser.add_argument("--requests", type=int, default=2000, help="per pass")
    parser.add_argument("--warmup", type=int, default=1, help="untimed passes per app")
    parser.add_argument("--count-requests", type=int, default=200, help="for call counting")
    parser.add_argument("--profile", action="store_true", help="cProfile full vs bare")
    parser.add_argument(
        "--cold", action="store_true", help="push the caches out before each timed request"
    )
    parser.add_argument("--top", type=int, default=40, help="profile rows shown")
    parser.add_argument(
        "--database",
        choices=DATABASES,
        default="sqlite",
        help="a new SQLite file (default), or a PostgreSQL server started here (as run.py's)",
    )
    parser.add_argument(
        "--items",
        choices=wire.ITEMS,
        default="database",
        help="memory: the repository answers at once, in every app alike",
    )
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight per app")
    parser.add_argument(
        "--without",
        default="",
        help="layer class names (or 'all'): the full app again without each, one at a time",
    )
    parser.add_argument("--json", type=Path, help="write the raw figures here")
    args = parser.parse_args()
    args.routes = [r for r in args.routes.split(",") if r]
    args.without = [name for name in args.without.split(",") if name]
    if not set(args.routes) <= set(wire.ROUTES):
        parser.error(f"--routes takes {','.join(wire.ROUTES)}")
    if args.concurrency < 1 or (args.concurrency > 1 and args.cold):
        parser.error("--concurrency takes a positive number, and --cold only with 1")
    return args


def main() -> None:
    args = parse_args()
    project = args.project.resolve()
    reexec_in(project)
    # The access lines go to stdout as in production, then nowhere; the report to stderr's copy.
    report_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    postgres = PostgresServer() if args.database == "postgresql" else None
    with tempfile.TemporaryDirectory(prefix="bulwark-inprocess-") as scratch:
        os.chdir(project)
        try:
            if postgres is not None:
                postgres.start()
                database_url = postgres.create_database("bench_inprocess")
            else:
                database_url = sqlite_url(Path(scratch))
            apps_module = prepare(project, Path(scratch), database_url, args.items)
            results = asyncio.run(main_async(args, apps_module))
        except BaseException:
            os.dup2(report_fd, 1)  # the service's logging writes the traceback to stdout
            raise
        finally:
            if postgres is not None:
                postgres.stop()
    sys.stdout.flush()
    sys.stdout = os.fdopen(report_fd, "w", encoding="utf-8")
    report(results, args)
    if args.json:
        slim = {r: {k: v for k, v in res.items() if k != "profile"} for r, res in results.items()}
        args.json.write_text(json.dumps(slim, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
