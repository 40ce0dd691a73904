"""Notebook kernels for the tests, forked from one process that has already imported torch.

nbval runs every notebook in a kernel of its own, and so does JupyterLab in the browser tests; each
kernel's first cell imports torch, torchvision and matplotlib, about 3 CPU-s before the notebook's own
work, some twenty times in a ``make test``. A :class:`KernelForker` (one per pytest worker, started at
first need) is a process that imports them once; the kernelspec it writes runs a small launcher,

    python -I -S tests/forked_kernels.py launch SOCKET -f {connection_file}

which hands the forker its working folder, environment and standard streams. The forker forks, and
the child becomes an ordinary ipykernel on that connection file, in a process group of its own: a new
process per notebook, from memory in which nothing ran but imports (``make autograde`` forks its
graders' kernels the same way, ``course_utils.grading.kernel_zygote``). Towards its kernel manager the
launcher stands for the kernel: the signals it gets (an interrupt, a terminate) go to the kernel's
process group, it ends when the kernel ends, and when it ends (killed by its manager, or its manager
gone) the forker kills the kernel's process group.

What differs from a kernel started afresh: the modules were imported before the kernel's environment
was set, and Python's hash seed is the forker's. So the forker imports with one math thread and
matplotlib's inline backend, and refuses a kernel whose environment asks for others
(:data:`SET_AT_IMPORT`); :func:`forked_kernels_unavailable` tells the tests when not to use it (then
kernels start afresh). A forker that cannot start is an error, not a silent fallback.
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
# Read by the preloaded modules when they are imported (the math libraries' thread pools, matplotlib's
# backend): a forked kernel has the forker's, so a kernel's environment must ask for the same.
SET_AT_IMPORT = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                 "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
MAX_REQUEST = 1 << 20  # bytes of a launcher's request (its environment)
START_SECONDS = 120.0  # for the forker's imports on a busy machine
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def forked_kernels_unavailable(environ) -> str | None:
    """Why kernels started with ``environ`` cannot be forked here (then they start afresh), or None."""
    if not sys.platform.startswith("linux") or not hasattr(os, "pidfd_open"):
        return "forked test kernels need Linux and os.pidfd_open"
    for name, value in SET_AT_IMPORT.items():
        if environ.get(name, value if name != "OMP_NUM_THREADS" else None) != value:
            return f"{name}={environ.get(name)!r}: forked kernels import torch with {name}={value}"
    return None


# -- the launcher (standard library only: it starts for every kernel) ------------------------


def launch(socket_path: str, kernel_args: list[str]) -> int:
    """Ask the forker at ``socket_path`` for a kernel with ``kernel_args``; stand for it until it ends."""
    manager = os.getppid()
    # A kernel started by jupyter_client ends when its parent (the kernel manager's process) does.
    manager_ended = os.pidfd_open(manager)
    if os.getppid() != manager:
        return 1  # the manager ended before we could watch it
    pending: list[int] = []
    kernel_ended = None

    def forward(number, frame):
        if kernel_ended is None:
            pending.append(number)  # before the kernel exists: sent once it does
        else:
            signal_kernel(kernel, kernel_ended, number)

    for signum in FORWARDED:
        signal.signal(signum, forward)
    with socket.socket(socket.AF_UNIX) as connection:
        connection.connect(socket_path)
        request = {"cwd": os.getcwd(), "env": dict(os.environ), "args": kernel_args, "launcher": os.getpid()}
        socket.send_fds(connection, [json.dumps(request).encode()], [0, 1, 2])
        connection.shutdown(socket.SHUT_WR)
        reply = connection.makefile().readline().strip()
    if not reply.isdigit():
        print(f"no kernel forked: {reply or 'the forker closed the line'}", file=sys.stderr)
        return 1
    kernel = int(reply)
    try:
        kernel_ended = os.pidfd_open(kernel)  # the forker reaps it only after this launcher ended: no reuse
    except ProcessLookupError:
        return 1
    for number in pending:
        signal_kernel(kernel, kernel_ended, number)
    select.select([kernel_ended, manager_ended], [], [])  # retried after each forwarded signal (PEP 475)
    return 0  # the forker kills the kernel's group if it still runs


def signal_kernel(kernel: int, kernel_ended: int, number: int) -> None:
    """Send ``number`` to the kernel's process group (to the kernel alone while it has not made it yet)."""
    try:
        os.killpg(kernel, number)
    except ProcessLookupError:
        try:
            signal.pidfd_send_signal(kernel_ended, number)
        except ProcessLookupError:
            pass


# -- the forker ---------------------------------------------------------------------------


