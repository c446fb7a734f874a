"""The databases the suite runs against, real ones: a migrated SQLite file always, and for
the PostgreSQL variant a PostgreSQL server on 127.0.0.1 that the tests start themselves.

Each is made once per test process (a pytest-xdist worker has its own), migrated
with ``alembic upgrade head`` as a deployment would be (the service never migrates
itself), and removed when the process exits. PostgreSQL refuses to run as root:
as root (a CI container), the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import atexit
import functools
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from .processes import free_port
from .service import DATABASE

__all__ = [
    "PROJECT_ROOT",
    "PostgresServer",
    "alembic",
    "database_settings",
    "postgres_server",
    "sqlite_database_url",
    "suite_database_url",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_BIN_DIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)  # Debian's layout


def alembic(url: str, *arguments: str) -> str:
    """Run ``alembic <arguments>`` against ``url``, as ``just migrate`` does; its output."""
    result = subprocess.run(
        [sys.executable, "-m", "alembic", *arguments],
        cwd=PROJECT_ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"alembic {' '.join(arguments)} failed:\n{result.stderr}")
    return result.stdout + result.stderr


def _temporary_directory(prefix: str) -> Path:
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


@functools.cache
def sqlite_database_url() -> str:
    """A migrated SQLite file of this test process."""
    url = f"sqlite+aiosqlite:///{_temporary_directory('items-') / 'items.db'}"
    alembic(url, "upgrade", "head")
    return url


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        (f"{bin_dir}/{name}" for bin_dir in _BIN_DIRS if os.path.exists(f"{bin_dir}/{name}")), None
    )
    if found is None:
        pytest.fail(f"PostgreSQL's {name} is required for these tests: apt-get install postgresql")
    return found


class PostgresServer:
    """A throwaway PostgreSQL cluster (trust auth, loopback only, no durability); stopped by PID."""

    def __init__(self) -> None:
        self.directory = _temporary_directory("pg-")
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
            self._as_owner = [_binary("setpriv"), "--reuid=postgres", "--regid=postgres"]
            self._as_owner.append("--init-groups")
        subprocess.run(
            [
                *self._as_owner,
                _binary("initdb"),
                *("-D", str(self.directory / "data"), "-U", "app", "--auth=trust"),
                *("-E", "UTF8", "--no-sync"),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://app@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self.process = subprocess.Popen(
            [
                *self._as_owner,
                _binary("postgres"),
                *("-D", str(self.directory / "data"), "-h", "127.0.0.1", "-p", str(self.port)),
                *("-k", str(self.directory), *options),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not self._accepting():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("postgres did not start")
            time.sleep(0.05)

    def _accepting(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                pass
        except OSError:
            return False
        result = subprocess.run(
            [_binary("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "app"],
            capture_output=True,
            timeout=10,
            check=False,
        )
        return result.returncode == 0

    def stop(self) -> None:
        """A fast shutdown (SIGINT): connected clients are disconnected, not waited for."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def create_database(self, name: str) -> str:
        """A new, migrated database of this server; its URL."""
        subprocess.run(
            [_binary("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "app", name],
            check=True,
            capture_output=True,
            timeout=60,
        )
        url = self.url(name)
        alembic(url, "upgrade", "head")
        return url


@functools.cache
def postgres_server() -> PostgresServer:
    """This test process's PostgreSQL server, started on first use."""
    server = PostgresServer()
    server.start()
    atexit.register(server.stop)
    return server


@functools.cache
def suite_database_url() -> str:
    """The database the whole suite uses: the variant's own (tests tolerate each other's items)."""
    if DATABASE == "postgresql":
        return postgres_server().create_database("suite")
    return sqlite_database_url()


def database_settings() -> dict[str, object]:
    """What the suite's settings say about the database.

    No pool in most tests (``DATABASE_POOL_SIZE=0``): each test has its own event
    loop, and a pooled connection would outlive it. The pool has tests of its own.
    """
    return {"database_url": suite_database_url(), "database_pool_size": 0}
