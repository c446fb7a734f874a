"""Rendering itself: defaults, validators, no leftover Jinja, answers recorded."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from copier.errors import UserMessageError

from extensions.bulwark import DOCS_PATHS

from .harness import REPO, render
from .variants import VARIANTS

# A Jinja expression or tag; a bare "}}" is just nested dicts closing in Python.
# `${{ … }}` is a GitHub Actions expression (the workflows), not Jinja.
JINJA_LEFTOVER = re.compile(r"(?<!\$)\{\{-? ?[A-Za-z_]|\{%-? |-?%\}")


def load_questions() -> dict[str, Any]:
    config = yaml.safe_load((REPO / "copier.yml").read_text())
    return {key: value for key, value in config.items() if not key.startswith("_")}


def choice_values(question: dict[str, Any]) -> list[str]:
    choices = question.get("choices", [])
    return list(choices.values()) if isinstance(choices, dict) else list(choices)


def test_every_question_has_help_and_default() -> None:
    for name, question in load_questions().items():
        assert question.get("help"), f"{name} has no help"
        assert "default" in question, f"{name} has no default"


def answered(variant: Any, name: str, default: Any) -> set[str]:
    """The values a variant gives a question (several for a multi-select)."""
    value = variant.answers.get(name, default)
    return {str(item) for item in value} if isinstance(value, list) else {str(value)}


def test_variants_cover_every_choice() -> None:
    for name, question in load_questions().items():
        for value in choice_values(question):
            covered = set().union(*(answered(v, name, question["default"]) for v in VARIANTS))
            assert str(value) in covered, f"no variant answers {name}={value}"


def test_defaults_render_non_interactively_with_the_cli(template: Path, tmp_path: Path) -> None:
    """What a user runs: ``copier copy --trust --defaults`` with no stdin."""
    result = subprocess.run(
        [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", str(template), "out"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "src" / "my_service" / "app.py").is_file()


def test_cli_without_trust_is_refused(template: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "copier", "copy", "--defaults", str(template), "out"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert not (tmp_path / "out" / "src").exists()


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_no_jinja_left_in_rendered_files(template: Path, tmp_path: Path, variant: Any) -> None:
    project = render(template, tmp_path / "p", variant.answers)
    for path in project.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert not JINJA_LEFTOVER.search(text), f"Jinja left in {path.relative_to(project)}"
            assert not path.name.endswith(".jinja")
            assert "{{" not in str(path)


def settings_fields(project: Path) -> set[str]:
    """The environment names of the fields of the rendered ``Settings`` class."""
    (source,) = project.glob("src/*/settings.py")
    tree = ast.parse(source.read_text())
    (settings,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings"]
    return {
        node.target.id.upper()
        for node in settings.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
        if node.target.id != "model_config"
    }


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_env_example_names_every_setting(template: Path, tmp_path: Path, variant: Any) -> None:
    """The rendered README sends users to .env.example for the configuration: all of it.

    Checked here, not in the service's own suite, so that a setting a team adds
    later does not fail their checks after an update.
    """
    project = render(template, tmp_path / "p", variant.answers)
    text = (project / ".env.example").read_text()
    missing = {name for name in settings_fields(project) if not re.search(rf"\b{name}\b", text)}
    assert missing == set()


def test_answers_are_recorded_for_updates(template: Path, tmp_path: Path) -> None:
    project = render(template, tmp_path / "p", {"project_name": "Orders API"})
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["project_name"] == "Orders API"
    assert answers["package_name"] == "orders_api"
    assert answers["_src_path"]


def test_derived_names(template: Path, tmp_path: Path) -> None:
    project = render(template, tmp_path / "p", {"project_name": "Orders API v2!"})
    assert (project / "src" / "orders_api_v2" / "__init__.py").is_file()
    assert 'name = "orders-api-v2"' in (project / "pyproject.toml").read_text()


@pytest.mark.parametrize("framework", sorted(DOCS_PATHS))
def test_docs_path_is_where_the_framework_serves_its_docs(
    template: Path, tmp_path: Path, framework: str
) -> None:
    """README, justfile and docs name the URL the rendered adapter really serves."""
    docs_path = DOCS_PATHS[framework]
    project = render(template, tmp_path / framework, {"framework": framework})
    app = ast.parse((project / "src" / "my_service" / "app.py").read_text())
    served = next(
        node.value
        for node in app.body
        if isinstance(node, ast.Assign)
        and any(getattr(target, "id", None) == "DOCS_PATHS" for target in node.targets)
    )
    assert isinstance(served, ast.Tuple)
    assert ast.literal_eval(served.elts[0]) == docs_path
    assert f"http://127.0.0.1:8000{docs_path}\n" in (project / "README.md").read_text()
    assert f"API docs at {docs_path}," in (project / "justfile").read_text()
    assert f"Swagger UI at `{docs_path}`" in (project / "docs" / "security.md").read_text()


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"package_name": "1service"}, "not a valid package name"),
        ({"package_name": "Orders"}, "not a valid package name"),
        ({"package_name": "class"}, "Python keyword"),
        ({"package_name": "json"}, "shadow"),
        ({"package_name": "fastapi"}, "shadow"),
        ({"project_slug": "Orders_API"}, "not a valid slug"),
        ({"project_slug": "orders--api"}, "not a valid slug"),
        ({"project_name": "  "}, "must not be empty"),
        ({"author_email": "nobody"}, "e-mail"),
        ({"auth_methods": []}, "at least one credential kind"),
    ],
)
def test_bad_answers_are_rejected_with_a_message(
    template: Path, tmp_path: Path, answers: dict[str, str], message: str
) -> None:
    # One line from the extension (UserMessageError: the CLI prints it, no traceback).
    with pytest.raises(UserMessageError, match=message):
        render(template, tmp_path / "p", answers)
    assert not (tmp_path / "p" / "src").exists()


def test_quotes_in_names_stay_valid_python(template: Path, tmp_path: Path) -> None:
    project = render(template, tmp_path / "p", {"project_name": 'Bob\'s "API"'})
    init = next((project / "src").glob("*/__init__.py"))
    namespace: dict[str, Any] = {}
    exec(compile(init.read_text(), str(init), "exec"), namespace)  # noqa: S102 - our own render
    assert namespace["TITLE"] == 'Bob\'s "API"'


@pytest.mark.parametrize("grpc", [False, True])
def test_grpc_renders_its_files_and_settings_only_when_on(
    template: Path, tmp_path: Path, grpc: bool
) -> None:
    """Off (the default): no gRPC file, dependency, setting, recipe, port or probe."""
    project = render(template, tmp_path / "p", {"grpc": grpc})
    package = next((project / "src").glob("*/__init__.py")).parent
    assert (package / "rpc").is_dir() is grpc
    assert (project / "tests" / "test_grpc.py").is_file() is grpc
    # Where a gRPC dependency, setting, recipe, port or probe would be.
    manifests = [f"k8s/{path.name}" for path in (project / "k8s").glob("*.yaml")]
    places = ["pyproject.toml", "justfile", "Containerfile", "docs/deployment.md", ".env.example"]
    places += manifests
    texts = {place: (project / place).read_text() for place in places}
    texts["settings.py"] = (package / "settings.py").read_text()
    mentions = {place for place, text in texts.items() if re.search("grpc|50051", text, re.I)}
    if grpc:
        assert {"pyproject.toml", "justfile", "Containerfile", "settings.py",
                "k8s/deployment.yaml", "k8s/service.yaml"} <= mentions  # fmt: skip
    else:
        assert mentions == set()
