"""Run every student kernel of an autograde run inside a bubblewrap sandbox.

Without it, code in a submission runs with the grader's rights: it can read
the solutions (``assignments/source``), the hidden tests (``gradebook.db``),
the other submissions and the environment, and write anywhere.

How it is wired: ``pipeline.autograde`` grades each submission in its own
nbgrader run, with the options that :func:`sandboxed_options` gives it::

    with sandboxed_options(course, options) as options:
        grade_submission(course, assignment, student, options)

which comes down to (one nbgrader run)::

    with sandbox_runtime(course / "autograded") as runtime:
        nbgrader autograde ... --Execute.kernel_name=course-sandbox \
            *runtime.nbgrader_args   (environment: runtime.env added)

``sandbox_runtime`` makes a private folder (mode 700) holding a generated
kernelspec ``course-sandbox`` and the folders for the kernel's IPC sockets and
connection files. The kernelspec runs this file as a launcher (stdlib only,
``python -I -S``) which, outside the sandbox, copies the kernel's working
folder (``autograded/<student>/<assignment>``, without its notebooks, which
hold the hidden tests) to a throw-away folder and then becomes ``bwrap``. Inside, student code

* sees the system folders, the Python installation and the ``course_utils``
  sources read-only, its copy of the submission folder writable at the usual
  path (a tmpfs of limited size, so it cannot fill the grader's disk), a
  private ``/tmp`` and nothing else: no ``source/``, ``release/``,
  ``gradebook.db``, other students, home folder or rest of the repository;
  what it writes is thrown away with the copy, so the submission and the
  grader's files cannot change;
* has no network (own network namespace; the kernel talks over IPC sockets),
  no capabilities, no further user namespaces, a clean environment and its
  own process namespace (everything dies with the kernel);
* is limited per process in memory (``RLIMIT_DATA``), CPU seconds, file size
  and number of processes (``RLIMIT_NPROC``). As root the kernel does not
  enforce ``RLIMIT_NPROC``, so there the sandbox also gets its own pids and
  memory cgroup.

Timeouts interrupt the kernel by message (``interrupt_mode: message``), so the
cell fails and grading goes on with the next one.

The switch ``COURSE_SANDBOX=off`` (``make autograde COURSE_SANDBOX=off``)
turns the sandbox off on machines without user namespaces; student code then
runs with the grader's rights.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

SWITCH_ENV = "COURSE_SANDBOX"
KERNEL_NAME = "course-sandbox"
MIN_BWRAP_VERSION = (0, 8, 0)  # --disable-userns and tmpfs --size
SANDBOX_UID = 1000  # the student's uid inside the sandbox (its own user namespace)
CGROUP_PARENT = "course-sandbox"
RUNTIME_PREFIX = "course-sandbox-"  # runtime folders in runtime_base(); cgroups named after them
_ON = {"", "1", "true", "yes", "on"}
_OFF = {"0", "false", "no", "off"}
INSTALL_HINT = "install it with 'sudo apt-get install bubblewrap' (Debian/Ubuntu)"


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run on this machine; the message says what to do."""


class NoUserNamespaces(SandboxUnavailable):
    """bwrap is installed but this kernel (or its configuration) refuses user namespaces."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed kernel (each process, unless noted)."""

    memory_bytes: int = 4 << 30  # RLIMIT_DATA; as root the whole sandbox gets twice this
    cpu_seconds: int = 1800  # RLIMIT_CPU: the kernel is killed after this much CPU time
    processes: int = 512  # processes and threads of the whole sandbox
    file_bytes: int = 1 << 30  # RLIMIT_FSIZE: largest file it can write
    tmp_bytes: int = 512 << 20  # size of the private /tmp and of /dev/shm
    work_bytes: int = 512 << 20  # what it may add to its working folder (a tmpfs: in memory, never the disk)

    @property
    def sandbox_memory_bytes(self) -> int:
        """Memory of all processes together (root only, by cgroup). Above the
        per-process limit, so that one hog gets a MemoryError rather than the
        whole sandbox thrashing at the cgroup limit."""
        return 2 * self.memory_bytes


LIMITS = Limits()  # what autograde uses