def serve(socket_path: str) -> None:
    """Import :data:`PRELOADED`, listen on ``socket_path``, say ``ready`` on stdout, fork a kernel per
    request until stdin closes (the pytest worker that started this ended); then kill what still runs."""
    import gc

    os.environ.update(SET_AT_IMPORT)
    gc.disable()  # no collection while importing: it would walk everything imported so far, again and again
    for name in PRELOADED:
        __import__(name)
    gc.freeze()
    gc.enable()
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(socket_path)
    listener.listen(16)
    print("ready", flush=True)
    launchers: dict[int, int] = {}  # a launcher's pidfd -> its kernel's pid (and process group)
    ended: set[int] = set()  # kernels whose launchers ended, to reap
    try:
        while True:
            ready, _, _ = select.select([listener, sys.stdin, *launchers], [], [])
            for pidfd in [fd for fd in ready if fd in launchers]:
                kernel = launchers.pop(pidfd)
                os.close(pidfd)
                _kill_kernel(kernel)
                ended.add(kernel)
            # Reaped only once its launcher has ended: until then a kernel's pid is its own, and whatever
            # signals it (the launcher, the line above) cannot reach another process.
            ended = {kernel for kernel in ended if os.waitpid(kernel, os.WNOHANG)[0] == 0}
            if sys.stdin in ready and not os.read(sys.stdin.fileno(), 1024):
                return
            if listener in ready:
                connection, _ = listener.accept()
                try:
                    with connection:
                        _fork_one(listener, connection, launchers)
                except OSError:  # the launcher went away mid-request: its kernel, if any, is watched
                    pass
    finally:
        for kernel in launchers.values():
            _kill_kernel(kernel)


def _kill_kernel(kernel: int) -> None:
    """SIGKILL a kernel's process group, or the kernel (not reaped yet, so its pid is still its own)."""
    try:
        os.killpg(kernel, signal.SIGKILL)
    except ProcessLookupError:
        try:
            os.kill(kernel, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _fork_one(listener: socket.socket, connection: socket.socket, launchers: dict[int, int]) -> None:
    """Read one launcher's request and fork its kernel; answer the kernel's pid (or why not)."""
    message, fds, launcher_ended = b"", [], None
    try:
        while True:
            chunk, more_fds, _, _ = socket.recv_fds(connection, MAX_REQUEST, 3)
            message, fds = message + chunk, fds + more_fds
            if not chunk:
                break
        request = json.loads(message)
        why_not = forked_kernels_unavailable(request["env"])
        if why_not or len(fds) != 3:
            raise ValueError(why_not or "the launcher's standard streams did not arrive")
        launcher_ended = os.pidfd_open(int(request["launcher"]))
        parent = os.getpid()
        pid = os.fork()
    except (ValueError, KeyError, TypeError, OSError) as error:
        for fd in [*fds, *([launcher_ended] if launcher_ended is not None else [])]:
            os.close(fd)
        connection.sendall(f"{type(error).__name__}: {error}\n".encode())
        return
    if pid == 0:
        status = 1
        try:
            listener.close()
            connection.close()
            for pidfd in [launcher_ended, *launchers]:
                os.close(pidfd)
            _die_with(parent)
            _become_kernel(request, fds)
            status = 0
        except BaseException:  # noqa: B036 (whatever stopped it: said on its stderr, as a fresh kernel would)
            import traceback

            traceback.print_exc()
        finally:
            os._exit(status)
    for fd in fds:
        os.close(fd)
    launchers[launcher_ended] = pid
    connection.sendall(f"{pid}\n".encode())


def _die_with(parent: int) -> None:
    """Have the kernel killed when the forker ends, however it ends (Linux's parent-death signal)."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:
        raise RuntimeError("the forker ended while this kernel was forked")


def _become_kernel(request: dict, fds: list[int]) -> None:
    """In the forked child: take the launcher's streams, folder and environment, then run ipykernel."""
    os.setsid()  # a process group of its own, as jupyter_client gives a kernel
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)  # sys.__stdin__ and the others wrap descriptors 0-2: now the launcher's
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[0] = request["cwd"]  # as `python -m ipykernel_launcher` run there has it
    import tempfile

    import numpy

    tempfile.tempdir = None  # found anew from this environment
    numpy.random.seed()  # numpy's global generator: fresh entropy, as in a new process (random reseeds itself)
    from ipykernel.kernelapp import IPKernelApp

    sys.argv = ["ipykernel_launcher", *request["args"]]
    app = IPKernelApp.instance(parent_handle=1)  # its parent is the forker: the launcher watches the manager
    try:
        app.initialize(request["args"])
        app.start()
    finally:
        # What the interpreter does at exit, as a kernel started by `python -m ipykernel_launcher` would:
        # wait for its threads, run the exit handlers, flush (the caller then ends the process).
        import atexit
        import threading

        threading._shutdown()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()


# -- the tests' side ----------------------------------------------------------------------


class KernelForker:
    """A forker process and the kernelspec (``kernel_name``, in :attr:`jupyter_path`'s ``kernels/``)
    whose kernels it forks; :meth:`close` ends it. Kernels it forked live on until their launchers end."""

    def __init__(self, folder, kernel_name: str = KERNEL_NAME, display_name: str = "Python 3 (ipykernel)"):
        import subprocess
        import time
        from pathlib import Path

        folder = Path(folder)
        self.jupyter_path = folder / "jupyter"
        self.socket_path = socket_path = str(folder / "forker.sock")
        spec = self.jupyter_path / "kernels" / kernel_name
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-I", "-S", os.path.abspath(__file__), "launch", socket_path,
                     "-f", "{connection_file}"],
            "display_name": display_name, "language": "python", "metadata": {"debugger": True}}))
        env = {name: value for name, value in os.environ.items() if name != "JPY_PARENT_PID"}
        # A session of its own: a Ctrl-C at the terminal reaches the kernels' managers, which end them
        # through their launchers; the forker must outlive them to kill what they leave.
        self.process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "serve", socket_path],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
                                        start_new_session=True)
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
