"""Can one broken or hostile submission stop the batch, cost another student a grade, or earn points?

Every case of ``hostile_submissions.HOSTILE`` is one student's submission of
homework 1 (tanh), built from the released notebook. One course and ONE
autograde run with four workers grade them all, with two honest students
around them (one of them also submits homework 2); the tests then read
grades.csv, the gradebook, the graded notebooks and the feedback.
"""
from __future__ import annotations

import contextlib
import hashlib
import html
import re
import time
from pathlib import Path

import nbformat
import pytest

from course_utils.grading.markers import HIDDEN, MARKER, Markers
from course_utils.grading.parallel import batch_processes
from course_utils.grading.pipeline import GradingOptions, autograde, feedback, points, read_grades
from hostile_submissions import FULL, HOSTILE, Assignment
from conftest import sandbox_unavailable

# One autograde batch of hostile and honest submissions.
pytestmark = pytest.mark.slow

ASSIGNMENT, OTHER = "tanh", "augmentation"
CELL_TIMEOUT = 20  # seconds per cell here (the course's is longer): bounds the loops
# After a cell timed out, nbgrader interrupts the kernel and waits this long for its last output (the course
# waits 30 s): a kernel that ignores the interrupt (loop_ignoring_interrupts, replaces_builtins) costs
# CELL_TIMEOUT plus this, and those two are the battery's longest (52 s with the course's 30).
IOPUB_TIMEOUT = 10
OPTIONS = GradingOptions(timeout=CELL_TIMEOUT, nbgrader_args=(f"--Execute.iopub_timeout={IOPUB_TIMEOUT}",))
JOBS = 4  # on two cores: many cases wait (sleeping loops, dead kernels), which two workers would leave idle
HONEST = ["honest_before", "honest_after"]  # sorted around the hostile students
CASES = {case.name: case for case in HOSTILE}


@pytest.fixture(scope="module")
def sandboxed(monkeypatch_module):
    """Grade in the sandbox, as make autograde does; without it this battery cannot run: its cases write
    over the grader's files (the gradebook among them), which only the sandbox prevents."""
    reason = sandbox_unavailable()
    if reason:
        pytest.skip(f"the hostile cases attack the grader's files, which only the sandbox protects: {reason}")
    return True


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def battery(make_released_course, make_submission, source_answers, sandboxed):
    """The course after one autograde run (JOBS=4) over every hostile case, and feedback."""
    course = make_released_course(ASSIGNMENT, OTHER)
    answers = source_answers(course, ASSIGNMENT)
    assignment = Assignment(
        name=ASSIGNMENT,
        release=nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4),
        answers=answers,
        other_name=OTHER,
        other_release=nbformat.read(course / "release" / OTHER / f"{OTHER}.ipynb", as_version=4),
    )
    for case in HOSTILE:
        folder = course / "submitted" / case.name / ASSIGNMENT
        folder.mkdir(parents=True)
        for name, content in case.build(assignment).items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(content)
    for student in HONEST:
        make_submission(course, student, ASSIGNMENT, answers)
    make_submission(course, HONEST[0], OTHER, source_answers(course, OTHER))
    protected = snapshot(course, ["source", "release", "nbgrader_config.py"])
    # The marker a hostile case tries to write outside its sandbox: one left by an earlier run (an unsandboxed
    # experiment) must not count against this one.
    Path("/tmp/WRITTEN_BY_STUDENT").unlink(missing_ok=True)

    started = time.monotonic()
    results = autograde(course, jobs=JOBS, options=OPTIONS)
    seconds = time.monotonic() - started
    print(f"\nadversarial battery: {len(results)} submissions graded in {seconds:.0f} s with JOBS={JOBS}")
    feedback(course)
    return course, {(r.assignment, r.student): r for r in results}, protected


