"""``copier copy`` answered by a person at a real terminal (a pseudo-terminal).

Every validator gets one wrong answer first: it must be refused with a readable
message and the question asked again. No question depends on another one yet, so
none is hidden with ``when:``; every question is asked.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pexpect
import yaml

CURSOR_POSITION_REQUEST = "\x1b\\[6n"  # prompt_toolkit asks where the cursor is
CURSOR_POSITION_REPLY = "\x1b[5;1R"  # what a terminal answers (row 5, column 1)
CLEAR = "\x15"  # Ctrl-U: clear the line (the prompt is pre-filled with the default)
DOWN = "\x1b[B"
ENTER = "\r"
SPACE = " "


QUESTIONS = yaml.safe_load((Path(__file__).resolve().parent.parent / "copier.yml").read_text())


def help_of(question: str) -> str:
    """The whole help line of ``question``, as a pattern: shown cut, it does not match."""
    return re.escape(str(QUESTIONS[question]["help"]))


def expect(child: pexpect.spawn[str], pattern: str, timeout: float = 30) -> None:
    """Wait for ``pattern``, answering cursor-position requests as a terminal does
    (without the answers, prompt_toolkit draws no bottom toolbar: no checkbox errors)."""
    while child.expect([CURSOR_POSITION_REQUEST, pattern], timeout=timeout) == 0:
        child.send(CURSOR_POSITION_REPLY)


def answer_text(child: pexpect.spawn[str], prompt: str, text: str) -> None:
    expect(child, prompt)
    child.send(CLEAR + text + ENTER)


def refused_then_answered(
    child: pexpect.spawn[str], prompt: str, wrong: str, message: str, right: str
) -> None:
    """A wrong answer is refused with ``message``; the same question takes the right one."""
    answer_text(child, prompt, wrong)
    expect(child, message)
    child.send(CLEAR + right + ENTER)


def test_a_person_answers_every_question(template: Path, tmp_path: Path) -> None:
    destination = tmp_path / "orders-api"
    child = pexpect.spawn(
        sys.executable,
        ["-m", "copier", "copy", "--trust", str(template), str(destination)],
        env={**os.environ, "TERM": "xterm", "NO_COLOR": "1"},
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 200),
    )
    log = (tmp_path / "terminal.log").open("w")
    child.logfile_read = log
    try:
        refused_then_answered(child, help_of("project_name"), "", "must not be empty", "Orders API")
        refused_then_answered(
            child, help_of("project_slug"), "Bad Slug!", "is not a valid slug", "orders-api"
        )
        refused_then_answered(
            child, help_of("package_name"), "class", "is a Python keyword", "orders_api"
        )
        answer_text(child, help_of("description"), "Takes and tracks orders.")
        answer_text(child, help_of("author_name"), "Payments Team")
        refused_then_answered(
            child,
            help_of("author_email"),
            "not-an-email",
            "does not look like an e-mail address",
            "payments@example.com",
        )
        expect(child, help_of("license"))
        child.send(DOWN + ENTER)  # MIT, below the default
        expect(child, help_of("python_version"))
        child.send(ENTER)  # the default
        expect(child, help_of("framework"))
        child.send(DOWN + ENTER)  # Litestar
        expect(child, help_of("server"))
        child.send(ENTER)
        expect(child, help_of("auth_methods"))
        child.send(SPACE + ENTER)  # unticks the default: none left, refused
        expect(child, "Choose at least one credential kind")
        child.send(SPACE + DOWN + DOWN + SPACE + ENTER)  # API keys and JWT
        expect(child, help_of("rate_limit_storage"))
        child.send(ENTER)
        expect(child, help_of("database"))
        child.send(DOWN + ENTER)  # PostgreSQL
        for question, key in (("kubernetes", "n"), ("sentry", "n"), ("grpc", "y")):
            expect(child, help_of(question))
            child.send(key)
        expect(child, help_of("opentelemetry"))
        child.send("n")
        expect(child, help_of("metrics"))
        child.send("n")
        while child.expect([CURSOR_POSITION_REQUEST, pexpect.EOF], timeout=120) == 0:
            child.send(CURSOR_POSITION_REPLY)
    finally:
        child.close(force=True)
        log.close()
    assert child.exitstatus == 0, (tmp_path / "terminal.log").read_text()[-2000:]

    answers = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    assert {key: answers[key] for key in answers if not key.startswith("_")} == {
        "project_name": "Orders API",
        "project_slug": "orders-api",
        "package_name": "orders_api",
        "description": "Takes and tracks orders.",
        "author_name": "Payments Team",
        "author_email": "payments@example.com",
        "license": "MIT",
        "python_version": "3.13",
        "framework": "litestar",
        "server": "granian",
        "auth_methods": ["api_key", "jwt"],
        "rate_limit_storage": "memory",
        "database": "postgresql",
        "kubernetes": False,
        "sentry": False,
        "grpc": True,
        "opentelemetry": False,
        "metrics": False,
    }
    assert (destination / "src/orders_api/rpc/server.py").is_file()
    assert not (destination / "src/orders_api/metrics").exists()
    assert not (destination / "k8s").exists()


def test_every_help_line_is_shown_whole_at_80_columns(template: Path, tmp_path: Path) -> None:
    """Enter at every question of a common 80-column terminal: each help line fits."""
    child = pexpect.spawn(
        sys.executable,
        ["-m", "copier", "copy", "--trust", str(template), str(tmp_path / "service")],
        env={**os.environ, "TERM": "xterm", "NO_COLOR": "1"},
        encoding="utf-8",
        timeout=30,
        dimensions=(24, 80),
    )
    try:
        for question, details in QUESTIONS.items():
            if question.startswith("_"):
                continue
            expect(child, help_of(question))
            child.send(ENTER if details.get("type") != "bool" else "n")
        while child.expect([CURSOR_POSITION_REQUEST, pexpect.EOF], timeout=120) == 0:
            child.send(CURSOR_POSITION_REPLY)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
