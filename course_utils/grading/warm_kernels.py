"""Sandboxed grading kernels started before they are needed, each used by one submission.

A fresh grading kernel costs ≈3-4 CPU-s before the first test runs: Python,
IPython, then torch and torchvision (which imports ``torch._dynamo``), every
time. :class:`WarmKernelPool` pays the imports once, in a
:mod:`~course_utils.grading.kernel_zygote` process (its own, or its batch's,
which all the batch's workers share), and makes each kernel by forking it
(≈0.05 s) into a sandbox of its own::

    with WarmKernelPool(course / "autograded") as pool:   # one per grading worker
        kernel = pool.take()          # the kernel started in advance; the next one starts now
        kernel.receive(folder)        # the submission's files, into its sandbox
        ... run the notebook through kernel.manager ...
        # or, in one step that also replaces a kernel that died before answering:
        # kernel = pool.take_ready(folder, timeout=60)
        kernel.discard()              # killed, its sandbox and files removed: never reused

Each kernel's sandbox is built by :func:`course_utils.grading.sandbox_command.bwrap_command`,
as for :mod:`~course_utils.grading.sandbox`'s kernels, with two differences:
bubblewrap runs a placeholder (its ``program``; the kernel joins its namespaces, see
:mod:`~course_utils.grading.kernel_zygote`), and since the kernel starts before
it knows its submission, the writable folder bound at ``autograded/`` is the
kernel's own, empty until :meth:`WarmKernel.receive` copies one submission's
files (notebooks left out) into ``autograded/<student>/<assignment>`` there and
moves the kernel into it. The submission and the grader's files stay outside.

:class:`WarmExecute` is nbgrader's ``Execute`` preprocessor taking its kernel
from a pool (nbgrader ignores ``Execute.kernel_manager_class``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbgrader.preprocessors import Execute

from . import kernel_zygote, sandbox, sandbox_cgroups, sandbox_command, sandbox_folders
from .sandbox_errors import SandboxUnavailable
from .sandbox_limits import LIMITS, Limits

KERNEL_NAME = "course-warm-sandbox"
ZYGOTE_SECONDS = 300.0  # preloading torch on a busy machine
JOIN_SECONDS = 120.0  # how long a placeholder waits for its kernel
READY_ATTEMPTS = 3  # kernels a submission may go through before its first cell runs (take_ready)

# The kernelspec's program, outside the sandbox (stdlib only, `python -I -S`):
# move into the kernel's cgroups (root), then become bubblewrap. The command
# line waits next to the connection file, written by WarmKernelPool.
LAUNCHER = """\
import json, os, sys
with open(sys.argv[1] + ".launch") as file:
    launch = json.load(file)
for procs in launch["cgroups"]:
    with open(procs, "w") as file:
        file.write(str(os.getpid()))
os.execv(launch["argv"][0], launch["argv"])
"""

# What bubblewrap runs (inside, `python -I -S`): it holds the sandbox's
# namespaces open until the kernel that joined them is gone, then exits, which
# ends the sandbox (bubblewrap's pid 1 kills whatever is left).
PLACEHOLDER = """\
import os, sys, time
me, seen, deadline = os.getpid(), False, time.monotonic() + float(sys.argv[1])
while True:
    others = [name for name in os.listdir("/proc") if name.isdigit() and int(name) not in (1, me)]
    if others:
        seen = True
    elif seen or time.monotonic() > deadline:
        break
    time.sleep(0.05)
