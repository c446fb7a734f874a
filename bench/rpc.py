"""Benchmark: what the gRPC face's security interceptor costs per unary call.

Renders a variant with ``grpc=true`` (or takes ``--project DIR``) and serves the
example API's servicer (``rpc/service.py``, its items through the service's
repository on a migrated database: a SQLite file, or with ``--database postgresql``
a PostgreSQL server started on 127.0.0.1, as bench/run.py makes them) two ways, one
at a time, on 127.0.0.1:

- **bare**: ``grpc.aio.server()`` with the servicer's handlers and nothing else;
- **full**: ``build_server(settings, handlers)``, the server ``python -m`` runs: the
  security interceptor (request id, access log, client identity, rate limit,
  authentication and scopes), the message and concurrency limits, health.

A client in a process of its own (N asyncio tasks on one channel) calls
``GetItem`` (or ``CreateItem``) with a valid API key for a bounded time; it counts
every status code, and reports its own CPU per call, so a client that became the
bottleneck shows. Rounds alternate the order; the headline figure is the median
of the per-round full/bare throughput ratios, beside the servers' CPU per call.
Helpers (rendering, servers' CPU from /proc, the report) are ``run.py``'s.

This is a benchmark, not a test: it never fails on a slow result, it reports.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from databases import DATABASES, DatabaseError, PostgresServer, sqlite_url
from run import (
    HOST,
    BenchError,
    CpuCost,
    Project,
    Sample,
    WrkResult,
    cpu_cost,
    cpu_times,
    find_package,
    free_port,
    median_ratio,
    print_cpu_report,
    print_layer_report,
    print_stack_report,
    render,
    stop,
    tail,
    uv_sync,
    venv_python,
)
from run import migrate as migrate_database

START_TIMEOUT = 60.0  # seconds for a server to write its ready file
CLIENT_GRACE = 60.0  # seconds the client may run past its warm-up and duration
API_KEY = "bench-key-7Qm2c9VxT4pLw8NzR1sYb6Hd"  # made up here; configured on the full server
RPC_ENV = {
    "API_KEYS": json.dumps({"bench": {"secret": API_KEY, "scopes": ["items:read", "items:write"]}}),
    # The limiter counts every call, as in production, but never refuses one here.
    "RATE_LIMIT_DEFAULT": "1000000000/minute",
}
METHODS = ("GetItem", "CreateItem")
REFERENCES = ("floor", "reference", "reference-silent")

SERVER_SOURCE = r'''
"""bench/rpc.py's server: ``python - PACKAGE bare|full PORT READY_FILE``."""
import asyncio, hashlib, hmac, importlib, os, signal, sys, time
from datetime import UTC, datetime
import grpc, orjson

package, mode, port, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
settings_module = importlib.import_module(f"{package}.settings")
logs = importlib.import_module(f"{package}.logs")
service = importlib.import_module(f"{package}.rpc.service")
rpc_server = importlib.import_module(f"{package}.rpc.server")
database_module = importlib.import_module(f"{package}.database")
repository_module = importlib.import_module(f"{package}.repository")
schemas = importlib.import_module(f"{package}.schemas")


class Reference(grpc.aio.ServerInterceptor):
    """Not a product: the least an interceptor can do and still write one JSON access
    line per call (``log``), each method's handler wrapped once, as the real one is."""

    def __init__(self, log, guard=False, keys=(), limit=0):
        self.log, self.wrapped, self.out = log, {}, sys.stdout.buffer
        # The floor (``guard``): an API key looked up by its SHA-256 and compared in
        # constant time, and an in-memory fixed-window counter per client.
        self.guard, self.limit, self.counters = guard, limit, {}
        self.digests = {}
        for key in keys:
            digest = hashlib.sha256(key.encode()).digest()
            self.digests[digest] = digest

    async def intercept_service(self, continuation, details):
        method = details.method
        if method not in self.wrapped:
            handler = await continuation(details)
            self.wrapped[method] = handler if handler is None else self.wrap(handler, method)
        return self.wrapped[method]

    def wrap(self, handler, method):
        inner, log, out, guard = handler.unary_unary, self.log, self.out, self.guard
        digests, counters, limit = self.digests, self.counters, self.limit

        async def logged(request, context):
            request_id, code, start = os.urandom(16).hex(), "OK", time.perf_counter()
            try:
                if guard:
                    metadata = context.invocation_metadata()
                    key = next((v for k, v in metadata if k == "x-api-key"), "")
                    digest = hashlib.sha256(key.encode()).digest()
                    found = digests.get(digest)
                    window = int(time.monotonic() // 60)
                    entry = counters.get(context.peer())
                    if entry is None or entry[0] != window:
                        counters[context.peer()] = entry = [window, 0]
                    entry[1] += 1
                    if found is None or not hmac.compare_digest(digest, found):
                        code = "UNAUTHENTICATED"
                        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad key")
                    if entry[1] > limit:
                        code = "RESOURCE_EXHAUSTED"
                        await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "limit")
                return await inner(request, context)
            except BaseException:
                code = "ERROR"
                raise
            finally:
                if log:
                    out.write(orjson.dumps({
                        "method": method, "code": code, "request_id": request_id,
                        "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                        "event": "rpc", "timestamp": datetime.now(UTC),
                    }, option=orjson.OPT_APPEND_NEWLINE))
                    out.flush()

        return grpc.unary_unary_rpc_method_handler(
            logged, handler.request_deserializer, handler.response_serializer
        )