@dataclass(frozen=True)
class SandboxRuntime:
    """What one nbgrader run needs: the kernel's name, further arguments, environment."""

    kernel_name: str
    nbgrader_args: list[str]
    env: dict[str, str]
    folder: Path


def sandbox_enabled() -> bool:
    """False only when ``COURSE_SANDBOX`` is off/0/false/no; on by default."""
    value = os.environ.get(SWITCH_ENV, "").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise ValueError(
        f"{SWITCH_ENV}={value!r} is not understood; use 'off' to grade without the sandbox "
        "or 'on' (or unset) to sandbox every student kernel."
    )


def check_sandbox() -> str:
    """Return the path of a working ``bwrap``, or raise :class:`SandboxUnavailable`.

    Starts a throw-away sandbox with the same namespaces as a grading kernel,
    and as root also checks that a cgroup for the process limit can be made.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(
            f"bubblewrap (bwrap) is not installed; {INSTALL_HINT}, or grade without "
            f"the sandbox: make autograde {SWITCH_ENV}=off."
        )
    version = subprocess.run([bwrap, "--version"], capture_output=True, text=True).stdout
    found = tuple(int(part) for part in re.findall(r"\d+", version)[:3])
    if found < MIN_BWRAP_VERSION:
        wanted = ".".join(map(str, MIN_BWRAP_VERSION))
        raise SandboxUnavailable(
            f"bubblewrap {version.strip()} is too old, the sandbox needs {wanted} or newer "
            f"(Debian 12, Ubuntu 24.04); upgrade it or grade with {SWITCH_ENV}=off."
        )
    probe = [bwrap, *_namespace_args(), "--ro-bind", "/", "/", "--proc", "/proc", "--", "true"]
    result = subprocess.run(probe, capture_output=True, text=True)
    if result.returncode != 0:
        raise NoUserNamespaces(
            f"bwrap cannot create a sandbox here ({result.stderr.strip()}). It needs user "
            "namespaces: check 'sysctl kernel.unprivileged_userns_clone' and "
            "'user.max_user_namespaces' (or the AppArmor userns restriction on Ubuntu), "
            f"or grade without the sandbox: make autograde {SWITCH_ENV}=off."
        )
    if os.geteuid() == 0:
        for folder in _make_cgroup(Limits(), f"check-{uuid.uuid4().hex}"):
            folder.rmdir()
            with contextlib.suppress(OSError):
                folder.parent.rmdir()  # unless another run uses it
    return bwrap


@contextlib.contextmanager
def sandbox_runtime(autograded_root, limits: Limits = LIMITS):
    """Set up the sandbox for one nbgrader run; remove everything afterwards.

    ``autograded_root`` is nbgrader's ``autograded`` folder, where autograde
    runs each kernel in ``<student>/<assignment>``: a kernel may only start
    in a folder below it.
    Use one runtime per nbgrader process at a time (kernels of one run are
    sequential; parallel runs each need their own).
    """
    bwrap = check_sandbox()
    readonly = _readonly_paths()
    course = os.path.dirname(os.path.realpath(autograded_root))
    exposed = [path for path in ["/usr", *readonly] if course == path or _is_inside(course, path)]
    if exposed:
        raise SandboxUnavailable(
            f"the course {course} lies inside {exposed[0]}, which student code must see: "
            "move the course (or the Python environment) elsewhere"
        )
    _remove_stale_runtimes()
    folder = make_runtime_folder()
    try:
        (folder / "owner").write_text(str(os.getpid()))
        for name in ("ipc", "tmp", "scratch"):
            (folder / name).mkdir()
        spec_dir = folder / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        config = {
            "bwrap": bwrap,
            "prlimit": _which_or_fail("prlimit", "util-linux"),
            "python": sys.executable,
            "readonly": readonly,
            "autograded_root": os.path.realpath(autograded_root),
            "ipc_dir": str(folder / "ipc"),
            "scratch_dir": str(folder / "scratch"),
            "cgroup_prefix": folder.name,  # this run's cgroups, swept at its end
            "limits": asdict(limits),
        }
        (spec_dir / "sandbox.json").write_text(json.dumps(config, indent=1))
        kernelspec = {
            "argv": [sys.executable, "-I", "-S", os.path.abspath(__file__),
                     "{resource_dir}/sandbox.json", "{connection_file}"],
            "display_name": "Python 3 (grading sandbox)",
            "language": "python",
            "interrupt_mode": "message",  # a signal would hit the launcher, not the kernel
        }
        (spec_dir / "kernel.json").write_text(json.dumps(kernelspec, indent=1))
        jupyter_path = os.pathsep.join(p for p in (str(folder), os.environ.get("JUPYTER_PATH")) if p)
        yield SandboxRuntime(
            kernel_name=KERNEL_NAME,
            nbgrader_args=[
                # The kernel has its own network namespace: talk over unix sockets.
                "--KernelManager.transport=ipc",
                f"--KernelManager.ip={folder / 'ipc' / 'kernel'}",
            ],
            # TMPDIR: jupyter_client writes connection files there; keep them private.
            env={"JUPYTER_PATH": jupyter_path, "TMPDIR": str(folder / "tmp")},
            folder=folder,
        )
    finally:
        _remove_tree(folder)
        if os.geteuid() == 0:
            _sweep_cgroups(folder.name)


def check_options(options) -> None:
    """Raise now, before any grading, where :func:`sandboxed_options` would fail."""
    if not sandbox_enabled():
        return
    if options.kernel_name:
        raise SandboxUnavailable(
            f"the kernel {options.kernel_name!r} would run outside the sandbox; "
            f"to grade with it, turn the sandbox off: {SWITCH_ENV}=off"
        )
    check_sandbox()


@contextlib.contextmanager
def sandboxed_options(course, options):
    """``options`` (a ``pipeline.GradingOptions``) for one autograde run in the sandbox.

    Unchanged when ``COURSE_SANDBOX=off``. A kernel named in the options
    would bypass the sandbox, so that needs the switch turned off.
    """
    if not sandbox_enabled():
        yield options
        return
    check_options(options)
    with sandbox_runtime(Path(course) / "autograded", LIMITS) as runtime:
        yield dataclasses.replace(
            options,
            kernel_name=runtime.kernel_name,
            nbgrader_args=(*options.nbgrader_args, *runtime.nbgrader_args),
            env={**options.env, **runtime.env},
        )


def _which_or_fail(program: str, package: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise SandboxUnavailable(f"'{program}' is missing; install the {package} package.")
    return path


def _readonly_paths() -> list[str]:
    """The Python installation (venv and the interpreter it links to) and course_utils."""
    import course_utils

    wanted = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
              os.path.dirname(os.path.realpath(sys.executable)),
              os.path.dirname(os.path.abspath(course_utils.__file__))}
    wanted |= {os.path.realpath(p) for p in wanted}
    paths = sorted(p for p in wanted if p != "/")
    # Drop what a shorter path (or the system's /usr) already covers.
    kept: list[str] = []
    for path in paths:
        if path == "/usr" or path.startswith("/usr/"):
            continue
        if not any(path == k or path.startswith(k + "/") for k in kept):
            kept.append(path)
    return kept


def runtime_base() -> Path:
    """The grader's own folder for sandbox runtimes: ``~/.cache/course-sandbox`` (mode 700), not the shared /tmp.

    Created if missing; refused (:class:`SandboxUnavailable`) unless it is a
    real folder owned by this user that nobody else may enter, so no other
    user can plant folders or links where the grader creates and removes them.
    """
    base = Path(os.environ.get("COURSE_SANDBOX_RUNTIME") or Path.home() / ".cache" / "course-sandbox")
    base.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(base, 0o700)
    info = os.lstat(base)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise SandboxUnavailable(
            f"{base} must be a folder of yours that only you can enter (mode 700), for the grading "
            f"sandbox's runtime folders; remove it or set COURSE_SANDBOX_RUNTIME to another folder")
    return base


def make_runtime_folder() -> Path:
    """A new runtime folder (mode 700) in :func:`runtime_base`, created by this process alone (mkdtemp)."""
    return Path(tempfile.mkdtemp(prefix=RUNTIME_PREFIX, dir=runtime_base()))


def _remove_stale_runtimes() -> None:
    """Remove what runs that were killed (no clean-up) left: their folders and empty cgroups.

    Only this user's :func:`runtime_base` is looked at, and only real folders
    owned by this user in it are removed.
    """
    base = runtime_base()
    for folder in base.glob(RUNTIME_PREFIX + "*"):
        try:
            info = os.lstat(folder)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
                continue
            os.kill(int((folder / "owner").read_text()), 0)
        except ProcessLookupError:
            _remove_tree(folder)
        except (OSError, ValueError):
            continue  # not ours, or being set up right now
    if os.geteuid() == 0:
        with contextlib.suppress(SandboxUnavailable, OSError):
            for parent, _ in _cgroup_parents():
                for child in parent.glob(RUNTIME_PREFIX + "*/"):
                    runtime = child.name.rsplit("-", 1)[0]
                    if not (base / runtime).exists():
                        with contextlib.suppress(OSError):
                            child.rmdir()  # only if empty


def _remove_tree(folder: Path) -> None:
    """Remove a folder even where student code took away permissions.

    Something already gone is not an error: two workers of one batch may
    clean up the same stale folder at once. Only ``folder`` and what lies
    below it are touched (never its parent), and no link is followed.
    """
    if os.path.islink(folder):
        os.unlink(folder)
        return
    top = os.path.abspath(folder)
    _rmtree(folder, lambda function, path, exc_info: _make_writable_and_retry(function, path, exc_info, top))


def _rmtree(folder, handler) -> None:
    """``shutil.rmtree`` with an ``onerror``-style ``handler`` (``onexc`` from Python 3.12 on)."""
    if sys.version_info >= (3, 12):
        shutil.rmtree(folder, onexc=lambda function, path, error: handler(
            function, path, (type(error), error, error.__traceback__)))
    else:
        shutil.rmtree(folder, onerror=handler)


def _make_writable_and_retry(function, path, exc_info, top: str | None = None) -> None:
    """``shutil.rmtree``'s error handler: give back permissions, then remove ``path`` again.

    ``function`` is what failed: a removal (``os.unlink``, ``os.rmdir``) is
    retried as it was; anything else (``os.open``, ``os.scandir``,
    ``os.lstat``: the folder could not be opened or listed) removes the folder
    at ``path`` anew. What is still in the way after that is raised.
    """
    if isinstance(exc_info[1], FileNotFoundError):
        return
    for p in (os.path.dirname(path), path):
        inside = top is None or os.path.abspath(p) == top or _is_inside(os.path.abspath(p), top)
        with contextlib.suppress(OSError):
            if inside and stat.S_ISDIR(os.lstat(p).st_mode):  # a folder of ours, never a link or a parent
                os.chmod(p, 0o700)
    try:
        if function in (os.unlink, os.remove, os.rmdir):
            function(path)
        elif os.path.isdir(path) and not os.path.islink(path):
            _rmtree(path, _raise_unless_gone)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


def _raise_unless_gone(function, path, exc_info) -> None:
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]


# --- cgroups (root only: the kernel does not apply RLIMIT_NPROC to root) -----

def _own_cgroups() -> dict[str, str]:
    """Controller name -> this process's cgroup path ('' for cgroup v2)."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            own[controller] = path
    return own