"""
PLACEHOLDER_MARK = "course-warm-placeholder"


class WarmKernel:
    """One started kernel in its own sandbox; give it to one submission, then :meth:`discard` it."""

    def __init__(self, manager: AsyncKernelManager, folder: Path, autograded_root: str, cgroups: list[Path]):
        self.manager = manager
        self.folder = folder
        self.autograded_root = autograded_root
        self.cgroups = cgroups
        self.workdir: str | None = None

    def receive(self, workdir) -> str:
        """Copy ``workdir`` (``autograded/<student>/<assignment>``, notebooks left out) into the sandbox.

        Returns the code that moves the kernel there (its working folder and
        ``sys.path[0]``, as a kernel started in that folder has them); run it
        before the notebook. A kernel receives one submission only.
        """
        if self.workdir is not None:
            raise RuntimeError(f"this kernel already graded {self.workdir}; kernels are never reused")
        workdir = os.path.realpath(workdir)
        if not sandbox_folders.is_inside(workdir, self.autograded_root):
            raise SandboxUnavailable(
                f"the sandboxed kernel only runs in a submission folder below {self.autograded_root}, not in {workdir}")
        self.workdir = workdir
        copy = self.folder / "root" / os.path.relpath(workdir, self.autograded_root)
        shutil.copytree(workdir, copy, symlinks=True, ignore=shutil.ignore_patterns("*.ipynb"))
        # The sandbox sees the copy read-only at WORK_SOURCE; the kernel copies it into its working folder, a
        # tmpfs of limited size (sandbox_command.bwrap_command), so that it cannot fill the grader's disk.
        source = os.path.join(sandbox_command.WORK_SOURCE, os.path.relpath(workdir, self.autograded_root))
        return (f"__import__('shutil').copytree({source!r}, {workdir!r}, symlinks=True, dirs_exist_ok=True); "
                f"__import__('os').chdir({workdir!r}); __import__('sys').path.__setitem__(0, {workdir!r}); "
                f"globals().get('_dh', [])[:] = [{workdir!r}]")

    def discard(self) -> None:
        """Kill the kernel and its sandbox; remove its files and cgroups."""
        with contextlib.suppress(Exception):
            if run_sync(self.manager.is_alive)():
                run_sync(self.manager.shutdown_kernel)(now=True)
        with contextlib.suppress(Exception):
            run_sync(self.manager.cleanup_resources)()
        sandbox_folders.remove_tree(self.folder)
        sandbox_cgroups.remove_cgroups(self.cgroups)


class WarmKernelPool:
    """Sandboxed kernels for one grading worker: one always started ahead, each used once.

    ``autograded_root`` is nbgrader's ``autograded`` folder. Use it as a
    context manager; kernels are taken one at a time (one worker, one thread).
    ``zygote``: a connection to the zygote of this worker's batch (:class:`.kernel_zygote.ZygoteConnection`),
    which the pool uses and closes (the zygote is the batch's); without one, the pool starts a zygote of its
    own, preloading ``preload``.
    """

    def __init__(self, autograded_root, limits: Limits = LIMITS, preload: tuple[str, ...] | None = None,
                 zygote: kernel_zygote.ZygoteConnection | None = None):
        self.autograded_root = os.path.realpath(autograded_root)
        self.limits = limits
        # what the zygote imports: by default what the course's notebooks need (the course: autograded/..)
        self.preload = preload if preload is not None else \
            kernel_zygote.preloads_for_course(Path(self.autograded_root).parent)
        self._count = itertools.count(1)
        self._request_ids = itertools.count(1)
        self._replies = b""  # what the zygote sent that is not read yet
        self._next: WarmKernel | None = None
        self._zygote: subprocess.Popen | kernel_zygote.ZygoteConnection | None = zygote  # closed by close()
        self.folder: Path | None = None
        self.started = 0  # kernels started so far

    def __enter__(self) -> WarmKernelPool:
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _open(self) -> None:
        bwrap = sandbox.check_sandbox()
        if os.geteuid() != 0:
            raise SandboxUnavailable(
                "warm kernels join their sandbox's namespaces, which needs root; grade with "
                "fresh kernels instead (course_utils.grading.pipeline)")
        readonly = sandbox_command.readonly_paths()
        sandbox.check_course_hidden(self.autograded_root, readonly)
        self.folder = sandbox.open_runtime_folder()  # mode 700, in the grader's own folder, not /tmp
        spec = self.folder / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-I", "-S", "-c", LAUNCHER, "{connection_file}"],
            "display_name": "Python 3 (warm grading sandbox)",
            "language": "python",
            "interrupt_mode": "message",  # a signal would hit bubblewrap, not the kernel
        }, indent=1))
        self._specs = KernelSpecManager(kernel_dirs=[str(self.folder / "kernels")])
        # What every kernel's bubblewrap command shares (sandbox_command.bwrap_command).
        self._sandbox = {"bwrap": bwrap, "prlimit": shutil.which("prlimit") or "prlimit",
                         "python": sys.executable, "readonly": readonly, "limits": self.limits}
        if self._zygote is None:
            zygote_folder = self.folder / "zygote"
            zygote_folder.mkdir()
            with open(self.folder / "zygote.log", "wb") as log:
                self._zygote = subprocess.Popen(
                    [sys.executable, "-c", "from course_utils.grading.kernel_zygote import serve; serve()",
                     *self.preload],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=zygote_folder,
                    env=sandbox_command.kernel_environment(sys.executable), start_new_session=True)
        ready = self._zygote_reply(ZYGOTE_SECONDS)
        if not ready.get("ok"):
            log = self.folder / "zygote.log"  # (a batch's zygote writes to the batch's log instead)
            said = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
            raise SandboxUnavailable(f"the kernel zygote did not start: {ready.get('error')}: "
                                     + " / ".join(said))
        self._next = self._start()

    def take_ready(self, workdir, timeout: float, log=None) -> WarmKernel:
        """A kernel moved into ``workdir`` (see :meth:`WarmKernel.receive`) and answering.

        A kernel that dies before it answers (seen rarely on a loaded machine:
        "Kernel died before replying to kernel_info") has run none of the
        submission's code, so it is never the student's doing: it is
        discarded and the next one is used, up to :data:`READY_ATTEMPTS`
        kernels in all (then the last error is raised). ``log``, a logger,
        hears of each replaced kernel.
        """
        for attempt in range(1, READY_ATTEMPTS + 1):
            kernel = self.take()
            try:
                _run_silently(kernel.manager, kernel.receive(workdir), timeout)
                return kernel
            except Exception as error:
                # bubblewrap's exit status, for finding out why (e.g. -9: killed; 0: the kernel ended)
                process = getattr(kernel.manager.provisioner, "process", None)
                status = process.poll() if process is not None else None
                kernel.discard()
                if attempt == READY_ATTEMPTS:
                    raise
                if log is not None:
                    log.warning("a warm kernel was not ready (%s; its sandbox's exit status: %s); "
                                "using the next one", error, status)
        raise AssertionError("unreachable")

    def take(self) -> WarmKernel:
        """The kernel started ahead (waiting for it if needed); the next one is started now."""
        kernel, self._next = self._next or self._start(), None
        try:
            self._next = self._start()
        except Exception:  # the next take() tries again, and says why if it fails again
            self._next = None
        return kernel

    def _start(self) -> WarmKernel:
        if self.folder is None or self._zygote is None or self._zygote.poll() is not None:
            raise SandboxUnavailable("the warm kernel pool is closed (or its zygote died)")
        folder = self.folder / f"kernel-{next(self._count)}"
        for name in ("ipc", "root"):
            (folder / name).mkdir(parents=True)
        connection_file = folder / "kernel.json"
        # Named <runtime>-<suffix without dashes>: another run's clean-up then sees that its runtime
        # folder exists and leaves it alone (sandbox_cgroups.remove_stale_cgroups); ours sweeps it at close.
        cgroups = sandbox_cgroups.make_cgroup(self.limits, f"{self.folder.name}-{folder.name.replace('-', '')}")
        manager = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=self._specs,
                                     connection_file=str(connection_file), transport="ipc",
                                     ip=str(folder / "ipc" / "kernel"))
        kernel = WarmKernel(manager, folder, self.autograded_root, cgroups)
        try:
            manager.write_connection_file()
            # The working folder is all of autograded/, empty until receive() fills it; bubblewrap runs the
            # placeholder, whose namespaces the kernel joins.
            command = sandbox_command.bwrap_command(
                **self._sandbox, ipc_dir=str(folder / "ipc"), connection_file=str(connection_file),
                workdir=self.autograded_root, copy=str(folder / "root"),
                program=[sys.executable, "-I", "-S", "-c", PLACEHOLDER, str(JOIN_SECONDS), PLACEHOLDER_MARK])
            (folder / "kernel.json.launch").write_text(json.dumps({
                "argv": command, "cgroups": [str(c / "cgroup.procs") for c in cgroups]}))
            # bubblewrap (the sandbox's pid 1) gets none of this worker's descriptors (its stderr is the worker's
            # log); what runs inside has the sandbox's /dev/null as stdin, stdout and stderr (bwrap_command)
            run_sync(manager.start_kernel)(cwd=str(folder), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL)
            placeholder = _find_placeholder(manager.provisioner.process.pid)
            request_id = next(self._request_ids)
            self._zygote.stdin.write(json.dumps({
                "id": request_id, "placeholder": placeholder, "connection_file": str(connection_file),
                "cgroups": [str(c / "cgroup.procs") for c in cgroups],
                "limits": dataclasses.asdict(self.limits), "cwd": self.autograded_root}).encode() + b"\n")
            self._zygote.stdin.flush()
            reply = self._zygote_reply(60.0, request_id)
            if not reply.get("ok"):
                raise SandboxUnavailable(f"a warm kernel could not enter its sandbox: {reply.get('error')}")
        except BaseException:
            kernel.discard()
            raise
        self.started += 1
        return kernel

    def _zygote_reply(self, seconds: float, request_id: int | None = None) -> dict:
        """The zygote's next reply (``request_id``: the one to that request; late replies to earlier requests,
        which timed out, are dropped), or an error after ``seconds``. Read unbuffered, so that a reply already
        received is never missed by waiting for more."""
        import select

        deadline = time.monotonic() + seconds
        fd = self._zygote.stdout.fileno()
        while True:
            while b"\n" in self._replies:
                line, _, self._replies = self._replies.partition(b"\n")
                reply = json.loads(line)
                if request_id is None or reply.get("id") == request_id:
                    return reply
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return {"ok": False, "error": f"no answer from the kernel zygote in {seconds:g} s"}
            chunk = os.read(fd, 65536)
            if not chunk:
                return {"ok": False, "error": "the kernel zygote exited"}
            self._replies += chunk

    def close(self) -> None:
        if self._next is not None:
            self._next.discard()
            self._next = None
        if isinstance(self._zygote, kernel_zygote.ZygoteConnection):
            self._zygote.close()
            self._zygote = None
        if self._zygote is not None:
            with contextlib.suppress(OSError):
                self._zygote.stdin.close()
            try:
                self._zygote.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._zygote.kill()
                self._zygote.wait()
            self._zygote.stdout.close()
            self._zygote = None
        if self.folder is not None:
            sandbox.close_runtime_folder(self.folder)
            self.folder = None


def _find_placeholder(bwrap_pid: int, seconds: float = 30.0) -> int:
    """The host pid of the placeholder that bubblewrap (``bwrap_pid``) runs in the sandbox."""
    deadline = time.monotonic() + seconds
    while True:
        for pid in _descendants(bwrap_pid):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if PLACEHOLDER_MARK.encode() in command:
                return pid
        if time.monotonic() > deadline:
            raise SandboxUnavailable(f"bubblewrap (pid {bwrap_pid}) started no sandbox in {seconds:g} s")
        time.sleep(0.005)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])  # the name may hold spaces and ')'
            children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


class WarmExecute(Execute):
    """nbgrader's ``Execute`` that runs each notebook in a kernel from :attr:`kernel_pool`, then discards it.

    Made by :func:`warm_execute_class` for a pool (a configuration value would
    be copied, and a pool cannot be). The kernel works in the notebook's folder
    (``resources["metadata"]["path"]``), as nbgrader's does; it is moved there
    before nbgrader talks to it, so whatever the preprocessor does first finds
    it as in a fresh kernel.
    """

    kernel_pool: WarmKernelPool | None = None

    def preprocess(self, nb, resources=None, km=None):
        if self.kernel_pool is None:
            raise RuntimeError("WarmExecute needs a kernel pool: use warm_execute_class(Execute, pool)")
        kernel = self._ready_kernel(resources["metadata"]["path"])
        try:
            return super().preprocess(nb, resources, km=kernel.manager)
        finally:
            if getattr(self, "kc", None) is not None:
                with contextlib.suppress(Exception):
                    self.kc.stop_channels()
                self.kc = None
            self.km = None
            kernel.discard()

    def _ready_kernel(self, workdir: str) -> WarmKernel:
        return self.kernel_pool.take_ready(workdir, self.startup_timeout, log=self.log)


def warm_execute_class(base: type, pool: WarmKernelPool) -> type:
    """``base`` (nbgrader's ``Execute`` or a subclass, e.g. the course's judged one) taking its kernels from ``pool``."""
    if not issubclass(base, Execute):
        raise TypeError(f"{base.__name__} is not nbgrader's Execute preprocessor or a subclass of it")
    bases = (WarmExecute,) if base is Execute or issubclass(WarmExecute, base) else (WarmExecute, base)
    return type(f"Warm{base.__name__}", bases, {"__module__": __name__, "kernel_pool": pool})


def _run_silently(manager: AsyncKernelManager, code: str, timeout: float) -> None:
    """Run ``code`` in the kernel without output or history; raise if it fails."""
    client = manager.blocking_client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=timeout)
        reply = client.execute_interactive(code, silent=True, store_history=False, timeout=timeout,
                                           output_hook=lambda message: None)
    finally:
        client.stop_channels()
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"the warm kernel could not move into the submission's folder: {reply['content']}")
