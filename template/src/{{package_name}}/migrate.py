"""``python -m <package>.migrate``: the schema up to date (Alembic's ``upgrade head``).

What ``just migrate`` does, without pyproject.toml's Alembic settings: the image
ships only the package, so this is how a release job or an init container migrates
(with a role that may change the schema; docs/security.md). The service never calls it.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

__all__ = ["main"]


def main() -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    command.upgrade(config, "head")


if __name__ == "__main__":
    main()
