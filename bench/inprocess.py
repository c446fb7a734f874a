"""Benchmark: what one item request costs the app itself, in-process (no server, no network).

Drives bench/run.py's apps (bare, full, floor) with ASGI scopes in one event loop,
one request at a time (or ``--concurrency N``) on a migrated database: main-thread
CPU (``thread_time``) and wall time per request, in passes that alternate the apps
(medians over passes), then each app under cProfile: Python function calls per
request (free of noise) and where the time goes. No server, so a server's own
costs (a ``write(2)`` handing the GIL to its threads) are not here: bench/run.py
has them. ``--stub-repository`` answers from memory (what the database adds);
``--diff full-bare`` lists the functions whose calls per request differ.

    uv run python bench/inprocess.py --project DIR                  # a rendered project
    uv run python bench/inprocess.py --project DIR --database postgresql   # a PostgreSQL variant
    uv run python bench/inprocess.py --project DIR --profile full --top 40
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from databases import DATABASES, DatabaseError, PostgresServer, sqlite_url
from run import (
    API_KEY,
    ITEM_BODY,
    ITEMS_PATH,
    SERVER_ENV,
    BenchError,
    find_factories,
    venv_python,
    write_bench_module,
)

INNER = r"""
import asyncio, cProfile, functools, io, json, os, pstats, statistics, sys, time
import bench_apps

print = functools.partial(print, file=sys.stderr, flush=True)  # stdout: the access log

API_KEY, ITEMS_PATH, BODY = sys.argv[1], sys.argv[2], sys.argv[3].encode()
APPS, ROUTES = sys.argv[4].split(","), sys.argv[5].split(",")
PASSES, REQUESTS, PROFILE, TOP = int(sys.argv[6]), int(sys.argv[7]), sys.argv[8], int(sys.argv[9])
DIFF = sys.argv[10]  # "full-bare": the functions whose calls per request differ most
PACKAGE, STUB, CONCURRENCY = sys.argv[11], sys.argv[12] == "stub", int(sys.argv[13])
if STUB:  # the repository answers from memory without awaiting: what the database adds
    import importlib, uuid
    repository = importlib.import_module(f"{PACKAGE}.repository")
    Item = importlib.import_module(f"{PACKAGE}.schemas").Item

    async def get(self, item_id):
        return Item(id=item_id, name="bench item", quantity=3, tags=["bench", "a-b"])

    async def add(self, data):
        tags = list(data.tags)
        return Item(id=uuid.uuid4().hex, name=data.name, quantity=data.quantity, tags=tags)

    repository.ItemRepository.get, repository.ItemRepository.add = get, add


def per_function(stats):
    # (file:line(function)) -> (calls per request, own seconds per request)
    return {
        f"{path.split('site-packages/')[-1]}:{line}({name})": (row[1] / REQUESTS, row[2] / REQUESTS)
        for (path, line, name), row in stats.stats.items()
    }


