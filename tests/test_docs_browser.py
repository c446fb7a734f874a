"""Each framework's debug-mode API docs render in a real browser with no network but loopback.

The service runs as a developer runs it (``python -m <package> --debug``) on
127.0.0.1; headless Chromium reaches nothing else (its proxy is a closed port),
so a docs page that needs a CDN shows no operations, and the console shows the
blocked load. Needs Debian's ``chromium`` and ``chromium-driver`` packages.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from extensions.bulwark import DOCS_PATHS

from .harness import render, run, uv_environment, warm_uv_cache

PYTHON = "3.13"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
APT_PACKAGES = "chromium chromium-driver"
# An operation of the example API: in the DOM only once Swagger UI has run.
OPERATION = "/api/v1/items"
PROXY_VARIABLES = [f"{kind}_proxy" for kind in ("http", "https", "all")]
PROXY_VARIABLES += [name.upper() for name in PROXY_VARIABLES]
START_TIMEOUT = 30.0
RENDER_TIMEOUT = 20.0
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # needed as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but never listening: connecting to it is refused."""
    with socket.socket() as sink:
        sink.bind(("127.0.0.1", 0))
        yield int(sink.getsockname()[1])


@pytest.fixture
def browser(
    tmp_path: Path, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> Iterator[WebDriver]:
    """Headless Chromium whose only reachable host is 127.0.0.1 (the proxy is refused)."""
    for name in PROXY_VARIABLES:  # selenium would reach chromedriver through them
        monkeypatch.delenv(name, raising=False)
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: the browser test needs Debian's "
            f"Chromium and its driver (apt-get install -y {APT_PACKAGES})"
        )
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.add_argument(f"--proxy-server=http://127.0.0.1:{closed_port}")
    options.add_argument("--proxy-bypass-list=127.0.0.1")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(RENDER_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()


def _wait_until_up(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the service exited ({process.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the service did not answer /health in {START_TIMEOUT}s:\n{log.read_text()}")


@pytest.fixture
def serve_debug(tmp_path: Path) -> Iterator[Any]:
    """Start a rendered project in debug mode on a free loopback port; stop it after."""
    started: list[subprocess.Popen[bytes]] = []

    def start(project: Path) -> int:
        answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
        port = _free_port()
        log = tmp_path / "service.log"
        env = uv_environment(PYTHON, offline=True)
        for name in ("DEBUG", "HOST", "PORT", "API_KEYS", "TRUSTED_HOSTS"):
            env.pop(name, None)
        with log.open("wb") as output:
            process = subprocess.Popen(
                [
                    str(project / ".venv" / "bin" / "python"),
                    *("-m", answers["package_name"], "--debug", "--port", str(port)),
                ],
                cwd=project,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: the server's workers stop with it
            )
        started.append(process)
        _wait_until_up(process, port, log)
        return port

    yield start
    for process in started:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def _console(driver: WebDriver) -> list[dict[str, Any]]:
    """The console entries logged since the last call (chromedriver clears them on reading)."""
    return cast(list[dict[str, Any]], driver.get_log("browser"))  # type: ignore[no-untyped-call]


def _problems(entries: list[dict[str, Any]]) -> list[str]:
    """Console entries that mean a blocked or failed load (CSP, network, script error)."""
    return [
        entry["message"]
        for entry in entries
        if entry["level"] == "SEVERE"
        or "Content Security Policy" in entry["message"]
        or "Failed to load resource" in entry["message"]
    ]


@pytest.mark.parametrize("framework", sorted(DOCS_PATHS))
def test_debug_docs_render_offline(
    framework: str,
    template: Path,
    shared_dir: Path,
    tmp_path: Path,
    browser: WebDriver,
    serve_debug: Any,
) -> None:
    warm_uv_cache(template, shared_dir, PYTHON)
    project = render(template, tmp_path / framework, {"framework": framework})
    run(["uv", "sync", "--no-dev"], project, uv_environment(PYTHON, offline=True))
    port = serve_debug(project)

    url = f"http://127.0.0.1:{port}{DOCS_PATHS[framework]}"
    browser.get(url)
    try:
        WebDriverWait(browser, RENDER_TIMEOUT).until(
            lambda driver: OPERATION in driver.find_element(By.TAG_NAME, "body").text
        )
    except Exception as error:
        console = "\n".join(entry["message"] for entry in _console(browser))
        raise AssertionError(
            f"{url}: no {OPERATION} operation rendered ({error!r}); console:\n{console}"
        ) from error
    time.sleep(0.5)  # late loads (fonts, images, favicon) report after the first render
    problems = _problems(_console(browser))
    assert not problems, f"{url}: the console reports failed or blocked loads:\n" + "\n".join(
        problems
    )
