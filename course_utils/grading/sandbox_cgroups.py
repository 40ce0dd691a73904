"""Cgroups that limit a whole sandbox's processes and memory (root only).

The kernel does not apply ``RLIMIT_NPROC`` to root, so when the grader runs as
root each sandboxed kernel also gets a cgroup of its own (v1: one in the
``pids`` and one in the ``memory`` hierarchy; v2: one with both controllers),
below a parent ``course-sandbox`` next to the grader's own cgroup (v1) or at
the top (v2). A kernel's cgroup is named ``<runtime folder's name>-<suffix
without dashes>``, so that the cgroups of a runtime can be swept at its end
(:func:`sweep_cgroups`) and those of a killed run found later
(:func:`remove_stale_cgroups`).

Standard library only (the launcher imports it, see
:mod:`~course_utils.grading.sandbox_launcher`).
"""
from __future__ import annotations

import contextlib
import time
import uuid
from pathlib import Path

from .sandbox_errors import SWITCH_ENV, SandboxUnavailable
from .sandbox_limits import Limits

CGROUP_PARENT = "course-sandbox"


def make_cgroup(limits: Limits, name: str) -> list[Path]:
    """Make the cgroup(s) ``name`` with ``limits``' processes and memory set; return their folders.

    A process joins by writing its pid to ``<folder>/cgroup.procs``. Raises
    :class:`SandboxUnavailable` (having removed what it made) if that fails.
    """
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


def check_cgroups() -> None:
    """Make and remove a throw-away cgroup; raise :class:`SandboxUnavailable` where that fails."""
    for folder in make_cgroup(Limits(), f"check-{uuid.uuid4().hex}"):
        folder.rmdir()
        with contextlib.suppress(OSError):
            folder.parent.rmdir()  # unless another run uses it


def remove_cgroups(folders: list[Path], seconds: float = 10.0) -> None:
    """Remove one kernel's cgroups (from :func:`make_cgroup`) once its processes are gone.

    The kernel reaps them in a moment; what is still busy after ``seconds`` is
    left (and swept with its runtime, :func:`sweep_cgroups`). Never raises.
    """
    deadline = time.monotonic() + seconds
    left = list(folders)
    while left and time.monotonic() < deadline:
        for folder in list(left):
            try:
                folder.rmdir()
                left.remove(folder)
            except FileNotFoundError:
                left.remove(folder)
            except OSError:
                pass
        if left:
            time.sleep(0.02)


def sweep_cgroups(prefix: str, wait_seconds: float = 10.0) -> None:
    """Remove the cgroups ``<prefix>-*`` that the kernels of one runtime left behind, and the parents if empty.

    A cgroup can only be removed once its last process is gone; after a fork
    bomb the kernel takes a moment to reap hundreds of them, hence the wait.
    Never raises.
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


def remove_stale_cgroups(runtimes: Path, prefix: str) -> None:
    """Remove the empty cgroups ``<prefix>...-<suffix>`` whose runtime folder ``runtimes/<prefix>...`` is gone.

    What killed runs left; a cgroup that still holds a process stays. Never raises.
    """
    with contextlib.suppress(SandboxUnavailable, OSError):
        for parent, _ in _cgroup_parents():
            for child in parent.glob(prefix + "*/"):
                runtime = child.name.rsplit("-", 1)[0]
                if not (runtimes / runtime).exists():
                    with contextlib.suppress(OSError):
                        child.rmdir()  # only if empty


def _own_cgroups() -> dict[str, str]:
    """Controller name -> this process's cgroup path ('' for cgroup v2)."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            own[controller] = path
    return own


def _cgroup_parents() -> list[tuple[Path, dict[str, str]]]:
    """(parent folder, {control file: Limits attribute}) for each cgroup the sandbox joins, v1 or v2."""
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
