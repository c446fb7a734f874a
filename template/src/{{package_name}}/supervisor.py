"""The HTTP server as a child process group with a hard exit deadline after SIGTERM.

``python -m <package>`` runs the server (``server.serve``, with its own workers)
in a child process that leads a process group of its own, and only watches it.
On SIGTERM or SIGINT it marks the service draining (readiness answers 503 in
every worker: see draining.py), passes SIGTERM on SHUTDOWN_DELAY seconds later (to
the whole group for Hypercorn, whose workers would not hear it otherwise), and arms
the deadline at once: SHUTDOWN_DELAY plus SHUTDOWN_GRACE plus ``EXIT_MARGIN``
seconds after the signal, whatever the server is doing (a worker that
ignores its stop, a starved CPU, a blocked log pipe), the whole group is killed
and the process exits 1. (One Ctrl+C may arrive twice, from the terminal and
from ``uv run``: later signals change nothing.) A server that drains in time
exits as it would alone, 0. The servers' own grace periods stay in
place; this is the bound they cannot overrun. The deadline is a thread, so it
fires even while the main thread is stuck. Its ``os._exit`` skips ``finally``
blocks: what must go with the process anyway (the drain marker's directory, the
metrics' files) is registered with :func:`removed_on_forced_exit` and removed first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

import structlog

from . import SIGNAL_SERVER_GROUP
from .draining import DrainMarker
from .logs import configure_logging
from .settings import Settings

__all__ = ["EXIT_MARGIN", "ServerProcess", "removed_on_forced_exit", "supervise"]

EXIT_MARGIN = 2.0  # seconds past SHUTDOWN_GRACE for a server to finish exiting
HTTP_CHILD = f"from {__package__}.server import serve; from {__package__}.settings import Settings"
_FORCED_EXIT_CLEANUPS: list[Callable[[], object]] = []


@contextlib.contextmanager
def removed_on_forced_exit(cleanup: Callable[[], object]) -> Iterator[None]:
    """Within the block, ``cleanup`` runs also when the deadline ends the process."""
    _FORCED_EXIT_CLEANUPS.append(cleanup)
    try:
        yield
    finally:
        _FORCED_EXIT_CLEANUPS.remove(cleanup)


class ServerProcess:
    """The HTTP server's process group: started, stopped within the deadline, waited for."""

    def __init__(self, settings: Settings, target: str | None = None) -> None:
        argument = "" if target is None else f", target={target!r}"
        self.command = f"{HTTP_CHILD}; serve(Settings(){argument})"
        self.delay = settings.shutdown_delay
        self.deadline = settings.shutdown_delay + settings.shutdown_grace + EXIT_MARGIN
        self.process: subprocess.Popen[bytes] | None = None
        self.stopping = False
        self.marker: DrainMarker | None = None

    def start(self) -> None:
        # The child reads the same environment (the command line's flags are already in it),
        # plus where the drain marker will be.
        try:
            self.marker = DrainMarker()
        except OSError as error:  # no writable temporary directory (a read-only container)
            _no_drain_marker(error)
        environment = None if self.marker is None else self.marker.environment()
        self.process = subprocess.Popen(  # noqa: S603 - our own code
            [sys.executable, "-c", self.command], process_group=0, env=environment
        )
        if self.stopping:  # a signal came while it was starting
            self.stopping = False
            self.stop()

    def stop(self) -> None:
        """Readiness 503 now, SIGTERM after SHUTDOWN_DELAY, the deadline armed; once only."""
        if self.stopping:
            return
        self.stopping = True
        if self.process is None:
            return
        # Never cancelled: it also bounds what follows the server's exit (gRPC's drain,
        # the interpreter's own shutdown). A daemon, so a clean exit does not wait for it.
        timer = threading.Timer(self.deadline, self.expire)
        timer.daemon = True
        timer.start()
        if self.marker is not None:
            self.marker.mark()
        if self.delay > 0:  # a timer, not a sleep: this runs in a signal handler
            later = threading.Timer(self.delay, self.terminate)
            later.daemon = True
            later.start()
        else:
            self.terminate()

    def terminate(self) -> None:
        """SIGTERM to the server, which drains; nothing if it is gone."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if SIGNAL_SERVER_GROUP:  # each worker hears it and ends its streams
                    os.killpg(self.process.pid, signal.SIGTERM)
                else:  # the server stops its workers itself
                    self.process.send_signal(signal.SIGTERM)

    def expire(self) -> None:
        """Past the deadline: every process of the server killed, this one ended (exit 1)."""
        # Said first (the main thread returns once the server is gone), from a thread
        # given half a second: a blocked log pipe must not hold up the exit.
        note = threading.Thread(target=_deadline_passed, args=(self.deadline,), daemon=True)
        note.start()
        note.join(0.5)
        self.kill()
        if self.marker is not None:
            self.marker.remove()
        for cleanup in reversed(_FORCED_EXIT_CLEANUPS):
            with contextlib.suppress(Exception):
                cleanup()
        os._exit(1)

    def kill(self) -> None:
        """SIGKILL to the whole group (workers included); nothing if it is gone."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def wait(self) -> int:
        """Wait for the server; leave none of its processes behind. Its exit status, or 1."""
        if self.process is None:
            raise RuntimeError("start() first")
        code = self.process.wait()
        self.kill()  # workers a dying server left behind
        if self.marker is not None:
            self.marker.remove()
        return code if code >= 0 else 1  # killed by a signal: a failure


def _no_drain_marker(error: OSError) -> None:
    structlog.get_logger().bind(logger=__name__).warning(
        "drain_marker_unavailable",
        detail="no writable temporary directory (TMPDIR, /tmp): on SIGTERM readiness "
        "cannot answer 503 before the drain; mount a small tmpfs at /tmp",
        error=error.strerror,
    )


def _deadline_passed(deadline: float) -> None:
    structlog.get_logger().bind(logger=__name__).error(
        "shutdown_deadline_passed",
        detail=f"the server was still running {deadline:g} s after SIGTERM "
        "(SHUTDOWN_DELAY plus SHUTDOWN_GRACE plus a margin): killed",
    )


def supervise(settings: Settings, target: str | None = None) -> int:
    """``python -m <package>`` without gRPC: serve in the child, stop it within the deadline.

    ``target``: another app factory than the service's (the tests' app).
    """
    configure_logging(settings)
    server = ServerProcess(settings, target)

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    server.start()
    return server.wait()
