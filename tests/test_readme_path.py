"""The user's literal path: the README's render, the post-copy steps, the docs' update.

Commands are read from README.md, copier.yml's post-copy message and
docs/updating.md and run as written (in a shell, from the directories the docs
imply), so a change to the docs that breaks the path breaks this test.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from .harness import REPO, run, uv_environment, warm_uv_cache
from .updates import (
    GREETING_ROUTE_TEST,
    commit_all,
    files_with_conflicts,
    git,
    rejected_hunks,
    release_repository,
)

PACKAGE = "my_service"
FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.DOTALL)

# A team's changes, only in the files the template gives it (custom/) and a dependency.
TEAM_SETTING = '\n    greeting: str = Field(default="hello", max_length=64)\n'
TEAM_ROUTES = """
    from fastapi import APIRouter

    from ..app import requires

    router = APIRouter(prefix="/api/v1/greeting", tags=["greeting"])

    @router.get("", dependencies=[requires("items:read")])
    async def greeting() -> dict[str, str]:
        return {"greeting": settings.greeting}

    app.include_router(router)
"""
TEAM_DEPENDENCY = "redis>=5.2"  # in the warmed uv cache, not in the default render
# A template release that rewrites what the team must not edit, next to its hooks.
RELEASE_MARK = "<!-- release after the render -->"
RELEASE_DEPENDENCY = '    "anyio>=4.6",  # new in the release\n'


def fenced_command(document: Path, words: str) -> str:
    """The first line of a fenced block that runs ``words``, its comment removed."""
    for block in FENCE.findall(document.read_text()):
        for line in block.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if words in command:
                return command
    raise AssertionError(f"no `{words}` command in a fenced block of {document.name}")


def post_copy_commands() -> list[str]:
    """The set-up commands copier.yml's message gives a new service, in order.

    ``just check`` runs at the end of the test, after the update; ``just dev``
    serves until stopped, so it is not run here.
    """
    message = yaml.safe_load((REPO / "copier.yml").read_text())["_message_after_copy"]
    commands = [re.sub(r"\s+#.*$", "", line).strip() for line in message.splitlines()]
    setup = [c for c in commands if c.startswith(("uv ", "git "))]
    return [c for c in setup if not c.startswith(("uv run just check", "uv run just dev"))]


def shell(command: str, cwd: Path, env: Mapping[str, str]) -> str:
    """Run a documented command line as a user's shell does, stdin closed."""
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = f"$ {command}\n{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"exit {result.returncode} in {cwd}\n{output}"
    return output


def make_team_changes(service: Path, env: Mapping[str, str]) -> dict[str, str]:
    """Edit only custom/ and add a dependency; return the team's files as written."""
    custom = service / "src" / PACKAGE / "custom"
    settings = custom / "settings.py"
    text = settings.read_text().replace(
        "from pydantic_settings import BaseSettings\n",
        "from pydantic import Field\nfrom pydantic_settings import BaseSettings\n",
    )
    settings.write_text(text + TEAM_SETTING)
    routes = custom / "routes.py"
    text = routes.read_text()
    empty = "ROUTE_SCOPES: dict[str, tuple[str, ...]] = {}\n"
    assert empty in text
    scopes = (
        'ROUTE_SCOPES: dict[str, tuple[str, ...]] = {"GET /api/v1/greeting": ("items:read",)}\n'
    )
    routes.write_text(text.replace(empty, scopes) + TEAM_ROUTES)
    (service / "tests" / "test_greeting.py").write_text(GREETING_ROUTE_TEST)
    run(["uv", "add", TEAM_DEPENDENCY], service, env)
    commit_all(service, "Our greeting route, its setting and a dependency")
    names = ("src/my_service/custom/settings.py", "src/my_service/custom/routes.py")
    return {name: (service / name).read_text() for name in names}


def release_a_change(template: Path) -> None:
    """A new template commit touching the modules and the list the team's code sits beside."""
    package = template / "template/src/{{package_name}}"
    adapter = package / "{% if framework == 'fastapi' %}app.py{% endif %}"
    text = adapter.read_text()
    anchor = "    add_routes(app, settings)"
    assert anchor in text
    adapter.write_text(text.replace(anchor, "    # Routes of the team last.\n" + anchor))
    settings = package / "settings.py.jinja"
    text = settings.read_text()
    anchor = "    debug: bool = False\n"
    assert anchor in text
    settings.write_text(text.replace(anchor, anchor + '    release_note: str = "new"\n'))
    project = template / "template/pyproject.toml.jinja"
    text = project.read_text()
    anchor = "dependencies = [\n"
    project.write_text(text.replace(anchor, anchor + RELEASE_DEPENDENCY, 1))
    with (template / "template/README.md.jinja").open("a") as readme:
        readme.write(f"\n{RELEASE_MARK}\n")
    commit_all(template, "A release after the render")


@pytest.mark.parametrize("tags", ["no-tags", "release-tags"])
def test_readme_render_then_docs_update(
    template: Path, shared_dir: Path, tmp_path: Path, tags: str
) -> None:
    warm_uv_cache(template, shared_dir, "3.13")
    offline = uv_environment("3.13", offline=True)
    online = uv_environment("3.13", offline=False)  # uvx fetches copier as a user's does
    clone = release_repository(tmp_path / "bulwark", {})
    for tag in git(clone, "tag").split():
        git(clone, "tag", "-d", tag)  # only main is published: a clone has no tags
    if tags == "release-tags":
        shell(fenced_command(REPO / "docs/updating.md", "scripts/releases.py"), clone, online)
        assert "v0.1.1" in git(clone, "tag").split()

    render = fenced_command(REPO / "README.md", "copier copy")
    shell(render + " --defaults", clone, online)  # --defaults: Enter at every question
    service = (clone / shlex.split(render)[-1]).resolve()
    answers = yaml.safe_load((service / ".copier-answers.yml").read_text())
    assert answers["_src_path"] == str(clone)  # not "." (that would be the service itself)
    team_env = {**offline, **GIT_USER}
    for command in post_copy_commands():
        shell(command, service, team_env)
    assert (service / "uv.lock").is_file()
    assert git(service, "status", "--porcelain") == ""
    written = make_team_changes(service, team_env)

    release_a_change(clone)
    update = fenced_command(REPO / "docs/updating.md", "copier update")
    output = shell(update, service, {**online, **GIT_USER})

    assert "just check" in output  # the message after the update says what to run
    assert RELEASE_MARK in (service / "README.md").read_text()
    assert "release_note" in (service / f"src/{PACKAGE}/settings.py").read_text()
    assert "# Routes of the team last." in (service / f"src/{PACKAGE}/app.py").read_text()
    dependencies = (service / "pyproject.toml").read_text()
    assert "anyio>=4.6" in dependencies
    assert TEAM_DEPENDENCY in dependencies
    assert files_with_conflicts(service) == set()  # zero conflicts, by construction
    assert rejected_hunks(service) == []
    for name, text in written.items():
        assert (service / name).read_text() == text  # the team's files, untouched

    if tags == "no-tags":  # the rest is the same with tags; run the suite once
        check = run(["uv", "run", "just", "check"], service, offline)
        assert " failed" not in check
        assert "tests/test_greeting.py ." in check  # the team's route test ran and passed


GIT_USER = {
    "GIT_AUTHOR_NAME": "Team",
    "GIT_AUTHOR_EMAIL": "team@example.com",
    "GIT_COMMITTER_NAME": "Team",
    "GIT_COMMITTER_EMAIL": "team@example.com",
}