def snapshot(course: Path, names: list[str]) -> dict[str, str]:
    state = {}
    for name in names:
        root = course / name
        for path in sorted([root, *root.rglob("*")] if root.is_dir() else [root]):
            if path.is_file():
                state[str(path.relative_to(course))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def expected_score(case, result) -> float:
    return result.auto_max if case.score == FULL else case.score


def test_grades_csv_has_a_row_for_every_submitted_student_and_assignment(battery):
    """Did the batch finish with exactly one row per (student, assignment) submitted?"""
    course, results, _ = battery
    rows = read_grades(course)
    submitted = sorted((assignment.name, student.name) for student in (course / "submitted").iterdir()
                       for assignment in student.iterdir())
    assert sorted((row["assignment"], row["student_id"]) for row in rows) == submitted
    assert len(submitted) == len(HOSTILE) + 3


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_submission_gets_the_grade_it_deserves(battery, name):
    """No undeserved points, and a correct solution loses none, whatever else the notebook does."""
    course, results, _ = battery
    case, result = CASES[name], results[ASSIGNMENT, name]
    row = next(row for row in read_grades(course)
               if (row["assignment"], row["student_id"]) == (ASSIGNMENT, name))
    assert (result.status, result.auto_score) == (case.status, expected_score(case, result)), \
        f"{case.why}: {result.detail}"
    assert (row["status"], float(row["automatic"])) == (case.status, expected_score(case, result))
    if case.status != "graded":
        assert row["detail"], "a submission without a grade must say why"


def test_honest_students_around_the_hostile_ones_get_full_points(battery):
    """Is no one else's grade touched by the hostile submissions graded next to theirs?"""
    _, results, _ = battery
    for key in [(ASSIGNMENT, HONEST[0]), (ASSIGNMENT, HONEST[1]), (OTHER, HONEST[0])]:
        assert results[key].status == "graded" and results[key].auto_score == results[key].auto_max > 0, key


def test_loops_and_dead_kernels_are_cut_within_bounds(battery):
    """Do the loops cost at most about one cell timeout, and a dead kernel no wait at all?"""
    _, results, _ = battery
    for name in ["infinite_loop", "loop_ignoring_interrupts"]:
        assert results[ASSIGNMENT, name].seconds < CELL_TIMEOUT + 90, name
    assert "DeadKernelError" in results[ASSIGNMENT, "os_exit"].detail
    assert "DeadKernelError" in results[ASSIGNMENT, "segfault"].detail


def test_no_kernel_or_nbgrader_run_is_left_behind(battery):
    """Once the batch is done, is every process it started gone (the loop that ignores interrupts too)?"""
    course, _, _ = battery
    left = []
    for pid in batch_processes(course):
        with contextlib.suppress(OSError):
            left.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
    assert not left


def test_flagged_submissions_name_the_forbidden_call_and_wait_for_a_grader(battery):
    """Does a flagged row say which passing check's code reaches which forbidden call, keep the tests' points,
    and wait for a grader?"""
    from nbgrader.api import Gradebook

    course, results, _ = battery
    detail = results[ASSIGNMENT, "forbidden_call_undetected"].detail
    assert "check_tanh_forward_values(tanh_forward) passed" in detail and "torch.tanh" in detail, detail
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for name, case in CASES.items():
            if case.status != "flagged":
                continue
            notebook = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, name)
            tests = {grade.name: grade for grade in notebook.grades if grade.name.startswith("test_")}
            assert tests and all(grade.needs_manual_grade for grade in tests.values()), name
            assert {name: grade.auto_score for name, grade in tests.items()} == results[ASSIGNMENT, name].cell_scores


def test_no_flag_for_tampering_that_cannot_gain(battery):
    """Is a notebook that patches the checks, torch or IPython graded like its wrong code, with no flag to review?"""
    _, results, _ = battery
    for name in ["patched_helpers", "patches_while_tested", "hidden_tracebacks", "rewrites_test_cells"]:
        assert (results[ASSIGNMENT, name].status, results[ASSIGNMENT, name].auto_score) == ("graded", 0), name


def test_gradebook_agrees_with_grades_csv(battery):
    """Does every row of grades.csv have its submission in the gradebook with the same automatic score?"""
    from nbgrader.api import Gradebook

    course, _, _ = battery
    tests = {name: set(points(nbformat.read(course / "source" / name / f"{name}.ipynb", as_version=4))[0])
             for name in (ASSIGNMENT, OTHER)}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for row in read_grades(course):
            submission = gradebook.find_submission(row["assignment"], row["student_id"])
            automatic = sum(grade.auto_score or 0 for notebook in submission.notebooks for grade in notebook.grades
                            if grade.name in tests[row["assignment"]])
            assert automatic == float(row["automatic"]), row


