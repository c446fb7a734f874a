"""Graceful shutdown's first phase, seen by every worker: readiness 503, serving goes on.

On SIGTERM the supervising process (``supervisor.ServerProcess``) creates a
marker file, waits ``SHUTDOWN_DELAY`` seconds, and only then passes SIGTERM on
to the server, which drains. Meanwhile every worker answers its readiness probes
with 503, so a load balancer stops sending before any connection is closed.

Why a file: the signal reaches the supervisor only, and each server (Granian,
Uvicorn, Hypercorn) runs its own workers with its own signal handling. A file
in a directory only the supervisor's user can enter (``mkdtemp``: mode 0700),
its path handed down in the environment, is seen by every worker of every
server at the cost of one ``stat`` per readiness request, with no plumbing
through the servers. A server run without the supervisor has no marker, and no
delay: it drains on SIGTERM at once.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["MARKER_ENV", "DrainMarker", "draining"]

MARKER_ENV = f"{__name__.partition('.')[0].upper()}_DRAINING_MARKER"


def draining(marker: str | None) -> bool:
    """Whether shutdown has begun (the supervisor created ``marker``); never without one."""
    return marker is not None and os.path.exists(marker)


class DrainMarker:
    """The supervisor's side: a private directory, the marker's path, its creation, cleanup."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="draining-"))  # mode 0700
        self.path = self.directory / "draining"

    def environment(self) -> dict[str, str]:
        """The environment for the server process: ours, plus where the marker would be."""
        return {**os.environ, MARKER_ENV: str(self.path)}

    def mark(self) -> None:
        """Shutdown has begun: every worker's readiness answers 503 from now on."""
        self.path.touch(mode=0o600, exist_ok=True)

    def remove(self) -> None:
        """The directory gone with the server (nothing is left in the temp directory)."""
        shutil.rmtree(self.directory, ignore_errors=True)