async def lifespan(app):
    # The app's lifespan runs as a server runs it: startup before any request.
    inbox, started, stop = asyncio.Queue(), asyncio.Event(), asyncio.Event()
    await inbox.put({"type": "lifespan.startup"})

    async def receive():
        message = await inbox.get()
        return message

    async def send(message):
        if message["type"].startswith("lifespan.startup"):
            started.set()
        if message["type"].startswith("lifespan.shutdown"):
            stop.set()

    lifespan_scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(lifespan_scope, receive, send))
    await asyncio.wait_for(started.wait(), 30)

    async def shutdown():
        await inbox.put({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(stop.wait(), 30)
        finally:
            task.cancel()

    return shutdown


def scope(method, path, body_len):
    headers = [(b"host", b"127.0.0.1"), (b"x-api-key", API_KEY.encode()),
               (b"user-agent", b"bench"), (b"accept", b"*/*")]
    if method == "POST":
        length = str(body_len).encode()
        headers += [(b"content-type", b"application/json"), (b"content-length", length)]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "headers": headers, "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000), "state": {}}


async def call(app, method, path, body=b""):
    status, chunks = [], []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope(method, path, len(body)), receive, send)
    return status[0], b"".join(chunks)


async def load(app, request):
    # REQUESTS requests, CONCURRENCY at a time (each worker's one after the other).
    async def worker(count):
        for _ in range(count):
            await call(app, *request)

    share, extra = divmod(REQUESTS, CONCURRENCY)
    await asyncio.gather(*(worker(share + (i < extra)) for i in range(CONCURRENCY)))


async def main():
    apps, closers = {}, []
    for name in APPS:
        apps[name] = getattr(bench_apps, name)()
        closers.append(await lifespan(apps[name]))
    status, body = await call(apps["bare"], "POST", ITEMS_PATH, BODY)
    assert status == 201, (status, body)
    read_path = f"{ITEMS_PATH}/{json.loads(body)['id']}"
    requests = {"read": ("GET", read_path, b""), "create": ("POST", ITEMS_PATH, BODY)}
    for name, app in apps.items():  # warm up: imports, caches, the pool's first connections
        for route in ROUTES:
            for _ in range(50):
                status, body = await call(app, *requests[route])
                assert status in (200, 201), (name, route, status, body)
    samples = {(name, route): ([], []) for name in APPS for route in ROUTES}
    for number in range(PASSES):
        order = APPS if number % 2 == 0 else APPS[::-1]
        for route in ROUTES:
            for name in order:
                app, request = apps[name], requests[route]
                cpu, wall = time.thread_time(), time.perf_counter()
                await load(app, request)
                samples[name, route][0].append((time.thread_time() - cpu) / REQUESTS * 1e6)
                samples[name, route][1].append((time.perf_counter() - wall) / REQUESTS * 1e6)
    tables = {}
    print(f"{'route':<8} {'app':<6} {'CPU µs/req':>11} {'over bare':>10} {'wall µs/req':>12}",
          f"{'calls/req':>10}")
    for route in ROUTES:
        base = statistics.median(samples["bare", route][0])
        for name in APPS:
            cpu = statistics.median(samples[name, route][0])
            wall = statistics.median(samples[name, route][1])
            profiler = cProfile.Profile()
            profiler.enable()
            await load(apps[name], requests[route])
            profiler.disable()
            stats = pstats.Stats(profiler)
            calls = stats.total_calls / REQUESTS
            tables[name, route] = per_function(stats)
            print(f"{route:<8} {name:<6} {cpu:>11.0f} {cpu - base:>+10.0f} {wall:>12.0f}",
                  f"{calls:>10.0f}")
            if PROFILE in (name, "all"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(TOP)
                out.write("\n")
                pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(TOP)
                print(f"--- profile: {name} {route} ({REQUESTS} requests) ---")
                print(out.getvalue())
    if DIFF:
        this, base = DIFF.split("-")
        for route in ROUTES:
            a, b = tables[this, route], tables[base, route]
            rows = []
            for k in set(a) | set(b):
                (a_calls, a_own), (b_calls, b_own) = a.get(k, (0, 0)), b.get(k, (0, 0))
                rows.append((a_calls - b_calls, a_own - b_own, k))
            rows.sort(key=lambda row: -abs(row[0]))
            print(f"--- {route}: calls per request, {this} minus {base} (own µs/req) ---")
            for calls, own, key in rows[:TOP]:
                if calls:
                    print(f"{calls:>+8.2f} {own * 1e6:>+8.1f}  {key}")
    for close in closers:
        await close()


asyncio.run(main())
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True, help="a rendered, synced project")
    parser.add_argument(
        "--database",
        choices=DATABASES,
        default="sqlite",
        help="a new SQLite file (default), or a PostgreSQL server started here (as run.py's)",
    )
    parser.add_argument("--apps", default="bare,full,floor")
    parser.add_argument("--routes", default="read,create")
    parser.add_argument("--passes", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight at once")
    parser.add_argument("--requests", type=int, default=300, help="per app, route and pass")
    parser.add_argument("--profile", default="", help="an app (or 'all') to print cProfile for")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--stub-repository", action="store_true", help="no database: the repository answers at once"
    )
    parser.add_argument("--diff", default="", help="e.g. full-bare: calls per request that differ")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = args.project.resolve()
    python = venv_python(root)
    factories = find_factories(root)
    postgres = PostgresServer() if args.database == "postgresql" else None
    with tempfile.TemporaryDirectory(prefix="bulwark-inprocess-") as scratch:
        apps_dir = Path(scratch)
        write_bench_module(apps_dir, factories)
        env = {**os.environ, **SERVER_ENV, "PYTHONPATH": str(apps_dir)}
        try:
            if postgres is not None:
                postgres.start()
                env["DATABASE_URL"] = postgres.create_database("bench_inprocess")
            else:
                env["DATABASE_URL"] = sqlite_url(apps_dir)
            migrate = [str(python), "-m", f"{factories.package}.migrate"]
            subprocess.run(migrate, cwd=root, env=env, check=True, capture_output=True, timeout=120)
            command = [str(python), "-c", INNER, API_KEY, ITEMS_PATH, ITEM_BODY, args.apps]
            command += [args.routes, str(args.passes), str(args.requests), args.profile]
            command += [str(args.top), args.diff, factories.package]
            command += ["stub" if args.stub_repository else "db", str(args.concurrency)]
            done = subprocess.run(
                command, cwd=root, env=env, check=False, timeout=1800, stdout=subprocess.DEVNULL
            )
        finally:
            if postgres is not None:
                postgres.stop()
    return done.returncode


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BenchError, DatabaseError) as error:
        sys.exit(f"bench: {error}")
