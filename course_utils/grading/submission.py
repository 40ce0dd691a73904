"""Layer 2: grade one student's submission of one assignment, in its own nbgrader run.

:func:`grade_submission` never raises for a bad submission: whatever happens
becomes a :class:`SubmissionResult` with a status. It can be handed to a pool
of workers (:mod:`.parallel`). The test cells are judged outside the kernel
by the course's ``JudgedExecute`` preprocessor (:mod:`.judged_execute`); its
findings (flags from the static look at forbidden calls) travel in the graded
notebook's metadata, with a token of this run.
"""
from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .judged_execute import METADATA_KEY
from .layout import cell_scores, points, source_notebooks
from .nbgrader_run import GradingOptions, NbgraderTimeout, error_line, nbgrader_command, run_nbgrader

DETAIL_LENGTH = 1000


@dataclass(frozen=True)
class SubmissionResult:
    """The outcome of grading one student's submission of one assignment.

    ``status`` is ``graded``, or why there is no plain grade: ``missing`` (no
    notebook of the expected name), ``failed`` (nbgrader could not grade it:
    invalid notebook, dead kernel, ...), ``timeout``, ``unknown assignment``,
    or ``flagged``: while the tests ran, the submission's code replaced
    something they rely on (the grading guard undid it at once and the tests
    ran on the originals). A flagged submission keeps the points the tests
    gave (``auto_score``, ``cell_scores``); its test cells wait for a person's
    decision in Formgrader, and ``detail`` says what was found where.
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


RunNbgrader = Callable[..., subprocess.CompletedProcess]


def grade_submission(course: Path, assignment: str, student: str, options: GradingOptions = GradingOptions(),
                     run: RunNbgrader = run_nbgrader) -> SubmissionResult:
    """Autograde ``submitted/<student>/<assignment>/`` in one nbgrader run; never raises for a bad submission.

    ``run(course, command, options, seconds=...)`` runs the nbgrader command
    (by default its own process; a grading worker runs it in-process). The
    gradebook must know the assignment (see :func:`course_utils.grading.pipeline.release`).
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

    token = secrets.token_hex(16)
    command = nbgrader_command("autograde", assignment, f"--student={student}", "--force", options=options)
    command.append(f"--JudgedExecute.run_token={token}")
    try:
        done = run(course, command, options, seconds=options.submission_seconds)
    except NbgraderTimeout as error:
        return result("timeout", detail=str(error))
    if done.returncode != 0:
        return result("failed", detail=error_line(done.stdout))

    scores = dict.fromkeys(auto_max, 0.0)
    flags, notes = [], []
    for name in sorted(present & expected.keys()):
        graded = course / "autograded" / student / assignment / name
        try:
            notebook = nbformat.read(graded, as_version=4)
        except (OSError, ValueError) as error:
            return result("failed", detail=f"cannot read {graded.name} after grading: {error}")
        report = notebook.metadata.get(METADATA_KEY, {})
        if report.get("token") != token:
            return result("failed", detail=f"{name}: the grader's report of this run is missing")
        scores.update(cell_scores(notebook))
        flags += [f"{name} {flag}" for flag in report.get("flags", [])]
        notes += [f"{name} {note}" for note in report.get("notes", [])]
    if flags:
        detail = "for review (points are the tests'): " + "; ".join(flags)
        return result("flagged", auto_score=sum(scores.values()), cell_scores=scores, detail=detail[:DETAIL_LENGTH])
    missing = sorted(expected.keys() - present)
    detail = "; ".join([f"missing {', '.join(missing)}"] * bool(missing) + notes)
    return result("graded", auto_score=sum(scores.values()), cell_scores=scores, detail=detail[:DETAIL_LENGTH])
