"""Release, autograde and feedback for every assignment of the nbgrader course.

The course root (``assignments/``) holds::

    nbgrader_config.py                        nbgrader's settings for the course
    source/<assignment>/<name>.ipynb          instructor's notebooks (solutions, hidden tests)
    release/<assignment>/<name>.ipynb         generated student version          (release)
    submitted/<student>/<assignment>/*.ipynb  students' work; the folder name is the student id
    autograded/<student>/<assignment>/        graded copies                       (autograde)
    gradebook.db                              nbgrader's gradebook                (release, autograde)
    grades.csv                                one row per submission              (autograde)
    feedback/<student>/<assignment>/*.html    what students get back              (feedback)

Every nbgrader step runs as its own nbgrader process (nbgrader's command
line, started by :mod:`.nbgrader_cli`) in the course root, built by
:func:`nbgrader_command`. Each submission is graded by
:func:`grade_submission` in its own nbgrader run, so one broken or hostile
submission cannot stop the others, and the function can be handed to a pool
of workers. :func:`autograde` writes ``grades.csv`` itself from the results,
with a status for submissions that could not be graded.
"""
from __future__ import annotations

import contextlib
import csv
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import sandbox
from .integrity import find_tampering

GRADES_CSV_COLUMNS = ["student", "assignment", "status", "auto_score", "auto_max", "manual_max", "detail"]


class GradingError(RuntimeError):
    """An nbgrader step failed for the whole course (not for one submission); the message says why."""


@dataclass(frozen=True)
class GradingOptions:
    """What a grading run may change; everything else is in ``nbgrader_config.py``.

    ``timeout`` overrides ``Execute.timeout`` (seconds per cell) of
    nbgrader_config.py, e.g. to keep tests short. ``kernel_name`` is the
    kernelspec that runs submissions (e.g. a sandboxed one); ``nbgrader_args``
    and ``env`` are added to every autograde run's command line and
    environment. ``submission_seconds`` bounds one submission's whole nbgrader
    run, as a last resort behind the per-cell timeout.
    """

    timeout: int | None = None
    kernel_name: str | None = None
    nbgrader_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    submission_seconds: float = 900.0


@dataclass(frozen=True)
class SubmissionResult:
    """The outcome of grading one student's submission of one assignment.

    ``status`` is ``graded``, or why there is no grade: ``missing`` (no
    notebook of the expected name), ``failed`` (nbgrader could not grade it:
    invalid notebook, dead kernel, ...), ``timeout``, ``unknown assignment``,
    or ``flagged``: code that tampers with the tests was found
    (:mod:`course_utils.grading.integrity`), so the points the tests gave
    (``cell_scores``) are withheld (``auto_score`` 0) until a person looks.
    Scores are points; ``cell_scores`` maps each autograded test cell's
    grade_id to its points.
    """

    student: str
    assignment: str
    status: str
    auto_score: float = 0.0
    auto_max: float = 0.0
    manual_max: float = 0.0
    cell_scores: Mapping[str, float] = field(default_factory=dict)
    detail: str = ""
    seconds: float = 0.0

    def csv_row(self) -> dict[str, str]:
        return {"student": self.student, "assignment": self.assignment, "status": self.status,
                "auto_score": f"{self.auto_score:g}", "auto_max": f"{self.auto_max:g}",
                "manual_max": f"{self.manual_max:g}", "detail": self.detail}


# -- the one place that builds and runs nbgrader commands ---------------------------------


def nbgrader_command(subcommand: str, *args: str, options: GradingOptions = GradingOptions()) -> list[str]:
    """The command line of one nbgrader step, to be run in the course root.

    nbgrader is run by this interpreter, so it is the course environment's,
    through :mod:`course_utils.grading.nbgrader_cli` (nbgrader's own command
    line, started faster). For ``autograde`` the options' timeout, kernel and
    extra arguments are added; ``Execute`` is nbgrader's ExecutePreprocessor.
    """
    command = [sys.executable, "-m", "course_utils.grading.nbgrader_cli", subcommand, *args]
    if subcommand == "autograde":
        if options.timeout is not None:
            command.append(f"--Execute.timeout={options.timeout}")
        if options.kernel_name:
            command.append(f"--Execute.kernel_name={options.kernel_name}")
        command.extend(options.nbgrader_args)
    return command


