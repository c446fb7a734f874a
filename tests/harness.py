"""Render variants from the working tree and run their own commands with uv.

Rendering happens from a copy of ``copier.yml``, ``extensions/`` and
``template/`` (not from git), so uncommitted work is what gets tested, and
nothing else in the repo (``.venv``, caches) is copied along.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import copier

from extensions.bulwark import (
    AUTH_DEPENDENCIES,
    DATABASE_DEPENDENCIES,
    FRAMEWORK_DEPENDENCIES,
    GRPC_DEPENDENCIES,
    GRPC_DEV_DEPENDENCIES,
    METRICS_DEPENDENCIES,
    OPENTELEMETRY_DEPENDENCIES,
    OPENTELEMETRY_GRPC_DEPENDENCIES,
    OPENTELEMETRY_REDIS_DEPENDENCIES,
    SENTRY_EXTRAS,
    SENTRY_REQUIREMENT,
    SERVER_DEPENDENCIES,
    STORAGE_DEPENDENCIES,
)

REPO = Path(__file__).resolve().parent.parent
TEMPLATE_PARTS = ("copier.yml", "extensions", "template")


def copy_template(destination: Path) -> Path:
    """Copy the template's working tree (only what Copier reads) to ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    for part in TEMPLATE_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(
                source,
                destination / part,
                ignore=shutil.ignore_patterns("__pycache__", ".venv", ".mypy_cache", ".ruff_cache"),
            )
        else:
            shutil.copy2(source, destination / part)
    return destination


def render(
    template: Path, destination: Path, answers: Mapping[str, Any], vcs_ref: str | None = None
) -> Path:
    """Render non-interactively; ``unsafe`` because the template loads Jinja extensions.

    ``vcs_ref``: a tag or commit, when ``template`` is a git repository of releases.
    """
    copier.run_copy(
        str(template),
        destination,
        data=dict(answers),
        vcs_ref=vcs_ref,
        defaults=True,
        unsafe=True,
        quiet=True,
    )
    return destination


def find_python(version: str) -> str:
    """An interpreter for ``version``: pyenv's if present, else whatever uv can find."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for candidate in sorted(pyenv.glob(f"{version}.*/bin/python{version}"), reverse=True):
        return str(candidate)
    found = subprocess.run(
        ["uv", "python", "find", version], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        raise RuntimeError(f"no Python {version} found (pyenv or uv): {found.stderr.strip()}")
    return found.stdout.strip()


def uv_environment(python_version: str, *, offline: bool) -> dict[str, str]:
    """Environment for uv in a rendered project: its own venv, a local Python, no downloads."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    env["UV_PYTHON"] = find_python(python_version)
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_NO_PROGRESS"] = "1"
    env.pop("UV_OFFLINE", None)
    if offline:
        env["UV_OFFLINE"] = "1"
    return env


def run(command: list[str], cwd: Path, env: Mapping[str, str], timeout: float = 900) -> str:
    """Run a command; on failure raise with its whole output, so the test report shows it."""
    result = subprocess.run(
        command,
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = f"$ {' '.join(command)}\n{result.stdout}\n{result.stderr}"
    if result.returncode != 0:
        raise AssertionError(f"exit {result.returncode} in {cwd}\n{output}")
    return output


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """A lock shared by pytest-xdist workers (they are separate processes)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def every_optional_dependency() -> list[str]:
    """The union of what any variant may add to the default dependency set."""
    groups = (
        *AUTH_DEPENDENCIES.values(),
        *FRAMEWORK_DEPENDENCIES.values(),
        *SERVER_DEPENDENCIES.values(),
        *STORAGE_DEPENDENCIES.values(),
        *DATABASE_DEPENDENCIES.values(),
        GRPC_DEPENDENCIES,
        GRPC_DEV_DEPENDENCIES,  # dev-only in a project; here only the cache is warmed
        [SENTRY_REQUIREMENT.format(extras=",".join(sorted(SENTRY_EXTRAS.values())))],
        OPENTELEMETRY_DEPENDENCIES,
        OPENTELEMETRY_GRPC_DEPENDENCIES,
        OPENTELEMETRY_REDIS_DEPENDENCIES,
        METRICS_DEPENDENCIES,
    )
    return sorted({requirement for group in groups for requirement in group})


def warm_uv_cache(template: Path, workdir: Path, python_version: str) -> None:
    """Resolve and download a superset once per Python version, so variants sync offline.

    The superset is the default render plus every framework's and server's
    dependencies. The marker lives beside the lock in a directory shared by xdist
    workers.
    """
    marker = workdir / f"uv-warm-{python_version}.done"
    with exclusive(workdir / f"uv-warm-{python_version}.lock"):
        if marker.exists():
            return
        project = render(
            template, workdir / f"warm-{python_version}", {"python_version": python_version}
        )
        env = uv_environment(python_version, offline=False)
        run(["uv", "add", "--no-sync", *every_optional_dependency()], project, env)
        run(["uv", "sync"], project, env)
        marker.touch()
