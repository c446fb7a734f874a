"""Graceful shutdown's first phase on the wire: unready at once, still serving, then drained.

The service as ``python -m`` runs it (the supervisor, two workers): SIGTERM makes
every worker's readiness 503 while liveness and the API still answer for
SHUTDOWN_DELAY seconds; then the server drains and exits 0 within the deadline.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .asgi import DEFAULT_CREDENTIAL
from .processes import free_port
from .service import EXIT_MARGIN, PACKAGE, PROCESS_MODEL
from .test_wire import PROJECT_ROOT, SUPERVISED_TEST_APP, server_environment, serving

DELAY = 5.0  # long enough for every check below on a busy machine
GRACE = 3.0  # test_wire's SHUTDOWN_GRACE
GRPC = PROCESS_MODEL[0].endswith(".rpc.server")
GRPC_STATUS = (
    "import grpc, sys; from grpc_health.v1 import health_pb2 as p, health_pb2_grpc as g;"
    "c = grpc.insecure_channel('127.0.0.1:{port}');"
    "r = g.HealthStub(c).Check(p.HealthCheckRequest(service='items.v1.Items'), timeout=5);"
    "print(p.HealthCheckResponse.ServingStatus.Name(r.status))"
)


def grpc_status(port: int) -> str:
    """The items service's health status, asked by a fresh client process."""
    command = [sys.executable, "-c", GRPC_STATUS.format(port=port)]
    answer = subprocess.run(command, capture_output=True, check=True, timeout=15)
    return answer.stdout.decode().strip()


def test_sigterm_flips_readiness_at_once_and_serves_through_the_delay() -> None:
    grpc_port = free_port()
    env = {"SHUTDOWN_DELAY": str(DELAY), "WORKERS": "2", "GRPC_PORT": str(grpc_port)}
    with serving(SUPERVISED_TEST_APP, env) as (base, process), httpx.Client(timeout=2) as http:
        assert [http.get(f"{base}/readyz").status_code for _ in range(6)] == [200] * 6
        if GRPC:
            assert grpc_status(grpc_port) == "SERVING"
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        time.sleep(0.3)
        # Fresh connections, so both workers answer: each of them is unready.
        for _ in range(6):
            with httpx.Client(timeout=2) as fresh:
                refused = fresh.get(f"{base}/readyz")
            assert refused.status_code == 503
            assert refused.json()["detail"] == "Not ready: shutting down."
            assert refused.headers["cache-control"] == "no-store"
        assert http.get(f"{base}/ready").status_code == 503
        assert http.get(f"{base}/livez").status_code == 200  # alive: no restart wanted
        served = http.get(f"{base}/_test/slow", params={"seconds": 0}, headers=DEFAULT_CREDENTIAL)
        assert served.status_code == 200  # requests still served during the delay
        if GRPC:
            assert grpc_status(grpc_port) == "NOT_SERVING"
        assert time.monotonic() - signalled < DELAY  # all of it within the delay
        assert process.wait(timeout=DELAY + GRACE + EXIT_MARGIN + 5) == 0
        assert time.monotonic() - signalled >= DELAY  # it did wait before draining


def test_without_a_delay_readiness_is_not_held_back() -> None:
    """The default: no marker seen while serving, so readiness stays 200 until SIGTERM."""
    with serving(SUPERVISED_TEST_APP, {}) as (base, process):
        assert httpx.get(f"{base}/readyz", timeout=2).status_code == 200
        assert httpx.get(f"{base}/livez", timeout=2).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=GRACE + EXIT_MARGIN + 5) == 0


# A server that ignores SIGTERM (says so first), under the real supervisor whose main
# thread is stuck: only the exit deadline's os._exit ends it. Prints the directories
# that must not outlive the process.
IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    "print('ignoring SIGTERM', flush=True); time.sleep(60)"
)
FORCED_EXIT = f"""
import signal, time
from {PACKAGE}.settings import Settings
from {PACKAGE}.supervisor import ServerProcess

def supervised(*directories):
    server = ServerProcess(Settings())
    server.command = {IGNORES_SIGTERM!r}
    signal.signal(signal.SIGTERM, lambda signum, frame: server.stop())
    server.start()
    print(server.marker.directory, *directories, flush=True)
    time.sleep(60)  # the main thread stuck: no finally block runs before os._exit
"""


def forced_exit(script: str) -> list[Path]:
    """Run ``FORCED_EXIT + script`` until the deadline kills it; the directories it printed."""
    environment = server_environment(free_port(), {"SHUTDOWN_DELAY": "0", "SHUTDOWN_GRACE": "0"})
    process = subprocess.Popen(
        [sys.executable, "-c", FORCED_EXIT + script],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        # The supervisor's line and its child's, in whichever order they were printed.
        lines = [process.stdout.readline(), process.stdout.readline()]
        assert "ignoring SIGTERM\n" in lines
        lines.remove("ignoring SIGTERM\n")
        directories = [Path(name) for name in lines[0].split()]
        assert directories
        assert all(directory.is_dir() for directory in directories)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        output, errors = process.communicate(timeout=30)
        took = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 1, errors
    assert "shutdown_deadline_passed" in output + errors
    assert EXIT_MARGIN - 0.5 < took < EXIT_MARGIN + 5  # the deadline, not an early exit
    return directories


def test_the_exit_deadline_leaves_no_drain_marker_behind() -> None:
    """``os._exit`` skips ``finally``: the supervisor removes the marker's directory first."""
    directories = forced_exit("supervised()")
    assert [directory for directory in directories if directory.exists()] == []
