"""What ``copier update`` tests need: tagged template releases and a user's edits.

Releases are made in a clone of this repository's own history: two old commits
are tagged, and the working tree is committed on top as the newest release, so
the update is tested onto exactly what is being changed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import copier

from .harness import REPO, TEMPLATE_PARTS, copy_template, render, run

# Old releases, by commit of this repository's history.
FIRST_RENDERING = "843301e"  # the first commit that renders a service
BEFORE_LOG_REDACTION = "148215b"  # just before ebcc3b9 "Redact secrets from every log line"
NEWEST = "v9.9.9"  # the working tree, tagged above any real release
# A team's test of its own greeting route (GET /api/v1/greeting, scope items:read),
# served behind the template's security stack.
# custom/routes.py's line that declares that route to the core.
GREETING_ROUTE_SCOPES = (
    'ROUTE_SCOPES: dict[str, tuple[str, ...]] = {"GET /api/v1/greeting": ("items:read",)}\n'
)
GREETING_ROUTE_TEST = '''"""Our own route, under the same security stack."""

from __future__ import annotations

import pytest

from .conftest import AppFactory, client_for

pytestmark = pytest.mark.anyio


async def test_greeting_needs_a_credential_and_answers(make_app: AppFactory) -> None:
    app = make_app(greeting="hi there")
    async with client_for(app) as http:
        response = await http.get("/api/v1/greeting")
    assert response.status_code == 200
    assert response.json() == {"greeting": "hi there"}
    async with client_for(app, credentials={}) as http:
        assert (await http.get("/api/v1/greeting")).status_code == 401
'''
# Conflict markers Copier writes with ``conflict="inline"``.
CONFLICT_MARKERS = ("<<<<<<< before updating", ">>>>>>> after updating")
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "user@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "user@example.com",
}


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a fixed identity; raise with its output on failure."""
    env = {**os.environ, **GIT_IDENTITY}
    result = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def release_repository(destination: Path, releases: Mapping[str, str]) -> Path:
    """A clone of this repo with ``releases`` (tag -> commit) tagged and the working tree
    committed on top as :data:`NEWEST`."""
    # The old releases are commits of this repository: its history must be here.
    if git(REPO, "rev-parse", "--is-shallow-repository").strip() == "true":
        git(REPO, "fetch", "--quiet", "--unshallow")
    subprocess.run(
        ["git", "clone", "--quiet", "--no-local", str(REPO), str(destination)],
        check=True,
        capture_output=True,
    )
    for tag, commit in releases.items():
        git(destination, "tag", tag, commit)
    for part in TEMPLATE_PARTS:
        target = destination / part
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    staging = copy_template(destination.parent / f"{destination.name}-working-tree")
    for part in TEMPLATE_PARTS:
        shutil.move(staging / part, destination / part)
    git(destination, "add", "--all", *TEMPLATE_PARTS)
    git(destination, "commit", "--quiet", "--allow-empty", "-m", "working tree")
    git(destination, "tag", NEWEST)
    return destination


def render_release(
    repository: Path, tag: str, destination: Path, answers: Mapping[str, Any]
) -> Path:
    """Render ``tag`` of the template, then make it a git repository as a user would."""
    render(repository, destination, answers, vcs_ref=tag)
    git(destination, "init", "--quiet")
    commit_all(destination, "Render the service")
    return destination


def update_project(project: Path, data: Mapping[str, Any] | None = None) -> None:
    """``copier update`` to the newest release, non-interactive, conflicts written inline."""
    copier.run_update(
        project,
        data=dict(data or {}),
        vcs_ref=NEWEST,
        defaults=True,
        overwrite=True,
        unsafe=True,
        quiet=True,
        conflict="inline",
    )


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", message)


def files_with_conflicts(project: Path) -> set[str]:
    """Tracked and new files (outside ``.venv``) that hold conflict markers."""
    listed = git(project, "ls-files", "--cached", "--others", "--exclude-standard")
    found = set()
    for name in listed.splitlines():
        path = project / name
        if path.is_file() and any(m in path.read_text(errors="replace") for m in CONFLICT_MARKERS):
            found.add(name)
    return found


def rejected_hunks(project: Path) -> list[str]:
    return [str(path.relative_to(project)) for path in project.rglob("*.rej")]


def keep_both_sides(path: Path) -> None:
    """Resolve inline conflicts as a user does in a dependency list: keep both sides."""
    lines = path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not re.match(r"^(<<<<<<<|=======|>>>>>>>)( |$)", line)]
    path.write_text("".join(kept))


def insert_after(path: Path, anchor: str, text: str) -> None:
    """Insert ``text`` after the first line containing ``anchor`` (which must exist)."""
    lines = path.read_text().splitlines(keepends=True)
    for index, line in enumerate(lines):
        if anchor in line:
            lines.insert(index + 1, text)
            path.write_text("".join(lines))
            return
    raise AssertionError(f"{anchor!r} not found in {path}")


def lock_and_check(project: Path, env: Mapping[str, str]) -> str:
    """What a user runs after an update: relock, sync, and the project's own checks."""
    run(["uv", "lock"], project, env)
    run(["uv", "sync"], project, env)
    return run(["uv", "run", "just", "check"], project, env)
