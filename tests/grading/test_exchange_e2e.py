"""A class run through nbgrader's exchange by real, separate Unix users (root only; skipped elsewhere).

An instructor and two students, each their own Unix user: the instructor
releases homework 1 to an exchange in a temporary folder; each student
fetches it, fills it in and submits it as themselves (bob after the due
date); the instructor collects, autogrades in the sandbox, grades the written
answers through nbgrader's API, releases feedback and exports; each student
fetches feedback, and gets only their own, without hidden tests.
"""
from __future__ import annotations

import csv
import os
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest
from unix_users import shared_folder

from conftest import COURSE, solution_answers
from course_utils.grading.markers import HIDDEN, MARKER, Markers
from course_utils.grading.student_edition import NBGRADER_CONFIG

# A class of real Unix users through the exchange (root only).
pytestmark = [pytest.mark.slow, pytest.mark.root]

ASSIGNMENT = "tanh"
PYTHON = sys.executable  # the course's Python, which every user runs


def source_points(notebook: Path) -> tuple[float, str, float]:
    """``(points of the autograded test cells, grade id of the written answer, its points)``."""
    auto, manual_id, manual = 0.0, None, 0.0
    for cell in nbformat.read(notebook, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code" and not meta.get("solution"):
            auto += float(meta.get("points", 0))
        elif meta.get("grade"):
            manual_id, manual = meta["grade_id"], float(meta.get("points", 0))
    assert manual_id, "homework 1 should have a written answer graded by hand"
    return auto, manual_id, manual


MARKERS = Markers.for_course(COURSE)


def hidden_test_lines(notebook: Path) -> list[str]:
    """Lines of the hidden test regions that appear nowhere visible in the notebook (and say something)."""
    hidden, visible = set(), set()
    for cell in nbformat.read(notebook, as_version=4).cells:
        for region, line in MARKERS.regions(cell.source):
            if line.strip() and region != MARKER:
                (hidden if region == HIDDEN else visible).add(line.strip())
    return sorted(line for line in hidden - visible if len(line) >= 12)


def chown_tree(path: Path, user) -> None:
    for folder, _, files in os.walk(path):
        os.chown(folder, user.uid, user.gid)
        for name in files:
            os.chown(os.path.join(folder, name), user.uid, user.gid)


def nbgrader_as(user, *args: str, env: dict) -> str:
    return user.run([PYTHON, "-m", "nbgrader", *args], env=env).stdout


def grading_as(user, course: Path, *args: str, env: dict) -> str:
    done = user.run([PYTHON, "-m", "course_utils.grading", *args, "--course", str(course)], env=env)
    return done.stdout + done.stderr


def fill_in(user, answers: dict[str, str], written: str) -> None:
    """The student's edit of the fetched notebook: every solution cell answered, a signed written answer."""
    path = user.home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = written
    nbformat.write(notebook, path)
    os.chown(path, user.uid, user.gid)


def test_a_class_through_the_exchange(unix_users):
    """Release, fetch, submit (one late), collect, autograde, hand grading, feedback, export: all as the right user?"""
    instructor = unix_users.add("instructor")
    alice, bob = unix_users.add("alice"), unix_users.add("bob")
    shared = shared_folder()
    try:
        exchange = shared / "exchange"
        exchange.mkdir()
        exchange.chmod(0o1777)  # what the README tells the administrator to do once
        course = shared / "course" / "assignments"
        (course / "source").mkdir(parents=True)
        shutil.copy(COURSE / "nbgrader_config.py", course)
        shutil.copytree(COURSE / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT)
        (course / "roster.csv").write_text(
            "student_id,first_name,last_name,email,lms_id\n"
            f"{alice.name},Alice,A,alice@example.org,1\n{bob.name},Bob,B,bob@example.org,2\n"
            "carol,Carol,C,carol@example.org,3\n")  # carol never submits
        chown_tree(shared / "course", instructor)
        env = {"COURSE_EXCHANGE": str(exchange), "OMP_NUM_THREADS": "1"}
        source = course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        auto_max, written_id, written_max = source_points(source)
        answers = solution_answers(source)

        # The instructor releases; each student fetches with nbgrader's own command and the edition's config.
        output = grading_as(instructor, course, "release", env=env)
        assert f"released {ASSIGNMENT} to the exchange {exchange}" in output, output
        for student in (alice, bob):
            (student.home / "nbgrader_config.py").write_text(NBGRADER_CONFIG)
            nbgrader_as(student, "fetch_assignment", ASSIGNMENT, env=env)
            assert (student.home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()

        fill_in(alice, answers, f"Written by {alice.name}: d tanh/dx = 1 - tanh(x)^2.")
        nbgrader_as(alice, "submit", ASSIGNMENT, env=env)
        time.sleep(1.5)
        due = datetime.now(timezone.utc)
        time.sleep(1.5)
        fill_in(bob, answers, f"Written by {bob.name}: the derivative is 1 - tanh^2.")
        # after the due date, with a forged time (nbgrader writes it into timestamp.txt and the folder name)
        nbgrader_as(bob, "submit", ASSIGNMENT, "--Exchange.timestamp_format=2020-01-01 00:00:00.000000 UTC",
                    env=env)
        # and a blank release planted in alice's name, dated far ahead so that it would win (nbgrader #1097)
        inbound_path = exchange / "deep-learning-course" / "inbound"
        fake = inbound_path / f"{alice.name}+{ASSIGNMENT}+2099-01-01 00:00:00.000000 UTC+forged"
        bob.run(["mkdir", str(fake)])
        bob.run(["cp", str(exchange / "deep-learning-course" / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
                 str(fake)])
        bob.run(["sh", "-c", f"echo '2099-01-01 00:00:00.000000 UTC' > '{fake}/timestamp.txt'"])
        (course / "course.toml").write_text(
            "[late]\npercent_per_day = 10\nmax_percent = 50\n\n"
            f"[assignments.{ASSIGNMENT}]\ndue = {due.isoformat(timespec='seconds')}\n")
        os.chown(course / "course.toml", instructor.uid, instructor.gid)

        # Students cannot see each other's submissions: inbound/ cannot be listed, and alice's working copy
        # and nbgrader's cached copy of her submission are in her private home.
        inbound = exchange / "deep-learning-course" / "inbound"
        assert bob.run(["ls", str(inbound)], check=False).returncode != 0
        assert bob.run(["cat", str(alice.home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")], check=False).returncode != 0
        cached = list((alice.home / ".local" / "share" / "jupyter" / "nbgrader_cache").rglob("*.ipynb"))
        assert cached and bob.run(["cat", str(cached[0])], check=False).returncode != 0

        output = grading_as(instructor, course, "collect", env=env)
        assert "2 submission(s)" in output and "no submission yet: carol" in output, output
        assert f"QUARANTINED {fake.name}: submitted in {alice.name}'s name by {bob.name}" in output, output
        assert (course / "quarantine" / ASSIGNMENT / f"{alice.name}.txt").is_file()
        stamp = (course / "submitted" / bob.name / ASSIGNMENT / "timestamp.txt").read_text()
        assert not stamp.startswith("2020"), stamp  # the file system's time, not the forged one
        for student in (alice, bob):
            assert (course / "submitted" / student.name / ASSIGNMENT / "timestamp.txt").is_file()

        output = grading_as(instructor, course, "autograde", "--timeout", "60", env=env)
        assert output.count(f": graded {auto_max:g}/{auto_max:g} ") == 2, output  # both right, in the sandbox

        # Written answers graded by hand, as Formgrader does it (nbgrader's API), as the instructor.
        for student, score in ((alice, 3), (bob, 2)):
            instructor.run([PYTHON, "-c", (
                "import sys; from nbgrader.api import Gradebook\n"
                "with Gradebook(sys.argv[1]) as gb:\n"
                "    grade = gb.find_grade(sys.argv[2], sys.argv[3], sys.argv[3], sys.argv[4])\n"
                "    grade.manual_score = float(sys.argv[5]); grade.needs_manual_grade = False\n"
                "    gb.db.commit()\n"), f"sqlite:///{course / 'gradebook.db'}", written_id, ASSIGNMENT,
                student.name, str(score)])

        output = grading_as(instructor, course, "feedback", env=env)
        assert "feedback released to the exchange" in output, output
        feedback_folder = exchange / "deep-learning-course" / "feedback"
        assert bob.run(["ls", str(feedback_folder)], check=False).returncode != 0

        hidden = hidden_test_lines(source)
        assert hidden, "homework 1 should have hidden tests"
        for student, other in ((alice, bob), (bob, alice)):
            nbgrader_as(student, "fetch_feedback", ASSIGNMENT, env=env)
            pages = list((student.home / ASSIGNMENT / "feedback").rglob("*.html"))
            assert len(pages) == 1, pages
            page = pages[0].read_text(encoding="utf-8")
            assert f"Written by {student.name}" in page
            assert f"Written by {other.name}" not in page
            assert MARKERS.begin_hidden not in page and MARKERS.end_hidden not in page
            assert not [line for line in hidden if line in page]

        grading_as(instructor, course, "export", env=env)
        with open(course / "grades.csv", newline="") as file:
            rows = {row["student_id"]: row for row in csv.DictReader(file)}
        assert rows[alice.name]["status"] == "graded" and rows[alice.name]["late_penalty"] == "0"
        assert float(rows[alice.name]["total"]) == auto_max + 3
        earned = auto_max + 2
        assert rows[bob.name]["status"] == "graded" and rows[bob.name]["days_late"] == "1"
        assert float(rows[bob.name]["late_penalty"]) == pytest.approx(round(earned * 0.1, 2))
        assert float(rows[bob.name]["total"]) == pytest.approx(earned - round(earned * 0.1, 2))
        assert "late 1 day" in rows[bob.name]["detail"]
        assert rows["carol"]["status"] == "missing" and rows["carol"]["total"] == "0"
        assert float(rows["carol"]["max"]) == auto_max + written_max
        with open(course / "grades_wide.csv", newline="") as file:
            wide = {row["student_id"]: row for row in csv.DictReader(file)}
        assert float(wide[bob.name][ASSIGNMENT]) == pytest.approx(earned - round(earned * 0.1, 2))
        assert wide["carol"][ASSIGNMENT] == "0" and wide["carol"]["lms_id"] == "3"
    finally:
        shutil.rmtree(shared, ignore_errors=True)
