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


# Rough minutes each long test takes on 2 cores (CI durations): everything else is short.
LONG_TESTS = {
    "test_variants.py::test_variant_passes_its_own_checks[": 2.5,
    "test_update.py::": 2.5,
    "test_readme_path.py::": 2.5,
    "test_container.py::test_image_builds": 0.5,
}


def expected_minutes(item: pytest.Item) -> float:
    """How long a test is expected to take; the variants with every option run longest."""
    node = item.nodeid.removeprefix("tests/")
    minutes = next((m for prefix, m in LONG_TESTS.items() if node.startswith(prefix)), 0.0)
    return minutes + 1.5 if minutes and "everything" in node else minutes


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest tests first (stable otherwise), so the xdist workers finish together.

    With ``--maxschedchunk 1`` each worker takes the next test from the head of
    this list when it frees up: the short tests fill in the end, not a variant.
    """
    items.sort(key=expected_minutes, reverse=True)