def _cgroup_parents() -> list[tuple[Path, dict[str, int]]]:
    """(parent folder, settings) for each cgroup the sandbox joins, v1 or v2."""
    own = _own_cgroups()
    root = Path("/sys/fs/cgroup")
    if (root / "pids" / "cgroup.procs").exists():  # cgroup v1 (or hybrid)
        parents = [(root / "pids" / own.get("pids", "/").lstrip("/") / CGROUP_PARENT,
                    {"pids.max": "processes"})]
        if (root / "memory" / "cgroup.procs").exists():
            parents.append((root / "memory" / own.get("memory", "/").lstrip("/") / CGROUP_PARENT,
                            {"memory.limit_in_bytes": "sandbox_memory_bytes"}))
        return parents
    if (root / "cgroup.controllers").exists():  # cgroup v2: a top-level cgroup of ours
        return [(root / CGROUP_PARENT, {"pids.max": "processes", "memory.max": "sandbox_memory_bytes"})]
    raise SandboxUnavailable("no cgroup file system at /sys/fs/cgroup")


def _make_cgroup(limits: Limits, name: str) -> list[Path]:
    """Make the cgroup(s) ``name`` with the limits set; return their folders."""
    made = []
    try:
        for parent, settings in _cgroup_parents():
            folder = parent / name
            for attempt in range(3):  # another run may remove the empty parent meanwhile
                parent.mkdir(exist_ok=True)
                control = parent / "cgroup.subtree_control"
                if control.exists():  # v2: let the children have pids and memory limits
                    control.write_text("+pids +memory")
                try:
                    folder.mkdir()
                    break
                except FileNotFoundError:
                    if attempt == 2:
                        raise
            made.append(folder)
            for file, field in settings.items():
                (folder / file).write_text(str(getattr(limits, field)))
    except OSError as error:
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise SandboxUnavailable(
            f"grading as root needs a cgroup for the sandbox's process limit (root ignores "
            f"RLIMIT_NPROC), and making one failed: {error}. Grade as an ordinary user, or "
            f"without the sandbox: make autograde {SWITCH_ENV}=off."
        ) from error
    return made


