"""The rendered monitoring/: alert rules Prometheus accepts, whose unit tests pass.

promtool is Prometheus's own checker; ``scripts/test`` installs it (from Debian's
prometheus package, promtool alone) when it is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .harness import render


def promtool() -> str:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is required: scripts/test installs it (as root)")
    return binary


@pytest.fixture(scope="module")
def monitoring(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = render(template, tmp_path_factory.mktemp("monitoring") / "p", {})
    return project / "monitoring"


@pytest.mark.parametrize(
    "command",
    [("check", "rules", "alerts.yml"), ("test", "rules", "alerts.test.yml")],
    ids=["check", "test"],
)
def test_promtool_accepts_the_rules(monitoring: Path, command: tuple[str, ...]) -> None:
    result = subprocess.run(
        [promtool(), *command],
        cwd=monitoring,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_wrong_expectation_fails_the_rule_tests(monitoring: Path, tmp_path: Path) -> None:
    """The rule tests can fail: an alert expected where none fires is reported."""
    for name in ("alerts.yml", "alerts.test.yml"):
        shutil.copy(monitoring / name, tmp_path / name)
    tests = tmp_path / "alerts.test.yml"
    tests.write_text(tests.read_text().replace("severity: page}", "severity: ticket}", 1))
    result = subprocess.run(
        [promtool(), "test", "rules", "alerts.test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr


def test_no_monitoring_without_metrics(template: Path, tmp_path: Path) -> None:
    project = render(template, tmp_path / "p", {"metrics": False})
    assert not (project / "monitoring").exists()
    assert not list(project.rglob("metrics/exporter.py"))
    assert "prometheus" not in (project / "pyproject.toml").read_text()
