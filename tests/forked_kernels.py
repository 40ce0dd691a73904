"""Notebook kernels for the tests, forked from one process that has already imported torch.

nbval runs every notebook in a kernel of its own, and so does JupyterLab in the browser tests; each
kernel's first cell imports torch, torchvision and matplotlib, about 3 CPU-s before the notebook's own
work, some twenty times in a ``make test``. A :class:`KernelForker` (one per pytest worker, started at
first need) is a process that imports them once; the kernelspec it writes runs a small launcher,

    python -I -S tests/forked_kernels.py launch SOCKET -f {connection_file}

which hands the forker its working folder, environment and standard streams. The forker forks, and
the child becomes an ordinary ipykernel on that connection file: a new process per notebook, from
memory in which nothing ran but imports (``make autograde`` forks its graders' kernels the same way,
``course_utils.grading.kernel_zygote``). Towards its kernel manager the launcher stands for the
kernel: the signals it gets (interrupt, terminate) go to the kernel, it ends when the kernel ends, and
the kernel ends when the launcher does, killed included.

What differs from a kernel started afresh: the modules were imported before the kernel's environment
was set (the forker runs with one math thread, as ``make test`` gives every kernel, and with
matplotlib's inline backend, as ipykernel sets it), and Python's hash seed is the forker's. Where the
forker cannot run (not Linux, no ``os.pidfd_open``), :func:`forked_kernel_name` says why and the tests
start kernels as before.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys

KERNEL_NAME = "course-forked-python3"
PRELOADED = ("ipykernel.kernelapp", "ipykernel.ipkernel", "numpy", "torch", "torchvision", "matplotlib.pyplot")
MAX_REQUEST = 1 << 20  # bytes of a launcher's request (its environment)
START_SECONDS = 120.0  # for the forker's imports on a busy machine


# -- the launcher (standard library only: it starts for every kernel) ------------------------


def launch(socket_path: str, kernel_args: list[str]) -> int:
    """Ask the forker at ``socket_path`` for a kernel with ``kernel_args``; stand for it until it ends."""
    with socket.socket(socket.AF_UNIX) as connection:
        connection.connect(socket_path)
        request = {"cwd": os.getcwd(), "env": dict(os.environ), "args": kernel_args, "launcher": os.getpid()}
        socket.send_fds(connection, [json.dumps(request).encode()], [0, 1, 2])
        connection.shutdown(socket.SHUT_WR)
        reply = connection.makefile().readline()
    kernel = int(reply) if reply.strip().isdigit() else 0
    if kernel <= 0:
        print(f"no kernel forked: {reply.strip() or 'the forker closed the line'}", file=sys.stderr)
        return 1
    kernel_ended = os.pidfd_open(kernel)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, lambda number, frame: os.kill(kernel, number))
    # A kernel started by jupyter_client ends when its parent (the kernel manager's process) does.
    manager_ended = os.pidfd_open(os.getppid())
    ended, _, _ = select.select([kernel_ended, manager_ended], [], [])  # retried after each signal (PEP 475)
    if kernel_ended not in ended:
        os.kill(kernel, signal.SIGKILL)
    return 0


# -- the forker ---------------------------------------------------------------------------


def serve(socket_path: str) -> None:
    """Import :data:`PRELOADED`, listen on ``socket_path``, say ``ready`` on stdout, fork a kernel per
    request until stdin closes (the pytest worker that started this ended)."""
    import gc

    gc.disable()  # no collection while importing: it would walk everything imported so far, again and again
    for name in PRELOADED:
        __import__(name)
    gc.freeze()
    gc.enable()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # kernels vanish when they end: nothing to reap
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(socket_path)
    listener.listen(16)
    print("ready", flush=True)
    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 1024):
            return
        if listener in ready:
            connection, _ = listener.accept()
            with connection:
                _fork_one(listener, connection)


def _fork_one(listener: socket.socket, connection: socket.socket) -> None:
    message, fds = b"", []
    while True:
        chunk, more_fds, _, _ = socket.recv_fds(connection, MAX_REQUEST, 3)
        message, fds = message + chunk, fds + more_fds
        if not chunk:
            break
    try:
        request = json.loads(message)
        pid = os.fork() if len(fds) == 3 else -1
    except (ValueError, OSError) as error:
        connection.sendall(f"{type(error).__name__}: {error}\n".encode())
        pid = None
    if pid == 0:
        try:
            listener.close()
            connection.close()
            _become_kernel(request, fds)
        finally:
            os._exit(1)
    for fd in fds:
        os.close(fd)
    if pid is not None:
        connection.sendall(f"{pid}\n".encode())


def _become_kernel(request: dict, fds: list[int]) -> None:
    """In the forked child: take the launcher's streams, folder and environment, then run ipykernel."""
    os.setsid()
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin, sys.stdout, sys.stderr = (os.fdopen(0, "r"), os.fdopen(1, "w", buffering=1),
                                         os.fdopen(2, "w", buffering=1))
    launcher_ended = os.pidfd_open(int(request["launcher"]))  # ProcessLookupError: gone already, so are we
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[0] = request["cwd"]  # as `python -m ipykernel_launcher` run there has it
    import tempfile
    import threading

    import numpy

    tempfile.tempdir = None  # found anew from this environment
    numpy.random.seed()  # numpy's global generator: fresh entropy, as in a new process (random reseeds itself)

    def end_with_the_launcher():
        select.select([launcher_ended], [], [])
        os._exit(1)

    threading.Thread(target=end_with_the_launcher, name="launcher-watch", daemon=True).start()
    from ipykernel.kernelapp import IPKernelApp

    sys.argv = ["ipykernel_launcher", *request["args"]]
    app = IPKernelApp.instance(parent_handle=1)  # its parent is the forker: the launcher watches the manager
    try:
        app.initialize(request["args"])
        app.start()
    finally:
        import atexit

        threading._shutdown()
        atexit._run_exitfuncs()
        os._exit(0)


