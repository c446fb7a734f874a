"""MkDocs hook: the options reference is generated from ``copier.yml``, so it cannot drift."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MARKER = "<!-- options table: generated from copier.yml -->"
COPIER_YML = Path(__file__).resolve().parents[2] / "copier.yml"


def options_table(questions: dict[str, Any]) -> str:
    """One row per question: name, default, choices, and its help text."""
    rows = ["| Question | Default | Choices | What it does |", "|---|---|---|---|"]
    for name, question in questions.items():
        if name.startswith("_") or not isinstance(question, dict):
            continue
        choices = question.get("choices", {})
        values = list(choices.values()) if isinstance(choices, dict) else list(choices)
        shown = ", ".join(f"`{value}`" for value in values) or question.get("type", "str")
        default = question.get("default")
        default_text = f"`{default}`" if "{{" not in str(default) else "derived"
        help_text = " ".join(str(question.get("help", "")).split()).replace("|", "\\|")
        rows.append(f"| `{name}` | {default_text} | {shown} | {help_text} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if MARKER not in markdown:
        return markdown
    questions = yaml.safe_load(COPIER_YML.read_text())
    return markdown.replace(MARKER, options_table(questions))
