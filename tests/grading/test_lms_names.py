"""LMS file names, fast: what ``parse_entry`` reads from Canvas and Moodle names, and where ``import_zip`` files them.

No nbgrader run and no kernel: the course is a ``source/`` folder of small
notebooks (their grade ids are all the import reads), the zips are written
here. ``test_lms.py`` grades such imports end to end.
"""
from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest

from course_utils.grading.lms import SYSTEM_FILES, import_zip, parse_entry
from course_utils.grading.roster import Student

ROSTER = [Student("ann", "Ann", "Lee", lms_id="1001"), Student("ben", "Ben", "Ode", lms_id="1002"),
          Student("cat", "Cat", "Ng", lms_id="1003")]


def notebook(*grade_ids: str, text: str = "") -> bytes:
    """A notebook whose cells carry ``grade_ids`` (what the import matches on) and ``text``."""
    cells = [{"cell_type": "code", "source": text or grade_id, "metadata": {"nbgrader": {"grade_id": grade_id}},
              "outputs": [], "execution_count": None} for grade_id in grade_ids]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


@pytest.fixture
def course(tmp_path) -> Path:
    """A course with one assignment of two notebooks: ``part1`` (grade ids a, b) and ``part2`` (c, d)."""
    folder = tmp_path / "course" / "source" / "hw"
    folder.mkdir(parents=True)
    (folder / "part1.ipynb").write_bytes(notebook("a", "b"))
    (folder / "part2.ipynb").write_bytes(notebook("c", "d"))
    return tmp_path / "course"


