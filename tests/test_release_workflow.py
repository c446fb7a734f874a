"""Dependency and template updates, the image release, and the files a reviewer looks for.

Structural checks run on every variant's rendered files; the schemas (check-jsonschema's
github-workflows and dependabot), zizmor and the recipes run in one installed project,
on every variant's files at once.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .harness import render
from .projects import NO_NETWORK, Project, installed_project
from .variants import VARIANT_IDS, VARIANTS, Variant

PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
TAG_COMMENT = re.compile(r"@[0-9a-f]{40} # v\d+(\.\d+)*$")
WORKFLOWS = ("ci.yml", "release.yml", "scorecard.yml", "template-update.yml")
FAIL_CLOSED = "could not reach the advisory feed; nothing was checked"
ISSUER = "https://token.actions.githubusercontent.com"


@pytest.fixture(scope="module")
def project(template: Path, shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return installed_project(template, shared_dir, tmp_path_factory.mktemp("svc") / "svc", {})


@pytest.fixture(scope="module")
def rendered(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every variant, rendered once for this module."""
    base = tmp_path_factory.mktemp("variants")
    return {v.name: render(template, base / v.name, v.answers) for v in VARIANTS}


def workflow(project: Path, name: str) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((project / ".github/workflows" / name).read_text())
    return loaded


def uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"] for step in job["steps"] if "uses" in step]


# --- every workflow: pinned, least privilege, one run at a time ---------------


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
def test_every_workflow_is_pinned_least_privilege_and_serialised(
    variant: Variant, rendered: dict[str, Path]
) -> None:
    project = rendered[variant.name]
    found = sorted(path.name for path in (project / ".github/workflows").iterdir())
    assert found == sorted(WORKFLOWS)
    publishes_scorecard = variant.answers.get("license", "LicenseRef-Proprietary") != (
        "LicenseRef-Proprietary"
    )
    for name in WORKFLOWS:
        text = (project / ".github/workflows" / name).read_text()
        document = workflow(project, name)
        assert document["permissions"] == {}, name
        assert document["concurrency"]["group"], name
        for line in text.splitlines():
            if "uses:" in line:  # every action pinned by commit SHA, its tag in a comment
                assert TAG_COMMENT.search(line), line
        id_token_jobs = set()
        for job_name, job in document["jobs"].items():
            permissions = job["permissions"]
            assert permissions, f"{name}:{job_name} has no job-level permissions"
            assert job["timeout-minutes"] <= 30, f"{name}:{job_name}"
            for action in uses(job):
                assert PINNED.match(action), action
            for step in job["steps"]:
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, f"{name}:{job_name}"
            writes = {scope for scope, level in permissions.items() if level == "write"}
            if "id-token" in writes:
                id_token_jobs.add(job_name)
            if name == "ci.yml":
                assert permissions == {"contents": "read"}, job_name
        expected = {
            "release.yml": {"publish"},
            "scorecard.yml": {"analysis"} if publishes_scorecard else set(),
        }.get(name, set())
        assert id_token_jobs == expected, name


