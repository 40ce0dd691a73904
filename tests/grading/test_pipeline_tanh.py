"""Homework 1 (tanh) through the whole pipeline: release, autograde, feedback.

One course, one release and one autograde run grade every submission below;
the tests then read the results. The faulty submissions are the correct
solution with one part broken, so each must lose exactly the points of the
test cells that check that part: the tests of TanhFunction and Tanh run with
reference versions of what they build on, so a wrong tanh_backward costs only
tanh_backward's points.
"""
from __future__ import annotations

import html
import re

import nbformat
import pytest

from course_utils.grading.pipeline import (
    GradingOptions, autograde, feedback, read_grades)
from conftest import COURSE
from course_utils.grading.markers import HIDDEN, MARKER, SOLUTION, Markers
from expected_scores import assert_graded_with

# Release, autograde and feedback of homework 1.
pytestmark = pytest.mark.slow

ASSIGNMENT = "tanh"
FULL = {
    "test_tanh_forward_values": 2.0,
    "test_tanh_forward_stable": 2.0,
    "test_tanh_forward_properties": 1.0,
    "test_tanh_backward": 2.0,
    "test_tanh_function": 2.0,
    "test_tanh_module": 1.0,
}
WITHOUT_BACKWARD = {**FULL, "test_tanh_backward": 0.0}
# Before the checks were isolated (commit fe46971), a broken tanh_backward also failed
# test_tanh_function and test_tanh_module (5 of 10 points lost), and a tanh_forward that
# calls torch.tanh failed those two as well (8 lost).

# student -> (solution cells replaced, expected points of every test cell)
FAULTY = {
    "wrong_derivative": (
        {"tanh_backward": "def tanh_backward(grad_output, output):\n    return grad_output * (1 - output)\n"},
        WITHOUT_BACKWARD,
    ),
    "naive_formula": (
        {"tanh_forward": "def tanh_forward(x):\n"
                         "    return (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))\n"},
        {**FULL, "test_tanh_forward_stable": 0.0},
    ),
    "calls_torch_tanh": (
        {"tanh_forward": "def tanh_forward(x):\n    return torch.tanh(x)\n"},
        {**FULL, "test_tanh_forward_values": 0.0, "test_tanh_forward_stable": 0.0, "test_tanh_forward_properties": 0.0},
    ),
    # A loop inside tanh_backward (stopped by the tests' time limit; it sleeps,
    # so it costs the suite wall time, not CPU) and a busy one at the top level
    # of the training cell (stopped by nbgrader's per-cell timeout).
    "infinite_loop": (
        {"tanh_backward": "def tanh_backward(grad_output, output):\n    import time\n\n"
                          "    while True:\n        time.sleep(0.01)\n",
         "train_mlp": "while True:\n    pass\n"},
        WITHOUT_BACKWARD,
    ),
    "syntax_error": (
        {"tanh_backward": "def tanh_backward(grad_output, output)\n    return grad_output * (1 - output**2)\n"},
        WITHOUT_BACKWARD,
    ),
    "part_6_skipped": ({"train_mlp": "seed_everything(0)\nnum_epochs = 250\nlr = 0.01\nlosses = []\n"}, FULL),
}
# Seconds per cell in these tests (the course's is 60): the busy loop burns a
# core this long; the slowest legitimate cell takes under 2 s.
CELL_TIMEOUT = 10
MARKERS = Markers.for_course(COURSE)


@pytest.fixture(scope="module")
def graded(make_released_course, make_submission, source_answers):
    """The tanh course released, with every submission above autograded and feedback generated."""
    course = make_released_course(ASSIGNMENT)
    source = course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    make_submission(course, "source_as_is", ASSIGNMENT, notebook=source)
    make_submission(course, "blank", ASSIGNMENT)
    correct = source_answers(course, ASSIGNMENT)
    for student, (broken, _) in FAULTY.items():
        make_submission(course, student, ASSIGNMENT, {**correct, **broken})
    results = autograde(course, jobs=2, options=GradingOptions(timeout=CELL_TIMEOUT))
    feedback(course)
    return course, {result.student: result for result in results}


def split_source(notebook: nbformat.NotebookNode) -> dict[str, list[str]]:
    """The stripped, non-blank, non-comment lines of the source notebook by where they stand.

    ``hidden``: inside hidden test regions; ``solution``: inside solution
    regions, or anywhere in a solution cell without one (the written answer);
    ``public``: everywhere else. Lines that are also public (a visible test
    repeated in the hidden part) are left out of ``hidden`` and ``solution``.
    """
    lines = {"hidden": [], "solution": [], "public": []}
    for cell in notebook.cells:
        regions = MARKERS.regions(cell.source)
        whole_solution = cell.metadata.get("nbgrader", {}).get("solution") and SOLUTION not in dict(regions)
        for region, line in regions:
            line = line.strip()
            if region == MARKER or not line or line.startswith("#"):
                continue
            where = {HIDDEN: "hidden", SOLUTION: "solution"}.get(region, "public")
            lines["solution" if whole_solution else where].append(line)
    public = set(lines["public"])
    return {"public": lines["public"], "hidden": [line for line in lines["hidden"] if line not in public],
            "solution": [line for line in lines["solution"] if line not in public]}


