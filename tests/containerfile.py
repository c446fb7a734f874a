"""A Containerfile as instructions grouped in stages (enough for structural tests)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CONTINUATION = re.compile(r"\\\n")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper-case, e.g. "FROM"
    value: str  # the rest of the logical line, continuations joined


def instructions(text: str) -> list[Instruction]:
    """Logical lines of ``text``, comments and blank lines left out."""
    parsed = []
    for line in _CONTINUATION.sub(" ", text).splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, value = stripped.partition(" ")
            parsed.append(Instruction(keyword.upper(), " ".join(value.split())))
    return parsed


def stages(parsed: list[Instruction]) -> list[list[Instruction]]:
    """One list per ``FROM``, starting with it; instructions before the first are dropped."""
    result: list[list[Instruction]] = []
    for instruction in parsed:
        if instruction.keyword == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def arg_defaults(parsed: list[Instruction]) -> dict[str, str]:
    """``ARG NAME=default`` values (quotes removed)."""
    defaults = {}
    for instruction in parsed:
        if instruction.keyword == "ARG" and "=" in instruction.value:
            name, _, default = instruction.value.partition("=")
            defaults[name] = default.strip('"')
    return defaults
