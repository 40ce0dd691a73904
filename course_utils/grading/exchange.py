"""nbgrader's exchange: the shared folder through which students fetch homework, submit, and get feedback.

Its place is configured once, by the environment variable ``COURSE_EXCHANGE``
(read by ``assignments/nbgrader_config.py`` as ``c.Exchange.root``; default
nbgrader's ``/usr/local/share/nbgrader/exchange``). The course's id there is
``deep-learning-course`` (``c.CourseDirectory.course_id``). The instructor's
side is here; students use nbgrader's own commands (``nbgrader
fetch_assignment``, ``submit``, ``fetch_feedback``) or JupyterLab's
*Assignments* tab.

nbgrader's folder cannot keep students apart on its own (nbgrader #1097,
#1104, #1225): anyone may write into ``inbound/`` under any name and with any
``timestamp.txt``. :func:`collect` therefore checks who owns each submission
and takes its time from the file system; a class on the hub uses the
exchange service instead (:mod:`.exchange_service`).
"""
from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from . import safe_files
from .roster import RosterError, check_student_id

ENV_VAR = "COURSE_EXCHANGE"
DEFAULT_ROOT = "/usr/local/share/nbgrader/exchange"  # nbgrader's Exchange.root default
COURSE_ID = "deep-learning-course"  # c.CourseDirectory.course_id of assignments/nbgrader_config.py


class ExchangeError(RuntimeError):
    """An nbgrader exchange step failed; the message has nbgrader's output."""


def exchange_root() -> Path:
    return Path(os.environ.get(ENV_VAR) or DEFAULT_ROOT)


def exchange_configured() -> bool:
    """Whether to use the exchange: ``COURSE_EXCHANGE`` is set, or nbgrader's default folder exists."""
    return bool(os.environ.get(ENV_VAR)) or Path(DEFAULT_ROOT).is_dir()


