"""The sandbox's runtime folders on the grader's side: where they live, how they are made and removed.

Each nbgrader run (or warm kernel pool) gets a runtime folder
``<runtime_base()>/course-sandbox-XXXXXXXX`` (mode 700) holding its kernelspec,
the kernels' IPC sockets, connection files and copies of the submission; a
file ``owner`` in it holds the pid of the process that made it, so that a
later run can tell the folder of a killed run (:func:`remove_stale_runtimes`).
Student code may take permissions away inside what it was given;
:func:`remove_tree` removes such folders anyway.

Standard library only (the launcher imports it, see
:mod:`~course_utils.grading.sandbox_launcher`).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

from .sandbox_errors import SandboxUnavailable

RUNTIME_PREFIX = "course-sandbox-"  # runtime folders in runtime_base(); cgroups named after them


def is_inside(path: str, folder: str) -> bool:
    """True if ``path`` lies strictly below ``folder`` (both absolute, normalised; no link is resolved)."""
    return path != folder and path.startswith(folder.rstrip("/") + "/")


def runtime_base() -> Path:
    """The grader's own folder for sandbox runtimes: ``~/.cache/course-sandbox`` (mode 700), not the shared /tmp.

    ``COURSE_SANDBOX_RUNTIME`` names another one. Created if missing; refused
    (:class:`SandboxUnavailable`) unless it is a real folder owned by this user
    that nobody else may enter, so no other user can plant folders or links
    where the grader creates and removes them.
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


def remove_stale_runtimes() -> None:
    """Remove the runtime folders of runs that were killed (no clean-up): those whose ``owner`` is dead.

    Only this user's :func:`runtime_base` is looked at, and only real folders
    owned by this user in it are removed; a folder without a readable
    ``owner`` is being set up right now and is left alone. (Their cgroups:
    :func:`.sandbox_cgroups.remove_stale_cgroups`.)
    """
    for folder in runtime_base().glob(RUNTIME_PREFIX + "*"):
        try:
            info = os.lstat(folder)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
                continue
            os.kill(int((folder / "owner").read_text()), 0)
        except ProcessLookupError:
            remove_tree(folder)
        except (OSError, ValueError):
            continue  # not ours, or being set up right now


def remove_tree(folder: Path) -> None:
    """Remove a folder even where student code took away permissions.

    Something already gone is not an error: two workers of one batch may
    clean up the same stale folder at once. Only ``folder`` and what lies
    below it are touched (never its parent), and no link is followed: a link
    is removed, not its target.
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
        inside = top is None or os.path.abspath(p) == top or is_inside(os.path.abspath(p), top)
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