def test_release_builds_scans_and_signs_with_split_privileges(rendered: dict[str, Path]) -> None:
    release = workflow(rendered["default"], "release.yml")
    assert release[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads `on` as True
    build, publish = release["jobs"]["build"], release["jobs"]["publish"]
    assert build["permissions"] == {"contents": "read"}
    assert publish["permissions"] == {
        "packages": "write", "id-token": "write", "attestations": "write"
    }  # fmt: skip
    assert publish["needs"] == "build"
    build_runs = " ".join(step.get("run", "") for step in build["steps"])
    order = ["container-build", "image-archive", "image-sbom", "image-scan", "just sbom"]
    positions = [build_runs.index(recipe) for recipe in order]
    assert positions == sorted(positions), build_runs  # scanned before anything is published
    assert not any("login" in step.get("run", "") for step in build["steps"])
    publish_runs = " ".join(step.get("run", "") for step in publish["steps"])
    assert "cosign sign --yes" in publish_runs
    assert "--digestfile" in publish_runs  # signs the pushed digest, not a tag
    attests = [s for s in publish["steps"] if s.get("uses", "").startswith("actions/attest@")]
    assert len(attests) == 2
    assert "sbom-path" not in attests[0]["with"]  # provenance
    assert attests[1]["with"]["sbom-path"] == "dist/image-sbom.cdx.json"
    for step in attests:
        assert step["with"]["push-to-registry"] is True


def test_ci_runs_the_audits_on_a_schedule(rendered: dict[str, Path]) -> None:
    ci = workflow(rendered["default"], "ci.yml")
    assert ci[True]["schedule"][0]["cron"]
    runs = " ".join(step.get("run", "") for step in ci["jobs"]["supply-chain"]["steps"])
    assert "just security" in runs  # audit, vulns and licenses


def test_template_update_runs_copier_read_only_and_reports_leftovers(
    rendered: dict[str, Path],
) -> None:
    update = workflow(rendered["default"], "template-update.yml")
    assert "schedule" in update[True]
    job, pull_request = update["jobs"]["update"], update["jobs"]["pull-request"]
    assert job["permissions"] == {"contents": "read"}  # copier runs the template's code
    assert pull_request["permissions"] == {"contents": "write", "pull-requests": "write"}
    runs = " ".join(step.get("run", "") for step in job["steps"])
    documented = Path(__file__).parent.parent / "docs" / "updating.md"
    command = re.search(r"copier update (--[^\n]+)", documented.read_text())
    assert command
    for flag in command.group(1).split():
        assert flag in runs, flag
    assert "uv run just update-leftovers" in runs
    pr_runs = " ".join(step.get("run", "") for step in pull_request["steps"])
    assert "copier" not in pr_runs
    assert "uv run" not in pr_runs
    (create,) = [a for a in uses(pull_request) if a.startswith("peter-evans/create-pull-request@")]
    assert create


# --- Dependabot ---------------------------------------------------------------


def test_dependabot_covers_uv_actions_and_base_images_with_cooldown_and_groups(
    rendered: dict[str, Path],
) -> None:
    config = yaml.safe_load((rendered["default"] / ".github/dependabot.yml").read_text())
    updates = {update["package-ecosystem"]: update for update in config["updates"]}
    assert set(updates) == {"uv", "github-actions", "docker"}
    for ecosystem, update in updates.items():
        assert update["directory"] == "/"
        assert update["cooldown"]["default-days"] >= 3, ecosystem
        (group,) = update["groups"].values()
        assert sorted(group["update-types"]) == ["minor", "patch"], ecosystem
    # The docker ecosystem reads literal FROM lines only: every stage names its base there.
    containerfile = (rendered["default"] / "Containerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", containerfile, re.MULTILINE)
    assert len(froms) == 2
    assert all(re.fullmatch(r"[^$\s]+:[^$\s]+@sha256:[0-9a-f]{64}", ref) for ref in froms)


# --- schemas and zizmor, on every variant's files ------------------------------


def test_schemas_and_zizmor_pass_on_every_variant(
    project: Project, rendered: dict[str, Path]
) -> None:
    workflows = [str(p / ".github/workflows" / n) for p in rendered.values() for n in WORKFLOWS]
    configs = [str(p / ".github/dependabot.yml") for p in rendered.values()]
    schema = ["uv", "run", "check-jsonschema", "--builtin-schema"]
    for command in ([*schema, "vendor.github-workflows", *workflows],
                    [*schema, "vendor.dependabot", *configs]):  # fmt: skip
        result = project.attempt(command)
        assert result.returncode == 0, result.stdout + result.stderr
    for path in rendered.values():
        zizmor = ["uv", "run", "zizmor", "--offline", "--collect=workflows",
                  "--collect=dependabot", str(path / ".github")]  # fmt: skip
        result = project.attempt(zizmor)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "No findings to report" in result.stdout


def test_workflow_lint_catches_a_bad_dependabot_config_and_a_write_token(
    project: Project,
) -> None:
    project.just("workflow-lint")
    config = project.path / ".github/dependabot.yml"
    original = config.read_text()
    try:
        config.write_text(original.replace("interval: weekly", "interval: fortnightly", 1))
        assert "dependabot.yml" in project.just_failing("workflow-lint")
    finally:
        config.write_text(original)
    release = project.path / ".github/workflows/release.yml"
    original = release.read_text()
    try:
        release.write_text(
            original.replace("permissions:\n      contents: read", "permissions: write-all", 1)
        )
        assert "excessive-permissions" in project.just_failing("workflow-lint")
    finally:
        release.write_text(original)


# --- image recipes: fail closed, verify with the release identity --------------


def test_image_scan_fails_closed_without_grype_or_its_database(
    project: Project, tmp_path: Path
) -> None:
    missing = project.just_failing("image-scan", extra_env={"GRYPE": str(tmp_path / "none")})
    assert "grype is not installed" in missing
    # A grype that cannot fetch its database (as offline) must not look like a pass.
    grype = tmp_path / "grype"
    grype.write_text("#!/bin/sh\necho 'failed to load vulnerability db: dial tcp: lookup'"
                     " >&2\necho 'No vulnerabilities found'\nexit 1\n")  # fmt: skip
    grype.chmod(0o755)
    (project.path / "dist").mkdir(exist_ok=True)
    (project.path / "dist/image-sbom.cdx.json").write_text("{}")
    try:
        output = project.just_failing("image-scan", extra_env={"GRYPE": str(grype), **NO_NETWORK})
    finally:
        (project.path / "dist/image-sbom.cdx.json").unlink()
    assert FAIL_CLOSED in output
    assert "No vulnerabilities found" not in output


def recorder(directory: Path, name: str, exit_code: int = 0) -> Path:
    """A stand-in for cosign or gh that records its arguments (the recipe is under test)."""
    tool = directory / name
    tool.write_text(f'#!/bin/sh\necho "{name} $*" >> "{directory}/calls"\nexit {exit_code}\n')
    tool.chmod(0o755)
    return tool


def test_verify_image_checks_the_release_workflows_identity(
    project: Project, tmp_path: Path
) -> None:
    image = "ghcr.io/acme/my-service@sha256:" + "a" * 64
    env = {"COSIGN": str(recorder(tmp_path, "cosign")), "GH": str(recorder(tmp_path, "gh")),
           "GITHUB_REPOSITORY": "Acme/my.service"}  # fmt: skip
    project.just("verify-image", image, extra_env=env)
    cosign, provenance, sbom = (tmp_path / "calls").read_text().splitlines()
    identity = re.search(r"--certificate-identity-regexp (\S+)", cosign)
    assert identity
    pattern = re.compile(identity.group(1))
    release = "https://github.com/Acme/my.service/.github/workflows/release.yml@refs/tags/v1.2.3"
    assert pattern.match(release)
    for other in (release.replace("release.yml", "ci.yml"),
                  release.replace("refs/tags/v1.2.3", "refs/heads/main"),
                  release.replace("my.service", "myXservice"),
                  release.replace("Acme/", "Evil/")):  # fmt: skip
        assert not pattern.match(other), other
    assert f"--certificate-oidc-issuer {ISSUER}" in cosign
    assert image in cosign
    for call, predicate in ((provenance, "https://slsa.dev/provenance/v1"),
                            (sbom, "https://cyclonedx.org/bom")):  # fmt: skip
        assert call.startswith(f"gh attestation verify oci://{image} --repo Acme/my.service")
        assert "--signer-workflow Acme/my.service/.github/workflows/release.yml" in call
        assert f"--predicate-type {predicate}" in call

    failing = tmp_path / "failing"
    failing.mkdir()
    env["COSIGN"] = str(recorder(failing, "cosign", exit_code=1))
    output = project.just_failing("verify-image", image, extra_env=env)
    assert "OK" not in output


# --- admission policy (Kubernetes) ----------------------------------------------


def test_admission_policy_admits_only_this_release_workflow(rendered: dict[str, Path]) -> None:
    project = rendered["default"]
    policy_file = project / "k8s/policy/clusterimagepolicy.yaml"
    policy = yaml.safe_load(policy_file.read_text())
    assert policy["kind"] == "ClusterImagePolicy"
    (authority,) = policy["spec"]["authorities"]
    (identity,) = authority["keyless"]["identities"]
    assert identity["issuer"] == ISSUER
    subject = re.compile(identity["subjectRegExp"].replace("OWNER/REPO", "acme/svc"))
    good = "https://github.com/acme/svc/.github/workflows/release.yml@refs/tags/v2.0.0"
    assert subject.match(good)
    assert not subject.match(good.replace("release.yml", "ci.yml"))
    assert not subject.match(good.replace("refs/tags/v2.0.0", "refs/heads/main"))
    # A custom resource: kept out of `kubectl apply -f k8s/`, k8s-lint and the schema hook.
    assert "k8s/*.yaml" in (project / "justfile").read_text()
    hooks = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    (hook,) = [h for h in hooks["repos"][0]["hooks"] if h["id"] == "kubernetes-validate"]
    assert re.search(hook["files"], "k8s/deployment.yaml")
    assert not re.search(hook["files"], "k8s/policy/clusterimagepolicy.yaml")


# --- the files a reviewer looks for -------------------------------------------

LICENSE_MARKERS = {
    "MIT": ("MIT License", "Permission is hereby granted, free of charge"),
    "Apache-2.0": ("Apache License", "Version 2.0, January 2004", "END OF TERMS AND CONDITIONS"),
    "BSD-3-Clause": ("BSD 3-Clause License", "Neither the name of the copyright holder"),
    "LicenseRef-Proprietary": ("All rights reserved.",),
}


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
def test_license_security_policy_and_codeowners(
    variant: Variant, rendered: dict[str, Path]
) -> None:
    project = rendered[variant.name]
    chosen = variant.answers.get("license", "LicenseRef-Proprietary")
    text = (project / "LICENSE").read_text()
    for licence, markers in LICENSE_MARKERS.items():
        assert all(m in text for m in markers) is (licence == chosen), licence
    year = str(datetime.date.today().year)
    assert re.search(rf"Copyright (\(c\) )?{year},? Your Name", text), text[:300]
    assert "[yyyy]" not in text
    assert f'license = "{chosen}"' in (project / "pyproject.toml").read_text()
    security = (project / "SECURITY.md").read_text()
    assert "Reporting a vulnerability" in security
    assert "Supported versions" in security
    assert "you@example.com" in security
    owners = (project / ".github/CODEOWNERS").read_text().splitlines()
    assert any(line.startswith("* ") for line in owners)


# --- checkov ----------------------------------------------------------------------

# One variant per distinct set of workflows: ci.yml varies with Redis and Kubernetes,
# scorecard.yml with the licence (published results or not).
CHECKOV_VARIANTS = (
    "default",
    "fastapi-hypercorn-py311",
    "litestar-uvicorn-py311",
    "fastapi-everything",
)


def test_checkov_finds_nothing_in_the_workflows(rendered: dict[str, Path], tmp_path: Path) -> None:
    """checkov (the template's dev group), github_actions checks, offline.

    checkov silently skips a workflow its own schema rejects, and that schema (3.3)
    predates the `attestations` permission: it reads copies without that one line,
    and the test fails if any workflow goes unscanned.
    """
    checkov = Path(sys.executable).parent / "checkov"
    command = [str(checkov), "--framework", "github_actions", "--output", "json", "-d"]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    running = {}
    for name in CHECKOV_VARIANTS:
        copy = tmp_path / name / ".github" / "workflows"
        copy.mkdir(parents=True)
        for workflow_file in WORKFLOWS:
            text = (rendered[name] / ".github/workflows" / workflow_file).read_text()
            unknown = re.compile(r"^ +attestations: write.*\n", re.MULTILINE)
            (copy / workflow_file).write_text(unknown.sub("", text))
        running[name] = subprocess.Popen(
            [*command, str(tmp_path / name)], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, env=env,
        )  # fmt: skip
    for name, process in running.items():
        output, _ = process.communicate(timeout=300)
        report = json.loads(output)
        report = report[0] if isinstance(report, list) else report
        assert report["summary"]["failed"] == 0, (name, report["results"]["failed_checks"])
        assert report["summary"]["parsing_errors"] == 0, name
        scanned = {check["file_path"].rsplit("/", 1)[-1]
                   for check in report["results"]["passed_checks"]}  # fmt: skip
        assert scanned == set(WORKFLOWS), (name, scanned)


# --- the template-update workflow's own shell steps, run for real --------------------


def step_script(project: Path, name: str) -> str:
    (job,) = [workflow(project, "template-update.yml")["jobs"]["update"]]
    (step,) = [s for s in job["steps"] if s.get("name") == name]
    script: str = step["run"]
    return script


def test_template_update_refuses_a_template_ci_cannot_reach(
    rendered: dict[str, Path], tmp_path: Path
) -> None:
    script = step_script(rendered["default"], "The template must be reachable from CI")
    answers = (rendered["default"] / ".copier-answers.yml").read_text()
    assert re.search(r"^_src_path: /", answers, re.MULTILINE)  # as rendered from a clone
    sources = {
        "/home/me/bulwark": False,
        "https://github.com/acme/bulwark.git": True,
        "gh:acme/bulwark": True,
        "'git@github.com:acme/bulwark.git'": True,
    }
    for source, passes in sources.items():
        (tmp_path / ".copier-answers.yml").write_text(
            re.sub(r"^_src_path: .*$", f"_src_path: {source}", answers, flags=re.MULTILINE)
        )
        result = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", script],
            cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert (result.returncode == 0) is passes, (source, result.stdout)
        if not passes:
            assert "::error::_src_path" in result.stdout


def test_template_update_reports_leftovers_in_the_pull_request(
    project: Project, tmp_path: Path
) -> None:
    script = step_script(project.path, "Files left to resolve (reported in the pull request)")
    env = {**project.env, "RUNNER_TEMP": str(tmp_path)}
    command = ["bash", "-eo", "pipefail", "-c", script]
    clean = subprocess.run(command, cwd=project.path, env=env, capture_output=True, text=True,
                           timeout=120, check=False)  # fmt: skip
    assert clean.returncode == 0, clean.stderr
    assert "nothing to resolve" in (tmp_path / "update/body.md").read_text()

    conflicted = project.path / "src" / "conflicted.txt"
    conflicted.write_text(
        "<<<<<<< before updating\nmine\n=======\ntheirs\n>>>>>>> after updating\n"
    )
    try:
        dirty = subprocess.run(command, cwd=project.path, env=env, capture_output=True,
                               text=True, timeout=120, check=False)  # fmt: skip
    finally:
        conflicted.unlink()
    assert dirty.returncode == 0, dirty.stderr  # the pull request is still opened
    body = (tmp_path / "update/body.md").read_text()
    assert "resolve these before merging" in body
    assert "src/conflicted.txt" in body