async def main() -> None:
    settings = settings_module.Settings(grpc_port=port)
    logs.configure_logging(settings)  # both modes: start-up differs only in the server
    # The items on the migrated database bench/rpc.py made (DATABASE_URL), as the service's.
    database = database_module.Database(settings)
    items = repository_module.ItemRepository(database)
    item = await items.add(schemas.ItemIn(name="widget", quantity=3, tags=["bench"]))
    handlers = [service.handlers(settings, items)]
    if mode == "full":
        full = rpc_server.build_server(settings, handlers)
        await full.start()
        stop = full.stop
    else:
        keys = [c.secret.get_secret_value() for c in settings.api_keys.values()]
        limit = int(settings.rate_limit_default.split("/")[0])
        reference = Reference(mode != "reference-silent", mode == "floor", keys, limit)
        interceptors = [reference] if mode != "bare" else []
        bare = grpc.aio.server(interceptors=interceptors)
        bare.add_generic_rpc_handlers(handlers)
        bare.add_insecure_port(f"127.0.0.1:{port}")
        await bare.start()
        stop = bare.stop
    with open(ready + ".tmp", "w") as out:
        out.write(item.id)
    os.replace(ready + ".tmp", ready)
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    await stopping.wait()
    await stop(0)
    await database.aclose()


asyncio.run(main())
'''

CLIENT_SOURCE = r'''
"""bench/rpc.py's client: N tasks on one channel; prints "start", then one JSON line."""
import asyncio, collections, importlib, json, sys, time
import grpc

package, port, item_id, api_key, method = sys.argv[1:6]
concurrency, duration, warmup = int(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8])
items_pb2 = importlib.import_module(f"{package}.rpc.items_pb2")
service = importlib.import_module(f"{package}.rpc.service")
if method == "GetItem":
    path, request = service.GET_ITEM, items_pb2.GetItemRequest(id=item_id)
    request_type = items_pb2.GetItemRequest
else:
    path, request = service.CREATE_ITEM, items_pb2.CreateItemRequest(name="widget", quantity=1)
    request_type = items_pb2.CreateItemRequest
METADATA = (("x-api-key", api_key),)


async def main() -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(
            path,
            request_serializer=request_type.SerializeToString,
            response_deserializer=items_pb2.Item.FromString,
        )
        await call(request, metadata=METADATA, timeout=10, wait_for_ready=True)
        try:  # the same call without the key: the full server must refuse it
            await call(request, timeout=10)
            anonymous = "OK"
        except grpc.aio.AioRpcError as error:
            anonymous = error.code().name
        loop = asyncio.get_running_loop()
        codes: collections.Counter[str] = collections.Counter()
        latencies: list[float] = []

        async def worker(until: float, record: bool) -> None:
            while loop.time() < until:
                started = time.perf_counter()
                try:
                    await call(request, metadata=METADATA, timeout=10)
                    code = "OK"
                except grpc.aio.AioRpcError as error:
                    code = error.code().name
                if record:
                    latencies.append(time.perf_counter() - started)
                    codes[code] += 1

        async def phase(seconds: float, record: bool) -> None:
            until = loop.time() + seconds
            await asyncio.gather(*(worker(until, record) for _ in range(concurrency)))

        if warmup > 0:
            await phase(warmup, False)
        print("start", flush=True)
        wall, cpu = time.perf_counter(), time.process_time()
        await phase(duration, True)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    calls = sum(codes.values())
    latencies.sort()
    print(json.dumps({
        "calls": calls,
        "seconds": wall,
        "codes": codes,
        "anonymous": anonymous,
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1000 if latencies else 0.0,
        "client_cpu_s": cpu,
    }), flush=True)


