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

``sandbox_runtime`` makes a private runtime folder (mode 700) holding a
generated kernelspec ``course-sandbox`` and the folders for the kernel's IPC
sockets and connection files. The kernelspec runs
:mod:`~course_utils.grading.sandbox_launcher` (stdlib only, ``python -I -S``)
which, outside the sandbox, copies the kernel's working folder
(``autograded/<student>/<assignment>``, without its notebooks, which hold the
hidden tests) to a throw-away folder and then becomes ``bwrap``. Inside,
student code

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

The parts, each a module of its own, below this one:

=====================  =====================================================
``sandbox_limits``     :class:`Limits` of one kernel, :data:`LIMITS` (autograde's)
``sandbox_errors``     :class:`SandboxUnavailable`, :data:`SWITCH_ENV`
``sandbox_folders``    runtime folders: where, made, stale ones removed; ``remove_tree``
``sandbox_cgroups``    the cgroups that limit a sandbox as root
``sandbox_command``    the ``bwrap`` command line and what student code sees
``sandbox_launcher``   the kernelspec's program (stdlib only): becomes ``bwrap``
=====================  =====================================================
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from . import sandbox_cgroups, sandbox_command, sandbox_folders, sandbox_launcher
from .sandbox_errors import SWITCH_ENV, NoUserNamespaces, SandboxUnavailable
from .sandbox_limits import LIMITS, Limits

__all__ = [
    "KERNEL_NAME", "LIMITS", "SWITCH_ENV", "Limits", "NoUserNamespaces", "SandboxRuntime", "SandboxUnavailable",
    "check_course_hidden", "check_options", "check_sandbox", "close_runtime_folder", "open_runtime_folder",
    "sandbox_enabled", "sandbox_runtime", "sandboxed_options",
]

KERNEL_NAME = "course-sandbox"
MIN_BWRAP_VERSION = (0, 8, 0)  # --disable-userns and tmpfs --size
_ON = {"", "1", "true", "yes", "on"}
_OFF = {"0", "false", "no", "off"}
INSTALL_HINT = "install it with 'sudo apt-get install bubblewrap' (Debian/Ubuntu)"


@dataclass(frozen=True)
class SandboxRuntime:
    """What one nbgrader run needs: the kernel's name, further arguments, environment."""

    kernel_name: str
    nbgrader_args: list[str]
    env: dict[str, str]
    folder: Path


def sandbox_enabled(environ=None) -> bool:
    """False only when ``COURSE_SANDBOX`` is off/0/false/no (in ``environ``, by default this process's
    environment); on by default."""
    value = (os.environ if environ is None else environ).get(SWITCH_ENV, "").strip().lower()
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
    probe = [bwrap, *sandbox_command.namespace_args(), "--ro-bind", "/", "/", "--proc", "/proc", "--", "true"]
    result = subprocess.run(probe, capture_output=True, text=True)
    if result.returncode != 0:
        raise NoUserNamespaces(
            f"bwrap cannot create a sandbox here ({result.stderr.strip()}). It needs user "
            "namespaces: check 'sysctl kernel.unprivileged_userns_clone' and "
            "'user.max_user_namespaces' (or the AppArmor userns restriction on Ubuntu), "
            f"or grade without the sandbox: make autograde {SWITCH_ENV}=off."
        )
    if os.geteuid() == 0:
        sandbox_cgroups.check_cgroups()
    return bwrap


def check_course_hidden(autograded_root, readonly: list[str]) -> None:
    """Raise :class:`SandboxUnavailable` if the course (the parent of ``autograded_root``) lies in a
    folder that student code sees: ``/usr`` or one of ``readonly``
    (:func:`.sandbox_command.readonly_paths`)."""
    course = os.path.dirname(os.path.realpath(autograded_root))
    exposed = [path for path in ["/usr", *readonly] if course == path or sandbox_folders.is_inside(course, path)]
    if exposed:
        raise SandboxUnavailable(
            f"the course {course} lies inside {exposed[0]}, which student code must see: "
            "move the course (or the Python environment) elsewhere"
        )


def open_runtime_folder() -> Path:
    """A new runtime folder for this process, after removing what killed runs left (folders; cgroups as root).

    Mode 700, in :func:`.sandbox_folders.runtime_base`; it holds ``owner``
    (this process's pid) so that a later run knows it is in use. Remove it
    with :func:`close_runtime_folder`.
    """
    sandbox_folders.remove_stale_runtimes()
    if os.geteuid() == 0:
        sandbox_cgroups.remove_stale_cgroups(sandbox_folders.runtime_base(), sandbox_folders.RUNTIME_PREFIX)
    folder = sandbox_folders.make_runtime_folder()
    try:
        (folder / "owner").write_text(str(os.getpid()))
    except BaseException:
        sandbox_folders.remove_tree(folder)
        raise
    return folder


def close_runtime_folder(folder: Path) -> None:
    """Remove a runtime folder and (as root) the cgroups its kernels left (``<folder name>-*``)."""
    sandbox_folders.remove_tree(folder)
    if os.geteuid() == 0:
        sandbox_cgroups.sweep_cgroups(folder.name)


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
    readonly = sandbox_command.readonly_paths()
    check_course_hidden(autograded_root, readonly)
    folder = open_runtime_folder()
    try:
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
            "argv": sandbox_launcher.kernelspec_argv(sys.executable),
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
        close_runtime_folder(folder)


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
