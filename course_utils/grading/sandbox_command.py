"""The ``bwrap`` command line that starts one program in a grading sandbox.

What student code sees inside: the system folders, the Python installation
and the ``course_utils`` sources read-only (:func:`readonly_paths`), the
kernel's connection file and IPC socket folder, a working folder that is a
tmpfs of limited size filled from a read-only copy of the submission, a
private ``/tmp``, and nothing else; no network, no capabilities, no further
user namespaces, a clean environment (:func:`kernel_environment`) and its own
process namespace. The program runs under ``prlimit``'s per-process limits.

Standard library only (the launcher imports it, see
:mod:`~course_utils.grading.sandbox_launcher`).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from .sandbox_limits import Limits

SANDBOX_UID = 1000  # the student's uid (and gid) inside the sandbox (its own user namespace)
WORK_SOURCE = "/.course-work"  # inside the sandbox: the read-only copy that fills the working folder
KERNEL_ARGS = ("--HistoryManager.hist_file=:memory:",)  # what nbclient gives a plain python3 kernel

# Taken over from the grader: they change how fast code runs or how long a
# notebook trains, never what it may access.
PASSED_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "COURSE_QUICK_RUN")


def namespace_args() -> list[str]:
    """bwrap's options for the sandbox's namespaces: new ones of every kind, a nested user namespace
    that cannot make further ones, uid/gid :data:`SANDBOX_UID`, no capabilities, dies with its parent."""
    return ["--unshare-all", "--unshare-user", "--disable-userns",
            "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox",
            "--die-with-parent", "--new-session", "--cap-drop", "ALL"]


def kernel_environment(python: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment student code gets (``python``: the interpreter, whose folder leads ``PATH``;
    the :data:`PASSED_ENV` variables come from ``environ``, by default this process's environment)."""
    environ = os.environ if environ is None else environ
    passed = {name: environ[name] for name in PASSED_ENV if name in environ}
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


def readonly_paths() -> list[str]:
    """The folders bound read-only besides the system's: the Python installation (venv and the
    interpreter it links to) and ``course_utils``; none below ``/usr`` or below another one."""
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


def kernel_program(python: str, connection_file: str, kernel_args: Sequence[str] = ()) -> list[str]:
    """The IPython kernel on ``connection_file``: what :func:`bwrap_command` runs for a fresh kernel."""
    return [python, "-m", "ipykernel_launcher", "-f", connection_file, *KERNEL_ARGS, *kernel_args]


def bwrap_command(*, bwrap: str, prlimit: str, python: str, readonly: Sequence[str], limits: Limits,
                  ipc_dir: str, connection_file: str, workdir: str, copy: str, copy_bytes: int = 0,
                  program: Sequence[str]) -> list[str]:
    """The full ``bwrap ... python (fill workdir) ... prlimit ... program`` command line.

    Inside, ``workdir`` is a tmpfs of ``copy_bytes`` (what ``copy`` holds)
    plus ``limits.work_bytes``, filled from ``copy`` (bound read-only at
    :data:`WORK_SOURCE`) before ``program`` starts, in ``workdir``, with
    ``limits``' per-process limits: RLIMIT_FSIZE limits one file only, so a
    folder on the grader's disk let a kernel fill that disk (issue 27: 3 x 1 GB
    by fallocate, no CPU time). ``program`` is the kernel
    (:func:`kernel_program`) or, for a warm kernel, a placeholder that holds
    the sandbox open until a kernel joins it
    (:mod:`~course_utils.grading.warm_kernels`). ``python`` runs the copy and
    is the interpreter whose environment the sandbox gets; ``ipc_dir`` is
    bound writable (the kernel's sockets), ``connection_file`` read-only.
    """
    command = [bwrap, *namespace_args(), "--clearenv"]
    for key, value in kernel_environment(python).items():
        command += ["--setenv", key, value]
    # Fresh /proc, /dev and private tmpfs first: later binds may lie below /tmp.
    command += [
        "--proc", "/proc",
        "--dev", "/dev",
        "--size", str(limits.tmp_bytes), "--tmpfs", "/dev/shm",
        "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp",
    ]
    command += _system_args()
    for path in readonly:
        command += ["--ro-bind", path, path]
    command += [
        "--ro-bind", connection_file, connection_file,
        "--bind", ipc_dir, ipc_dir,
        "--ro-bind", copy, WORK_SOURCE,
        "--size", str(copy_bytes + limits.work_bytes), "--tmpfs", workdir,
        "--remount-ro", "/dev",
        "--remount-ro", "/",
        "--chdir", workdir,
        "--",
        python, "-I", "-S", "-c",
        # then stdin, stdout and stderr on the sandbox's /dev/null: they were the grader's (its log, its answers)
        "import os, shutil, sys; shutil.copytree(sys.argv[1], sys.argv[2], symlinks=True, dirs_exist_ok=True); "
        "null = os.open('/dev/null', os.O_RDWR); [os.dup2(null, fd) for fd in (0, 1, 2)]; "
        "os.execv(sys.argv[3], sys.argv[3:])",
        WORK_SOURCE, workdir,
        prlimit,
        *_prlimit_args(limits),
        "--",
        *program,
    ]
    return command


def _prlimit_args(limits: Limits) -> list[str]:
    """``--data=N``, ``--cpu=SOFT:HARD``...: :meth:`Limits.process_limits` as prlimit's options."""
    return [f"--{name}={soft}" if soft == hard else f"--{name}={soft}:{hard}"
            for name, (soft, hard) in limits.process_limits().items()]


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
