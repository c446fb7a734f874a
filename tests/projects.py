"""A rendered and installed project, to run its own recipes in (uv offline after warm-up)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .harness import render, run, uv_environment, warm_uv_cache

# Every proxy variable pointing at a closed port on this machine: an advisory feed
# (or anything else on the network) is unreachable, whatever the machine can reach.
CLOSED_PORT = "http://127.0.0.1:9"
NO_NETWORK = {
    name: CLOSED_PORT
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")
}


@dataclass(frozen=True)
class Project:
    """A rendered project with its venv synced; ``env`` runs uv offline in it."""

    path: Path
    env: dict[str, str] = field(repr=False)

    def just(self, *args: str, extra_env: Mapping[str, str] | None = None) -> str:
        """``uv run just ARGS``; raises with the whole output if it fails."""
        return run(["uv", "run", "just", *args], self.path, {**self.env, **(extra_env or {})})

    def just_failing(self, *args: str, extra_env: Mapping[str, str] | None = None) -> str:
        """``uv run just ARGS`` that must fail; returns its stdout and stderr together."""
        result = self.attempt(["uv", "run", "just", *args], extra_env)
        assert result.returncode != 0, f"`just {' '.join(args)}` passed:\n{result.stdout}"
        return result.stdout + result.stderr

    def attempt(
        self, command: list[str], extra_env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` in the project and return the result, whatever its exit code."""
        return subprocess.run(
            command,
            cwd=self.path,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


def installed_project(
    template: Path, shared_dir: Path, destination: Path, answers: Mapping[str, Any]
) -> Project:
    """Render ``answers`` into ``destination`` and ``uv sync`` it offline (this locks it too)."""
    python_version = str(answers.get("python_version", "3.13"))
    warm_uv_cache(template, shared_dir, python_version)
    path = render(template, destination, answers)
    env = uv_environment(python_version, offline=True)
    run(["uv", "sync"], path, env)
    return Project(path, env)
