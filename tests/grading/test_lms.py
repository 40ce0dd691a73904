"""LMS downloads: ``make collect ZIP=...`` with generated Canvas and Moodle zips, then autograde and export.

The course is the tiny torch-free one (``make_tiny_course``: 2 automatic
points), so the test is about the import, the roster and the gradebook, not
about a homework. The command line is the one the make targets run.
"""
from __future__ import annotations

import csv
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from course_utils.grading.lms import parse_entry

ASSIGNMENT = "first"
RIGHT = "def answer():\n    return 42"
WRONG = "def answer():\n    return 7"  # positive: 1 of 2 points
ROSTER = ("student_id,first_name,last_name,email,lms_id\n"
          "ann,Ann,Lee,ann@example.org,1001\n"
          "ben,Ben,Van der Berg,ben@example.org,1002\n"
          "cat,Cat,Ng,cat@example.org,1003\n"
          "dan,Dan,Ode,dan@example.org,1004\n"
          "eve,Eve,Ray,eve@example.org,1005\n")
COURSE_TOML = f"""[late]
percent_per_day = 10
max_percent = 50
lms_late_days = 1

[assignments.{ASSIGNMENT}]
due = 2027-01-15T23:59:00+01:00
"""


# make collect refuses to run as root; these tests (root in CI) import as if they were an instructor.
AS_INSTRUCTOR = ("import os, sys; os.geteuid = lambda: 1000\n"
                 "from course_utils.grading.__main__ import main; sys.exit(main(sys.argv[1:]))")


