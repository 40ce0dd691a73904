"""Release, autograde and feedback for every assignment of the nbgrader course: what the make targets run.

The course root (``assignments/``) holds::

    nbgrader_config.py                        nbgrader's settings for the course
    source/<assignment>/<name>.ipynb          instructor's notebooks (solutions, hidden tests)
    release/<assignment>/<name>.ipynb         generated student version          (release)
    submitted/<student>/<assignment>/*.ipynb  students' work; the folder name is the student id
    autograded/<student>/<assignment>/        graded copies                       (autograde)
    gradebook.db                              nbgrader's gradebook                (release, autograde)
    grades.csv, grades_wide.csv               the class's grades (autograde, export: export.py)
    feedback/<student>/<assignment>/*.html    what students get back              (feedback)

The grading machinery is layered, each module above the ones it calls:
:mod:`.nbgrader_run` runs one nbgrader step; :mod:`.submission` grades one
submission in its own nbgrader run (with :mod:`.judged_execute`, which
judges the test cells outside the kernel); :mod:`.parallel` grades a batch with N
workers, resumably; this module orchestrates the three steps. ``grades.csv``
has one writer, :func:`course_utils.grading.export.write_grades` (also
nbgrader's exporter, ``CourseExport``), which :func:`autograde` calls at its
end. The names of the lower layers that callers use are importable from here too.
"""
from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from . import markers, sandbox
from .export import read_grades, write_grades  # noqa: F401 (grades.csv: one writer, one reader)
from .layout import (assignment_names, cell_scores, find_submissions, is_autograded_test, points,  # noqa: F401
                     source_notebooks, visible)
from .nbgrader_run import (GradingError, GradingOptions, NbgraderTimeout, nbgrader_command,  # noqa: F401
                           nbgrader_environment, output_tail, run_nbgrader, stop_running_nbgrader)
from .parallel import grade_batch
from .submission import SubmissionResult, grade_submission  # noqa: F401


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
            raise GradingError(f"nbgrader generate_assignment {name} failed:\n{output_tail(done.stdout)}")
        print(f"released {name} -> {course / 'release' / name}", flush=True)
    return names


def autograde(course: Path, jobs: int = 1, options: GradingOptions = GradingOptions(),
              warm: bool = True) -> list[SubmissionResult]:
    """Grade every submission, then write ``grades.csv`` and ``grades_wide.csv``
    (:func:`~course_utils.grading.export.write_grades`); returns the results, sorted.

    Assignments that the gradebook does not know yet are released first.
    ``jobs`` submissions are graded at a time, each kernel in the sandbox of
    :mod:`course_utils.grading.sandbox` unless ``COURSE_SANDBOX=off``; a
    submission unchanged since it was last graded is not graded again, and an
    interrupted run resumes where it stopped (:mod:`course_utils.grading.parallel`).
    With ``warm`` (where :func:`.grading_worker.warm_workers_unavailable` allows)
    the batch's workers are long-lived processes that run nbgrader in-process, with
    kernels started ahead as root (:mod:`course_utils.grading.grading_worker`);
    otherwise each submission gets its own nbgrader run and kernel. The grades are the same.
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

    from .grading_worker import WarmWorkers, warm_workers_unavailable  # it builds on the lower layers

    if warm and warm_workers_unavailable(options) is None:
        with WarmWorkers(course) as workers:
            results = grade_batch(course, submissions, workers.grade, jobs=jobs, options=options, report=report)
    else:
        results = grade_batch(course, submissions, grade, jobs=jobs, options=options, report=report)
    write_grades(course)
    return results


def feedback(course: Path, options: GradingOptions = GradingOptions()) -> list[Path]:
    """Write ``feedback/<student>/<assignment>/<name>.html`` for every autograded submission.

    Hidden tests are kept out by nbgrader_config.py; as a last guard, a page
    that still names a hidden test region is deleted and reported.
    """
    autograded = course / "autograded"
    graded = sorted({folder.name for student in autograded.iterdir() if student.is_dir() and visible(student)
                     for folder in student.iterdir() if folder.is_dir()}) if autograded.is_dir() else []
    failures = []
    for name in graded:
        done = run_nbgrader(course, nbgrader_command("generate_feedback", name, "--force", options=options),
                            options)
        if done.returncode != 0:
            failures.append(f"nbgrader generate_feedback {name} failed:\n{output_tail(done.stdout)}")
    pages = sorted((course / "feedback").glob("*/*/*.html"))
    begin_hidden = markers.Markers.for_course(course).begin_hidden
    withheld = []
    for page in pages:
        if begin_hidden in page.read_text(encoding="utf-8", errors="replace"):
            page.unlink()
            withheld.append(page)
    if withheld and len(withheld) == len(pages):  # every page: the configuration, not one student's output
        failures.append(f"every feedback page showed hidden tests and was deleted: check "
                        f"GenerateFeedback.preprocessors in {course / 'nbgrader_config.py'}")
    else:  # one student's output can name a marker (in any form): withhold that page, release the others
        for page in withheld:
            print(f"feedback WITHHELD: {page} names a hidden test region and was deleted; look at that "
                  f"student's outputs before releasing it by hand", flush=True)
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