asyncio.run(main())
'''


@dataclass(frozen=True)
class Load:
    """How hard and how long the client calls each server."""

    method: str
    concurrency: int
    duration: float
    warmup: float


@dataclass(frozen=True)
class ClientCost:
    """The client's CPU during the measured window: per call, and in cores."""

    per_call_us: float
    cores: float


@dataclass(frozen=True)
class Server:
    process: subprocess.Popen[bytes]
    port: int
    item_id: str


def start_server(project: Project, package: str, mode: str, scratch: Path) -> Server:
    """Start one server in its own session; wait for its ready file (the item's id)."""
    port = free_port()
    ready, log = scratch / f"{mode}.ready", scratch / f"{mode}.stderr"
    ready.unlink(missing_ok=True)
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [str(project.python), "-c", SERVER_SOURCE, package, mode, str(port), str(ready)],
            cwd=project.root,
            env=project.env(RPC_ENV),
            stdin=subprocess.DEVNULL,
            # The access log is still formatted per call, as in production, then dropped.
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.exists():
        if process.poll() is not None:
            raise BenchError(f"{mode} server exited with {process.returncode}:\n{tail(log)}")
        if time.monotonic() > deadline:
            stop(process)
            raise BenchError(f"{mode} server not ready within {START_TIMEOUT:g}s:\n{tail(log)}")
        time.sleep(0.1)
    return Server(process, port, ready.read_text())


def run_client(
    project: Project, package: str, server: Server, load: Load
) -> tuple[dict[str, Any], CpuCost | None]:
    """Run the client against ``server``; read the server's CPU around the measured window."""
    command = [
        str(project.python), "-c", CLIENT_SOURCE, package, str(server.port), server.item_id,
        API_KEY, load.method, str(load.concurrency), str(load.duration), str(load.warmup),
    ]  # fmt: skip
    client = subprocess.Popen(
        command,
        cwd=project.root,
        env=project.env({}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # A client that hangs is killed by PID; its stdout then ends and the loop with it.
    watchdog = threading.Timer(load.warmup + load.duration + CLIENT_GRACE, client.kill)
    watchdog.start()
    before = after = None
    result: dict[str, Any] | None = None
    try:
        for line in client.stdout or ():
            if line.strip() == "start":
                before = cpu_times(server.process.pid)
            elif line.startswith("{"):
                after = cpu_times(server.process.pid)
                result = json.loads(line)
        _, stderr = client.communicate()
    finally:
        watchdog.cancel()
        if client.poll() is None:
            client.kill()
            client.wait()
    if client.returncode != 0 or result is None:
        raise BenchError(f"client failed ({client.returncode}):\n{stderr.strip()[-2000:]}")
    return result, cpu_cost(before, after, int(result["calls"]))


def measure(
    project: Project, package: str, mode: str, load: Load, scratch: Path
) -> tuple[WrkResult, CpuCost | None, ClientCost]:
    """One server, one client run: throughput, p99, status codes, CPU of both sides."""
    server = start_server(project, package, mode, scratch)
    try:
        result, cpu = run_client(project, package, server, load)
    finally:
        stop(server.process)
    if mode == "full" and result["anonymous"] != "UNAUTHENTICATED":
        raise BenchError(f"full server answered {result['anonymous']} without a key")
    codes: dict[str, int] = result["codes"]
    calls, seconds = sum(codes.values()), float(result["seconds"])
    not_ok = calls - codes.get("OK", 0)
    if not_ok:
        print(f"  warning: {mode}: {not_ok} calls did not answer OK: {codes}", file=sys.stderr)
    client_cpu = float(result["client_cpu_s"])
    # run.py's result type, so that its report prints these figures too.
    figures = WrkResult(
        requests_per_sec=calls / seconds,
        p99_ms=float(result["p99_ms"]),
        requests=calls,
        non_2xx=not_ok,
        socket_errors=0,
    )
    return figures, cpu, ClientCost(client_cpu / max(calls, 1) * 1e6, client_cpu / seconds)


def run_rounds(
    project: Project, package: str, rounds: int, load: Load, modes: Sequence[str]
) -> tuple[list[Sample], dict[str, list[ClientCost]]]:
    """Every server once per round; even rounds reverse the order to cancel drift."""
    samples: list[Sample] = []
    clients: dict[str, list[ClientCost]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory(prefix="bulwark-rpc-bench-") as scratch:
        for number in range(1, rounds + 1):
            order = modes if number % 2 else modes[::-1]
            for mode in order:
                print(f"round {number}/{rounds}: {mode} ...", file=sys.stderr)
                result, cpu, client = measure(project, package, mode, load, Path(scratch))
                samples.append(Sample(number, mode, result, cpu))
                clients[mode].append(client)
    return samples, clients


def print_client_report(clients: dict[str, list[ClientCost]]) -> None:
    print("\nclient CPU, median: per call (us), cores busy")
    for mode, costs in clients.items():
        per_call = statistics.median(c.per_call_us for c in costs)
        cores = statistics.median(c.cores for c in costs)
        print(f"  {mode:<32} {per_call:>7.1f}  {cores:>5.2f}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="an already-rendered project with gRPC on")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument(
        "--duration", type=float, default=10, help="seconds of calls per server (default 10)"
    )
    parser.add_argument("--warmup", type=float, default=1, help="unmeasured seconds first")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="calls in flight on the channel (default 32)"
    )
    parser.add_argument("--method", choices=METHODS, default="GetItem", help="the unary call")
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a copier answer for the rendered variant, e.g. framework=litestar (repeatable)",
    )
    parser.add_argument(
        "--reference",
        action="store_true",
        help="also serve the bare server behind a one-line-per-call reference interceptor, "
        "and behind the same interceptor writing nothing: the floor any interceptor pays",
    )
    parser.add_argument(
        "--database",
        choices=DATABASES,
        default="sqlite",
        help="where the items are: a SQLite file (default) or a PostgreSQL server started here",
    )
    parser.add_argument("--json", type=Path, help="write the samples and medians to this file")
    args = parser.parse_args(argv)
    for name in ("rounds", "concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.duration <= 0 or args.warmup < 0:
        parser.error("--duration must be positive and --warmup not negative")
    if any("=" not in item for item in args.data):
        parser.error("--data takes KEY=VALUE")
    if args.project is not None and args.data:
        parser.error("--data applies to rendering; it cannot change an existing --project")
    return args


def prepare(
    args: argparse.Namespace, scratch: Path, postgres: PostgresServer | None
) -> tuple[Project, str]:
    """Render with gRPC on and install (or take --project); a migrated database; the package."""
    if args.project is not None:
        root = args.project.resolve()
    else:
        answers = {"grpc": "true", "database": args.database}
        answers.update(dict(item.split("=", 1) for item in args.data))
        print(f"rendering {answers}; uv sync ...", file=sys.stderr)
        root = render(scratch / "service", scratch, answers)
        uv_sync(root)
    package = find_package(root)
    if not (package / "rpc" / "server.py").is_file():
        raise BenchError(f"{root} has no gRPC server: render it with grpc=true")
    apps_dir = scratch / "apps"  # nothing to put there: Project wants one for PYTHONPATH
    apps_dir.mkdir()
    if postgres is None:
        directory = scratch / "database"
        directory.mkdir(mode=0o700)
        url = sqlite_url(directory)
    else:
        url = postgres.create_database("bench_rpc")
    project = Project(root, venv_python(root), apps_dir, url)
    migrate_database(project, package.name)  # as a deployment does before serving
    return project, package.name


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load = Load(args.method, args.concurrency, args.duration, args.warmup)
    postgres = PostgresServer() if args.database == "postgresql" else None
    try:
        with tempfile.TemporaryDirectory(prefix="bulwark-rpc-") as scratch:
            if postgres is not None:
                print(f"starting PostgreSQL on 127.0.0.1:{postgres.port} ...", file=sys.stderr)
                postgres.start()
            project, package = prepare(args, Path(scratch), postgres)
            modes = ("bare", "full", *(REFERENCES if args.reference else ()))
            samples, clients = run_rounds(project, package, args.rounds, load, modes)
    except (BenchError, DatabaseError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        if postgres is not None:
            postgres.stop()
    print(
        f"\n{args.rounds} rounds x {args.duration:g}s, {args.concurrency} calls in flight, "
        f"unary {args.method} on {HOST}, API key, {args.database}, access log to /dev/null\n"
    )
    print_stack_report(samples, sys.stdout)
    if args.reference:
        print("\nEvery server against the bare one (median of per-round ratios):")
        print_layer_report(samples, ["full", *REFERENCES], sys.stdout)
        ratio = median_ratio(samples, "full", "floor")
        if ratio is not None:
            print(f"median ratio full/floor: {ratio:.3f}")
    print_cpu_report(samples, list(modes), sys.stdout)
    print_client_report(clients)
    if args.json is not None:
        payload = {
            "config": {k: str(v) for k, v in vars(args).items() if k != "json"},
            "samples": [
                {"round": s.round, "server": s.variant, **s.result.__dict__,
                 "cpu": s.cpu.__dict__ if s.cpu else None}
                for s in samples
            ],
            "client": {mode: [c.__dict__ for c in costs] for mode, costs in clients.items()},
        }  # fmt: skip
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