def _sweep_cgroups(prefix: str, wait_seconds: float = 10.0) -> None:
    """Remove the cgroups that the kernels of one runtime left behind.

    A cgroup can only be removed once its last process is gone; after a fork
    bomb the kernel takes a moment to reap hundreds of them, hence the wait.
    """
    with contextlib.suppress(SandboxUnavailable, OSError):
        left = [c for parent, _ in _cgroup_parents() for c in parent.glob(f"{prefix}-*/")]
        deadline = time.monotonic() + wait_seconds
        while left and time.monotonic() < deadline:
            for child in list(left):
                with contextlib.suppress(OSError):
                    child.rmdir()
                    left.remove(child)
            if left:
                time.sleep(0.05)
        for parent, _ in _cgroup_parents():
            with contextlib.suppress(OSError):
                parent.rmdir()  # unless another run still uses it


# --- the launcher: runs outside the sandbox, then becomes bwrap ---------------

def _namespace_args() -> list[str]:
    return ["--unshare-all", "--unshare-user", "--disable-userns",
            "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox",
            "--die-with-parent", "--new-session", "--cap-drop", "ALL"]


# Taken over from the grader: they change how fast code runs or how long a
# notebook trains, never what it may access.
PASSED_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "COURSE_QUICK_RUN")


