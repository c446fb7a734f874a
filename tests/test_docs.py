"""The template's docs site builds strictly, and its options reference is copier.yml's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from .harness import REPO


def test_docs_site_builds_strictly_with_every_question(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    options = (site / "options" / "index.html").read_text()
    questions = yaml.safe_load((REPO / "copier.yml").read_text())
    for name, question in questions.items():
        if name.startswith("_"):
            continue
        assert f"<code>{name}</code>" in options, f"{name} missing from the options page"
        first_words = " ".join(str(question["help"]).split("`")[0].split()[:3])
        assert first_words in options, f"{name}: its help text is not on the options page"
    for page in ("threat-model", "hardening", "updating", "security-model"):
        assert (site / page / "index.html").is_file()
