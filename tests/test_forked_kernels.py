"""The tests' forked notebook kernels (tests/forked_kernels.py): what a kernel started afresh gives a
notebook, each in a process of its own that ends with its launcher."""
from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import time

import pytest

from tests import forked_kernels
from tests.forked_kernels import KERNEL_NAME, KernelForker, forked_kernels_unavailable

pytestmark = pytest.mark.slow

ONE_THREAD = {"OMP_NUM_THREADS": "1"}


def test_kernels_are_forked_only_for_the_settings_the_forker_imported_with():
    if not hasattr(os, "pidfd_open"):
        pytest.skip("forked test kernels need os.pidfd_open")
    assert forked_kernels_unavailable(ONE_THREAD) is None
    assert "OMP_NUM_THREADS" in forked_kernels_unavailable({})  # a fresh kernel would use every core
    assert "OMP_NUM_THREADS" in forked_kernels_unavailable({"OMP_NUM_THREADS": "4"})
    assert "MKL_NUM_THREADS" in forked_kernels_unavailable({**ONE_THREAD, "MKL_NUM_THREADS": "2"})
    assert "MPLBACKEND" in forked_kernels_unavailable({**ONE_THREAD, "MPLBACKEND": "agg"})


@pytest.fixture(scope="module")
def forker(tmp_path_factory):
    reason = forked_kernels_unavailable(ONE_THREAD)
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
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
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


def run(client, code: str, expression: str = "None"):
    """Run ``code``, then evaluate ``expression`` in the kernel: (its value, the execute reply's content). The
    value comes back in the reply itself: printed output may reach the client after the kernel says idle."""
    content = client.execute_interactive(code, user_expressions={"value": expression}, timeout=60,
                                         output_hook=lambda message: None)["content"]
    value = content.get("user_expressions", {}).get("value", {})
    return (ast.literal_eval(value["data"]["text/plain"]) if value.get("status") == "ok" else None), content


def kernel_pid(client) -> int:
    return run(client, "import os", "os.getpid()")[0]


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_until_gone(*pids: int, seconds: float = 20) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(running(pid) for pid in pids):
        time.sleep(0.1)
    return [pid for pid in pids if running(pid)]


def test_the_kernel_gets_the_launchers_folder_environment_and_streams(kernel, tmp_path):
    manager, client = kernel
    launcher = manager.provisioner.process.pid
    seen, reply = run(client, "import os, sys, matplotlib",
                      "[os.getcwd(), sys.path[0], os.environ['COURSE_FORKED_KERNEL_TEST'],"
                      " matplotlib.get_backend(), 'torch' in sys.modules]")
    assert reply["status"] == "ok"
    assert seen == [str(tmp_path), str(tmp_path), "from the launcher",
                    "module://matplotlib_inline.backend_inline", True]
    streams, _ = run(client, "import os", "[os.readlink(f'/proc/self/fd/{fd}') for fd in (0, 1, 2)]")
    assert streams == [os.readlink(f"/proc/{launcher}/fd/{fd}") for fd in (0, 1, 2)]


def test_an_interrupt_reaches_the_running_cell(kernel):
    manager, client = kernel
    asked = client.execute("import time\ntime.sleep(60)")
    while True:  # interrupt only once the cell runs: an idle kernel ignores it
        message = client.get_iopub_msg(timeout=30)
        if message["parent_header"].get("msg_id") == asked and message["msg_type"] == "execute_input":
            break
    time.sleep(0.5)
    manager.interrupt_kernel()
    reply = client.get_shell_msg(timeout=30)
    assert (reply["content"]["status"], reply["content"].get("ename")) == ("error", "KeyboardInterrupt")
    # The kernel lives on. After an error, ipykernel aborts the execute requests that reach it while it is still
    # flushing its queue (status "aborted", any kernel): on a loaded machine the next request can be one of them.
    for _ in range(5):
        out, content = run(client, "pass", "'still here'")
        if content["status"] != "aborted":
            break
    assert out == "still here", content


def test_a_restart_gives_a_new_process_that_remembers_nothing_of_the_last(kernel):
    manager, client = kernel
    first = kernel_pid(client)
    run(client, "import torch\ntorch.left_behind = 1")
    client.stop_channels()  # its sockets share the session's identity with the next client's: one at a time
    manager.restart_kernel(now=False)
    again = manager.client()
    again.start_channels()
    try:
        again.wait_for_ready(timeout=60)
        assert kernel_pid(again) != first
        out, _ = run(again, "import torch", "hasattr(torch, 'left_behind')")
        assert out is False
    finally:
        again.stop_channels()
    assert wait_until_gone(first) == []


def test_a_shutdown_ends_the_kernel(kernel):
    manager, client = kernel
    pid = kernel_pid(client)
    manager.shutdown_kernel(now=False)
    assert wait_until_gone(pid) == []


def test_killing_the_launcher_ends_the_kernel_and_what_it_started(kernel):
    manager, client = kernel
    (pid, child), _ = run(client, "import os, subprocess\nchild = subprocess.Popen(['sleep', '300'])",
                          "[os.getpid(), child.pid]")
    manager.provisioner.process.send_signal(signal.SIGKILL)  # what a kernel manager's kill does
    assert wait_until_gone(pid, child) == []


def test_the_forker_holds_one_thread(forker):
    """Forking copies only the calling thread: a thread pool started by an import would be half there."""
    with open(f"/proc/{forker.process.pid}/status") as status:
        threads = next(line for line in status if line.startswith("Threads:"))
    assert threads.split() == ["Threads:", "1"]


def test_the_forker_refuses_a_kernel_that_asks_for_other_import_settings(forker, tmp_path):
    """torch was imported with one math thread: a kernel asking for four would silently get one."""
    launched = subprocess.run([sys.executable, "-I", "-S", forked_kernels.__file__, "launch", forker.socket_path,
                               "-f", str(tmp_path / "kernel.json")], env={**os.environ, "OMP_NUM_THREADS": "4"},
                              capture_output=True, text=True, timeout=60)
    assert launched.returncode == 1
    assert "no kernel forked" in launched.stderr and "OMP_NUM_THREADS='4'" in launched.stderr
