"""A process that has imported what grading kernels need, and forks one kernel per sandbox.

A batch of ``make autograde`` keeps one, shared by its grading workers
(:class:`SharedZygote`, which the batch starts; each worker has a line of its
own to it, a :class:`ZygoteConnection`)::

    python -c "from course_utils.grading.kernel_zygote import serve_shared; serve_shared()" MODULE ...

so the imports below are paid once per batch, not once per worker. A
:class:`course_utils.grading.warm_kernels.WarmKernelPool` given no connection
starts a zygote of its own::

    python -c "from course_utils.grading.kernel_zygote import serve; serve()" MODULE ...

It imports what the course's kernels need (:func:`preloads_for_course`):
ipykernel, and for a course built on torch also torch, torchvision,
course_utils and the grading checks (≈3 CPU-s that every fresh kernel pays
otherwise; a course that never names torch does not pay them), runs no
torch operation (forking after one that started thread pools hangs the child)
and never runs student code. Then, for each line it reads (on stdin, or on a
worker's connection), a JSON request ``{"placeholder": pid, "connection_file": ..., "cgroups": [...],
"limits": {...}, "cwd": ...}``, it forks:

* the child, still outside, moves into the cgroups of the sandbox that
  ``placeholder`` (a process that bubblewrap started, see
  :mod:`course_utils.grading.warm_kernels`) lives in, and joins its
  namespaces (cgroup, ipc, uts, net, pid, mount, and last the user namespace,
  bubblewrap's nested one that cannot make further user namespaces); it forks
  again, so that the kernel is inside the sandbox's pid namespace (it dies with
  it), and exits;
* the grandchild, now inside, starts a new session, takes the sandbox's
  resource limits, drops every capability (bounding set included) and sets
  ``no_new_privs`` (what ``bwrap --cap-drop ALL`` gives), closes every file
  descriptor it inherited, and becomes an IPython kernel on ``connection_file``.

Each kernel thus starts from the zygote's pristine memory, in a sandbox of its
own, and is never reused; what one kernel does cannot reach the zygote or the
next kernel. The zygote answers each request with one JSON line: ``{"ok":
true}`` or ``{"ok": false, "error": ...}``. It learns nothing about the
submission a kernel will grade: requests name only sandbox paths.

Linux only; must run as root (joining another user namespace needs
CAP_SYS_ADMIN over it), like the sandbox's cgroups.
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import json
import os
import pkgutil
import re
import signal
import sys
import threading
from pathlib import Path

from .control_socket import start_with_control_socket, take_control_socket
from .sandbox_command import KERNEL_ARGS
from .sandbox_limits import Limits

# What every grading kernel imports: imported once here, not per kernel. A kernel imports ipykernel's
# debugger (debugpy, about 150 modules, ≈0.07 CPU-s) as it starts, whether or not anyone debugs.
PRELOADED = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger")
# What a kernel grading a course built on torch imports (torchvision imports torch._dynamo, which the
# checks' dispatch mode and torch.optim need), ≈3 CPU-s: preloaded for such a course only
# (:func:`preloads_for_course`).
TORCH_PRELOADED = (
    "torch",
    "torch._dynamo",
    "torch.utils._python_dispatch",
    "torchvision",
    "course_utils",
    "course_utils.reproducibility",
)
# The course's helpers that the kernels import while grading, where this version
# of the course has them (the checks, with every module of the package, and the
# runner of their probes): preloaded with TORCH_PRELOADED.
PRELOADED_IF_PRESENT = (
    "course_utils.homework_checks",
    "course_utils.homework_checks.runner",
    "safetensors.torch",
)
EVERYTHING = PRELOADED + TORCH_PRELOADED + PRELOADED_IF_PRESENT
# A notebook that names one of these (in any code cell) is graded by a kernel that imports torch.
TORCH_NAMES = re.compile(r"\b(?:torch|torchvision|course_utils)\b")

MAX_REQUEST_BYTES = 1 << 16  # a worker's request line, at most (paths and limits: well under 1 KiB)
# The order matters: the user namespace last, because bubblewrap's nested user
# namespace does not own the others (joining it first would leave us without
# the right to join them).
NAMESPACES = ("cgroup", "ipc", "uts", "net", "pid", "mnt", "user")

_libc = ctypes.CDLL(None, use_errno=True)
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def preloads_for_course(course: Path) -> tuple[str, ...]:
    """What to preload for grading ``course``: :data:`PRELOADED`, and the torch group (:data:`TORCH_PRELOADED`,
    :data:`PRELOADED_IF_PRESENT`) when a code cell of a source notebook (in any folder of an assignment) names
    torch, torchvision or course_utils, or a notebook cannot be read (then kernels may need anything)."""
    for path in sorted(Path(course, "source").glob("*/**/*.ipynb")):  # an assignment's subfolders too
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            sources = ["".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                       for cell in cells if cell.get("cell_type") == "code"]
        except (OSError, ValueError, KeyError, TypeError):
            return EVERYTHING
        if any(TORCH_NAMES.search(source) for source in sources):
            return EVERYTHING
    return PRELOADED


def preload(names=EVERYTHING) -> list[str]:
    """Import ``names``; those of :data:`PRELOADED_IF_PRESENT` (with every module of a package) only where
    installed. Return what was imported."""
    done = []
    for name in names:
        try:
            with _debugger_quiet():
                importlib.import_module(name)
        except ModuleNotFoundError as error:
            if name not in PRELOADED_IF_PRESENT or not name.startswith(error.name or "?"):
                raise
            continue
        done.append(name)
        package = sys.modules[name]
        if name in PRELOADED_IF_PRESENT and hasattr(package, "__path__"):
            for module in pkgutil.iter_modules(package.__path__, prefix=f"{name}."):
                importlib.import_module(module.name)
                done.append(module.name)
    return done


@contextlib.contextmanager
def _debugger_quiet():
    """While preloading: debugpy's check for frozen modules warns on stderr (the zygote's log, read when a
    zygote dies) as it is imported; a kernel that imports it itself writes that to its /dev/null."""
    if "PYDEVD_DISABLE_FILE_VALIDATION" in os.environ:
        yield
        return
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    try:
        yield
    finally:
        del os.environ["PYDEVD_DISABLE_FILE_VALIDATION"]


def serve(names=None) -> None:
    """Preload ``names`` (else the command line's arguments, else everything), say so, then fork a kernel for
    every request line until stdin closes.

    What the preload made is frozen (:func:`gc.freeze`, as Python's documentation advises before forking
    without exec): no collection in the zygote or in a kernel walks those objects again, so kernels do not
    copy the pages they share with the zygote just to collect, and code that walks every object
    (``gc.get_objects()``) sees only its own kernel's and the few the zygote held at the fork (its request
    buffers: sandbox paths of the grader's runtime folder, never anything of a submission).
    """
    requests, replies = sys.stdin.buffer, os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # nothing but replies on the reply channel
    preloaded = preload_frozen(names or sys.argv[1:] or EVERYTHING)
    _serve_requests(requests, replies, preloaded)


def preload_frozen(names) -> list[str]:
    """:func:`preload`, then :func:`gc.freeze` what it made (see :func:`serve`); returns what was imported."""
    gc.disable()  # no collection while preloading: it would leave holes in the pages the kernels share
    preloaded = preload(names)
    gc.freeze()  # what was preloaded: out of every later collection's reach, in the zygote and in the kernels
    gc.enable()
    return preloaded


def _serve_requests(requests, replies, preloaded: list[str]) -> None:
    replies.write(json.dumps({"ok": True, "preloaded": preloaded}) + "\n")
    for line in requests:
        replies.write(json.dumps(_answer(line)) + "\n")


def _answer(line: bytes) -> dict:
    """The reply to one request line: :func:`fork_kernel`'s, with the request's ``id``; an error for a line
    that is no request (never an exception: the zygote serves on)."""
    try:
        request = json.loads(line)
        return {**fork_kernel(request), "id": request.get("id")}
    except Exception as error:
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}


def serve_shared(names=None) -> None:
    """:func:`serve` for a whole batch: stdin is a Unix socket on which the batch sends, for each grading
    worker, one end of a socket pair (a byte with the descriptor); requests and replies then go over that
    socket, one line each, the first reply saying ready as :func:`serve` does. Ends when the batch closes
    its socket. Requests are served one at a time, in the order they come (a fork takes ≈0.05 s)."""
    import selectors
    import socket

    control = take_control_socket()
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)  # nothing but replies, on the workers' sockets
    os.close(null)
    preloaded = preload_frozen(names or sys.argv[1:] or EVERYTHING)
    ready = (json.dumps({"ok": True, "preloaded": preloaded}) + "\n").encode()
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    received: dict[socket.socket, bytearray] = {}  # per worker: a request's first part, until its newline

    def drop(worker: socket.socket) -> None:  # a worker gone, or one that broke the protocol: its line only
        selector.unregister(worker)
        worker.close()
        del received[worker]

    while True:
        for key, _ in selector.select():
            if key.fileobj is control:
                try:
                    message, fds, _, _ = socket.recv_fds(control, 1, 1)
                except (OSError, ValueError):
                    message, fds = b"", []
                if not message:
                    return  # the batch closed its end: the workers' sockets close with this process
                for fd in fds:
                    worker = socket.socket(fileno=fd)
                    selector.register(worker, selectors.EVENT_READ)
                    received[worker] = bytearray()
                    try:
                        worker.sendall(ready)
                    except OSError:
                        drop(worker)
                continue
            worker = key.fileobj
            try:
                data = worker.recv(65536)
            except OSError:
                data = b""
            if not data or len(received[worker]) + len(data) > MAX_REQUEST_BYTES:
                drop(worker)
                continue
            received[worker] += data
            while worker in received and b"\n" in received[worker]:
                line, _, rest = bytes(received[worker]).partition(b"\n")
                received[worker][:] = rest
                try:
                    worker.sendall((json.dumps(_answer(line)) + "\n").encode())
                except OSError:
                    drop(worker)


class SharedZygote:
    """The batch's handle on its zygote (:func:`serve_shared`): started with the kernels' environment
    ``env`` (:func:`.sandbox_command.kernel_environment`), preloading ``names``; :meth:`connect` gives a
    worker its line to it."""

    def __init__(self, names, env: dict[str, str], stderr=None):
        import subprocess

        self.process, self.control = start_with_control_socket(
            [sys.executable, "-c", "from course_utils.grading.kernel_zygote import serve_shared; serve_shared()",
             *names], stdout=subprocess.DEVNULL, stderr=stderr, cwd="/", env=env, start_new_session=True)
        self._lock = threading.Lock()  # workers connect from the batch's threads

    def alive(self) -> bool:
        return self.process.poll() is None

    def connect(self):
        """A new worker's end of a socket whose other end the zygote serves (:class:`ZygoteConnection`);
        :class:`OSError` if the zygote has ended."""
        import socket

        worker, zygote = socket.socketpair()
        try:
            with self._lock:
                socket.send_fds(self.control, [b"w"], [zygote.fileno()])
        except BaseException:
            worker.close()
            raise
        finally:
            zygote.close()
        return worker

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.control.close()
        try:
            self.process.wait(timeout=10)  # it ends when its socket closes
        except Exception:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class ZygoteConnection:
    """A grading worker's line to its batch's zygote (descriptor ``fd``, a socket; the zygote's ``pid``):
    ``stdin`` for requests, ``stdout`` for replies and ``poll`` as a started zygote has them; :meth:`close`
    ends the line, not the zygote (the batch's)."""

    def __init__(self, fd: int, pid: int):
        import socket

        os.set_inheritable(fd, False)  # passed to this worker; none of its own children gets it
        self._socket = socket.socket(fileno=fd)
        self.stdin = self._socket.makefile("wb")
        self.stdout = self._socket.makefile("rb")
        self.pid = pid
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:
            self._pidfd = None

    def poll(self) -> int | None:
        """None while the zygote runs, -1 once it has ended (its exit status is its batch's to know)."""
        import select

        if self._pidfd is None or select.select([self._pidfd], [], [], 0)[0]:
            return -1
        return None

    def close(self) -> None:
        for stream in (self.stdin, self.stdout, self._socket):
            with contextlib.suppress(OSError):
                stream.close()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


def fork_kernel(request: dict) -> dict:
    """Fork a kernel into the sandbox of ``request["placeholder"]``; wait until it is inside."""
    status_read, status_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: outside still, as root
        os.close(status_read)
        try:
            _enter_and_fork(request, status_write)
            os.write(status_write, b"ok")
            code = 0
        except BaseException as error:  # noqa: B036 (anything: report it, never return into the zygote)
            os.write(status_write, f"{type(error).__name__}: {error}".encode()[:2000])
            code = 1
        os._exit(code)
    os.close(status_write)
    with os.fdopen(status_read, "rb") as status:
        message = status.read().decode(errors="replace")
    os.waitpid(pid, 0)
    return {"ok": True} if message == "ok" else {"ok": False, "error": message or "the kernel's fork died"}


def _enter_and_fork(request: dict, status_write: int) -> None:
    placeholder = int(request["placeholder"])
    for procs in request.get("cgroups", []):
        with open(procs, "w") as file:
            file.write(str(os.getpid()))
    namespaces = [(name, os.open(f"/proc/{placeholder}/ns/{name}", os.O_RDONLY)) for name in NAMESPACES]
    _close_fds_except({status_write, *(fd for _, fd in namespaces)})
    for name, fd in namespaces:
        _check(_libc.setns(fd, 0), f"joining the sandbox's {name} namespace")
        os.close(fd)
    if os.fork() == 0:  # the kernel: inside the sandbox's pid namespace
        os.close(status_write)
        try:
            _become_kernel(request)
        finally:
            os._exit(1)


def _close_fds_except(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _become_kernel(request: dict) -> None:
    os.setsid()
    import resource

    # The limits that prlimit gives a fresh kernel (sandbox_command.bwrap_command).
    for name, soft_and_hard in Limits(**request["limits"]).process_limits().items():
        resource.setrlimit(getattr(resource, f"RLIMIT_{name.upper()}"), soft_and_hard)
    _drop_capabilities()
    null = os.open("/dev/null", os.O_RDWR)  # the sandbox's /dev/null: nothing of the grader's stays open
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    _close_fds_except(set())
    cwd = request["cwd"]
    os.chdir(cwd)
    import tempfile

    tempfile.tempdir = None  # computed anew from TMPDIR, inside
    import ipykernel.kernelapp

    sys.argv = [ipykernel.kernelapp.__file__, "-f", request["connection_file"], *KERNEL_ARGS]
    sys.path[0] = cwd  # as `python -m ipykernel_launcher` run in cwd has it
    app = ipykernel.kernelapp.IPKernelApp.instance()
    try:
        app.initialize(sys.argv[1:])
        app.start()
    finally:
        # What the interpreter does at exit, as a kernel started by `python -m ipykernel_launcher`
        # would: wait for non-daemon threads, run the exit handlers (then the caller's os._exit).
        import atexit
        import threading

        threading._shutdown()
        atexit._run_exitfuncs()


def _drop_capabilities() -> None:
    """What ``bwrap --cap-drop ALL`` does: no capability now, none to gain by exec."""
    with open("/proc/sys/kernel/cap_last_cap") as file:
        last = int(file.read())
    for cap in range(last + 1):
        _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"dropping capability {cap}")
    _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clearing ambient capabilities")
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "dropping capabilities")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "setting no_new_privs")
