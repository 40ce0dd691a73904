"""The offline world every test and notebook runs in under pytest.

It lives at the repository root so that it applies however pytest is started:
``make test``, ``pytest tests/test_data.py`` or ``pytest lectures/07_notmnist.ipynb``.
Before any test or notebook kernel starts, ``pytest_configure``

* generates a small notMNIST-format archive with ``make_synthetic_notmnist``,
* serves it over HTTP on 127.0.0.1 from a background thread,
* points ``NOTMNIST_URL`` at it, so notebooks run the same download code a
  student runs, with ``COURSE_DATA_DIR`` and ``COURSE_ARTIFACTS_DIR`` in a
  temporary folder (the repository is never written to),
* sets ``COURSE_QUICK_RUN=1``, the documented switch that shortens training.

nbval kernels inherit this process's environment, which is why this happens
in a hook rather than in a fixture. Fixtures for the unit tests are in
``tests/conftest.py``; the order in which ``make test``'s workers take test
files is ``tests/run_order.py``'s, a plugin loaded here.
"""
from __future__ import annotations

import functools
import gc
import http.server
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

pytest_plugins = ["tests.run_order"]

SYNTHETIC_PER_CLASS = 200
SYNTHETIC_SEED = 0


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep test output clean
        pass

    def do_GET(self):
        # /truncated/<file>: announce the whole file, send half, hang up
        # (a download cut off mid-way).
        if self.path.startswith("/truncated/"):
            path = Path(self.directory) / self.path[len("/truncated/"):]
            data = path.read_bytes() if path.is_file() else b""
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        super().do_GET()


def serve_directory(directory: Path) -> http.server.ThreadingHTTPServer:
    """Serve ``directory`` on an ephemeral 127.0.0.1 port from a daemon thread."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def pytest_configure(config):
    from course_utils.synthetic import make_synthetic_notmnist

    workdir = Path(tempfile.mkdtemp(prefix="course-tests-"))
    served = workdir / "served"
    served.mkdir()
    make_synthetic_notmnist(
        served / "notMNIST_small.tar.gz", per_class=SYNTHETIC_PER_CLASS, seed=SYNTHETIC_SEED
    )
    server = serve_directory(served)
    config._course_test_world = (workdir, server)
    host, port = server.server_address[:2]
    os.environ["NOTMNIST_URL"] = f"http://{host}:{port}/notMNIST_small.tar.gz"
    os.environ["COURSE_DATA_DIR"] = str(workdir / "data")
    os.environ["COURSE_ARTIFACTS_DIR"] = str(workdir / "artifacts")
    os.environ["COURSE_QUICK_RUN"] = "1"
    # Tests never touch the machine's own nbgrader exchange (/usr/local/share/nbgrader/exchange, used when
    # it exists; on a class server it does, and belongs to someone else): a release goes to this one.
    os.environ["COURSE_EXCHANGE"] = str(workdir / "exchange")


@pytest.hookimpl(hookwrapper=True)
def pytest_collection(session):
    """Collecting imports torch, torchvision, nbgrader and the tests: no cyclic garbage collection while it
    does (each would walk everything imported so far), and what it made is frozen afterwards
    (:func:`gc.freeze`), so that the run's later collections walk only what its tests make
    (``make test-fast``: 2.2 -> 0.3 CPU-s of collections). ``pytest_unconfigure`` unfreezes it."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.freeze()


def pytest_collection_modifyitems(config, items):
    """Marks by what a test needs: notebooks are ``slow``, tests/browser/ is
    ``browser`` (and slow), a test that creates Unix users is ``root``."""
    browser_folder = Path(__file__).resolve().parent / "tests" / "browser"
    for item in items:
        path = Path(str(item.path))
        if path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
        if browser_folder in path.parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)
        if "unix_users" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.root)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item):
    """A notebook's kernel (started when its first cell is set up) is forked from a process that imported
    torch once (``tests/forked_kernels.py``) where that gives the kernel a fresh one would have; nbval's
    ``--nbval-current-env`` kernel otherwise. Its kernelspec is on ``JUPYTER_PATH`` while the kernel
    starts (the kernel's environment keeps it); for every other test the variable is left alone."""
    if Path(str(item.path)).suffix != ".ipynb" or not _use_forked_kernels(item.config):
        yield
        return
    jupyter_path = os.environ.get("JUPYTER_PATH")
    ours = os.pathsep.join(filter(None, [str(item.config._course_kernel_forker.jupyter_path), jupyter_path]))
    os.environ["JUPYTER_PATH"] = ours
    try:
        yield
    finally:
        if os.environ.get("JUPYTER_PATH") == ours:
            if jupyter_path is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = jupyter_path


def _use_forked_kernels(config) -> bool:
    """Start this process's kernel forker at the first notebook and have nbval use its kernelspec."""
    if not hasattr(config, "_course_kernel_forker"):
        from tests.forked_kernels import KERNEL_NAME, KernelForker, forked_kernels_unavailable

        config._course_kernel_forker = None
        if forked_kernels_unavailable(os.environ) is None and config.option.nbval_current_env:
            workdir, _ = config._course_test_world
            try:
                config._course_kernel_forker = KernelForker(workdir / "kernel-forker")
            except RuntimeError as error:  # every notebook fails with it, not only the first
                config._course_kernel_forker = error
            config.option.nbval_current_env = False
            config.option.nbval_kernel_name = KERNEL_NAME
    if isinstance(config._course_kernel_forker, Exception):
        raise config._course_kernel_forker
    return config._course_kernel_forker is not None


def pytest_unconfigure(config):
    gc.unfreeze()  # at exit, torch's bindings would list what is still frozen as leaked
    forker = getattr(config, "_course_kernel_forker", None)
    if forker is not None and not isinstance(forker, Exception):
        forker.close()
    world = getattr(config, "_course_test_world", None)
    if world is not None:
        workdir, server = world
        server.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def synthetic_archive_url() -> str:
    """URL of the generated notMNIST archive served on loopback for this session."""
    return os.environ["NOTMNIST_URL"]


@pytest.fixture(scope="session")
def http_folder(tmp_path_factory):
    """``(folder, base_url)``: a temporary folder served on 127.0.0.1 for this session.

    A missing file answers 404; ``base_url + "/truncated/<file>"`` sends half of
    ``<file>`` after announcing all of it.
    """
    folder = tmp_path_factory.mktemp("http-served")
    server = serve_directory(folder)
    host, port = server.server_address[:2]
    yield folder, f"http://{host}:{port}"
    server.shutdown()
    server.server_close()
