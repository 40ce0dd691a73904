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
import subprocess

import pytest

from course_servers import (BIN, CHROMIUM_ARGS, SCREENSHOTS, LabServer, LabWindow, Screenshots,
                            chromium_executable, copy_course, free_port, release_course, stop, wait_for_http)
from tests.forked_kernels import KernelForker, forked_kernels_unavailable

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


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


def new_context(browser):
    """A browser context (its own cookies) with the tests' window size and time limit."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(60_000)
    return context


@pytest.fixture
def new_page(browser):
    """``new_page()`` opens a page in a fresh browser context (its own cookies)."""
    contexts = []

    def open_page():
        contexts.append(new_context(browser))
        return contexts[-1].new_page()

    yield open_page
    for context in contexts:
        context.close()


# The test files that use JupyterLab (``lab_server``). ``make test`` runs the browser tests on two workers
# with ``--dist loadfile``; these files go to one of them together (``pytest_xdist_make_scheduler``), so that
# one JupyterLab is started and loaded instead of two (the browser phase side by side: 148 s and 266 CPU-s with
# two, 136 s and 239 CPU-s with one); the hub test runs on the other. ``pytest_collection_modifyitems`` keeps
# the list true.
JUPYTERLAB_FILES = ("tests/browser/test_student_lab.py", "tests/browser/test_homework_lab.py",
                    "tests/browser/test_report_page.py")


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's, absent with -p no:xdist
def pytest_xdist_make_scheduler(config, log):
    """With ``--dist loadfile``: whole files to each worker, the longest first, and the files of
    :data:`JUPYTERLAB_FILES` as one. (pytest-xdist's own ``--dist loadgroup`` cannot be used: with pytest 9
    it no longer sees its groups.) Any other ``--dist`` is left to pytest-xdist."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class OneJupyterLab(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return "jupyterlab" if scope in JUPYTERLAB_FILES else scope

    return OneJupyterLab(config, log)


def pytest_collection_modifyitems(config, items):
    """A test that uses JupyterLab outside :data:`JUPYTERLAB_FILES` would start a second one: say so."""
    outside = sorted({item.nodeid.split("::", 1)[0] for item in items
                      if "lab_server" in getattr(item, "fixturenames", ())} - set(JUPYTERLAB_FILES))
    if outside:
        raise pytest.UsageError(f"{', '.join(outside)}: uses JupyterLab (lab_server); add it to JUPYTERLAB_FILES in "
                                f"{__file__}, so that make test starts one JupyterLab for all of them")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test (``item.failed_phases``), for ``lab_window``."""
    report = yield
    if report.failed:
        item.failed_phases = getattr(item, "failed_phases", set()) | {report.when}
    return report


@pytest.fixture(scope="session")
def lab_window_of_this_worker(browser, lab_server):
    context = new_context(browser)
    yield LabWindow(lab_server, context)
    context.close()


@pytest.fixture
def lab_window(request, lab_window_of_this_worker):
    """The :class:`LabWindow` of ``lab_server`` (one per test worker): ``lab_window.open(path)``.
    After a test that failed, the next one gets JupyterLab loaded anew."""
    yield lab_window_of_this_worker
    if getattr(request.node, "failed_phases", None):
        lab_window_of_this_worker.discard()


@pytest.fixture(scope="session")
def lab_server(browser, tmp_path_factory):
    """JupyterLab as ``make lab`` starts it (same environment and extensions), on a copy of the course; its
    notebooks' kernels are forked (``tests/forked_kernels.py``) where that gives what a fresh one would.

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
    # Its notebooks' kernels (python3, the lectures' and Validate's) are forked from a process that imported
    # torch once, as nbval's are (tests/forked_kernels.py); where that cannot run, they start afresh.
    forker = (None if forked_kernels_unavailable(environment)
              else KernelForker(base / "kernel-forker", kernel_name="python3"))
    if forker is not None:
        environment["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(forker.jupyter_path),
                                                                   os.environ.get("JUPYTER_PATH")]))
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=root, env=environment, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api", process, log)
        yield LabServer(f"http://127.0.0.1:{port}", root)
    finally:
        stop(process)
        if forker is not None:
            forker.close()
