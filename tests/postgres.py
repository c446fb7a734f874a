"""A throwaway PostgreSQL server on 127.0.0.1 for the image test (as a rendered project's
tests/databases.py starts one): trust authentication, loopback only, no durability.

PostgreSQL refuses to run as root: as root (a CI container), the server runs as
the ``postgres`` user. It is stopped by its PID, never by name.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .podman import free_port

_BIN_DIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)  # Debian's layout


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        (f"{d}/{name}" for d in _BIN_DIRS if os.path.exists(f"{d}/{name}")), None
    )
    assert found, f"PostgreSQL's {name} is needed: apt-get install postgresql"
    return found


class PostgresServer:
    """A cluster in ``directory`` whose superuser is ``postgres``; ``psql`` runs SQL on it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(directory, owner.pw_uid, owner.pw_gid)
            self._as_owner = [_binary("setpriv"), "--reuid=postgres", "--regid=postgres",
                              "--init-groups"]  # fmt: skip
        self._run(_binary("initdb"), "-D", str(directory / "data"), "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--no-sync")  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        directory = self.directory
        self.process = subprocess.Popen(
            [*self._as_owner, _binary("postgres"), "-D", str(directory / "data"),
             "-h", "127.0.0.1", "-p", str(self.port), "-k", str(directory),
             "-c", "fsync=off", "-c", "synchronous_commit=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while self._run(_binary("pg_isready"), *self._where(), check=False).returncode != 0:
            assert self.process.poll() is None, "postgres exited at start-up"
            assert time.monotonic() < deadline, "postgres did not start in 30 s"
            time.sleep(0.1)

    def _where(self, user: str = "postgres") -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", user]

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self._as_owner, *command], capture_output=True, text=True, timeout=60, check=False
        )
        assert not check or result.returncode == 0, f"{command[0]}: {result.stderr}"
        return result

    def psql(
        self, sql: str, database: str = "postgres", user: str = "postgres", check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``sql`` as ``user`` (the superuser unless said), stopping at the first error."""
        return self._run(_binary("psql"), *self._where(user), "-d", database,
                         "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", sql,
                         check=check)  # fmt: skip

    def url(self, user: str, database: str) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """A fast shutdown (SIGINT): clients are disconnected, not waited for."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A started server, stopped and removed on leaving (in /tmp: the ``postgres`` user
    cannot enter pytest's root-only directories)."""
    directory = Path(tempfile.mkdtemp(prefix="bulwark-pg-"))
    try:
        server = PostgresServer(directory)
        try:
            server.start()
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
