"""Fixtures for the browser tests: Debian's chromium driven by Playwright for Python.

Playwright's own browser download is unreachable here, so the tests launch the
system browser (``/usr/bin/chromium``, or ``COURSE_CHROMIUM``). ``make test``
installs it with apt-get when run as root; without it every browser test skips
with one line saying what to install.

Every step of a test is screenshotted into ``tests/browser/screenshots/<test>/``
(git-ignored), so a failing run can be looked at afterwards.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from lab_pages import ROOT

BIN = Path(sys.executable).parent
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

# --no-sandbox: the tests run as root in CI, where chromium's sandbox refuses to
# start. The rest keep a headless browser quiet and off the network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update",
    "--disable-default-apps", "--disable-sync", "--no-first-run",
    "--metrics-recording-only", "--disable-domain-reliability",
]


def chromium_executable() -> str | None:
    candidates = [os.environ.get("COURSE_CHROMIUM"), "/usr/bin/chromium",
                  shutil.which("chromium"), shutil.which("chromium-browser")]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 90,
                  any_status: bool = True) -> None:
    """Wait until ``url`` answers (with any HTTP status, or 200 only); fail with the log if ``process`` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except urllib.error.HTTPError:
            if any_status:
                return
            time.sleep(0.3)
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """Stop a server started in its own process group, and everything it started."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Screenshots:
    """Numbered screenshots of one test's steps: ``shots(page, "validated")``."""

    def __init__(self, folder: Path):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder, self.count = folder, 0

    def __call__(self, page, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=False)
        return path


@pytest.fixture
def shots(request) -> Screenshots:
    name = request.node.name.replace("/", "_").replace("[", "-").rstrip("]")
    return Screenshots(SCREENSHOTS / name)


@pytest.fixture(scope="session")
def browser():
    executable = chromium_executable()
    if executable is None:
        pytest.skip("browser tests need chromium: run 'make test' as root, or 'sudo apt-get install chromium'")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need Playwright for Python: run 'make install'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """``new_page()`` opens a page in a fresh browser context (its own cookies)."""
    contexts = []

    def open_page():
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(60_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def release_course(course_copy: Path, exchange: Path) -> None:
    """Release the homework of the course copy with the course's own command."""
    environment = {**os.environ, "COURSE_EXCHANGE": str(exchange), "PATH": f"{BIN}:{os.environ['PATH']}"}
    subprocess.run([sys.executable, "-m", "course_utils.grading", "release"], cwd=course_copy,
                   env=environment, check=True, capture_output=True, text=True)


def copy_course(destination: Path) -> Path:
    """A working copy of what ``make lab`` serves: lectures, the course root, its config.

    JupyterLab autosaves open notebooks, so the tests never serve the repository.
    """
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "lectures", destination / "lectures",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(ROOT / "assignments", destination / "assignments",
                    ignore=shutil.ignore_patterns("release", "submitted", "autograded", "feedback",
                                                  "gradebook.db", ".grading", "*.csv", ".ipynb_checkpoints"))
    shutil.copy(ROOT / "nbgrader_config.py", destination / "nbgrader_config.py")
    return destination


class LabServer:
    def __init__(self, url: str, root: Path):
        self.url, self.root = url, root

    def open(self, page, path: str):
        """Open ``path`` (relative to the server root) in JupyterLab and wait until it is up."""
        page.goto(f"{self.url}/lab/tree/{path}?reset")
        wait_for_lab(page, path)
        return page


def wait_for_lab(page, path: str = "") -> None:
    """Wait until JupyterLab started and, for a notebook, until it is open with its cells loaded."""
    page.wait_for_function("window.jupyterapp !== undefined", timeout=120_000)
    page.evaluate("() => window.jupyterapp.started")
    if path.endswith(".ipynb"):
        page.wait_for_function(
            """(path) => { const w = window.jupyterapp.shell.currentWidget;
                        return w && w.context && w.context.isReady && w.context.path.endsWith(path)
                               && w.content.widgets.length > 0; }""",
            arg=path.rsplit("/", 1)[-1], timeout=120_000)


@pytest.fixture(scope="session")
def lab_server(browser, tmp_path_factory):
    """JupyterLab as ``make lab`` starts it (same environment and extensions), on a copy of the course.

    Token and XSRF checks are off and ``window.jupyterapp`` is exposed so that
    the tests can script it; the server listens on 127.0.0.1 only.
    """
    base = tmp_path_factory.mktemp("lab")
    root = copy_course(base / "course")
    release_course(root, base / "exchange")
    port = free_port()
    log = base / "jupyter-lab.log"
    # A fresh user's settings, but JupyterLab does not ask about news (its popup covers the screenshots).
    notification = base / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text('{"fetchNews": "false", "checkForUpdates": false}')
    command = [
        str(BIN / "jupyter-lab"), "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}", "--IdentityProvider.token=",
        "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True", "--LabApp.expose_app_in_browser=True",
        f"--LabApp.workspaces_dir={base / 'workspaces'}", f"--LabApp.user_settings_dir={base / 'settings'}",
        "--allow-root",
    ]
    environment = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "COURSE_EXCHANGE": str(base / "exchange"),
                   "JUPYTER_CONFIG_DIR": str(base / "jupyter-config"), "OMP_NUM_THREADS": "1"}
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=root, env=environment, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api", process, log)
        yield LabServer(f"http://127.0.0.1:{port}", root)
    finally:
        stop(process)
