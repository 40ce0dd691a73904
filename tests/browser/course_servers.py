"""Servers, browser settings and screenshots shared by the browser tests (the fixtures are in conftest.py).

Test modules import these from here: ``conftest`` is a name three folders of
this repository use.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

from lab_pages import ROOT

BIN = Path(sys.executable).parent
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"

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


# Closes every document without asking (a notebook that ran is unsaved) and shuts down every
# kernel, as a student closing their tabs and choosing "Shut Down All" would.
CLOSE_EVERYTHING = """async () => {
  const app = window.jupyterapp;
  for (const widget of Array.from(app.shell.widgets('main'))) widget.dispose();
  // JupyterLab puts a Launcher into an empty main area a moment later, in front of whatever opened
  // meanwhile: open it now, behind the next document.
  if (app.shell.isEmpty('main')) await app.commands.execute('launcher:create');
  await app.serviceManager.sessions.refreshRunning();
  await app.serviceManager.sessions.shutdownAll();
  await app.serviceManager.kernels.shutdownAll();
  return document.querySelectorAll('.jp-Dialog').length;
}"""


# Returns nothing: what the command returns (the document's widget) would be serialised to Python.
OPEN_DOCUMENT = "async (path) => { await window.jupyterapp.commands.execute('docmanager:open', {path}); }"


class LabWindow:
    """One JupyterLab window in which tests open documents one after another, as a student does.

    Loading JupyterLab costs a headless chromium about 5 CPU-s (its scripts, every time: a new
    page or browser context shares nothing); opening a document in a loaded JupyterLab under
    1 CPU-s. :meth:`open` dismisses the dialog the previous test ended on, closes what it
    left open, shuts its kernels down and opens the next document; a window it cannot clean up
    (a crashed page, a dialog that does not close) is replaced by a freshly loaded one.
    """

    def __init__(self, server: LabServer, context):
        self.server, self.context, self.page = server, context, None

    def open(self, path: str):
        """Open ``path`` (relative to the server root) in the window and wait until it is up."""
        page = self.page
        if page is not None and not page.is_closed():
            from playwright.sync_api import Error as PlaywrightError

            try:
                page.wait_for_function("() => true", timeout=10_000)  # a page stuck in a script fails here
                for _ in range(3):  # the dialog a test ended on (Validate's answer, say)
                    if page.locator(".jp-Dialog").count() == 0:
                        break
                    page.keyboard.press("Escape")
                dialogs = page.evaluate(CLOSE_EVERYTHING)
                if dialogs == 0:
                    page.evaluate(OPEN_DOCUMENT, path)
                    wait_for_lab(page, path, seconds=60)
                    return page
                reason = f"{dialogs} dialog(s) would not close"
            except PlaywrightError as error:
                reason = str(error).splitlines()[0]
            warnings.warn(f"JupyterLab loaded anew to open {path}: {reason}", stacklevel=2)
        self.discard()
        self.page = self.server.open(self.context.new_page(), path)
        return self.page

    def discard(self) -> None:
        """Close the page, so that the next :meth:`open` loads JupyterLab anew (after a failed test:
        what it left running, a Validate answer still on its way, say, must not reach the next)."""
        if self.page is not None and not self.page.is_closed():
            self.page.close()
        self.page = None


# What Playwright says when the page was loaded anew while it waited on it (JupyterLab may
# reload itself after ``?reset``; on a busy machine that can fall inside a wait, seen once).
RELOADED = ("garbage collected", "Execution context was destroyed", "navigat")


def wait_for_lab(page, path: str = "", seconds: float = 120.0) -> None:
    """Wait until JupyterLab started and, for a notebook, until it is open with its cells loaded.

    A wait that the page's own reload cut short is started again, until ``seconds`` have passed.
    """
    from playwright.sync_api import Error as PlaywrightError

    deadline = time.monotonic() + seconds
    while True:
        try:
            page.wait_for_function("window.jupyterapp !== undefined", timeout=seconds * 1000)
            page.evaluate("() => window.jupyterapp.started")
            if path.endswith(".ipynb"):
                page.wait_for_function(
                    """(path) => { const w = window.jupyterapp.shell.currentWidget;
                                return w && w.context && w.context.isReady && w.context.path.endsWith(path)
                                       && w.content.widgets.length > 0; }""",
                    arg=path.rsplit("/", 1)[-1], timeout=seconds * 1000)
            return
        except PlaywrightError as error:
            if time.monotonic() > deadline or not any(said in str(error) for said in RELOADED):
                raise
            time.sleep(0.5)