def cli(course: Path, *args: str) -> subprocess.CompletedProcess:
    start = [sys.executable, "-c", AS_INSTRUCTOR] if args[0] == "collect" else [sys.executable, "-m",
                                                                                "course_utils.grading"]
    return subprocess.run([*start, *args, "--course", str(course)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


def notebook_with(course: Path, answer: str) -> str:
    notebook = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "answer":
            cell.source = answer
    return nbformat.writes(notebook)


@pytest.fixture(scope="module")
def released(make_tiny_course) -> Path:
    course = make_tiny_course(**{ASSIGNMENT: 42})
    (course / "roster.csv").write_text(ROSTER)
    (course / "course.toml").write_text(COURSE_TOML)
    done = cli(course, "release")
    assert done.returncode == 0, done.stdout + done.stderr
    return course


@pytest.fixture(scope="module")
def canvas_graded(released, tmp_path_factory) -> tuple[Path, str, Path]:
    """A Canvas download: ann late and right, ben right under another name (a numbered re-upload), cat
    nothing, dan two notebooks, eve wrong (1 point) plus a PDF, and a stranger; collected, graded, exported."""
    course = released
    archive = tmp_path_factory.mktemp("canvas") / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zip_file:
        zip_file.writestr("leeann_LATE_1001_9001_first.ipynb", notebook_with(course, RIGHT))
        zip_file.writestr("leeann_LATE_1001_9009_first-1.ipynb", notebook_with(course, RIGHT))  # the same, again
        zip_file.writestr("vanderbergben_1002_9002_My Homework-1.ipynb", notebook_with(course, RIGHT))
        zip_file.writestr("odedan_1004_9004_first.ipynb", notebook_with(course, RIGHT))
        zip_file.writestr("odedan_1004_9005_scratch.ipynb", notebook_with(course, WRONG))
        zip_file.writestr("rayeve_late_1005_9006_hw.ipynb", notebook_with(course, WRONG))
        zip_file.writestr("rayeve_1005_9007_notes.pdf", b"%PDF-1.4")
        zip_file.writestr("strangerzed_4242_9008_first.ipynb", notebook_with(course, RIGHT))
        zip_file.writestr("__MACOSX/._leeann_LATE_1001_9001_first.ipynb", b"")
    collected = cli(course, "collect", "--zip", str(archive))
    assert collected.returncode == 0, collected.stdout + collected.stderr
    graded = cli(course, "autograde", "--timeout", "20")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    exported = cli(course, "export")
    assert exported.returncode == 0, exported.stdout + exported.stderr
    return course, collected.stdout, archive


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.mark.parametrize("name, lms, lms_id, file_name, late", [
    ("smithjohn_123_456_tanh.ipynb", "canvas", "123", "tanh.ipynb", False),
    ("smithjohn_LATE_123_456_tanh-1.ipynb", "canvas", "123", "tanh-1.ipynb", True),
    ("smithjohn_late_123_456_my hw.ipynb", "canvas", "123", "my hw.ipynb", True),
    ("van_der_berg_jan_77_88_tanh.ipynb", "canvas", "77", "tanh.ipynb", False),
    ("smithjohn_123_tanh.ipynb", "canvas", "123", "tanh.ipynb", False),
    ("subfolder/smithjohn_123_456_tanh.ipynb", "canvas", "123", "tanh.ipynb", False),
    ("Anna Maria Lopez_4242_assignsubmission_file_/my notebook.ipynb", "moodle", "4242", "my notebook.ipynb",
     False),
    ("Anna Lopez_4242_assignsubmission_file_tanh.ipynb", "moodle", "4242", "tanh.ipynb", False),
    ("Anna Lopez_4242_assignsubmission_onlinetext_/onlinetext.html", "moodle", "4242", "onlinetext.html", False),
])
def test_lms_file_names_are_understood(name, lms, lms_id, file_name, late):
    """Does each Canvas and Moodle naming give the right LMS id, file and late mark?"""
    entry = parse_entry(name)
    assert (entry.lms, entry.lms_id, entry.file_name, entry.late) == (lms, lms_id, file_name, late)


def test_a_name_in_no_known_format_is_not_guessed():
    """Is a file named in no LMS format left unparsed (so it is reported), unless it names a rostered student?"""
    assert parse_entry("homework.ipynb") is None
    assert parse_entry("ann/homework.ipynb", {"ann"}).name == "ann"


@pytest.mark.slow
def test_canvas_zip_goes_through_collect_autograde_export(canvas_graded):
    """Late, misnamed, missing, ambiguous and unrostered: does grades_wide.csv hold the right totals?"""
    course, _, _ = canvas_graded
    wide = {row["SIS User ID"]: row for row in read_csv(course / "grades_wide.csv")}
    assert {student: row[ASSIGNMENT] for student, row in wide.items()} == {
        "ann": "1.8",  # 2 points, late (Canvas's mark: 1 day, 10 %)
        "ben": "2",  # any file name is accepted
        "cat": "0",  # nothing submitted
        "dan": "0",  # two notebooks: not imported, reported
        "eve": "0.9",  # 1 point, late
    }
    assert wide["ann"]["ID"] == "1001" and wide["ann"]["lms_id"] == "1001"
    assert wide["ben"]["Student"] == "Van der Berg, Ben"
    assert list(wide["ann"])[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


@pytest.mark.slow  # the course is released (and graded) through the CLI in fresh interpreters
def test_grades_csv_has_a_row_per_rostered_student_with_status_and_penalty(canvas_graded):
    """Does every rostered student get a row, with the penalty and the reason shown?"""
    course, _, _ = canvas_graded
    rows = {row["student_id"]: row for row in read_csv(course / "grades.csv")}
    assert set(rows) == {"ann", "ben", "cat", "dan", "eve"}
    assert rows["ann"]["status"] == "graded" and rows["ann"]["automatic"] == "2"
    assert rows["ann"]["late_penalty"] == "0.2" and rows["ann"]["total"] == "1.8"
    assert "Canvas marked it late" in rows["ann"]["detail"]
    assert rows["ben"]["late_penalty"] == "0" and rows["ben"]["total"] == "2"
    assert rows["cat"]["status"] == "missing" and rows["cat"]["max"] == "2"
    assert rows["dan"]["status"] == "missing" and "2 notebooks" in rows["dan"]["detail"]


@pytest.mark.slow  # the course is released (and graded) through the CLI in fresh interpreters
def test_every_file_not_imported_is_reported_by_name(canvas_graded):
    """Are the stranger, the ambiguous pair, the PDF and the system file named in collect's report?"""
    course, report, _ = canvas_graded
    for name in ("strangerzed_4242_9008_first.ipynb", "odedan_1004_9004_first.ipynb",
                 "odedan_1004_9005_scratch.ipynb", "rayeve_1005_9007_notes.pdf",
                 "__MACOSX/._leeann_LATE_1001_9001_first.ipynb"):
        assert name in report, report
    assert "not on the roster: canvas id 4242" in report
    assert "nothing imported for 2 rostered student(s): cat, dan" in report
    logged = {row["file"]: row for row in read_csv(course / "collected" / f"{ASSIGNMENT}.csv")}
    assert logged["strangerzed_4242_9008_first.ipynb"]["status"] == "not imported"
    assert logged["vanderbergben_1002_9002_My Homework-1.ipynb"]["detail"] == (
        f"My Homework-1.ipynb as {ASSIGNMENT}.ipynb")
    assert "identical to leeann_LATE_1001_9001_first.ipynb" in logged["leeann_LATE_1001_9009_first-1.ipynb"]["detail"]
    assert sorted(path.name for path in (course / "submitted").iterdir()) == ["ann", "ben", "eve"]
    assert (course / "submitted" / "ben" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()


@pytest.mark.slow  # the course is released (and graded) through the CLI in fresh interpreters
def test_importing_the_same_zip_again_changes_nothing(canvas_graded):
    """Collecting the same download twice: are the rows still graded (not taken for new submissions)?"""
    course, _, archive = canvas_graded
    before = {row["student_id"]: row["status"] for row in read_csv(course / "grades.csv")}
    assert cli(course, "collect", "--zip", str(archive)).returncode == 0
    assert cli(course, "export").returncode == 0
    assert {row["student_id"]: row["status"] for row in read_csv(course / "grades.csv")} == before


@pytest.mark.slow  # the course is released (and graded) through the CLI in fresh interpreters
def test_moodle_zip_is_imported_by_participant_id(released, tmp_path):
    """Moodle's folders: matched by participant id, any file name, other plugins' files reported?"""
    course = tmp_path / "course"
    import shutil

    shutil.copytree(released, course, ignore=shutil.ignore_patterns("submitted", "autograded", ".grading",
                                                                     "collected", "grades*.csv"))
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zip_file:
        zip_file.writestr("Ann Lee_1001_assignsubmission_file_/homework one.ipynb", notebook_with(course, RIGHT))
        zip_file.writestr("Ben Van der Berg_1002_assignsubmission_file_/first.ipynb", notebook_with(course, WRONG))
        zip_file.writestr("Ben Van der Berg_1002_assignsubmission_onlinetext_/onlinetext.html", b"<p>hi</p>")
        zip_file.writestr("Zed Stranger_4242_assignsubmission_file_/first.ipynb", notebook_with(course, RIGHT))
    done = cli(course, "collect", "--zip", str(archive))
    assert done.returncode == 0, done.stderr
    assert "imported 2 notebook(s)" in done.stdout
    assert "Zed Stranger_4242_assignsubmission_file_/first.ipynb: not on the roster" in done.stdout
    assert "onlinetext.html: ben: not a notebook" in done.stdout
    submitted = nbformat.read(course / "submitted" / "ann" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    assert RIGHT in [cell.source for cell in submitted.cells]
    logged = {row["student_id"]: row for row in read_csv(course / "collected" / f"{ASSIGNMENT}.csv")
              if row["student_id"]}
    assert logged["ann"]["late"] == "unknown"  # Moodle's download says nothing about lateness


@pytest.mark.slow  # the course is released (and graded) through the CLI in fresh interpreters
def test_a_zip_of_no_known_assignment_asks_which(released, tmp_path):
    """Without recognisable notebooks, does collect stop and say to pass ASSIGNMENT=?"""
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as zip_file:
        zip_file.writestr("leeann_1001_9001_essay.ipynb", nbformat.writes(nbformat.v4.new_notebook()))
    done = cli(released, "collect", "--zip", str(archive))
    assert done.returncode == 1
    assert "ASSIGNMENT=" in done.stderr


@pytest.mark.slow  # the course is released (and graded) through the CLI in fresh interpreters
def test_links_and_oversized_notebooks_in_a_zip_are_not_imported(released, tmp_path):
    """A zip entry that is a symlink, or a notebook bigger than the limit (whatever the zip's directory
    says): reported by name and not imported, while the rest of the class is?"""
    import stat as stat_module

    from course_utils.grading.lms import MAX_NOTEBOOK_BYTES

    course = tmp_path / "course"
    import shutil

    shutil.copytree(released, course, ignore=shutil.ignore_patterns("submitted", "autograded", ".grading",
                                                                     "collected", "grades*.csv"))
    archive = tmp_path / "links.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zip_file:
        link = zipfile.ZipInfo("leeann_1001_9001_first.ipynb")
        link.external_attr = (stat_module.S_IFLNK | 0o777) << 16
        zip_file.writestr(link, "../../source/first/first.ipynb")
        zip_file.writestr("vanderbergben_1002_9002_first.ipynb", b" " * (MAX_NOTEBOOK_BYTES + 10))
        zip_file.writestr("ngcat_1003_9003_first.ipynb", notebook_with(course, RIGHT))
    done = cli(course, "collect", "--zip", str(archive), "--assignment", ASSIGNMENT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "leeann_1001_9001_first.ipynb: ann: a link or special file" in done.stdout
    assert "vanderbergben_1002_9002_first.ipynb: ben: notebook of over" in done.stdout
    assert sorted(path.name for path in (course / "submitted").iterdir()) == ["cat"]


@pytest.mark.slow  # the course is released (and graded) through the CLI in fresh interpreters
def test_collect_refuses_to_run_as_root(released):
    """make collect as root: refused with what to do instead (collect reads what students wrote)?"""
    import os

    if os.geteuid() != 0:
        pytest.skip("only root can check that root is refused")
    done = subprocess.run([sys.executable, "-m", "course_utils.grading", "collect", "--course", str(released)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert "does not run as root: run it as an instructor" in done.stderr
