"""The sandbox kernelspec's program: prepares one kernel outside the sandbox, then becomes ``bwrap``.

``sandbox.sandbox_runtime`` writes a kernelspec whose argv
(:func:`kernelspec_argv`) runs this file as a program::

    python -I -S .../sandbox_launcher.py <runtime>/kernels/course-sandbox/sandbox.json <connection file>

in the kernel's working folder ``autograded/<student>/<assignment>``. It
checks that folder and the connection file, empties the socket folder of the
previous kernel, copies the working folder (without its notebooks, which hold
the hidden tests) to a throw-away folder, as root moves itself into a new
cgroup, and replaces itself by :func:`.sandbox_command.bwrap_command`.

``sandbox.json`` (written by ``sandbox_runtime``) holds ``bwrap``,
``prlimit``, ``python`` (paths), ``readonly`` (folders), ``autograded_root``,
``ipc_dir``, ``scratch_dir``, ``cgroup_prefix`` (the runtime folder's name)
and ``limits`` (:class:`.sandbox_limits.Limits` as a dict).

Run with ``-I -S`` (no site-packages, no environment), it imports the standard
library and the package's standard-library-only ``sandbox_*`` modules, found
next to this file, and nothing else: ``tests/grading/test_sandbox_launcher.py``
checks that.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path



def _load_own_packages() -> None:
    """Make ``course_utils`` and ``course_utils.grading`` importable from the folders this file lies in.

    They are loaded from their ``__init__.py`` by path, not found on ``sys.path``: finding them would list
    the repository's root, which the hub set-up closes to every account but root and the instructors
    (mode o=x). Their submodules are then found in the package folders, which stay open."""
    import importlib.util

    grading = Path(__file__).resolve().parent
    for name, folder in (("course_utils", grading.parent), ("course_utils.grading", grading)):
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


if __name__ == "__main__":  # run as a program: neither site-packages nor this package is on sys.path
    _load_own_packages()

from course_utils.grading.sandbox_cgroups import make_cgroup  # noqa: E402
from course_utils.grading.sandbox_command import bwrap_command, kernel_program  # noqa: E402
from course_utils.grading.sandbox_errors import SandboxUnavailable  # noqa: E402
from course_utils.grading.sandbox_folders import is_inside, remove_tree  # noqa: E402
from course_utils.grading.sandbox_limits import Limits  # noqa: E402


def kernelspec_argv(python: str) -> list[str]:
    """The kernelspec's ``argv``: ``python`` runs this file, isolated, on the spec's ``sandbox.json``."""
    return [python, "-I", "-S", os.path.abspath(__file__), "{resource_dir}/sandbox.json", "{connection_file}"]


def launch(config_file: str, connection_file: str, kernel_args: list[str]) -> None:
    """Start the kernel in the sandbox; replaces this process by bwrap (returns only by raising).

    Raises :class:`SandboxUnavailable` if the working folder is not below
    ``autograded_root`` or the connection is not over IPC sockets in ``ipc_dir``.
    """
    config = json.loads(Path(config_file).read_text())
    workdir = os.path.realpath(os.getcwd())
    if not is_inside(workdir, config["autograded_root"]):
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
            remove_tree(leftover)
        else:
            leftover.unlink()
    # Student code writes to a copy: the submission and the grader's files stay
    # as they are. The notebooks stay out: autograde has put the hidden tests back.
    copy = os.path.join(tempfile.mkdtemp(dir=config["scratch_dir"]), "work")
    shutil.copytree(workdir, copy, symlinks=True, ignore=shutil.ignore_patterns("*.ipynb"))
    limits = Limits(**config["limits"])
    if os.geteuid() == 0:
        name = f"{config['cgroup_prefix']}-{uuid.uuid4().hex}"
        for folder in make_cgroup(limits, name):
            (folder / "cgroup.procs").write_text(str(os.getpid()))
    connection_file = os.path.realpath(connection_file)
    command = bwrap_command(
        bwrap=config["bwrap"], prlimit=config["prlimit"], python=config["python"], readonly=config["readonly"],
        limits=limits, ipc_dir=ipc_dir, connection_file=connection_file, workdir=workdir,
        copy=copy, copy_bytes=_tree_bytes(copy), program=kernel_program(config["python"], connection_file, kernel_args))
    # bubblewrap, the sandbox's pid 1, can be reached from inside: it keeps only stderr (for its own errors;
    # what runs inside it gets /dev/null, see bwrap_command), not the grader's stdin and stdout.
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.execv(command[0], command)


def _tree_bytes(folder: str) -> int:
    """Bytes of the files below ``folder`` (links not followed), for the size of its tmpfs."""
    total = 0
    for parent, _, names in os.walk(folder):
        for name in names:
            total += os.lstat(os.path.join(parent, name)).st_size + 4096
    return total


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(f"usage: python -I -S {sys.argv[0]} SANDBOX_JSON CONNECTION_FILE [KERNEL_ARGS...]")
    try:
        launch(sys.argv[1], sys.argv[2], sys.argv[3:])
    except SandboxUnavailable as error:
        sys.exit(f"course-sandbox: {error}")
