"""Podman on a machine with no Docker engine and no registry: a local stand-in base image.

Base images cannot be pulled here, so the image test builds on a Debian 12
rootfs made by ``debootstrap`` and imported into podman once per machine (it
stays in podman's storage, so later runs reuse it). Debian 12's Python is 3.11:
the image under test is rendered for Python 3.11 and the stand-in serves as both
the build and the runtime base. The runtime is ``runc`` (``crun`` cannot set
rlimits here), set through a containers.conf of our own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .harness import exclusive

BASE_IMAGE = "localhost/bulwark-base:bookworm"
BASE_PYTHON = "3.11"  # Debian 12's
TOOLS = ("podman", "runc", "debootstrap")
_FROM = re.compile(r"^(FROM\s+)(\S+)", re.MULTILINE)
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
"""


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def engine_environment(workdir: Path) -> dict[str, str]:
    """Environment variables that make podman (and `just container-*`) use runc here."""
    conf = workdir / "containers.conf"
    if not conf.exists():
        workdir.mkdir(parents=True, exist_ok=True)
        conf.write_text(CONTAINERS_CONF)
    return {"CONTAINERS_CONF": str(conf), "CONTAINER_ENGINE": "podman"}


def podman(
    *args: str, env: Mapping[str, str], timeout: float = 300, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["podman", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: exit {result.returncode}\n{result.stderr}")
    return result


def ensure_base_image(workdir: Path, env: Mapping[str, str]) -> float:
    """Create the stand-in base image unless podman has it; seconds spent (0 if cached)."""
    with exclusive(workdir / "base-image.lock"):
        if podman("image", "exists", BASE_IMAGE, env=env, check=False).returncode == 0:
            return 0.0
        started = time.monotonic()
        rootfs = workdir / "rootfs"
        shutil.rmtree(rootfs, ignore_errors=True)
        subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3,python3-venv", "bookworm",
             str(rootfs)],
            capture_output=True, check=True, timeout=900,
        )  # fmt: skip
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / cache, ignore_errors=True)
        with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
            podman_import = subprocess.run(
                ["podman", "import", "-", BASE_IMAGE],
                stdin=tar.stdout,
                env=dict(env),
                capture_output=True,
                timeout=600,
                check=False,
            )
        shutil.rmtree(rootfs, ignore_errors=True)
        assert podman_import.returncode == 0, podman_import.stderr.decode()
        return time.monotonic() - started


def use_stand_in_base(containerfile: Path) -> list[str]:
    """Point every stage of a rendered (throwaway) Containerfile at the stand-in base.

    The real Containerfile names its digest-pinned bases on literal ``FROM`` lines,
    where Dependabot can see and bump them; no build argument can override those,
    so the test's copy is rewritten instead. Returns the references replaced.
    """
    text = containerfile.read_text()
    replaced = [match.group(2) for match in _FROM.finditer(text)]
    containerfile.write_text(_FROM.sub(rf"\g<1>{BASE_IMAGE}", text))
    return replaced


def build_arguments() -> list[str]:
    """`podman build` arguments on this machine (after ``use_stand_in_base``)."""
    arguments = ["--layers=false", "--network", "host"]  # no intermediate images left behind
    if HOST_CA_BUNDLE.is_file():  # the registries are reached through a proxy with its own CA
        arguments += ["--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"]
    return arguments


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(url: str, seconds: float = 30) -> tuple[int, dict[str, str], bytes]:
    """Status, lower-cased headers and body of the first answer to ``url``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our http URL
                headers = {k.lower(): v for k, v in response.headers.items()}
                return response.status, headers, response.read()
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def inspect(name: str, env: Mapping[str, str]) -> dict[str, Any]:
    found: list[dict[str, Any]] = json.loads(podman("inspect", name, env=env).stdout)
    return found[0]


def main() -> None:
    """``python -m tests.podman``: build the stand-in base image now, saying so (scripts/test)."""
    workdir = Path.home() / ".cache" / "bulwark-tests" / "podman"
    env = {**os.environ, **engine_environment(workdir)}
    if podman("image", "exists", BASE_IMAGE, env=env, check=False).returncode == 0:
        print(f"base image: {BASE_IMAGE} is ready")
        return
    print(
        f"base image: building {BASE_IMAGE} with debootstrap (Debian bookworm, python3); "
        "about 1-2 minutes, once per machine...",
        flush=True,
    )
    print(f"base image: built in {ensure_base_image(workdir, env):.0f} s", flush=True)


if __name__ == "__main__":
    main()
