"""Command line: ``python -m <package> [--debug] [--host H] [--port P]``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from .settings import Settings

__all__ = ["main"]


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m {__package__}", description=__doc__)
    parser.add_argument(
        "--debug", action="store_true", help="development mode: docs, open CORS (never in prod)"
    )
    parser.add_argument("--host", help="address to bind (default: HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (default: PORT or 8000)")
    return parser.parse_args(argv)


def describe(error: ValidationError) -> str:
    """One line per bad setting, named as its environment variable; no traceback."""
    lines = ["Invalid configuration:"]
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"]).upper() or "settings"
        lines.append(f"  {name}: {item['msg']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    # Flags win over the environment; workers inherit it, so set it rather than pass it.
    if args.debug:
        os.environ["DEBUG"] = "true"
    if args.host:
        os.environ["HOST"] = args.host
    if args.port is not None:
        os.environ["PORT"] = str(args.port)
    try:
        settings = Settings()
    except ValidationError as error:
        print(describe(error), file=sys.stderr)
        return 2

    from .server import serve  # imported late: a config error must not need the server

    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
