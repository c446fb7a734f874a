"""``copier update`` onto services rendered from older releases, with a user's edits.

The promise of a template over a one-off generator: hardening fixes reach a
service rendered months ago, and nothing the user wrote is lost.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .harness import run, uv_environment, warm_uv_cache
from .updates import (
    BEFORE_LOG_REDACTION,
    FIRST_RENDERING,
    GREETING_ROUTE_SCOPES,
    GREETING_ROUTE_TEST,
    commit_all,
    files_with_conflicts,
    git,
    insert_after,
    keep_both_sides,
    lock_and_check,
    rejected_hunks,
    release_repository,
    render_release,
    update_project,
)

PACKAGE = "my_service"
README_NOTE = "\n## Our team notes\n\nOn-call: #payments-oncall.\n"
SETTING = '    greeting: str = Field(default="hello", max_length=64)  # our own setting\n'
ROUTE = """
    @app.get("/api/v1/greeting", tags=["greeting"], dependencies=[requires(READ_SCOPE)])
    async def greeting() -> dict[str, str]:
        return {"greeting": settings.greeting}
"""
SETTING_TEST = '''"""Our own setting."""

from my_service.settings import Settings


def test_greeting_is_configurable() -> None:
    assert Settings(greeting="hi there").greeting == "hi there"
'''
OWN_MODULE = '''"""Our own module: the template never renders it, so updates never touch it."""


def greet(name: str) -> str:
    return f"hello, {name}"
'''
OWN_MODULE_TEST = '''"""Our own module's test."""

from my_service.greeting import greet


def test_greet() -> None:
    assert greet("ada") == "hello, ada"
'''
ADDED_DEPENDENCY = "redis>=5.2"  # in the warmed cache, not in the default render
# Files the user edits; a conflict is acceptable only in these (and is resolved).
USER_FILES = {"README.md", "pyproject.toml", f"src/{PACKAGE}/settings.py", f"src/{PACKAGE}/app.py"}


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return release_repository(
        tmp_path_factory.mktemp("releases") / "bulwark",
        {"v0.0.1": FIRST_RENDERING, "v0.0.2": BEFORE_LOG_REDACTION},
    )


def make_user_edits(project: Path, env: dict[str, str], *, in_modules: bool) -> dict[str, str]:
    """What a team does to its service between updates; returns the files it wrote.

    ``in_modules``: also edit template-owned modules (a setting, a route). Across
    many releases those modules are rewritten, and a three-way merge of such an
    edit can come out wrong without any conflict marker, which is why the docs
    say to keep your own code in your own modules; the update from the first
    release makes only the edits the docs recommend.
    """
    with (project / "README.md").open("a") as readme:
        readme.write(README_NOTE)
    written = {"tests/test_greeting.py": OWN_MODULE_TEST, f"src/{PACKAGE}/greeting.py": OWN_MODULE}
    if in_modules:
        insert_after(project / f"src/{PACKAGE}/settings.py", "log_level:", "\n" + SETTING)
        written["tests/test_greeting_setting.py"] = SETTING_TEST
        insert_after(project / f"src/{PACKAGE}/app.py", "app.add_api_route(path, health", ROUTE)
        written["tests/test_greeting_route.py"] = GREETING_ROUTE_TEST
    for name, text in written.items():
        (project / name).write_text(text)
    run(["uv", "add", ADDED_DEPENDENCY], project, env)
    commit_all(project, "Our greeting, notes and a dependency")
    return written


def declare_greeting_route(project: Path) -> None:
    """List the team's route in custom/routes.py, where the core learns its scopes."""
    routes = project / f"src/{PACKAGE}/custom/routes.py"
    empty = "ROUTE_SCOPES: dict[str, tuple[str, ...]] = {}\n"
    text = routes.read_text()
    assert empty in text
    routes.write_text(text.replace(empty, GREETING_ROUTE_SCOPES))


@pytest.mark.parametrize(
    ("release", "in_modules"),
    [("v0.0.1", False), ("v0.0.2", True)],
    ids=["from-first-release", "from-release-before-log-redaction"],
)
def test_update_brings_hardening_and_keeps_local_edits(
    releases: Path,
    template: Path,
    shared_dir: Path,
    tmp_path: Path,
    release: str,
    in_modules: bool,
) -> None:
    warm_uv_cache(template, shared_dir, "3.13")
    env = uv_environment("3.13", offline=True)
    project = render_release(releases, release, tmp_path / "service", {})
    run(["uv", "lock"], project, env)
    commit_all(project, "Lock")
    written = make_user_edits(project, env, in_modules=in_modules)
    lock_before = (project / "uv.lock").read_bytes()
    assert not (project / f"src/{PACKAGE}/security/redaction.py").exists()

    update_project(project)

    # The hardening change arrived.
    assert (project / f"src/{PACKAGE}/security/redaction.py").is_file()
    assert "Redactor" in (project / f"src/{PACKAGE}/logs.py").read_text()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v9.9.9"
    assert answers["database"] == "sqlite"  # a question the old release did not ask
    # Nothing the user wrote is lost; conflicts only where the user edited too.
    assert rejected_hunks(project) == []
    conflicted = files_with_conflicts(project)
    assert conflicted <= USER_FILES, conflicted
    assert (project / "uv.lock").read_bytes() == lock_before  # the template never owns it
    for name in conflicted:
        keep_both_sides(project / name)  # what a user does with two dependency lists
    assert README_NOTE in (project / "README.md").read_text()
    if in_modules:
        assert SETTING in (project / f"src/{PACKAGE}/settings.py").read_text()
        assert ROUTE in (project / f"src/{PACKAGE}/app.py").read_text()
    for name, text in written.items():
        assert (project / name).read_text() == text
    assert ADDED_DEPENDENCY in (project / "pyproject.toml").read_text()
    if in_modules:  # what the CHANGELOG asks of a team with a route of its own
        declare_greeting_route(project)

    output = lock_and_check(project, env)
    assert " failed" not in output
    assert "tests/test_greeting.py ." in output  # the user's tests ran, and passed


def test_changing_answers_adds_and_removes_the_right_files(
    releases: Path, template: Path, shared_dir: Path, tmp_path: Path
) -> None:
    warm_uv_cache(template, shared_dir, "3.13")
    env = uv_environment("3.13", offline=True)
    project = render_release(
        releases, "v9.9.9", tmp_path / "service", {"rate_limit_storage": "redis"}
    )
    redis_test = project / "tests/test_rate_limit_redis.py"
    assert redis_test.is_file()
    assert not (project / f"src/{PACKAGE}/rpc").exists()

    update_project(project, data={"rate_limit_storage": "memory", "grpc": True})

    assert not redis_test.exists()  # removed with the answer that rendered it
    storage = (project / f"src/{PACKAGE}/security/storage.py").read_text()
    assert "BoundedMemoryStorage(" in storage
    assert "RedisStorage" not in storage
    assert (project / f"src/{PACKAGE}/rpc/server.py").is_file()
    assert "grpcio" in (project / "pyproject.toml").read_text()
    assert files_with_conflicts(project) == set()
    assert rejected_hunks(project) == []
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["rate_limit_storage"], answers["grpc"]) == ("memory", True)
    git(project, "add", "--all")
    output = lock_and_check(project, env)
    assert " failed" not in output
    assert "test_grpc.py" in output
