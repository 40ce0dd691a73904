"""Does every correct submission, whatever everyday idiom it is written in, get every automatic point?

The corpus is ``honest_submissions.HONEST``: correct solutions of both
homeworks, each with another habit of students (imports and aliases, magics,
debugging modules, scratch cells that print, plot or display, helpers named
like the test helpers...). One course and ONE autograde batch of both
homeworks, two workers, in the sandbox where it can run (as ``make autograde JOBS=2``
does), grade them all.
"""
from __future__ import annotations

import time

import nbformat
import pytest

from course_utils.grading import sandbox
from course_utils.grading.pipeline import GradingOptions, autograde, read_grades
from honest_submissions import HONEST, Homework
from conftest import sandbox_unavailable

# One autograde batch of the honest corpus.
pytestmark = pytest.mark.slow

CASES = {case.name: case for case in HONEST}
CELL_TIMEOUT = 60  # the course's own


def test_the_corpus_is_big_and_covers_both_homeworks():
    """At least 30 idioms, each once, both homeworks."""
    assert len(HONEST) >= 30 and len(CASES) == len(HONEST)
    assert {case.assignment for case in HONEST} == {"tanh", "augmentation"}
    assert len({case.idiom for case in HONEST}) == len(HONEST)


@pytest.fixture(scope="module")
def graded(make_released_course, source_answers):
    """Every corpus submission, both homeworks, graded in one autograde batch with two workers."""
    with pytest.MonkeyPatch.context() as patch:
        if sandbox_unavailable():
            patch.setenv(sandbox.SWITCH_ENV, "off")
        course = make_released_course("tanh", "augmentation")
        for assignment in ("tanh", "augmentation"):
            hw = Homework(assignment, nbformat.read(course / "release" / assignment / f"{assignment}.ipynb",
                                                    as_version=4), source_answers(course, assignment))
            for case in HONEST:
                if case.assignment == assignment:
                    folder = course / "submitted" / case.name / assignment
                    folder.mkdir(parents=True)
                    nbformat.write(case.build(hw), folder / f"{assignment}.ipynb")
        started = time.monotonic()
        results = {result.student: result
                   for result in autograde(course, jobs=2, options=GradingOptions(timeout=CELL_TIMEOUT))}
        print(f"\nhonest corpus: {len(HONEST)} submissions graded in {time.monotonic() - started:.0f} s, JOBS=2")
    return course, results


@pytest.mark.parametrize("name", sorted(CASES))
def test_honest_submission_gets_full_points(graded, name):
    """Graded, every automatic point, whatever idiom the correct solution is written in."""
    course, results = graded
    result = results[name]
    assert result.assignment == CASES[name].assignment
    assert (result.status, result.auto_score) == ("graded", result.auto_max), \
        f"{CASES[name].idiom}: {result.status} {result.auto_score}/{result.auto_max} {result.detail} {result.cell_scores}"
    row = next(row for row in read_grades(course)
               if (row["assignment"], row["student_id"]) == (CASES[name].assignment, name))
    assert row["status"] == "graded" and float(row["automatic"]) == result.auto_max > 0
