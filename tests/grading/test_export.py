"""``make export``: grades.csv and grades_wide.csv from the gradebook, the autograder's records and the roster.

The gradebook is nbgrader's own (a released tiny course, submissions added
and scored through nbgrader's API, as autograding and Formgrader do); the
records are written in the batch's format, so no kernel runs here.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from course_utils.grading.export import write_grades

# The course is released with nbgrader first.
pytestmark = pytest.mark.slow

ASSIGNMENT = "first"
TESTS = ("test_answer_positive", "test_answer_exact")
ROSTER = ("student_id,first_name,last_name,email,lms_id\n"
          "ok,O,K,ok@example.org,11\nflag,F,L,flag@example.org,12\nfail,F,A,fail@example.org,13\n"
          "none,N,O,none@example.org,14\nlate,L,A,late@example.org,15\nnew,N,E,new@example.org,16\n")
TOML = f"""[late]
percent_per_day = 10
max_percent = 25

[assignments.{ASSIGNMENT}]
due = 2027-01-15T23:59:00+01:00
"""


@pytest.fixture(scope="module")
def released(make_tiny_course) -> Path:
    course = make_tiny_course(**{ASSIGNMENT: 42})
    done = subprocess.run([sys.executable, "-m", "course_utils.grading", "release", "--course", str(course)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    (course / "roster.csv").write_text(ROSTER)
    (course / "course.toml").write_text(TOML)
    return course


def submit(course: Path, student: str, status: str, scores: dict[str, float], *, detail: str = "",
           needs_manual: bool = False, timestamp: str | None = None) -> None:
    """A graded submission as the batch leaves it: the folder, the gradebook's grades, then the record."""
    from nbgrader.api import Gradebook

    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{ASSIGNMENT}.ipynb").write_text("{}")
    if timestamp:
        (folder / "timestamp.txt").write_text(timestamp)
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's add_submission; harmless
        gradebook.update_or_create_student(student)
        gradebook.update_or_create_submission(ASSIGNMENT, student)
        for cell, score in scores.items():
            grade = gradebook.find_grade(cell, ASSIGNMENT, ASSIGNMENT, student)
            grade.auto_score, grade.needs_manual_grade = score, needs_manual
        gradebook.db.commit()
    time.sleep(0.05)  # the record comes after the submission, as in a batch
    record = course / ".grading" / "results" / ASSIGNMENT / f"{student}.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"fingerprint": "x", "result": {
        "student": student, "assignment": ASSIGNMENT, "status": status, "auto_score": sum(scores.values()),
        "auto_max": 2.0, "manual_max": 0.0, "cell_scores": scores, "detail": detail, "seconds": 1.0}}))


def rows_of(course: Path, name: str = "grades.csv", key: str = "student_id") -> dict[str, dict[str, str]]:
    with open(course / name, newline="", encoding="utf-8") as file:
        return {row[key]: row for row in csv.DictReader(file)}