def ensure_root() -> Path:
    """Create the exchange folder if it is missing: world-writable with the sticky bit (1777), as nbgrader needs."""
    root = exchange_root()
    if not root.is_dir():
        try:
            root.mkdir(parents=True)
            root.chmod(0o1777)
        except OSError as error:
            raise ExchangeError(f"cannot create the exchange {root} ({error}): create it as an administrator "
                                f"with 'mkdir -p {root} && chmod 1777 {root}', or set {ENV_VAR}") from None
    return root


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """Run one nbgrader command in the course root (``nbgrader_config.py`` there points it at the exchange)."""
    command = [sys.executable, "-m", "course_utils.grading.nbgrader_cli", *args]
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run(command, cwd=course, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _each(course: Path, step: str, assignments: Iterable[str], *extra: str) -> list[str]:
    done = []
    for name in assignments:
        result = nbgrader(course, step, name, *extra)
        if result.returncode != 0:
            raise ExchangeError(f"nbgrader {step} {name} failed:\n{_tail(result.stdout)}")
        done.append(name)
    return done


def release_assignments(course: Path, assignments: Iterable[str]) -> list[str]:
    """Copy ``release/<assignment>/`` to the exchange's ``outbound/`` (replacing an earlier release)."""
    ensure_root()
    names = _each(course, "release_assignment", assignments, "--force")
    for name in names:
        print(f"released {name} to the exchange {exchange_root()}", flush=True)
    return names


def collect(course: Path, assignments: Iterable[str]) -> dict[str, list[str]]:
    """Copy each student's newest submission from the exchange's ``inbound/`` to ``submitted/``.

    Not with ``nbgrader collect``, which trusts what students wrote (nbgrader
    #1097, #1104, #1225): here a submission counts only for the Unix user who
    owns its folder and every file in it (one named for another student is
    quarantined as an impersonation); it is read as data (no links, special
    files or hard links, size limits: :mod:`.safe_files`); and its time is
    the latest change the file system recorded (ctime, which its owner cannot
    set back), written as ``timestamp.txt`` in place of the student's own.
    A submission already collected is replaced only by a newer one; one that
    breaks a rule is quarantined and the rest of the class collected. Returns
    ``{assignment: students now in submitted/}``.
    """
    root = ensure_root()
    inbound = root / COURSE_ID / "inbound"
    collected = {}
    for name in assignments:
        newest: dict[str, tuple[float, Path]] = {}
        for entry in sorted(inbound.iterdir()) if inbound.is_dir() else []:
            parts = entry.name.split("+")
            if len(parts) < 3 or parts[1] != name:
                continue
            student = parts[0]
            try:
                check_student_id(student, "an inbound submission's student")
                owner = _owner_of(entry, student)
                when = _changed_at(entry)
            except (RosterError, safe_files.Rejected, OSError) as error:
                _quarantine(course, name, student, str(error), entry.name)
                continue
            if student not in newest or when > newest[student][0]:
                newest[student] = (when, entry)
        for student, (when, entry) in sorted(newest.items()):
            folder = Path(course) / "submitted" / student / name
            stamp = datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
            if _read_text(folder / ".exchange-source") == f"{entry.name}\t{stamp}":
                continue  # already collected
            try:
                files = safe_files.check_files(safe_files.read_tree(entry, owner=pwd.getpwnam(student).pw_uid))
                files = [(path, data) for path, data in files if str(path) not in ("timestamp.txt", ".exchange-source")]
                files += [(safe_files.check_path("timestamp.txt"), stamp.encode()),
                          (safe_files.check_path(".exchange-source"), f"{entry.name}\t{stamp}".encode())]
                safe_files.replace_folder(folder, files)
            except (safe_files.Rejected, KeyError) as error:
                _quarantine(course, name, student, str(error), entry.name)
        folder = Path(course) / "submitted"
        collected[name] = sorted(student.name for student in folder.iterdir()
                                 if (student / name / "timestamp.txt").is_file()) if folder.is_dir() else []
    return collected


def _owner_of(entry: Path, student: str) -> int:
    """The uid of ``student``, who must own ``entry`` (a real folder, not a link)."""
    info = os.lstat(entry)
    if not stat.S_ISDIR(info.st_mode):
        raise safe_files.Rejected(f"{entry.name} is not a folder")
    try:
        uid = pwd.getpwnam(student).pw_uid
    except KeyError:
        raise safe_files.Rejected(f"no Unix user {student!r} owns submissions here") from None
    if info.st_uid != uid:
        try:
            owner = pwd.getpwuid(info.st_uid).pw_name
        except KeyError:
            owner = str(info.st_uid)
        raise safe_files.Rejected(f"submitted in {student}'s name by {owner}: not collected")
    return uid


def _changed_at(entry: Path) -> float:
    """The latest ctime of ``entry`` and everything in it (a time its owner can move later, never earlier)."""
    latest = os.lstat(entry).st_ctime
    for folder, folders, files in os.walk(entry):
        for item in folders + files:
            latest = max(latest, os.lstat(os.path.join(folder, item)).st_ctime)
    return latest


def _quarantine(course: Path, assignment: str, student: str, reason: str, source: str) -> None:
    try:
        check_student_id(student)
    except RosterError:
        student = "_invalid-names"
    safe_files.quarantine(course, assignment, student, reason, source)
    print(f"{assignment}: QUARANTINED {source}: {reason}", flush=True)


def _read_text(path: Path) -> str:
    try:
        return "" if path.is_symlink() else path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def release_feedback(course: Path, assignments: Iterable[str]) -> list[str]:
    """Put ``feedback/<student>/<assignment>/`` where each student's ``nbgrader fetch_feedback`` finds it.

    Only submissions that came through the exchange can get feedback there
    (nbgrader files it under the submission's secret and timestamp).
    """
    ensure_root()
    released = []
    for name in assignments:
        pages = sorted((Path(course) / "feedback").glob(f"*/{name}"))
        # A submission from an LMS zip has no exchange secret: its feedback goes back through the LMS.
        elsewhere = sorted(page.parent.name for page in pages
                           if not ((page / "timestamp.txt").is_file() and (page / "submission_secret.txt").is_file()))
        if elsewhere:
            print(f"{name}: feedback of {', '.join(elsewhere)} (not submitted through the exchange) stays in "
                  f"{Path(course) / 'feedback'}", flush=True)
        if len(elsewhere) == len(pages):
            continue
        extra = [f"--CourseDirectory.student_id_exclude={','.join(elsewhere)}"] if elsewhere else []
        released += _each(course, "release_feedback", [name], *extra)
    return released


def _tail(output: str, lines: int = 20) -> str:
    return "\n".join(output.strip().splitlines()[-lines:])