# -- the tests' side ----------------------------------------------------------------------


def forked_kernels_unavailable() -> str | None:
    """Why this machine cannot fork the tests' kernels (then they start afresh), or None."""
    if not sys.platform.startswith("linux") or not hasattr(os, "pidfd_open"):
        return "forked test kernels need Linux and os.pidfd_open"
    return None


class KernelForker:
    """A forker process and the kernelspec (:data:`KERNEL_NAME`, in :attr:`jupyter_path`'s
    ``kernels/``) whose kernels it forks; :meth:`close` ends it (kernels it forked live on until their
    launchers end)."""

    def __init__(self, folder, kernel_name: str = KERNEL_NAME, display_name: str = "Python 3 (ipykernel)"):
        import subprocess
        import time
        from pathlib import Path

        folder = Path(folder)
        self.jupyter_path = folder / "jupyter"
        socket_path = str(folder / "forker.sock")
        spec = self.jupyter_path / "kernels" / kernel_name
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-I", "-S", os.path.abspath(__file__), "launch", socket_path,
                     "-f", "{connection_file}"],
            "display_name": display_name, "language": "python", "metadata": {"debugger": True}}))
        env = {name: value for name, value in os.environ.items() if name != "JPY_PARENT_PID"}
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   MPLBACKEND="module://matplotlib_inline.backend_inline")
        self.process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "serve", socket_path],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
        started = time.monotonic()
        ready, _, _ = select.select([self.process.stdout], [], [], START_SECONDS)
        if not ready or self.process.stdout.readline().strip() != "ready":
            self.close()
            raise RuntimeError(f"the kernel forker did not start within {time.monotonic() - started:.0f} s")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except Exception:  # noqa: BLE001 (stuck: end it)
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["launch"] and len(sys.argv) >= 4:
        sys.exit(launch(sys.argv[2], sys.argv[3:]))
    if sys.argv[1:2] == ["serve"] and len(sys.argv) == 3:
        serve(sys.argv[2])
        os._exit(0)  # no interpreter teardown: torch's bindings would list what gc.freeze kept as leaks
    sys.exit("usage: forked_kernels.py launch SOCKET -f CONNECTION_FILE | serve SOCKET")