def zip_of(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def submitted(course: Path) -> dict[str, list[str]]:
    return {student.name: sorted(path.name for path in (student / "hw").iterdir())
            for student in sorted((course / "submitted").iterdir())}


@pytest.mark.parametrize("name, lms, lms_id, file_name", [
    ("smithjohn_123_456_2024 homework.ipynb", "canvas", "123", "2024 homework.ipynb"),  # digits after the ids
    ("hw1 submissions/smithjohn_123_456_tanh.ipynb", "canvas", "123", "tanh.ipynb"),  # the zip's own folder
    ("José Müller_77_assignsubmission_file_/sub/dir/nb.ipynb", "moodle", "77", "sub/dir/nb.ipynb"),
    ("download/José Müller_77_assignsubmission_file_/nb.ipynb", "moodle", "77", "nb.ipynb"),
])
def test_ids_and_uploaded_file_are_read_wherever_the_lms_puts_them(name, lms, lms_id, file_name):
    """Does an id found past digits, folders or accents still give the right LMS, id and uploaded file?"""
    entry = parse_entry(name)
    assert (entry.lms, entry.lms_id, entry.file_name, entry.path) == (lms, lms_id, file_name, name)


def test_moodle_names_carry_no_late_mark():
    """Is a Moodle file never taken as late (its download says nothing of lateness)?"""
    assert parse_entry("Late Person_5_assignsubmission_file_late_1_2_x.ipynb").late is False


@pytest.mark.parametrize("name, roster, student", [
    ("ann/homework.ipynb", {"ann"}, "ann"),  # a folder named after the student
    ("ann.ipynb", {"ann"}, "ann"),  # a file named after the student
    ("ann/homework.ipynb", {"ben"}, None),  # a folder of nobody on the roster
    ("homework.ipynb", {"homework"}, "homework"),
])
def test_a_hand_made_zip_is_read_by_roster_ids_only(name, roster, student):
    """Is a name in no LMS format taken as a student's only when a folder or the file is named after one?"""
    entry = parse_entry(name, roster)
    assert (entry.name if entry else None) == student


@pytest.mark.parametrize("name, system", [
    ("__MACOSX/._smithjohn_1_2_hw.ipynb", True), (".DS_Store", True), ("sub/Thumbs.db", True),
    ("smithjohn_1_2_hw.ipynb/.ipynb_checkpoints/hw-checkpoint.ipynb", True),
    ("smithjohn_1_2_hw.ipynb", False), ("Anna_7_assignsubmission_file_/my.notes.ipynb", False),
])
def test_system_files_are_told_from_submissions(name, system):
    """Are the files that zip tools and editors add (macOS, Windows, Jupyter) told from what students uploaded?"""
    assert bool(SYSTEM_FILES.search(name)) is system


def test_each_upload_is_filed_under_the_notebook_its_cells_belong_to(course, tmp_path):
    """Whatever the student named it, is a notebook filed under the assignment's notebook with its grade ids?"""
    archive = zip_of(tmp_path / "hw.zip", {
        "leeann_1001_9001_part2.ipynb": notebook("a", "b"),  # named part2, holds part1's cells
        "odeben_1002_9002_part2-1.ipynb": notebook("x"),  # no known cells: Canvas's re-upload name decides
    })
    report = import_zip(course, archive, ROSTER)
    assert report.assignment == "hw" and report.imported == {"ann": "leeann_1001_9001_part2.ipynb",
                                                             "ben": "odeben_1002_9002_part2-1.ipynb"}
    assert submitted(course) == {"ann": ["part1.ipynb"], "ben": ["part2.ipynb"]}


def test_a_re_upload_counts_once_and_two_different_notebooks_stop_only_that_student(course, tmp_path):
    """The same notebook twice is imported once; two different ones are reported for that student alone,
    and the rest of the class is imported (nbgrader's zip_collect would stop for everyone)."""
    archive = zip_of(tmp_path / "hw.zip", {
        "leeann_LATE_1001_9001_part1.ipynb": notebook("a"), "leeann_LATE_1001_9009_part1-1.ipynb": notebook("a"),
        "odeben_1002_9002_part1.ipynb": notebook("a", text="one"),
        "odeben_1002_9003_part1-1.ipynb": notebook("a", text="two"),
        "ngcat_1003_9004_part1.ipynb": notebook("a"),
    })
    report = import_zip(course, archive, ROSTER)
    assert sorted(report.imported) == ["ann", "cat"] and report.late == ["ann"] and report.absent == ["ben"]
    assert sorted(path for path, why in report.problems if why.startswith("ben: 2 notebooks")) == [
        "odeben_1002_9002_part1.ipynb", "odeben_1002_9003_part1-1.ipynb"]
    with open(course / "collected" / "hw.csv", newline="", encoding="utf-8") as file:
        log = {(row["student_id"], row["status"]): row for row in csv.DictReader(file)}
    assert log["ann", "imported"]["late"] == "yes" and log["cat", "imported"]["late"] == "no"
    assert log["ann", "imported"]["detail"] == ("part1-1.ipynb as part1.ipynb "
                                                "(identical to leeann_LATE_1001_9001_part1.ipynb)")
    assert log["ben", "ambiguous"]["file"] == "odeben_1002_9002_part1.ipynb"


def test_names_of_no_one_on_the_roster_and_other_files_are_reported_not_imported(course, tmp_path):
    """A stranger's upload, an unknown name, a PDF and a system file: is each reported with its reason?"""
    archive = zip_of(tmp_path / "hw.zip", {
        "strangerzed_4242_9008_part1.ipynb": notebook("a"), "homework.ipynb": notebook("a"),
        "leeann_1001_9001_notes.pdf": b"%PDF", "leeann_1001_9002_part1.ipynb": notebook("a"),
        "__MACOSX/._leeann_1001_9002_part1.ipynb": b"\0",
    })
    report = import_zip(course, archive, ROSTER)
    why = dict(report.problems)
    assert report.imported == {"ann": "leeann_1001_9002_part1.ipynb"}
    assert why["strangerzed_4242_9008_part1.ipynb"].startswith("not on the roster: canvas id 4242")
    assert why["homework.ipynb"].startswith("unrecognised name")
    assert why["leeann_1001_9001_notes.pdf"] == ("ann: not a notebook (.ipynb), not imported "
                                                 "(the student's notebook was)")
    assert why["__MACOSX/._leeann_1001_9002_part1.ipynb"].startswith("ignored: a system file")