def nbgrader_environment(options: GradingOptions = GradingOptions()) -> dict[str, str]:
    """This process's environment, made right for nbgrader and its kernels.

    The interpreter's folder goes first on PATH (nbgrader runs ``alembic`` to
    create the gradebook). Kernels use one CPU thread unless
    ``OMP_NUM_THREADS`` is set: homework models are small, and several
    submissions graded at once would otherwise fight over the cores.
    """
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update(options.env)
    return env


class NbgraderTimeout(Exception):
    pass


def run_nbgrader(course: Path, command: list[str], options: GradingOptions = GradingOptions(),
                 seconds: float | None = None) -> subprocess.CompletedProcess:
    """Run ``command`` in the course root; its output (stdout and stderr) is captured together.

    After ``seconds`` nbgrader is interrupted (it then shuts its kernel down),
    killed 10 s later if still running, and :class:`NbgraderTimeout` raised.
    """
    process = subprocess.Popen(command, cwd=course, env=nbgrader_environment(options), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    with _running_lock:
        _running.add(process)
    try:
        output, _ = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        _stop(process)
        process.communicate()
        raise NbgraderTimeout(f"nbgrader still running after {seconds:g} s") from None
    finally:
        with _running_lock:
            _running.discard(process)
    return subprocess.CompletedProcess(command, process.returncode, output, None)


# nbgrader runs in its own session, so Ctrl-C in the terminal does not reach it:
# whoever stops a batch stops these (course_utils.grading.parallel).
_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()


def stop_running_nbgrader() -> None:
    """Stop every nbgrader run of this process that is still going (and its kernel)."""
    with _running_lock:
        processes = list(_running)
    threads = [threading.Thread(target=_stop, args=(process,)) for process in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _stop(process: subprocess.Popen) -> None:
    """Interrupt nbgrader (it then shuts its kernel down); kill it if still running 10 s later.

    Only signals and waits: the thread running the process still reads its output.
    """
    _signal_group(process, signal.SIGINT)
    deadline = time.monotonic() + 10
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if process.poll() is None:
        _signal_group(process, getattr(signal, "SIGKILL", signal.SIGTERM))


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
    except ProcessLookupError:
        pass


# -- the course's layout ------------------------------------------------------------------


def assignment_names(course: Path) -> list[str]:
    """Every assignment in ``source/``: a folder holding at least one notebook."""
    source = course / "source"
    if not source.is_dir():
        return []
    return sorted(folder.name for folder in source.iterdir()
                  if _visible(folder) and folder.is_dir() and source_notebooks(course, folder.name))


def source_notebooks(course: Path, assignment: str) -> list[Path]:
    return sorted(path for path in (course / "source" / assignment).glob("*.ipynb") if _visible(path))


def find_submissions(course: Path) -> list[tuple[str, str]]:
    """Every ``(assignment, student)`` with a folder ``submitted/<student>/<assignment>``, sorted."""
    submitted = course / "submitted"
    if not submitted.is_dir():
        return []
    found = []
    for student in submitted.iterdir():
        if not (_visible(student) and student.is_dir()):
            continue
        for assignment in student.iterdir():
            if _visible(assignment) and assignment.is_dir():
                found.append((assignment.name, student.name))
    return sorted(found)


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def points(notebook: nbformat.NotebookNode) -> tuple[dict[str, float], float]:
    """``({grade_id: points} of the autograded test cells, points graded by hand)``."""
    auto: dict[str, float] = {}
    manual = 0.0
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade") and not meta.get("task"):
            continue
        if _is_autograded_test(cell):
            auto[meta["grade_id"]] = float(meta.get("points", 0))
        else:
            manual += float(meta.get("points", 0))
    return auto, manual


def _is_autograded_test(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def cell_scores(notebook: nbformat.NotebookNode) -> dict[str, float]:
    """Points of each autograded test cell of a graded notebook, scored exactly as nbgrader does."""
    from nbgrader.utils import determine_grade  # nbgrader is slow to import: only when grading

    return {cell.metadata["nbgrader"]["grade_id"]: float(determine_grade(cell)[0])
            for cell in notebook.cells if _is_autograded_test(cell)}


# -- the three steps ----------------------------------------------------------------------


def release(course: Path, assignments: Iterable[str] | None = None,
            options: GradingOptions = GradingOptions()) -> list[str]:
    """Generate ``release/<assignment>/`` (no solutions, no hidden tests) for every assignment.

    This also records the assignment, its test cells and their points in the
    gradebook, which autograding needs.
    """
    names = assignment_names(course) if assignments is None else list(assignments)
    if not names:
        raise GradingError(f"no assignment to release: {course / 'source'} holds no <assignment>/<name>.ipynb")
    for name in names:
        done = run_nbgrader(course, nbgrader_command("generate_assignment", name, "--force", options=options),
                            options)
        if done.returncode != 0:
            raise GradingError(f"nbgrader generate_assignment {name} failed:\n{_tail(done.stdout)}")
        print(f"released {name} -> {course / 'release' / name}", flush=True)
    return names


def grade_submission(course: Path, assignment: str, student: str,
                     options: GradingOptions = GradingOptions()) -> SubmissionResult:
    """Autograde ``submitted/<student>/<assignment>/`` in its own nbgrader run; never raises for a bad submission.

    The gradebook must know the assignment (see :func:`release`).
    """
    started = time.monotonic()

    def result(status: str, **fields) -> SubmissionResult:
        return SubmissionResult(student, assignment, status, auto_max=sum(auto_max.values()),
                                manual_max=manual_max, seconds=time.monotonic() - started, **fields)

    expected = {path.name: path for path in source_notebooks(course, assignment)}
    auto_max: dict[str, float] = {}
    manual_max = 0.0
    for path in expected.values():
        auto, manual = points(nbformat.read(path, as_version=4))
        auto_max.update(auto)
        manual_max += manual
    if not expected:
        return result("unknown assignment", detail=f"no assignment {assignment!r} in source/")

    folder = course / "submitted" / student / assignment
    present = {path.name for path in folder.glob("*.ipynb")}
    if not present & expected.keys():
        return result("missing", detail=f"expected {', '.join(sorted(expected))}; "
                                        f"found {', '.join(sorted(present)) or 'no notebook'}")

    command = nbgrader_command("autograde", assignment, f"--student={student}", "--force", options=options)
    try:
        done = run_nbgrader(course, command, options, seconds=options.submission_seconds)
    except NbgraderTimeout as error:
        return result("timeout", detail=str(error))
    if done.returncode != 0:
        return result("failed", detail=_error_line(done.stdout))

    scores = dict.fromkeys(auto_max, 0.0)
    tampering = []
    for name in sorted(present & expected.keys()):
        graded = course / "autograded" / student / assignment / name
        try:
            notebook = nbformat.read(graded, as_version=4)
        except (OSError, ValueError) as error:
            return result("failed", detail=f"cannot read {graded.name} after grading: {error}")
        scores.update(cell_scores(notebook))
        tampering += [f"{name} {finding}" for finding in
                      find_tampering(notebook, nbformat.read(expected[name], as_version=4))]
    if tampering:
        # The tests' verdict cannot be trusted: no points until a person has looked.
        return result("flagged", cell_scores=scores, detail=(
            f"tests gave {sum(scores.values()):g} points, withheld for review: " + "; ".join(tampering))[:1000])
    missing = sorted(expected.keys() - present)
    return result("graded", auto_score=sum(scores.values()), cell_scores=scores,
                  detail=f"missing {', '.join(missing)}" if missing else "")


def autograde(course: Path, jobs: int = 1, options: GradingOptions = GradingOptions()) -> list[SubmissionResult]:
    """Grade every submission and write ``grades.csv``; returns the results, sorted.

    Assignments that the gradebook does not know yet are released first.
    ``jobs`` submissions are graded at a time, each kernel in the sandbox of
    :mod:`course_utils.grading.sandbox` unless ``COURSE_SANDBOX=off``; a
    submission unchanged since it was last graded is not graded again, and an
    interrupted run resumes where it stopped (:mod:`course_utils.grading.parallel`).
    """
    try:
        sandbox.check_options(options)
    except (sandbox.SandboxUnavailable, ValueError) as error:
        raise GradingError(str(error)) from None
    submissions = find_submissions(course)
    known = set(assignment_names(course))
    unreleased = sorted({assignment for assignment, _ in submissions} & known - _gradebook_assignments(course))
    if unreleased:
        release(course, unreleased, options)

    def grade(assignment: str, student: str, run_options: GradingOptions) -> SubmissionResult:
        with sandbox.sandboxed_options(course, run_options) as graded_options:
            return grade_submission(course, assignment, student, options=graded_options)

    def report(outcome: SubmissionResult, reused: bool) -> None:
        how = "unchanged since last graded" if reused else f"{outcome.seconds:.1f} s"
        print(f"{outcome.assignment}/{outcome.student}: {outcome.status} {outcome.auto_score:g}/"
              f"{outcome.auto_max:g} ({how}){'  ' + outcome.detail if outcome.detail else ''}", flush=True)

    from .parallel import grade_batch  # it builds on this module

    results = grade_batch(course, submissions, grade, jobs=jobs, options=options, report=report)
    write_grades_csv(course / "grades.csv", results)
    return results


def write_grades_csv(path: Path, results: Iterable[SubmissionResult]) -> None:
    """One row per (student, assignment), sorted by assignment then student."""
    rows = sorted(results, key=lambda r: (r.assignment, r.student))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=GRADES_CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(result.csv_row() for result in rows)
    os.replace(tmp, path)  # never a half-written grades.csv


def read_grades_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def feedback(course: Path, options: GradingOptions = GradingOptions()) -> list[Path]:
    """Write ``feedback/<student>/<assignment>/<name>.html`` for every autograded submission.

    Hidden tests are kept out by nbgrader_config.py; as a last guard, a page
    that still names a hidden test region is deleted and reported.
    """
    autograded = course / "autograded"
    graded = sorted({folder.name for student in autograded.iterdir() if student.is_dir() and _visible(student)
                     for folder in student.iterdir() if folder.is_dir()}) if autograded.is_dir() else []
    failures = []
    for name in graded:
        done = run_nbgrader(course, nbgrader_command("generate_feedback", name, "--force", options=options),
                            options)
        if done.returncode != 0:
            failures.append(f"nbgrader generate_feedback {name} failed:\n{_tail(done.stdout)}")
    pages = sorted((course / "feedback").glob("*/*/*.html"))
    for page in pages:
        if "BEGIN HIDDEN TESTS" in page.read_text(encoding="utf-8", errors="replace"):
            page.unlink()
            failures.append(f"{page} showed hidden tests and was deleted: check GenerateFeedback.preprocessors "
                            f"in {course / 'nbgrader_config.py'}")
    if failures:
        raise GradingError("\n".join(failures))
    pages = [page for page in pages if page.exists()]
    print(f"feedback: {len(pages)} page(s) in {course / 'feedback'}", flush=True)
    return pages


def _gradebook_assignments(course: Path) -> set[str]:
    """Names of the assignments in the gradebook (read-only; empty if there is none)."""
    database = course / "gradebook.db"
    if not database.exists():
        return set()
    try:
        with contextlib.closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as connection:
            return {row[0] for row in connection.execute("SELECT name FROM assignment")}
    except sqlite3.Error:
        return set()


def _tail(output: str, lines: int = 20) -> str:
    return "\n".join(output.strip().splitlines()[-lines:])


def _error_line(output: str) -> str:
    """The most telling line of a failed nbgrader run, for grades.csv: its last exception, if any."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    exceptions = [line for line in lines if _EXCEPTION_LINE.match(line)]
    logged = [line for line in lines if "| ERROR]" in line]
    line = (exceptions or logged or lines or ["nbgrader failed without output"])[-1]
    return line[:300]


_EXCEPTION_LINE = re.compile(r"^[\w.]*(Error|Exception|Exit|Interrupt)\b.*: ")
