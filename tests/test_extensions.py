"""The derived values and validators in extensions/ (plain functions, no Copier needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from extensions.bulwark import (
    CHOICES,
    package_name_problem,
    remembered_answers,
    runtime_dependencies,
    slug_problem,
    slugify,
    to_identifier,
)

from .harness import REPO

# Copier prints "? <question> (<type>)" and the help with a marker: 62 characters
# of help leave room for both at 80 columns.
HELP_WIDTH = 62


@pytest.mark.parametrize(
    ("name", "slug"),
    [("My Service", "my-service"), ("Orders API v2!", "orders-api-v2"), ("***", "service")],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug
    assert slug_problem(slug) == ""


@pytest.mark.parametrize(
    ("slug", "identifier"), [("my-service", "my_service"), ("2fa-api", "svc_2fa_api")]
)
def test_to_identifier(slug: str, identifier: str) -> None:
    assert to_identifier(slug) == identifier
    assert package_name_problem(identifier) == ""


def test_dependencies_follow_the_server_answer() -> None:
    deps = runtime_dependencies({"server": "granian"})
    assert any(dep.startswith("granian") for dep in deps)
    assert deps == sorted(deps)


def test_opentelemetry_adds_its_packages_only_when_chosen() -> None:
    def otel(answers: dict[str, object]) -> list[str]:
        return [d for d in runtime_dependencies(answers) if d.startswith("opentelemetry")]

    assert otel({}) == []
    assert otel({"grpc": True}) == []
    http_only = otel({"opentelemetry": True})
    assert any(d.startswith("opentelemetry-instrumentation-asgi") for d in http_only)
    assert not any(d.startswith("opentelemetry-instrumentation-grpc") for d in http_only)
    with_grpc = otel({"opentelemetry": True, "grpc": True})
    assert any(d.startswith("opentelemetry-instrumentation-grpc") for d in with_grpc)


def test_metrics_add_prometheus_client_unless_turned_off() -> None:
    def prometheus(answers: dict[str, object]) -> list[str]:
        return [d for d in runtime_dependencies(answers) if d.startswith("prometheus")]

    assert prometheus({}) == ["prometheus-client>=0.21"]  # on by default
    assert prometheus({"metrics": True}) == ["prometheus-client>=0.21"]
    assert prometheus({"metrics": False}) == []
    assert package_name_problem("prometheus_client") != ""


def test_choices_match_copier_yml() -> None:
    questions = yaml.safe_load((REPO / "copier.yml").read_text())
    for name, allowed in CHOICES.items():
        choices = questions[name]["choices"]
        values = list(choices.values()) if isinstance(choices, dict) else list(choices)
        assert tuple(str(value) for value in values) == allowed, name


def test_every_help_fits_one_short_line() -> None:
    """Copier shows the help beside the prompt: at 80 columns a longer one is cut."""
    questions = yaml.safe_load((REPO / "copier.yml").read_text())
    for name, question in questions.items():
        if isinstance(question, dict) and "help" in question:
            assert "\n" not in question["help"], name
            assert len(question["help"]) <= HELP_WIDTH, name


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("framework=django", "framework='django' is not a choice; use one of: fastapi, litestar"),
        ("server=gunicorn", "server='gunicorn' is not a choice; use one of: granian, uvicorn"),
        ("rate_limit_storage=postgres", "rate_limit_storage='postgres' is not a choice"),
        ("framework=Litestar", "framework='Litestar' is not a choice"),
        ("auth_methods=[api_key, oauth]", "auth_methods='oauth' is not a choice"),
        ("project_slug=Orders_API", "project_slug: 'Orders_API' is not a valid slug"),
    ],
)
def test_a_wrong_answer_is_one_line_and_a_failure(
    template: Path, tmp_path: Path, data: str, message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--data", data,
         str(template), str(tmp_path / "service")],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "service").exists()


def test_a_relative_template_path_is_remembered_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert remembered_answers({"_src_path": "."})["_src_path"] == str(tmp_path)
    for kept in ("/abs/bulwark", "gh:org/bulwark", "https://example.com/b.git", "git@h:o/b"):
        assert remembered_answers({"_src_path": kept})["_src_path"] == kept
