"""Benchmark: what the rendered service's security stack costs in throughput.

Renders the template's default variant (or takes ``--project DIR``), serves the
bare framework app and the app inside the security layers with Granian, one at a
time, and loads each with wrk. The machine is small and shared, so only ratios
measured side by side in the same run mean anything: every round measures all
variants back to back and the report gives per-round ratios and their median.

This is a benchmark, not a test: it never fails on a slow result, it reports.
Run ``python bench/run.py --help`` (with copier installed) for the options.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from databases import DATABASES, DatabaseError, PostgresServer, sqlite_url
from peers import PEER_PACKAGES, write_peer_modules

REPO = Path(__file__).resolve().parent.parent
# Only what copier needs: rendering from a plain copy picks up uncommitted work,
# where rendering from the repo itself would use git HEAD.
TEMPLATE_PARTS = ("copier.yml", "extensions", "template")
HOST = "127.0.0.1"  # everything stays on loopback
TARGET_RATIO = 0.85
BENCH_MODULE = "bench_apps"
LAYER_ENV = "BENCH_LAYER"

START_TIMEOUT = 60.0  # seconds for a server to answer /health
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
SYNC_TIMEOUT = 600.0  # seconds for uv sync (a cold cache downloads every wheel)
MIGRATE_TIMEOUT = 120.0  # seconds for the schema's migrations
WRK_GRACE = 30.0  # seconds wrk may run past its own duration before it is killed

# Production settings with the trusted-host layer on, so every layer runs.
API_KEY = "bench-key-7Qm2c9VxT4pLw8NzR1sYb6Hd"  # made up here; configured on every app
SCOPES = ("items:read", "items:write")
ITEMS_PATH = "/api/v1/items"
ITEM_BODY = '{"name": "bench item", "quantity": 3, "tags": ["bench", "a-b"]}'
HUGE_LIMIT = "1000000000/minute"  # counted on every request, never reached
# Production settings with the trusted-host layer on, so every layer runs; the API
# key the authenticated routes need; limits that count every request but refuse none.
SERVER_ENV = {
    "DEBUG": "false",
    "TRUSTED_HOSTS": HOST,
    "LOG_LEVEL": "INFO",
    "LOG_FORMAT": "json",
    "API_KEYS": json.dumps({"bench": {"secret": API_KEY, "scopes": list(SCOPES)}}),
    "RATE_LIMIT_DEFAULT": HUGE_LIMIT,
    "RATE_LIMIT_ROUTES": json.dumps({f"POST {ITEMS_PATH}": HUGE_LIMIT}),
    "BENCH_SCOPES": " ".join(SCOPES),
}
ROUTES = ("health", "read", "create")
ROUTE_TITLES = {
    "health": "GET /health",
    "read": "GET /api/v1/items/{id} (API key)",
    "create": "POST /api/v1/items (API key, JSON body)",
}
FRAMEWORKS = ("fastapi", "litestar", "quart")
ITEMS = ("database", "memory")  # --items: where every app's item routes find their items
ITEMS_ENV = "BENCH_ITEMS"

BENCH_APPS_SOURCE = '''\
"""App factories for bench/run.py; written by it into a temporary directory."""

from __future__ import annotations

import os
import sys
from typing import Any

from {package}.{build_module} import build_app
from {package}.{create_module} import create_app
from {package}.logs import configure_logging
from {package}.security.stack import security_layers
from {package}.settings import Settings


def _items_in_memory() -> None:
    # --items memory (run.py's and inprocess.py's): the repository answers at
    # once, without awaiting, in every app alike (patched before any app is built), so
    # the item routes compare the stacks alone; the same answers as the database gives.
    import uuid

    from {package}.repository import ItemRepository
    from {package}.schemas import Item, ItemIn

    async def get(self: ItemRepository, item_id: str) -> Item | None:
        return Item(id=item_id, name="bench item", quantity=3, tags=["bench", "a-b"])

    async def add(self: ItemRepository, data: ItemIn) -> Item:
        tags = list(data.tags)
        return Item(id=uuid.uuid4().hex, name=data.name, quantity=data.quantity, tags=tags)

    ItemRepository.get, ItemRepository.add = get, add


if os.environ.get("{items_env}") == "memory":
    _items_in_memory()


def _settings() -> Settings:
    # Logging is configured for every variant, so start-up differs only in the layers.
    settings = Settings()
    configure_logging(settings)
    return settings


def _bench_principal() -> Any:
    from {package}.security.principal import Principal

    return Principal("bench", "api_key", frozenset(os.environ["BENCH_SCOPES"].split()))


def bare() -> Any:
    # The framework app with no layers. Its item routes check the caller's scopes
    # (the auth layer's principal): a principal is put in the scope, no credential checked.
    app = build_app(_settings())
    principal = _bench_principal()

    async def bare(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            principal.remember(scope)
        await app(scope, receive, send)

    return bare


def full() -> Any:
    return create_app(Settings())


def layer_names() -> list[str]:
    return [layer.cls.__name__ for layer in security_layers(Settings())]


def layer() -> Any:
    settings = _settings()
    cls, args, kwargs = security_layers(settings)[int(os.environ["{layer_env}"])]
    return cls(build_app(settings), *args, **kwargs)


def without(name: str) -> Any:
    # The full app with the layer class ``name`` left out (inprocess.py --without):
    # what that one control costs in the stack, the rest in place.
    from {package}.security import stack

    every = stack.security_layers

    def fewer(*args: Any, **kwargs: Any) -> Any:
        return [layer for layer in every(*args, **kwargs) if layer.cls.__name__ != name]

    stack.security_layers = fewer
    try:
        app = create_app(Settings())
    finally:
        stack.security_layers = every
    if name != "AuthMiddleware":
        return app
    principal = _bench_principal()  # the item routes still check scopes: as bare does

    async def unauthenticated(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            principal.remember(scope)
        await app(scope, receive, send)

    return unauthenticated


class _Lines:
    """The floor's access log: orjson lines, held for 2xx/3xx (bounded), at once otherwise."""

    def __init__(self) -> None:
        self.out = sys.stdout.buffer
        self.held: list[bytes] = []
        self.size = 0
        self.timer: Any = None

    def write(self, line: bytes, hold: bool) -> None:
        import asyncio

        if hold:
            self.held.append(line)
            self.size += len(line)
            if self.size < 65536:
                if self.timer is None:
                    self.timer = asyncio.get_running_loop().call_later(0.1, self.flush)
                return
            line = b""
        self.held.append(line)
        self.flush()

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.out.write(b"".join(self.held))
        self.out.flush()
        self.held = []
        self.size = 0