def page_text(path) -> str:
    """A feedback page as the student reads it: tags and ANSI escapes removed, entities decoded."""
    text = re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8"))
    return html.unescape(re.sub(r"\x1b\[[0-9;]*m", "", text))


def test_release_holds_no_solution_and_no_hidden_test(graded):
    """Is every cell of the released notebook free of solution code, hidden tests and their markers?"""
    course, _ = graded
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    released = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    lines = split_source(source)
    assert len(lines["hidden"]) > 10 and len(lines["solution"]) > 10  # the search has something to find
    secret = lines["hidden"] + lines["solution"]
    for index, cell in enumerate(released.cells):
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "MARK SCHEME"):
            assert marker not in cell.source, f"cell {index} of the release holds {marker!r}"
        cell_lines = {line.strip() for line in cell.source.splitlines()}
        leaked = [line for line in secret if line in cell_lines]
        assert not leaked, f"cell {index} of the release holds solution or hidden-test lines: {leaked[:3]}"
        assert not cell.get("outputs"), f"cell {index} of the release has stored outputs"


def test_source_notebook_submitted_as_is_gets_full_points(graded):
    """Does the instructor's own notebook, submitted unchanged, get all 10 automatic points?"""
    _, results = graded
    assert_graded_with(results["source_as_is"], FULL)
    assert (results["source_as_is"].auto_score, results["source_as_is"].auto_max) == (10, 10)


def test_blank_release_gets_zero_without_error(graded):
    """Is the untouched release graded (not failed) with 0 points?"""
    _, results = graded
    assert_graded_with(results["blank"], dict.fromkeys(FULL, 0.0))


@pytest.mark.parametrize("student", sorted(FAULTY))
def test_faulty_submission_loses_exactly_the_points_of_its_fault(graded, student):
    """Does each broken part cost the points of the test cells that check it, and no others?"""
    _, results = graded
    assert_graded_with(results[student], FAULTY[student][1])


def test_infinite_loops_are_stopped_and_reported(graded):
    """Are the loops cut by the tests' time limit and by nbgrader's per-cell timeout?"""
    course, _ = graded
    notebook = nbformat.read(course / "autograded" / "infinite_loop" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                             as_version=4)
    errors = {cell.metadata.get("nbgrader", {}).get("grade_id"): [o for o in cell.outputs if o.output_type == "error"]
              for cell in notebook.cells if cell.cell_type == "code"}
    assert errors["test_tanh_backward"][0].ename == "TimeoutError"
    assert "loop that never ends" in errors["test_tanh_backward"][0].evalue
    # nbclient's own error, or the kernel's reply to its interrupt, whichever is recorded first
    assert errors["train_mlp"][0].ename in {"CellTimeoutError", "KeyboardInterrupt"}


def test_grades_csv_has_a_row_per_submission_with_score_and_maximum(graded):
    """Does grades.csv list every student once for the assignment, with status, score and maximum?"""
    course, results = graded
    rows = read_grades(course)
    assert [row["student_id"] for row in rows] == sorted(results)
    for row in rows:
        assert row["assignment"] == ASSIGNMENT and row["status"] == "graded"
        assert float(row["automatic"]) == float(row["total"]) == results[row["student_id"]].auto_score
        assert row["max"] == "14"  # 10 automatic points and a written answer of 4 graded by hand


def test_feedback_shows_no_hidden_test_source(graded):
    """Does every student's feedback page leave out the hidden tests, also from tracebacks?"""
    course, results = graded
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    lines = split_source(source)
    # Lines of the solution show up legitimately where a student wrote them too.
    hidden = [line for line in lines["hidden"] if len(line) > 12 and line not in lines["solution"]]
    for student in results:
        text = page_text(course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html")
        assert MARKERS.begin_hidden not in text and MARKERS.end_hidden not in text
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{student}'s feedback shows hidden test lines: {leaked[:3]}"


def test_feedback_tells_the_student_what_to_fix(graded):
    """Does the feedback of the overflowing formula carry the hidden test's message about nan?"""
    course, _ = graded
    text = page_text(course / "feedback" / "naive_formula" / ASSIGNMENT / f"{ASSIGNMENT}.html")
    assert "tanh_forward(x) in torch.float32 is wrong at x = -10000.0: got nan" in text
    assert "overflowed" in text


def test_graders_see_the_mark_scheme_and_students_do_not(graded):
    """Does the graded notebook (what Formgrader shows) carry the written answers' mark scheme, and no
    release or feedback page?"""
    course, results = graded
    scheme = "**Question 2 (2 points).**"
    graded_notebook = course / "autograded" / "blank" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"  # restored from the gradebook
    assert scheme in graded_notebook.read_text(encoding="utf-8")
    assert scheme not in (course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text(encoding="utf-8")
    for student in results:
        text = page_text(course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html")
        assert MARKERS.begin_mark_scheme not in text and scheme not in text, student

