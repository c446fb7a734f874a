"""The task runner as a developer meets it: a bare ``just`` lists the recipes, starts nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_bare_just_lists_the_recipes_and_starts_nothing() -> None:
    just = Path(sys.executable).with_name("just")  # the dev dependency rust-just
    path = os.pathsep.join([str(just.parent), os.environ.get("PATH", "")])  # as `uv run` has it
    result = subprocess.run(
        [str(just)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Available recipes:")
    listed = set(re.findall(r"^ {4}([a-z][\w-]*)", result.stdout, re.MULTILINE))
    assert {"run", "dev", "check", "security", "audit", "vulns"} <= listed
    assert "default" not in listed  # private: the list itself
