"""Benchmark: memory under a flood of distinct client addresses (issue: bounded rate-limit store).

Sends 100,000 requests, each from a different client address, through the
rendered service's full security stack in-process (no network), and prints the
process RSS and the rate-limit store's size as the flood goes on. For contrast it
runs the same flood against ``limits``' own ``MemoryStorage``, which keeps one
entry per address for the whole window.

    uv run python bench/flood.py                  # render the default variant
    uv run python bench/flood.py --project DIR    # an already-rendered project
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from run import BenchError, render, uv_sync, venv_python

INNER = r"""
import asyncio, importlib, os, sys

package, total = sys.argv[1], int(sys.argv[2])
asgi = importlib.import_module(f"{package}.asgi")
Settings = importlib.import_module(f"{package}.settings").Settings
limiter_module = importlib.import_module(f"{package}.security.limiter")
from limits.aio.storage import MemoryStorage


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def find_limiter(app):
    while app is not None:
        if hasattr(app, "limiter"):
            return app.limiter
        app = getattr(app, "app", None)
    raise SystemExit("no rate-limit layer found")


async def flood(app, label, store_size) -> None:
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    print(f"{label:<28} {'requests':>9} {'RSS MiB':>9} {'store keys':>11}")
    print(f"{'':<28} {0:>9} {rss_mib():>9.1f} {store_size():>11}")
    for i in range(1, total + 1):
        scope = {
            "type": "http", "method": "GET", "path": "/api/v1/items", "scheme": "http",
            "headers": [(b"host", b"127.0.0.1")], "query_string": b"",
            "client": (f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", 1234),
        }
        await app(scope, receive, send)
        if i % (total // 4) == 0:
            print(f"{'':<28} {i:>9} {rss_mib():>9.1f} {store_size():>11}")


async def main() -> None:
    settings = Settings.model_validate(
        {"rate_limit_storage_url": "memory://", "rate_limit_default": "5/minute",
         "log_level": "WARNING"}
    )
    app = asgi.create_app(settings)
    limiter = find_limiter(app)
    await flood(app, "full stack, bounded store", lambda: len(limiter.storage))
    unbounded = MemoryStorage()
    limiter.storage = unbounded
    limiter.strategy = type(limiter.strategy)(unbounded)
    await flood(app, "limits' MemoryStorage", lambda: len(unbounded.storage))

asyncio.run(main())
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="an already-rendered project")
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()
    try:
        with tempfile.TemporaryDirectory(prefix="bulwark-flood-") as scratch:
            root = args.project
            if root is None:
                root = render(Path(scratch) / "service", Path(scratch), {})
                uv_sync(root)
            package = next(root.glob("src/*/__init__.py")).parent.name
            done = subprocess.run(
                [str(venv_python(root)), "-c", INNER, package, str(args.requests)],
                cwd=root,
                timeout=900,
                check=False,
            )
            return done.returncode
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