def _environment(python: str) -> dict[str, str]:
    """The whole environment student code gets."""
    passed = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    return {
        **passed,
        "PATH": f"{os.path.dirname(python)}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "USER": "student",
        "LOGNAME": "student",
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        # The kernel's parent is the sandbox's pid 1, which dies with the grader
        # (--die-with-parent); saying so keeps ipykernel from printing its banner.
        "JPY_PARENT_PID": "1",
    }


def _system_args() -> list[str]:
    """Read-only system folders; /bin, /lib... as the symlinks or folders they are."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    # Only what the dynamic loader and time zones need from /etc (not passwd, shadow...).
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives"):
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


WORK_SOURCE = "/.course-work"  # inside the sandbox: the read-only copy that fills the working folder


def _tree_bytes(folder: str) -> int:
    """Bytes of the files below ``folder`` (links not followed), for the size of its tmpfs."""
    total = 0
    for parent, _, names in os.walk(folder):
        for name in names:
            total += os.lstat(os.path.join(parent, name)).st_size + 4096
    return total


def bwrap_command(config: dict, connection_file: str, workdir: str, copy: str,
                  kernel_args: list[str], copy_bytes: int = 0) -> list[str]:
    """The full ``bwrap ... prlimit ... python -m ipykernel_launcher`` command line.

    The working folder is a tmpfs of ``copy_bytes`` (what ``copy`` holds) plus
    ``work_bytes``, filled from ``copy`` (bound read-only) before the kernel
    starts: RLIMIT_FSIZE limits one file only, so a folder on the grader's disk
    let a kernel fill that disk (issue 27: 3 x 1 GB by fallocate, no CPU time).
    """
    limits = Limits(**config["limits"])
    python = config["python"]
    command = [config["bwrap"], *_namespace_args(), "--clearenv"]
    for key, value in _environment(python).items():
        command += ["--setenv", key, value]
    # Fresh /proc, /dev and private tmpfs first: later binds may lie below /tmp.
    command += [
        "--proc", "/proc",
        "--dev", "/dev",
        "--size", str(limits.tmp_bytes), "--tmpfs", "/dev/shm",
        "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp",
    ]
    command += _system_args()
    for path in config["readonly"]:
        command += ["--ro-bind", path, path]
    command += [
        "--ro-bind", connection_file, connection_file,
        "--bind", config["ipc_dir"], config["ipc_dir"],
        "--ro-bind", copy, WORK_SOURCE,
        "--size", str(copy_bytes + limits.work_bytes), "--tmpfs", workdir,
        "--remount-ro", "/dev",
        "--remount-ro", "/",
        "--chdir", workdir,
        "--",
        python, "-I", "-S", "-c",
        "import os, shutil, sys; shutil.copytree(sys.argv[1], sys.argv[2], symlinks=True, dirs_exist_ok=True); "
        "os.execv(sys.argv[3], sys.argv[3:])",
        WORK_SOURCE, workdir,
        config["prlimit"],
        f"--data={limits.memory_bytes}",
        f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 5}",
        f"--nproc={limits.processes}",
        f"--fsize={limits.file_bytes}",
        "--core=0",
        "--",
        python, "-m", "ipykernel_launcher", "-f", connection_file,
        "--HistoryManager.hist_file=:memory:",  # what nbclient gives a plain python3 kernel
        *kernel_args,
    ]
    return command


def _is_inside(path: str, folder: str) -> bool:
    return path != folder and path.startswith(folder.rstrip("/") + "/")


def launch(config_file: str, connection_file: str, kernel_args: list[str]) -> None:
    """Start the kernel in the sandbox; replaces this process by bwrap."""
    config = json.loads(Path(config_file).read_text())
    workdir = os.path.realpath(os.getcwd())
    if not _is_inside(workdir, config["autograded_root"]):
        raise SandboxUnavailable(
            f"the sandboxed kernel only runs in a submission folder below "
            f"{config['autograded_root']}, not in {workdir}"
        )
    connection = json.loads(Path(connection_file).read_text())
    ipc_dir = config["ipc_dir"]
    if connection.get("transport") != "ipc" or os.path.dirname(connection["ip"]) != ipc_dir:
        raise SandboxUnavailable(
            "the sandboxed kernel has no network: start it with --KernelManager.transport=ipc "
            f"--KernelManager.ip={ipc_dir}/kernel (sandbox_runtime().nbgrader_args)"
        )
    # Kernels of one runtime run one after the other: whatever is left in the
    # socket folder belongs to an earlier student.
    for leftover in Path(ipc_dir).iterdir():
        if leftover.is_dir() and not leftover.is_symlink():
            _remove_tree(leftover)
        else:
            leftover.unlink()
    # Student code writes to a copy: the submission and the grader's files stay
    # as they are. The notebooks stay out: autograde has put the hidden tests back.
    copy = os.path.join(tempfile.mkdtemp(dir=config["scratch_dir"]), "work")
    shutil.copytree(workdir, copy, symlinks=True, ignore=shutil.ignore_patterns("*.ipynb"))
    if os.geteuid() == 0:
        name = f"{config['cgroup_prefix']}-{uuid.uuid4().hex}"
        for folder in _make_cgroup(Limits(**config["limits"]), name):
            (folder / "cgroup.procs").write_text(str(os.getpid()))
    command = bwrap_command(config, os.path.realpath(connection_file), workdir, copy, kernel_args,
                            _tree_bytes(copy))
    os.execv(command[0], command)


if __name__ == "__main__":
    try:
        launch(sys.argv[1], sys.argv[2], sys.argv[3:])
    except SandboxUnavailable as error:
        sys.exit(f"course-sandbox: {error}")
