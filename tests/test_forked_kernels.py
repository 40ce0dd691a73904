"""The tests' forked notebook kernels (tests/forked_kernels.py): they behave as kernels started afresh."""
from __future__ import annotations

import signal
import time

import pytest

from tests.forked_kernels import KERNEL_NAME, KernelForker, forked_kernels_unavailable

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def forker(tmp_path_factory):
    reason = forked_kernels_unavailable()
    if reason:
        pytest.skip(reason)
    forker = KernelForker(tmp_path_factory.mktemp("forker"))
    yield forker
    forker.close()


@pytest.fixture
def kernel(forker, tmp_path, monkeypatch):
    """A kernel from the forker's kernelspec, started as nbval starts one (in ``tmp_path``), and its client."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    monkeypatch.setenv("JUPYTER_PATH", str(forker.jupyter_path))
    monkeypatch.setenv("COURSE_FORKED_KERNEL_TEST", "from the launcher")
    manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=KernelSpecManager())
    manager.start_kernel(cwd=str(tmp_path))
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    yield manager, client
    client.stop_channels()
    if manager.has_kernel:
        manager.shutdown_kernel(now=True)


def run(client, code: str) -> tuple[str, dict]:
    said = []

    def keep(message):
        if message["msg_type"] == "stream":
            said.append(message["content"]["text"])

    reply = client.execute_interactive(code, output_hook=keep, timeout=60)
    return "".join(said).strip(), reply["content"]


def kernel_pid(client) -> int:
    out, _ = run(client, "import os; print(os.getpid())")
    return int(out)


def test_the_kernel_works_where_its_launcher_was_started_with_the_launchers_environment(kernel, tmp_path):
    _, client = kernel
    out, reply = run(client, "import os, sys, matplotlib\n"
                             "print(os.getcwd(), sys.path[0], os.environ['COURSE_FORKED_KERNEL_TEST'],"
                             " matplotlib.get_backend(), 'torch' in sys.modules, sep='|')")
    assert reply["status"] == "ok"
    assert out.split("|") == [str(tmp_path), str(tmp_path), "from the launcher",
                              "module://matplotlib_inline.backend_inline", "True"]


def test_an_interrupt_reaches_the_running_cell(kernel):
    manager, client = kernel
    client.execute("import time\ntime.sleep(60)")
    time.sleep(1)
    manager.interrupt_kernel()
    reply = client.get_shell_msg(timeout=20)
    assert (reply["content"]["status"], reply["content"].get("ename")) == ("error", "KeyboardInterrupt")
    out, _ = run(client, "print('still here')")
    assert out == "still here"


def test_a_restart_gives_a_new_process_that_remembers_nothing_of_the_last(kernel):
    manager, client = kernel
    first = kernel_pid(client)
    run(client, "import torch\ntorch.left_behind = 1")
    manager.restart_kernel(now=False)
    again = manager.client()
    again.start_channels()
    try:
        again.wait_for_ready(timeout=60)
        assert kernel_pid(again) != first
        out, _ = run(again, "import torch\nprint(hasattr(torch, 'left_behind'))")
        assert out == "False"
    finally:
        again.stop_channels()


def test_the_kernel_ends_when_its_launcher_is_killed(kernel):
    manager, client = kernel
    pid = kernel_pid(client)
    manager.provisioner.process.send_signal(signal.SIGKILL)  # what a kernel manager's kill does
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _running(pid):
        time.sleep(0.1)
    assert not _running(pid)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_forker_holds_one_thread(forker):
    """Forking copies only the calling thread: a thread pool started by an import would be half there."""
    with open(f"/proc/{forker.process.pid}/status") as status:
        threads = next(line for line in status if line.startswith("Threads:"))
    assert threads.split() == ["Threads:", "1"]