@pytest.fixture(scope="module")
def exported(released) -> Path:
    course = released
    submit(course, "ok", "graded", dict.fromkeys(TESTS, 1.0))
    submit(course, "flag", "flagged", dict.fromkeys(TESTS, 1.0), detail="first.ipynb replaces assert_tensor_close",
           needs_manual=True)
    submit(course, "fail", "failed", dict.fromkeys(TESTS, 0.0), detail="the kernel died")
    submit(course, "late", "graded", dict.fromkeys(TESTS, 1.0), timestamp="2027-01-17 23:30:00.000000 UTC")
    submit(course, "new", "graded", dict.fromkeys(TESTS, 1.0))
    submit(course, "stranger", "graded", {TESTS[0]: 1.0, TESTS[1]: 0.0})
    time.sleep(0.05)
    (course / "submitted" / "new" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").write_text('{"newer": 1}')
    write_grades(course)
    return course


def test_graded_row_has_the_gradebook_score(exported):
    """Is a graded submission's total the gradebook's points, with no penalty when on time?"""
    row = rows_of(exported)["ok"]
    assert (row["status"], row["automatic"], row["manual"], row["late_penalty"], row["total"], row["max"]) == (
        "graded", "2", "0", "0", "2", "2")


def test_flagged_row_shows_the_tests_points_and_why_but_counts_zero(exported):
    """Does a flagged row show what the tests gave and why, and count 0 until reviewed?"""
    row = rows_of(exported)["flag"]
    assert row["status"] == "flagged" and row["automatic"] == "2" and row["total"] == "0"
    assert "replaces assert_tensor_close" in row["detail"] and "Formgrader" in row["detail"]


def test_a_reviewed_flag_counts_the_graders_scores(exported):
    """Once a grader has scored every flagged cell in Formgrader, is the row graded with those scores?"""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{exported / 'gradebook.db'}") as gradebook:
        for cell, score in zip(TESTS, (1.0, 0.5)):
            grade = gradebook.find_grade(cell, ASSIGNMENT, ASSIGNMENT, "flag")
            grade.manual_score, grade.needs_manual_grade = score, False
        gradebook.db.commit()
    try:
        write_grades(exported)
        row = rows_of(exported)["flag"]
        assert (row["status"], row["total"]) == ("graded", "1.5")
        assert "flag reviewed" in row["detail"]
    finally:
        with Gradebook(f"sqlite:///{exported / 'gradebook.db'}") as gradebook:
            for cell in TESTS:
                grade = gradebook.find_grade(cell, ASSIGNMENT, ASSIGNMENT, "flag")
                grade.manual_score, grade.needs_manual_grade = None, True
            gradebook.db.commit()
        write_grades(exported)


def test_failed_and_missing_rows_count_zero_and_say_why(exported):
    """Does a failed submission and a rostered student without one each get a 0 row with the reason?"""
    rows = rows_of(exported)
    assert (rows["fail"]["status"], rows["fail"]["total"], rows["fail"]["detail"]) == ("failed", "0", "the kernel died")
    assert (rows["none"]["status"], rows["none"]["total"], rows["none"]["max"]) == ("missing", "0", "2")


def test_late_penalty_from_the_exchange_timestamp(exported):
    """Submitted 2 days (and a bit) after the due date at 10 % a day, capped at 25 %: is 25 % taken off?"""
    row = rows_of(exported)["late"]
    assert row["days_late"] == "3" and row["late_penalty"] == "0.5" and row["total"] == "1.5"
    assert row["submitted_at"].startswith("2027-01-17T23:30:00")
    assert "late 3 day(s)" in row["detail"] and "-25%" in row["detail"]


def test_a_submission_collected_after_grading_is_not_shown_with_the_old_grade(exported):
    """A submission replaced after the last autograde: does its row say to run autograde instead?"""
    row = rows_of(exported)["new"]
    assert row["status"] == "submitted" and "make autograde" in row["detail"]


def test_someone_not_on_the_roster_is_listed_but_not_sent_to_the_lms(exported):
    """Is a submission from outside the roster in grades.csv (saying so) but not in grades_wide.csv?"""
    assert "not on the roster" in rows_of(exported)["stranger"]["detail"]
    wide = rows_of(exported, "grades_wide.csv", "SIS User ID")
    assert "stranger" not in wide
    assert list(wide) == ["ok", "flag", "fail", "none", "late", "new"]  # the roster's order
    assert wide["late"][ASSIGNMENT] == "1.5" and wide["flag"][ASSIGNMENT] == "0" and wide["ok"]["ID"] == "11"


def test_a_submission_to_an_unknown_assignment_is_a_failed_row_and_no_lms_column(released, tmp_path):
    """A folder named after no assignment of source/ (a typo): a failed row that says so, not lost."""
    import shutil

    course = tmp_path / "assignments"
    shutil.copytree(released, course)
    (course / "submitted" / "ok" / "frist").mkdir(parents=True)
    (course / "submitted" / "ok" / "frist" / "frist.ipynb").write_text("{}")
    rows = [row.csv_row() for row in write_grades(course)]
    typo = [row for row in rows if row["assignment"] == "frist"]
    assert [(row["student_id"], row["status"], row["total"]) for row in typo] == [("ok", "failed", "0")]
    assert "unknown assignment" in typo[0]["detail"]
    assert [row["assignment"] for row in rows] == sorted(row["assignment"] for row in rows)
    with open(course / "grades_wide.csv", newline="", encoding="utf-8") as file:
        assert not any("frist" in column for column in next(csv.reader(file)))


def test_export_leaves_no_temporary_files(exported):
    """Are both files written whole (no .tmp left)?"""
    assert not [name for name in os.listdir(exported) if name.endswith(".tmp")]


@pytest.mark.slow
def test_nbgrader_export_writes_what_make_export_writes(exported):
    """Does `nbgrader export` (the course's ExportPlugin) write the same grades.csv and grades_wide.csv?"""
    from course_utils.grading.nbgrader_run import nbgrader_environment

    expected = {name: (exported / name).read_bytes() for name in ("grades.csv", "grades_wide.csv")}
    for name in expected:
        (exported / name).unlink()
    done = subprocess.run([sys.executable, "-m", "course_utils.grading.nbgrader_cli", "export",
                           "--exporter=course_utils.grading.export.CourseExport"],
                          cwd=exported, capture_output=True, text=True, env=nbgrader_environment())
    assert done.returncode == 0, done.stdout + done.stderr
    assert {name: (exported / name).read_bytes() for name in expected} == expected


def test_chmod_and_hub_restarts_leave_every_grade_as_it_was(exported):
    """make hub's prepare chmods and chowns the course (which moves every ctime): does every row stay as it was?"""
    before = rows_of(exported)
    for folder, folders, files in os.walk(exported / "submitted"):
        for name in folders + files:
            path = os.path.join(folder, name)
            os.chmod(path, os.stat(path).st_mode | 0o060)
    write_grades(exported)
    assert rows_of(exported) == before


def test_a_record_with_the_graded_content_decides_by_content(exported):
    """A record that keeps the graded submission's digest: same content is graded, other content is 'submitted'?"""
    from course_utils.grading.export import submission_digest

    folder = exported / "submitted" / "ok" / ASSIGNMENT
    record = exported / ".grading" / "results" / ASSIGNMENT / "ok.json"
    saved = record.read_text()
    data = json.loads(saved)
    try:
        data["submission_digest"] = submission_digest(folder)
        record.write_text(json.dumps(data))
        os.utime(folder / f"{ASSIGNMENT}.ipynb", (time.time() + 3600, time.time() + 3600))  # a newer time alone
        write_grades(exported)
        assert rows_of(exported)["ok"]["status"] == "graded"
        data["submission_digest"] = "0" * 64
        record.write_text(json.dumps(data))
        write_grades(exported)
        assert rows_of(exported)["ok"]["status"] == "submitted"
    finally:
        record.write_text(saved)
        os.utime(folder / f"{ASSIGNMENT}.ipynb", (time.time() - 3600, time.time() - 3600))
        write_grades(exported)


def test_a_hand_made_folder_with_an_unsafe_name_is_never_graded(tmp_path):
    """Does a submitted/ folder named like an option or a glob ('-rf', '*') stay away from nbgrader's --student?"""
    from course_utils.grading.layout import find_submissions

    for student in ("alice", "-rf", "*", "bob"):
        (tmp_path / "submitted" / student / "tanh").mkdir(parents=True)
    assert find_submissions(tmp_path) == [("tanh", "alice"), ("tanh", "bob")]
