"""The databases bench/run.py serves the item routes from: a SQLite file, or a PostgreSQL server.

A benchmark helper, not a product: the PostgreSQL server is a throwaway cluster on
127.0.0.1 (trust authentication, no durability, as the rendered project's
tests/databases.py starts one), so the figures are the app's and the driver's cost,
not the disk's. It runs as the ``postgres`` user when the script runs as root
(PostgreSQL refuses root), is stopped by its PID, and every step has a time limit.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["DATABASES", "DatabaseError", "PostgresServer", "sqlite_url"]

DATABASES = ("sqlite", "postgresql")
HOST = "127.0.0.1"
ROLE = "app"  # the cluster's superuser, trusted on loopback: a throwaway cluster
INITDB_TIMEOUT = 120.0
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
COMMAND_TIMEOUT = 60.0  # createdb, pg_isready
# No durability: the benchmark measures the service, not this machine's disk (shared).
NO_DURABILITY = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
_BIN_DIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)  # Debian's layout


class DatabaseError(Exception):
    """The benchmark's database could not be made or started."""


def sqlite_url(directory: Path) -> str:
    """A SQLite file in ``directory`` (absolute, so every server's working directory agrees)."""
    return f"sqlite+aiosqlite:///{directory.resolve() / 'items.db'}"


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        (f"{bin_dir}/{name}" for bin_dir in _BIN_DIRS if os.path.exists(f"{bin_dir}/{name}")),
        None,
    )
    if found is None:
        raise DatabaseError(f"PostgreSQL's {name} is not installed (apt-get install postgresql)")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _run(command: list[str], timeout: float) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as error:
        raise DatabaseError(f"{Path(command[0]).name} took over {timeout:g}s") from error
    if done.returncode != 0:
        raise DatabaseError(f"{' '.join(command)} failed:\n{done.stderr.strip()}")


class PostgresServer:
    """A throwaway cluster in a temporary directory, listening on 127.0.0.1 only."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="bulwark-bench-pg-"))
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
            self._as_owner = [_binary("setpriv"), "--reuid=postgres", "--regid=postgres"]
            self._as_owner.append("--init-groups")

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{ROLE}@{HOST}:{self.port}/{database}"

    def start(self) -> None:
        """initdb, then the server; returns once it accepts connections (or raises)."""
        data = str(self.directory / "data")
        _run(
            [
                *self._as_owner, _binary("initdb"), "-D", data, "-U", ROLE, "--auth=trust",
                "-E", "UTF8", "--no-sync",
            ],
            INITDB_TIMEOUT,
        )  # fmt: skip
        options = [arg for setting in NO_DURABILITY for arg in ("-c", setting)]
        self.process = subprocess.Popen(
            [
                *self._as_owner, _binary("postgres"), "-D", data, "-h", HOST,
                "-p", str(self.port), "-k", str(self.directory), *options,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not self._accepting():
            if self.process.poll() is not None:
                raise DatabaseError(f"postgres exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise DatabaseError(f"postgres did not accept connections in {START_TIMEOUT:g}s")
            time.sleep(0.1)

    def _accepting(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=0.5):
                pass
        except OSError:
            return False
        command = [_binary("pg_isready"), "-h", HOST, "-p", str(self.port), "-U", ROLE]
        try:
            done = subprocess.run(command, capture_output=True, timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0

    def create_database(self, name: str) -> str:
        """A new, empty database of this server; its URL."""
        command = [_binary("createdb"), "-h", HOST, "-p", str(self.port), "-U", ROLE, name]
        _run(command, COMMAND_TIMEOUT)
        return self.url(name)

    def stop(self) -> None:
        """A fast shutdown by PID (SIGINT: clients are disconnected), SIGKILL if it lingers."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        shutil.rmtree(self.directory, ignore_errors=True)