def _reference(log: bool, guard: bool = False) -> Any:
    # Not a product: the least any stack can do and still give every response an id,
    # the security headers and (with ``log``) one JSON access line, in one layer. With
    # ``guard`` (the floor): an API key looked up in constant time and an in-memory
    # fixed-window counter per limit on every route but the health probes.
    import hashlib
    import hmac
    from datetime import UTC, datetime
    from time import monotonic, perf_counter

    import orjson

    from {package}.security.headers import build_headers
    from {package}.security.request_id import new_request_id

    settings = _settings()
    app = build_app(settings)
    headers = build_headers(debug=False, hsts=False, blank_server=True)  # served by Granian
    lines = _Lines()
    principal = _bench_principal()
    digests = {{}}
    for credential in settings.api_keys.values():
        digest = hashlib.sha256(credential.secret.get_secret_value().encode()).digest()
        digests[digest] = (digest, principal)
    public = frozenset(("/health", "/healthz", "/ready", "/readyz"))
    default_limit = int(settings.rate_limit_default.split("/")[0])
    route_limits = {{
        tuple(k.split(" ", 1)): int(v.split("/")[0]) for k, v in settings.rate_limit_routes.items()
    }}
    counters: dict[Any, list[int]] = {{}}
    refusal = b'{{"detail":"refused"}}'

    def count(key: Any, window: int, limit: int) -> bool:
        entry = counters.get(key)
        if entry is None or entry[0] != window:
            counters[key] = entry = [window, 0]
        entry[1] += 1
        return entry[1] <= limit

    async def reference(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        request_id = new_request_id()
        own = [*headers, (b"x-request-id", request_id.encode())]
        status = 500
        start = perf_counter()

        def decorate(message: Any) -> Any:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *own]
            return send(message)

        try:
            refused = 0
            if guard and scope["path"] not in public:
                client = scope["client"][0] if scope.get("client") else ""
                window = int(monotonic() // 60)
                ok = count(client, window, default_limit)
                route = route_limits.get((scope["method"], scope["path"]))
                if route is not None:
                    ok = count((client, scope["path"]), window, route) and ok
                key = next((v for n, v in scope["headers"] if n == b"x-api-key"), b"")
                digest = hashlib.sha256(key).digest()
                found = digests.get(digest)
                if found is None or not hmac.compare_digest(digest, found[0]):
                    refused = 401
                elif not ok:
                    refused = 429
                else:
                    found[1].remember(scope)
            if refused:
                await decorate({{"type": "http.response.start", "status": refused,
                                "headers": [(b"content-type", b"application/json")]}})
                await decorate({{"type": "http.response.body", "body": refusal}})
            else:
                await app(scope, receive, decorate)
        finally:
            if log:
                line = {{
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((perf_counter() - start) * 1000, 2),
                    "client": scope["client"][0] if scope.get("client") else None,
                    "event": "request",
                    "request_id": request_id,
                    "timestamp": datetime.now(UTC),
                }}
                lines.write(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE), status < 400)

    return reference


def floor() -> Any:
    return _reference(log=True, guard=True)


def peer() -> Any:
    from bench_peer import peer as build  # the framework's own peer, written beside this module

    return build()