def test_writes_outside_the_submission_change_nothing(battery):
    """Are the course's source, release and gradebook intact, and nothing written outside the sandbox?"""
    course, results, protected = battery
    assert snapshot(course, ["source", "release", "nbgrader_config.py"]) == protected
    strays = [path for path in [course / "WRITTEN_BY_STUDENT", course.parent / "WRITTEN_BY_STUDENT",
                                Path("/tmp/WRITTEN_BY_STUDENT")] if path.exists()]
    strays += list((course / "autograded").rglob("WRITTEN_BY_STUDENT"))
    assert not strays
    assert results[ASSIGNMENT, "writes_outside_its_folder"].status == "graded"


def test_ten_megabytes_of_output_are_cut_in_the_graded_notebook(battery):
    """Is the graded notebook of the submission that printed 10 MB small, with the cut marked?"""
    course, _, _ = battery
    graded = course / "autograded" / "ten_megabytes_of_output" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert graded.stat().st_size < 1_000_000
    assert "output truncated" in graded.read_text(encoding="utf-8")


def test_feedback_of_every_submission_shows_no_hidden_test_source(battery):
    """Is there no hidden test line in any feedback page, even of a notebook that printed them all?"""
    course, _, _ = battery
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    hidden = hidden_test_lines(source)
    pages = sorted((course / "feedback").glob(f"*/{ASSIGNMENT}/*.html"))
    assert {page.parent.parent.name for page in pages} >= {"prints_hidden_tests", "patched_helpers", HONEST[0]}
    for page in pages:
        text = page_text(page)
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{page.parent.parent.name}'s feedback shows hidden test lines: {leaked[:3]}"
    # What the notebook printed of In: its own cells; no test cell ever ran in the kernel.
    graded = nbformat.read(course / "autograded" / "prints_hidden_tests" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                           as_version=4)
    printed = "".join(output.get("text", "") for output in graded.cells[-1].outputs)
    assert "def tanh_backward" in printed  # the print ran
    assert "check_tanh_backward(" not in printed
    assert not [line for line in hidden if line in printed]


def hidden_test_lines(notebook) -> list[str]:
    """The code lines of the test cells' hidden regions, long enough to mean something, seen nowhere else."""
    markers = Markers()
    hidden, visible = set(), set()
    for cell in notebook.cells:
        for region, line in markers.regions(cell.source):
            if region != MARKER and line.strip():
                (hidden if region == HIDDEN else visible).add(line.strip())
    return sorted(line for line in hidden - visible if len(line) > 12 and not line.startswith("#"))


def page_text(path: Path) -> str:
    text = re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8"))
    return html.unescape(re.sub(r"\x1b\[[0-9;]*m", "", text))


# Last: it records a grader's decision in the battery's gradebook.
def test_a_reviewed_flag_reaches_grades_csv_without_regrading(battery):
    """After a grader scores every flagged cell in Formgrader (nbgrader's API, as its handler does), does the next
    autograde write the decided points with status graded, reusing every record?"""
    from nbgrader.api import Gradebook

    course, results, _ = battery
    student = "forbidden_call_undetected"
    row = next(row for row in read_grades(course) if row["student_id"] == student)
    assert (row["status"], float(row["automatic"])) == ("flagged", results[ASSIGNMENT, student].auto_score)
    decided = {"test_tanh_forward_values": 2.0, "test_tanh_backward": 1.5}  # overrides; the rest accepted
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        for grade in notebook.grades:
            if grade.name.startswith("test_"):
                grade.manual_score = decided.get(grade.name, grade.auto_score)
                grade.needs_manual_grade = False
        gradebook.db.commit()
    again = autograde(course, jobs=JOBS, options=OPTIONS)
    assert {(r.assignment, r.student): r for r in again} == results  # nothing graded again
    row = next(row for row in read_grades(course) if row["student_id"] == student)
    expected = sum(decided.values()) + sum(score for name, score in results[ASSIGNMENT, student].cell_scores.items()
                                           if name not in decided)
    assert (row["status"], float(row["automatic"])) == ("graded", expected)
    assert "flag reviewed" in row["detail"]
