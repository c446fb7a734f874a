"""Mark the template's releases as git tags, from CHANGELOG.md and the history of main.

Only the commits of ``main`` are published, never tags, so a release must be
recoverable from the tree. The rule: a commit *is* release ``vX.Y.Z`` when its
CHANGELOG.md has nothing unreleased (no ``## Unreleased`` section, or one that says
"Nothing yet.") and ``## vX.Y.Z`` is its newest version heading. The release's tag
goes on the last such commit of main's first-parent history: the one just before
work on the next release began.

Run it in a clone of the template (stdlib only, any Python >= 3.11):

    python3 scripts/releases.py          # create the missing vX.Y.Z tags, say what it did
    python3 scripts/releases.py --list   # only print version and commit

An existing tag is never moved; one that disagrees with the rule is reported.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

CHANGELOG = "CHANGELOG.md"
_HEADING = re.compile(r"^## (?P<title>.+)$", re.MULTILINE)
_VERSION = re.compile(r"v\d+\.\d+\.\d+")
_NOTHING_UNRELEASED = {"", "nothing yet."}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


def released_version(changelog: str) -> str | None:
    """The version a changelog says is current, or None while work is unreleased."""
    headings = list(_HEADING.finditer(changelog))
    for index, heading in enumerate(headings):
        title = heading["title"].strip()
        if title.lower().startswith("unreleased"):
            end = headings[index + 1].start() if index + 1 < len(headings) else len(changelog)
            body = changelog[heading.end() : end].strip().lower()
            if body not in _NOTHING_UNRELEASED:
                return None
            continue
        version = _VERSION.match(title)
        return version.group(0) if version else None
    return None


def releases(repo: Path, branch: str = "HEAD") -> dict[str, str]:
    """Version -> full commit hash of its release, oldest release first."""
    commits = git(repo, "rev-list", "--first-parent", "--reverse", branch).split()
    touching = set(git(repo, "rev-list", "--first-parent", branch, "--", CHANGELOG).split())
    found: dict[str, str] = {}
    current: str | None = None
    for commit in commits:
        if commit in touching:
            text = git(repo, "show", f"{commit}:{CHANGELOG}")
            current = released_version(text)
        if current is not None:
            found[current] = commit  # the last commit in this state wins
    return found


def existing_tag(repo: Path, tag: str) -> str | None:
    result = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print releases, create no tag")
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    if git(args.repo, "rev-parse", "--is-shallow-repository").strip() == "true":
        print("releases: this clone is shallow; run `git fetch --unshallow` first", file=sys.stderr)
        return 1
    disagreements = 0
    for version, commit in releases(args.repo).items():
        short = commit[:7]
        if args.list:
            print(f"{version} {short}")
            continue
        tagged = existing_tag(args.repo, version)
        if tagged is None:
            git(args.repo, "tag", version, commit)
            print(f"{version}: tagged {short}")
        elif tagged == commit:
            print(f"{version}: already tagged {short}")
        else:
            disagreements += 1
            print(
                f"{version}: tag exists at {tagged[:7]}, CHANGELOG.md says {short}; left as it is",
                file=sys.stderr,
            )
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
