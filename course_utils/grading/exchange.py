"""nbgrader's exchange: the shared folder through which students fetch homework, submit, and get feedback.

Its place is configured once, by the environment variable ``COURSE_EXCHANGE``
(read by ``assignments/nbgrader_config.py`` as ``c.Exchange.root``; default
nbgrader's ``/usr/local/share/nbgrader/exchange``). The course's id there is
``deep-learning-course`` (``c.CourseDirectory.course_id``). The instructor's
side is here; students use nbgrader's own commands (``nbgrader
fetch_assignment``, ``submit``, ``fetch_feedback``) or JupyterLab's
*Assignments* tab.

nbgrader keeps students apart: each submission lands in ``inbound/`` (mode
0733: students may write but not list), under a name with a random part,
and feedback is filed under a hash of the submission's secret, so a student
can read only their own.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ENV_VAR = "COURSE_EXCHANGE"
DEFAULT_ROOT = "/usr/local/share/nbgrader/exchange"  # nbgrader's Exchange.root default


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
    """Copy each student's newest submission from the exchange to ``submitted/`` (with its ``timestamp.txt``).

    A submission already collected is replaced only by a newer one. Returns
    ``{assignment: students now in submitted/}``.
    """
    ensure_root()
    collected = {}
    for name in assignments:
        _each(course, "collect", [name], "--update")
        folder = course / "submitted"
        collected[name] = sorted(student.name for student in folder.iterdir()
                                 if (student / name / "timestamp.txt").is_file()) if folder.is_dir() else []
    return collected


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