'''


class BenchError(Exception):
    """A run that cannot go on; main prints it and exits 2."""


@dataclass(frozen=True)
class Variant:
    """One app to serve: a label for the report, a factory target, extra env."""

    label: str
    target: str
    env: dict[str, str] = field(default_factory=dict)
    workers: int = 1


@dataclass(frozen=True)
class WrkResult:
    """The figures read from one wrk run."""

    requests_per_sec: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int


@dataclass(frozen=True)
class CpuCost:
    """Server CPU time per request during the measured load, in microseconds.

    Steadier than req/s on a shared machine: another process taking a core
    lowers throughput but hardly changes what each request costs the server.
    """

    server_us: float  # every process and thread of the server (Granian's too)
    app_thread_us: float | None  # the worker's main thread: the one running the app


@dataclass(frozen=True)
class Sample:
    """One measurement of one variant in one round."""

    round: int
    variant: str
    result: WrkResult
    cpu: CpuCost | None = None  # None where /proc is not there to read
    route: str = "health"
    rss_idle_mib: float | None = None  # the worker's resident memory before any load
    rss_load_mib: float | None = None  # its largest during the measured load


@dataclass(frozen=True)
class Load:
    """How hard and how long wrk pushes each server."""

    connections: int
    duration: int
    warmup: int
    threads: int = 2


# --- project ---------------------------------------------------------------------


def render(dest: Path, scratch: Path, answers: dict[str, str]) -> Path:
    """Render a variant (default answers unless given) from a plain copy of the template parts."""
    try:
        import copier  # here, so that --project runs need no copier
    except ModuleNotFoundError as error:
        raise BenchError(
            "copier is not installed: run from the template's dev environment, "
            "or pass --project DIR with an already-rendered project"
        ) from error
    source = scratch / "template-src"
    source.mkdir()
    for part in TEMPLATE_PARTS:
        origin = REPO / part
        if origin.is_dir():
            shutil.copytree(origin, source / part)
        else:
            shutil.copy2(origin, source / part)
    copier.run_copy(
        src_path=str(source),
        dst_path=str(dest),
        data=answers,
        defaults=True,
        unsafe=True,
        quiet=True,
    )
    return dest


def uv_sync(project: Path) -> None:
    """Install the project and its dev group into ``project/.venv``."""
    uv = shutil.which("uv")
    if uv is None:
        raise BenchError("uv is not on PATH (see bench/README.md)")
    # A VIRTUAL_ENV from `uv run` in the template repo is not the project's: drop it.
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    done = subprocess.run(
        [uv, "sync", "--quiet"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=SYNC_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"uv sync failed in {project}:\n{done.stderr.strip()}")


def venv_python(project: Path) -> Path:
    """The project's interpreter: running it directly skips uv's per-call sync."""
    python = project / ".venv" / "bin" / "python"
    if not python.exists():
        uv_sync(project)
    return python


@dataclass(frozen=True)
class Factories:
    """Where the rendered project defines its two app factories."""

    package: str
    build_module: str  # defines build_app(settings): the framework app alone
    create_module: str  # defines create_app(settings): the served, secured app
    framework: str  # the one build_module imports: fastapi, litestar or quart


def find_package(project: Path) -> Path:
    """The rendered project's one package directory (``src/<package_name>``)."""
    packages = sorted(path.parent for path in project.glob("src/*/__init__.py"))
    if len(packages) != 1:
        raise BenchError(f"expected one package under {project / 'src'}, found {packages}")
    return packages[0]


def find_factories(project: Path) -> Factories:
    """Find the package and the modules of ``build_app``/``create_app`` by their ``def``.

    Looked up rather than hard-coded, so the benchmark follows the template's
    modules as they move (``create_app`` was in ``app.py``, now in ``asgi.py``).
    """
    package = find_package(project)

    def module_defining(name: str) -> str:
        pattern = re.compile(rf"^def {name}\(", re.MULTILINE)
        found = sorted(
            path.stem for path in package.glob("*.py") if pattern.search(path.read_text())
        )
        if len(found) != 1:
            raise BenchError(f"expected one module of {package} to define {name}, found {found}")
        return found[0]

    build_module = module_defining("build_app")
    source = (package / f"{build_module}.py").read_text()
    imported = re.search(rf"^from ({'|'.join(FRAMEWORKS)}) import", source, re.MULTILINE)
    if imported is None:
        raise BenchError(f"{package / build_module}.py imports none of {FRAMEWORKS}")
    return Factories(package.name, build_module, module_defining("create_app"), imported[1])


def write_bench_module(directory: Path, factories: Factories) -> None:
    """Write the factories outside the project, so the project is left untouched."""
    source = BENCH_APPS_SOURCE.format(**asdict(factories), layer_env=LAYER_ENV, items_env=ITEMS_ENV)
    (directory / f"{BENCH_MODULE}.py").write_text(source, encoding="utf-8")
    write_peer_modules(directory, factories.package, factories.framework)


@dataclass(frozen=True)
class Project:
    """Where and how to start servers for one rendered project."""

    root: Path
    python: Path
    apps_dir: Path
    database_url: str | None = None  # every app's DATABASE_URL (None: the project's default)
    items: str = "database"  # --items: "memory" patches the repository in every app

    def env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {**os.environ, **SERVER_ENV, **extra, ITEMS_ENV: self.items}
        if self.database_url is not None:
            env["DATABASE_URL"] = self.database_url
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(self.apps_dir), os.environ.get("PYTHONPATH")])
        )
        return env


def layer_names(project: Project) -> list[str]:
    """The security layers for the benchmark settings, outermost first."""
    code = f"import json, {BENCH_MODULE}; print(json.dumps({BENCH_MODULE}.layer_names()))"
    done = subprocess.run(
        [str(project.python), "-c", code],
        cwd=project.root,
        env=project.env({}),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"could not list the security layers:\n{done.stderr.strip()}")
    names: list[str] = json.loads(done.stdout)
    return names


# --- server ----------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def granian_command(python: Path, target: str, port: int, workers: int = 1) -> list[str]:
    """One worker (unless told), loopback only; Granian's own access log stays off."""
    return [
        str(python), "-m", "granian",
        "--interface", "asgi", "--factory", "--workers", str(workers),
        "--host", HOST, "--port", str(port),
        target,
    ]  # fmt: skip


def status_of(port: int, host_header: str | None = None) -> int | None:
    """Status of GET /health, or None while nothing answers."""
    request = urllib.request.Request(f"http://{HOST}:{port}/health")
    if host_header is not None:
        request.add_header("Host", host_header)
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Block until /health answers 200; fail fast if the server dies or hangs."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"server exited with {process.returncode}:\n{tail(log)}")
        status = status_of(port)
        if status == 200:
            return
        if status is not None:
            raise BenchError(f"GET /health answered {status}, expected 200")
        time.sleep(0.2)
    raise BenchError(f"server did not answer within {START_TIMEOUT:g}s:\n{tail(log)}")


def tail(log: Path, lines: int = 20) -> str:
    """The end of a server's stderr, for error messages."""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server by PID; SIGKILL its own process group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
    # The server was started in a session of its own (pgid == pid): this reaches a
    # worker that outlived its parent, and nothing else.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclass(frozen=True)
class Server:
    """A running server: where it listens, and its session (its leader's PID)."""

    port: int
    session: int


@contextlib.contextmanager
def serving(project: Project, variant: Variant, log_dir: Path) -> Iterator[Server]:
    """Run one server for the block's duration and yield where it listens."""
    port = free_port()
    log = log_dir / f"{variant.label}.stderr"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            granian_command(project.python, variant.target, port, variant.workers),
            cwd=project.root,
            env=project.env(variant.env),
            stdin=subprocess.DEVNULL,
            # The access log is still formatted per request, as in production, then dropped.
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            wait_ready(process, port, log)
            yield Server(port, process.pid)
        finally:
            stop(process)


# --- server CPU (Linux /proc) -----------------------------------------------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROC = Path("/proc")


@dataclass(frozen=True)
class CpuTimes:
    """Seconds of CPU used so far by the server's processes and by the worker's main thread."""

    server: float
    app_thread: float | None


def _stat_fields(path: Path) -> list[str] | None:
    """The fields of a /proc stat file after ``(comm)``: state, ppid, pgrp, session, ..."""
    try:
        text = path.read_text()
    except OSError:
        return None  # the process is gone
    return text.rpartition(")")[2].split()


def _cpu_seconds(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime + stime


def cpu_times(session: int) -> CpuTimes | None:
    """CPU used by every process of the server's session (it was started as its leader)."""
    if not PROC.is_dir():
        return None
    server = 0.0
    workers = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(entry / "stat")
        if fields is None or int(fields[3]) != session:
            continue
        server += _cpu_seconds(fields)
        if int(fields[1]) == session:
            workers.append(int(entry.name))
    app_thread = None
    # One worker: its main thread runs the app and the event loop. No worker at all
    # (a single-process server, e.g. the gRPC benchmark's): the leader's main thread.
    worker = workers[0] if len(workers) == 1 else session if not workers else None
    if worker is not None:
        fields = _stat_fields(PROC / str(worker) / "task" / str(worker) / "stat")
        app_thread = _cpu_seconds(fields) if fields is not None else None
    return CpuTimes(server, app_thread)


def cpu_cost(before: CpuTimes | None, after: CpuTimes | None, requests: int) -> CpuCost | None:
    if before is None or after is None or requests < 1:
        return None
    app_thread = None
    if before.app_thread is not None and after.app_thread is not None:
        app_thread = (after.app_thread - before.app_thread) / requests * 1e6
    return CpuCost((after.server - before.server) / requests * 1e6, app_thread)


def check_host_layer(port: int) -> None:
    """The full stack must refuse a foreign Host, or the run would not measure it."""
    status = status_of(port, host_header="evil.example")
    if status != 400:
        raise BenchError(f"full app answered {status} to a foreign Host; expected 400")


# --- wrk -------------------------------------------------------------------------

_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_P99 = re.compile(r"^\s*99(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_REQUESTS = re.compile(r"^\s*(\d+) requests in ", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def parse_wrk(output: str) -> WrkResult:
    """Read req/s, p99 latency, and anything that makes the figures suspect."""
    rps, p99 = _RPS.search(output), _P99.search(output)
    requests = _REQUESTS.search(output)
    if rps is None or p99 is None or requests is None:
        raise BenchError(f"could not read wrk's output:\n{output}")
    non_2xx = _NON_2XX.search(output)
    errors = _SOCKET_ERRORS.search(output)
    return WrkResult(
        requests_per_sec=float(rps.group(1)),
        p99_ms=float(p99.group(1)) * _TIME_UNITS_MS[p99.group(2)],
        requests=int(requests.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def wrk_script(directory: Path) -> Path:
    """The Lua script for the create route: POST, JSON body, API key."""
    path = directory / "create.lua"
    body = ITEM_BODY.replace("\\", "\\\\").replace('"', '\\"')
    path.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = "{body}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["X-API-Key"] = "{API_KEY}"\n',
        encoding="utf-8",
    )
    return path


@dataclass(frozen=True)
class Target:
    """What wrk loads on one server: a path, and extra wrk arguments (header, script)."""

    route: str
    path: str
    args: tuple[str, ...] = ()


def targets(port: int, routes: Sequence[str], script: Path) -> list[Target]:
    """The routes to load on a running server; an item is created first for the read."""
    found = []
    for route in routes:
        if route == "health":
            found.append(Target(route, "/health"))
        elif route == "read":
            item = create_item(port)
            found.append(Target(route, f"{ITEMS_PATH}/{item}", ("-H", f"X-API-Key: {API_KEY}")))
        else:
            found.append(Target(route, ITEMS_PATH, ("-s", str(script))))
    return found


# What every app must answer on each route, or its figures would not be comparable.
EXPECTED_STATUS = {"health": 200, "read": 200, "create": 201}


def create_item(port: int) -> str:
    """POST one item with the API key; its id."""
    status, body = answer(port, "POST", ITEMS_PATH)
    if status != EXPECTED_STATUS["create"]:
        raise BenchError(f"POST {ITEMS_PATH} answered {status}, expected 201: {body[:200]!r}")
    try:
        item: str = json.loads(body)["id"]
        return item
    except (KeyError, TypeError, ValueError) as error:
        raise BenchError(f"could not create an item to read: {error}") from error


def answer(port: int, method: str, path: str) -> tuple[int, bytes]:
    """One request as wrk sends it on that route (the API key on items; a JSON body on POST)."""
    headers = {} if path == "/health" else {"X-API-Key": API_KEY}
    if method == "POST":
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(
        f"http://{HOST}:{port}{path}",
        data=ITEM_BODY.encode() if method == "POST" else None,
        headers=headers,
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError as error:
        raise BenchError(f"{method} {path} got no answer: {error}") from error


def check_answers(port: int, label: str, found: Sequence[Target]) -> None:
    """Each route answers its success status (200, or 201 on create) before it is loaded."""
    for target in found:
        method = "POST" if target.route == "create" else "GET"
        status, body = answer(port, method, target.path)
        if status != EXPECTED_STATUS[target.route]:
            raise BenchError(
                f"{label}: {method} {target.path} answered {status}, expected "
                f"{EXPECTED_STATUS[target.route]}: {body[:200]!r}"
            )


def wrk(wrk_path: str, port: int, load: Load, duration: int, target: Target) -> WrkResult:
    """One bounded wrk run against one route."""
    done = subprocess.run(
        [
            wrk_path,
            f"-t{load.threads}",
            f"-c{load.connections}",
            f"-d{duration}s",
            "--latency",
            *target.args,
            f"http://{HOST}:{port}{target.path}",
        ],
        capture_output=True,
        text=True,
        timeout=duration + WRK_GRACE,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stderr.strip()}")
    return parse_wrk(done.stdout)


def worker_pids(session: int) -> list[int]:
    """The server's worker processes (children of the session's leader), else the leader."""
    workers = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry / "stat")
            if fields is not None and int(fields[3]) == session and int(fields[1]) == session:
                workers.append(int(entry.name))
    return workers or [session]


def rss_mib(pid: int) -> float | None:
    """Resident memory of one process, MiB (Linux)."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class RssWatcher:
    """Samples the workers' largest resident memory while a load runs."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = list(pids)
        self.peak: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            for pid in self.pids:
                rss = rss_mib(pid)
                if rss is not None and (self.peak is None or rss > self.peak):
                    self.peak = rss

    def __enter__(self) -> RssWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass(frozen=True)
class Measured:
    """One route on one server: wrk's figures, the server's CPU, the worker's memory."""

    route: str
    result: WrkResult
    cpu: CpuCost | None
    rss_idle_mib: float | None
    rss_load_mib: float | None


def measure(
    project: Project,
    variant: Variant,
    load: Load,
    wrk_path: str,
    log_dir: Path,
    routes: Sequence[str],
) -> list[Measured]:
    """Start the variant, then per route: warm up, load (CPU and memory around it); stop it."""
    measured = []
    with serving(project, variant, log_dir) as server:
        if variant.label == "full":
            check_host_layer(server.port)
        pids = worker_pids(server.session) if PROC.is_dir() else []
        idle = max((r for r in map(rss_mib, pids) if r is not None), default=None)
        found = targets(server.port, routes, log_dir / "create.lua")
        check_answers(server.port, variant.label, found)
        for target in found:
            if load.warmup > 0:
                wrk(wrk_path, server.port, load, load.warmup, target)
            before = cpu_times(server.session)
            with RssWatcher(pids) as watcher:
                result = wrk(wrk_path, server.port, load, load.duration, target)
            cpu = cpu_cost(before, cpu_times(server.session), result.requests)
            measured.append(Measured(target.route, result, cpu, idle, watcher.peak))
            if result.non_2xx or result.socket_errors:
                print(
                    f"  warning: {variant.label} {target.route}: {result.non_2xx} non-2xx "
                    f"responses, {result.socket_errors} socket errors",
                    file=sys.stderr,
                )
    return measured


def run_rounds(
    project: Project,
    variants: Sequence[Variant],
    rounds: int,
    load: Load,
    wrk_path: str,
    routes: Sequence[str] = ("health",),
) -> list[Sample]:
    """Measure every variant once per round; odd rounds reverse the order to cancel drift."""
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="bulwark-bench-logs-") as logs:
        wrk_script(Path(logs))
        for number in range(1, rounds + 1):
            order = variants if number % 2 else list(reversed(variants))
            for variant in order:
                print(f"round {number}/{rounds}: {variant.label} ...", file=sys.stderr)
                for m in measure(project, variant, load, wrk_path, Path(logs), routes):
                    samples.append(
                        Sample(
                            number,
                            variant.label,
                            m.result,
                            m.cpu,
                            m.route,
                            m.rss_idle_mib,
                            m.rss_load_mib,
                        )
                    )
    return samples


# --- report ----------------------------------------------------------------------


def by_round(samples: Sequence[Sample], label: str) -> dict[int, WrkResult]:
    return {sample.round: sample.result for sample in samples if sample.variant == label}


def ratios(samples: Sequence[Sample], label: str, base: str = "bare") -> list[float]:
    """Per-round throughput of ``label`` over ``base``: the only figure that travels."""
    ours, theirs = by_round(samples, label), by_round(samples, base)
    return [ours[n].requests_per_sec / theirs[n].requests_per_sec for n in sorted(ours)]


def summary(samples: Sequence[Sample], label: str) -> dict[str, float]:
    results = list(by_round(samples, label).values())
    figures = {
        "median_rps": statistics.median(r.requests_per_sec for r in results),
        "median_p99_ms": statistics.median(r.p99_ms for r in results),
    }
    costs = [s.cpu for s in samples if s.variant == label and s.cpu is not None]
    if costs:
        figures["median_server_cpu_us"] = statistics.median(c.server_us for c in costs)
        threads = [c.app_thread_us for c in costs if c.app_thread_us is not None]
        if threads:
            figures["median_app_thread_cpu_us"] = statistics.median(threads)
    return figures


def print_cpu_report(samples: Sequence[Sample], labels: Sequence[str], out: IO[str]) -> None:
    """Server CPU per request (all threads; the app's thread), and what each adds to bare."""
    base = summary(samples, "bare")
    if "median_server_cpu_us" not in base:
        return
    print(
        f"\nserver CPU per request, median (us): {'all threads':>12}  {'app thread':>10}",
        file=out,
    )
    for label in labels:
        s = summary(samples, label)
        server = s.get("median_server_cpu_us")
        if server is None:
            continue
        line = f"  {label:<32} {server:>7.1f}"
        if label != "bare":
            line += f" ({server - base['median_server_cpu_us']:+5.1f})"
        else:
            line += " " * 8
        thread = s.get("median_app_thread_cpu_us")
        if thread is not None:
            line += f"  {thread:>7.1f}"
            if label != "bare" and "median_app_thread_cpu_us" in base:
                line += f" ({thread - base['median_app_thread_cpu_us']:+5.1f})"
        print(line, file=out)


def print_stack_report(samples: Sequence[Sample], out: IO[str]) -> float:
    """Per-round table, then medians; returns the median full/bare ratio."""
    bare, full = by_round(samples, "bare"), by_round(samples, "full")
    print(f"{'round':>5}  {'bare req/s':>11}  {'full req/s':>11}  {'full/bare':>9}", file=out)
    for number, ratio in zip(sorted(bare), ratios(samples, "full"), strict=True):
        print(
            f"{number:>5}  {bare[number].requests_per_sec:>11.1f}  "
            f"{full[number].requests_per_sec:>11.1f}  {ratio:>9.3f}",
            file=out,
        )
    for label in ("bare", "full"):
        s = summary(samples, label)
        print(
            f"median {label}: {s['median_rps']:.1f} req/s, p99 {s['median_p99_ms']:.2f} ms",
            file=out,
        )
    median = statistics.median(ratios(samples, "full"))
    verdict = "meets" if median >= TARGET_RATIO else "BELOW"
    print(f"median ratio full/bare: {median:.3f} ({verdict} target {TARGET_RATIO})", file=out)
    return median


def print_layer_report(samples: Sequence[Sample], labels: Sequence[str], out: IO[str]) -> None:
    """One line per variant: median throughput, p99 and ratio to bare; costliest first."""
    rows = [(label, statistics.median(ratios(samples, label))) for label in labels]
    rows.sort(key=lambda row: row[1])
    print(f"{'app':<32}  {'req/s':>9}  {'p99 ms':>7}  {'/bare':>6}  {'cost':>6}", file=out)
    for label, ratio in rows:
        s = summary(samples, label)
        print(
            f"{label:<32}  {s['median_rps']:>9.1f}  {s['median_p99_ms']:>7.2f}  "
            f"{ratio:>6.3f}  {1 - ratio:>6.1%}",
            file=out,
        )


RATIO_PAIRS = (
    ("full", "bare"),
    ("floor", "bare"),
    ("peer", "bare"),
    ("full", "floor"),
    ("full", "peer"),
)


def for_route(samples: Sequence[Sample], route: str) -> list[Sample]:
    return [sample for sample in samples if sample.route == route]


def median_ratio(samples: Sequence[Sample], label: str, base: str) -> float | None:
    """Median over rounds of label/base throughput, where both were measured."""
    ours, theirs = by_round(samples, label), by_round(samples, base)
    values = [ours[n].requests_per_sec / theirs[n].requests_per_sec for n in ours if n in theirs]
    return statistics.median(values) if values else None


def route_table(samples: Sequence[Sample], labels: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per route: each app's medians (req/s, p99, app-thread CPU over bare) and the ratios."""
    table: dict[str, dict[str, Any]] = {}
    for route in dict.fromkeys(sample.route for sample in samples):
        subset = for_route(samples, route)
        present = [label for label in labels if by_round(subset, label)]
        base = summary(subset, "bare") if "bare" in present else {}
        apps = {}
        for label in present:
            s = summary(subset, label)
            thread = s.get("median_app_thread_cpu_us")
            if thread is not None and "median_app_thread_cpu_us" in base and label != "bare":
                s["app_thread_over_bare_us"] = thread - base["median_app_thread_cpu_us"]
            apps[label] = s
        pairs = {
            f"{a}/{b}": median_ratio(subset, a, b)
            for a, b in RATIO_PAIRS
            if a in present and b in present
        }
        table[route] = {"apps": apps, "ratios": pairs}
    return table


def print_route_report(table: dict[str, dict[str, Any]], out: IO[str]) -> None:
    for route, entry in table.items():
        print(f"\n{ROUTE_TITLES.get(route, route)}", file=out)
        print(
            f"  {'app':<18} {'req/s':>9} {'p99 ms':>7} {'thread us':>9} {'+over bare':>10}",
            file=out,
        )
        for label, s in entry["apps"].items():
            thread = s.get("median_app_thread_cpu_us")
            over = s.get("app_thread_over_bare_us")
            print(
                f"  {label:<18} {s['median_rps']:>9.1f} {s['median_p99_ms']:>7.2f} "
                f"{'' if thread is None else f'{thread:.1f}':>9} "
                f"{'' if over is None else f'{over:+.1f}':>10}",
                file=out,
            )
        ratios_text = ", ".join(
            f"{name} {value:.3f}" for name, value in entry["ratios"].items() if value is not None
        )
        print(f"  medians of per-round ratios: {ratios_text}", file=out)


def memory_table(samples: Sequence[Sample]) -> dict[str, dict[str, float]]:
    """Per app: the worker's RSS at idle and its peak under load (medians over rounds), MiB."""
    table = {}
    for label in dict.fromkeys(sample.variant for sample in samples):
        idle = [s.rss_idle_mib for s in samples if s.variant == label and s.rss_idle_mib]
        peak = [s.rss_load_mib for s in samples if s.variant == label and s.rss_load_mib]
        if idle and peak:
            table[label] = {"idle_mib": statistics.median(idle), "load_mib": max(peak)}
    return table


def print_memory_report(table: dict[str, dict[str, float]], out: IO[str]) -> None:
    if not table:
        return
    print("\nworker RSS (MiB): idle (median) / largest under load", file=out)
    for label, figures in table.items():
        print(f"  {label:<18} {figures['idle_mib']:>6.1f} / {figures['load_mib']:>6.1f}", file=out)


def write_json(path: Path, args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Raw samples plus the medians, for comparing runs by hand or in a notebook."""
    payload = {
        "config": {k: str(v) for k, v in vars(args).items() if k not in ("json", "project")},
        "results": results,
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


# --- main ------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--project", type=Path, help="an already-rendered project (default: render one)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument(
        "--duration", type=int, default=5, help="seconds of load per route and app (default 5)"
    )
    parser.add_argument(
        "--warmup", type=int, default=1, help="unmeasured seconds first (default 1)"
    )
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument(
        "--frameworks",
        default="fastapi",
        help=f"comma-separated, of {','.join(FRAMEWORKS)} (default fastapi); one render each",
    )
    parser.add_argument(
        "--routes",
        default=",".join(ROUTES),
        help=f"comma-separated, of {','.join(ROUTES)} (default all)",
    )
    parser.add_argument(
        "--apps",
        default="bare,full,floor,peer",
        help="comma-separated, of bare,full,floor,peer (default all)",
    )
    parser.add_argument(
        "--layers", action="store_true", help="also measure the bare app inside each layer alone"
    )
    parser.add_argument(
        "--reference",
        action="store_true",
        help="also measure two one-layer reference apps (request id and headers, with and "
        "without a JSON access line)",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="also measure full with its metrics recorded (as python -m records them, into a "
        "multiprocess directory), against full without; needs a render with metrics=true",
    )
    parser.add_argument(
        "--workers2",
        action="store_true",
        help="then bare and full with 2 Granian workers (the same routes)",
    )
    parser.add_argument(
        "--database",
        choices=DATABASES,
        default="sqlite",
        help="where every app keeps its items: a SQLite file in a temporary directory, or a "
        "PostgreSQL server started on 127.0.0.1 by the script (default sqlite); fresh per "
        "framework, migrated before any app serves",
    )
    parser.add_argument(
        "--items",
        choices=ITEMS,
        default="database",
        help="where every app's item routes find their items: the service's repository on "
        "--database (default), or memory (the repository patched alike in every app to "
        "answer at once: the stacks alone)",
    )
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another copier answer for each render (repeatable; the server must stay granian)",
    )
    parser.add_argument("--json", type=Path, help="write the samples and medians to this file")
    args = parser.parse_args(argv)
    for name in ("rounds", "duration", "connections"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if any("=" not in item for item in args.data):
        parser.error("--data takes KEY=VALUE")
    args.frameworks = [f for f in args.frameworks.split(",") if f]
    args.routes = [r for r in args.routes.split(",") if r]
    args.apps = [a for a in args.apps.split(",") if a]
    if not set(args.frameworks) <= set(FRAMEWORKS) or not args.frameworks:
        parser.error(f"--frameworks takes names of {FRAMEWORKS}")
    if not set(args.routes) <= set(ROUTES) or not args.routes:
        parser.error(f"--routes takes names of {ROUTES}")
    if not set(args.apps) <= {"bare", "full", "floor", "peer"} or "bare" not in args.apps:
        parser.error("--apps takes bare,full,floor,peer and must include bare")
    if args.project is not None and (args.data or len(args.frameworks) > 1):
        parser.error("--project is one rendered project: no --data, one --frameworks value")
    if any(item.split("=", 1)[0] == "database" for item in args.data):
        parser.error("say the database with --database, not --data database=...")
    return args


def variants_for(
    project: Project,
    layers: bool,
    reference: bool = False,
    apps: Sequence[str] = ("bare", "full"),
) -> list[Variant]:
    """The apps asked for; layers and references if asked."""
    variants = [Variant(app, f"{BENCH_MODULE}:{app}") for app in apps]
    if reference:
        variants += [
            Variant("reference", f"{BENCH_MODULE}:reference"),
            Variant("reference-silent", f"{BENCH_MODULE}:reference_silent"),
        ]
    if layers:
        variants += [
            Variant(f"+{name}", f"{BENCH_MODULE}:layer", {LAYER_ENV: str(index)})
            for index, name in enumerate(layer_names(project))
        ]
    return variants


METERED = "full+metrics"


def metered(scratch: Path) -> Variant:
    """The full app recording its metrics, as under ``python -m``: a multiprocess directory.

    ``full`` itself records nothing: no directory is set, so no recorder is installed.
    """
    directory = scratch / "metrics"
    directory.mkdir(exist_ok=True)
    return Variant(METERED, f"{BENCH_MODULE}:full", {"PROMETHEUS_MULTIPROC_DIR": str(directory)})


def print_metrics_report(samples: Sequence[Sample], routes: Sequence[str], out: IO[str]) -> None:
    """Per route: full with metrics against full without, measured in the same rounds."""
    print("\nMetrics cost, full+metrics / full (median of per-round ratios):", file=out)
    for route in routes:
        ratio = median_ratio(for_route(samples, route), METERED, "full")
        shown = "n/a" if ratio is None else f"{ratio:.3f} of full's req/s"
        print(f"  {ROUTE_TITLES[route]:<44} {shown}", file=out)


def install_peer_packages(project: Project, framework: str) -> None:
    """The peer app's libraries, into the rendered project's environment (not its lock)."""
    uv = shutil.which("uv")
    if uv is None:
        raise BenchError("uv is not on PATH (see bench/README.md)")
    packages = PEER_PACKAGES[framework]
    done = subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(project.python), *packages],
        capture_output=True,
        text=True,
        timeout=SYNC_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"could not install {packages}:\n{done.stderr.strip()}")


def prepare(
    args: argparse.Namespace, scratch: Path, framework: str, postgres: PostgresServer | None
) -> Project:
    """Render and install (or take --project), write the factories beside it, make the database.

    The database is fresh for each framework (a SQLite file in ``scratch``, or a new
    database on ``postgres``) and migrated before any app is served.
    """
    if args.project is not None:
        root = args.project.resolve()
        python = venv_python(root)
    else:
        answers = dict(item.split("=", 1) for item in args.data)
        answers["framework"] = framework
        answers["database"] = args.database
        print(f"rendering {answers}; uv sync ...", file=sys.stderr)
        root = render(scratch / "service", scratch, answers)
        uv_sync(root)
        python = venv_python(root)
    apps_dir = scratch / "apps"
    apps_dir.mkdir()
    factories = find_factories(root)
    write_bench_module(apps_dir, factories)
    if postgres is None:
        directory = scratch / "database"
        directory.mkdir(mode=0o700)
        url = sqlite_url(directory)
    else:
        url = postgres.create_database(f"bench_{framework}")
    project = Project(root, python, apps_dir, url, args.items)
    migrate(project, factories.package)
    if "peer" in args.apps:
        install_peer_packages(project, factories.framework)
    return project


def migrate(project: Project, package: str) -> None:
    """The schema up to date before any app serves, as a deployment does (``<pkg>.migrate``)."""
    try:
        done = subprocess.run(
            [str(project.python), "-m", f"{package}.migrate"],
            cwd=project.root,
            env=project.env({}),
            capture_output=True,
            text=True,
            timeout=MIGRATE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise BenchError(f"migrations took over {MIGRATE_TIMEOUT:g}s") from error
    if done.returncode != 0:
        raise BenchError(f"could not migrate the database:\n{done.stderr.strip()}")


def load_average() -> list[float] | None:
    """The machine's 1, 5 and 15-minute load averages (``uptime``): how shared it was."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def run_framework(
    args: argparse.Namespace,
    framework: str,
    wrk_path: str,
    postgres: PostgresServer | None = None,
) -> dict[str, Any]:
    """Every round for one framework; prints its report and returns the figures."""
    load = Load(args.connections, args.duration, args.warmup)
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bulwark-bench-") as scratch:
        project = prepare(args, Path(scratch), framework, postgres)
        variants = variants_for(project, args.layers, args.reference, args.apps)
        if args.metrics and "full" in args.apps:
            variants.append(metered(Path(scratch)))
        samples = run_rounds(project, variants, args.rounds, load, wrk_path, args.routes)
        two: list[Sample] = []
        if args.workers2:
            pair = [
                Variant(f"{label}-2w", f"{BENCH_MODULE}:{label}", workers=2)
                for label in ("bare", "full")
            ]
            # Both workers share the database, so the read finds its item in either.
            two = run_rounds(project, pair, args.rounds, load, wrk_path, args.routes)
    load_after = load_average()
    labels = [variant.label for variant in variants]
    table = route_table(samples, labels)
    items = args.database if args.items == "database" else "items in memory"
    print(
        f"\n== {framework} on Granian, 1 worker, {items}: {args.rounds} rounds x "
        f"{args.duration}s, {args.connections} connections, TRUSTED_HOSTS={HOST}, "
        f"access log to /dev/null; load average {load_before} before, {load_after} after"
    )
    print_route_report(table, sys.stdout)
    extras = [label for label in labels if label not in ("bare", "full", "floor", "peer")]
    for route in args.routes:
        if extras:
            print(f"\n{ROUTE_TITLES[route]}: every app against bare (median of ratios):")
            print_layer_report(for_route(samples, route), extras, sys.stdout)
    if METERED in labels:
        print_metrics_report(samples, args.routes, sys.stdout)
    memory = memory_table(samples)
    print_memory_report(memory, sys.stdout)
    results: dict[str, Any] = {
        "database": args.database,
        "items": args.items,
        "load_average": {"before": load_before, "after": load_after},
        "routes": table,
        "memory": memory,
        "samples": [asdict(sample) for sample in samples],
    }
    if two:
        two_table = route_table(two, ["bare-2w", "full-2w"])
        for route, entry in two_table.items():
            rps = {label: s["median_rps"] for label, s in entry["apps"].items()}
            ratio = median_ratio(for_route(two, route), "full-2w", "bare-2w") or 0.0
            print(
                f"\n2 workers, {ROUTE_TITLES[route]}: bare {rps['bare-2w']:.1f} req/s, "
                f"full {rps['full-2w']:.1f} req/s, full/bare {ratio:.3f}"
            )
        print_memory_report(memory_table(two), sys.stdout)
        results["two_workers"] = {
            "routes": two_table,
            "memory": memory_table(two),
            "samples": [asdict(sample) for sample in two],
        }
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wrk_path = shutil.which("wrk")
    if wrk_path is None:
        print("error: wrk is not installed (e.g. apt-get install wrk)", file=sys.stderr)
        return 2
    results = {}
    postgres = PostgresServer() if args.database == "postgresql" else None
    try:
        if postgres is not None:
            print(f"starting PostgreSQL on {HOST}:{postgres.port} ...", file=sys.stderr)
            postgres.start()
        for framework in args.frameworks:
            results[framework] = run_framework(args, framework, wrk_path, postgres)
    except (BenchError, DatabaseError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        if postgres is not None:
            postgres.stop()
    if args.json is not None:
        write_json(args.json, args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
