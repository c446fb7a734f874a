"""Fixtures of the template harness."""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import copy_template


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A directory shared by all xdist workers of this run (for the uv warm-up lock)."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if worker_id != "master" else base) / "shared"


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template as it is in the working tree, copied once per worker."""
    return copy_template(tmp_path_factory.mktemp("template"))
