"""assignments/roster.csv: read, checked, and imported into nbgrader's gradebook."""
from __future__ import annotations

from pathlib import Path

import pytest

from course_utils.grading.roster import COLUMNS, RosterError, check_student_id, import_into_gradebook, read_roster

COURSE = Path(__file__).resolve().parents[2] / "assignments"
HEADER = ",".join(COLUMNS) + "\n"


def test_the_course_roster_is_valid():
    """Does assignments/roster.csv have the documented columns and valid ids?"""
    assert (COURSE / "roster.csv").read_text(encoding="utf-8").splitlines()[0] == HEADER.strip()
    read_roster(COURSE / "roster.csv")


def test_rows_are_read_in_order_with_spreadsheet_quirks(tmp_path):
    """A BOM, spaces around values and blank lines (as spreadsheets write them): are they handled?"""
    path = tmp_path / "roster.csv"
    path.write_text("\ufeff" + HEADER + " ann , Ann ,Lee, ann@example.org , 1001 \n,,,,\nben,Ben,,,\n",
                    encoding="utf-8")
    students = read_roster(path)
    assert [(s.student_id, s.full_name, s.email, s.lms_id) for s in students] == [
        ("ann", "Ann Lee", "ann@example.org", "1001"), ("ben", "Ben", "", "")]


@pytest.mark.parametrize("body, message", [
    ("ann,A,L,a@x,1\nann,B,L,b@x,2\n", "already on line 2"),
    ("ann,A,L,a@x,1\nben,B,L,b@x,1\n", "lms_id '1' is also 'ann'"),
    ("ann lee,A,L,a@x,1\n", "must be a user name"),
    ("a+b,A,L,a@x,1\n", "must be a user name"),
    ("*,A,L,a@x,1\n", "must be a user name"),
    ("../x,A,L,a@x,1\n", "must be a user name"),
    ("..,A,L,a@x,1\n", "must be a user name"),
    ("-x,A,L,a@x,1\n", "must be a user name"),
])
def test_ambiguous_rosters_are_refused(tmp_path, body, message):
    """Two rows for one id, one LMS id for two students, an id nbgrader cannot use: refused with the line?"""
    path = tmp_path / "roster.csv"
    path.write_text(HEADER + body)
    with pytest.raises(RosterError, match=message):
        read_roster(path)


def test_a_missing_column_names_the_header_to_use(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("student_id,email\nann,a@x\n")
    with pytest.raises(RosterError, match="first_name, last_name, lms_id"):
        read_roster(path)


@pytest.mark.slow  # a new gradebook runs nbgrader's `alembic heads` in a fresh interpreter (seconds)
def test_students_are_imported_into_the_gradebook(tmp_path):
    """Does the import create nbgrader students with names, email and LMS id (and update them on re-import)?"""
    from nbgrader.api import Gradebook

    path = tmp_path / "roster.csv"
    path.write_text(HEADER + "ann,Ann,Lee,ann@example.org,1001\n")
    import_into_gradebook(tmp_path, read_roster(path))
    path.write_text(HEADER + "ann,Ann,Lee-Ray,ann@example.org,1001\nben,Ben,Ode,,\n")
    assert import_into_gradebook(tmp_path, read_roster(path)) == 2
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        ann = gradebook.find_student("ann")
        assert (ann.first_name, ann.last_name, ann.email, ann.lms_user_id) == ("Ann", "Lee-Ray", "ann@example.org",
                                                                               "1001")
        assert gradebook.find_student("ben").lms_user_id is None


@pytest.mark.parametrize("name", ["*", "../x", "..", ".", "", "a/b", "-rf", "a b", "x" * 65, "a\nb"])
def test_unsafe_student_ids_are_refused_before_they_reach_a_path(name):
    """An id from the exchange or a folder name that would be a glob, a path or an option: refused, with the rule?"""
    with pytest.raises(RosterError, match="not a valid student id: use letters"):
        check_student_id(name)


def test_ordinary_ids_pass():
    assert check_student_id("ann.lee-2@x_y") == "ann.lee-2@x_y"
