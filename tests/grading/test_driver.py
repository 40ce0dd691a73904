"""course_utils.grading: the driver behind make release, make autograde and make feedback.

The fast tests check the driver's parts without nbgrader; one test runs the
real pipeline on a tiny course without torch, for the cases that the tanh
pipeline test does not cover (several assignments, broken and misnamed
submissions).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course_utils.grading.__main__ import main
from course_utils.grading.pipeline import (
    GradingOptions, autograde, find_submissions, grade_submission, nbgrader_command, nbgrader_environment, points,
    read_grades, release)

COURSE = Path(__file__).resolve().parents[2] / "assignments"


def test_autograde_command_carries_the_run_options():
    """Are the per-run settings (timeout, kernel, sandbox arguments) passed to nbgrader autograde only?"""
    options = GradingOptions(timeout=7, kernel_name="course-sandbox", nbgrader_args=("--KernelManager.transport=ipc",))
    command = nbgrader_command("autograde", "tanh", "--student=alice", options=options)
    assert command[:4] == [sys.executable, "-m", "course_utils.grading.nbgrader_cli", "autograde"]
    assert command[4:] == ["tanh", "--student=alice", "--Execute.timeout=7", "--Execute.kernel_name=course-sandbox",
                           "--KernelManager.transport=ipc"]
    assert nbgrader_command("generate_feedback", "tanh", options=options)[3:] == ["generate_feedback", "tanh"]


@pytest.mark.slow
def test_nbgrader_cli_runs_nbgrader_without_the_iri_parser():
    """Is the course's nbgrader entry point nbgrader's own command line, minus the 1-2 s rfc3987_syntax import?"""
    import nbgrader

    code = ("import runpy, sys\n"
            "try:\n"
            "    runpy.run_module('course_utils.grading.nbgrader_cli', run_name='__main__')\n"
            "finally:\n"
            "    print('jsonschema' in sys.modules, sys.modules.get('rfc3987_syntax'))\n")
    output = subprocess.run([sys.executable, "-c", code, "--version"], capture_output=True, text=True, timeout=120)
    assert output.returncode == 0, output.stderr
    *printed, modules = output.stdout.splitlines()
    assert f"nbgrader version {nbgrader.__version__}" in printed
    assert modules == "True None"  # jsonschema was imported, without the parser


@pytest.mark.slow
def test_gradebook_version_is_read_in_process_as_alembic_heads_prints_it(tmp_path):
    """Does a gradebook created by the course's programs carry the schema version that nbgrader's own
    ``alembic heads`` subprocess gives, without starting that subprocess?"""
    from nbgrader.dbutil import _temp_alembic_ini

    with _temp_alembic_ini(f"sqlite:///{tmp_path / 'unused.db'}") as ini:
        printed = subprocess.run([str(Path(sys.executable).parent / "alembic"), "-c", ini, "heads"],
                                 capture_output=True, text=True, timeout=120, check=True).stdout
    heads = [line.split()[0] for line in printed.splitlines() if line.strip()]
    assert len(heads) == 1, printed
    # A fresh interpreter, where nbgrader cannot start a subprocess; the gradebook is opened as the course's
    # roster import opens it.
    code = ("import sqlite3, sys, nbgrader.api\n"
            "nbgrader.api.sp = None  # nbgrader's subprocess module\n"
            "from course_utils.grading.roster import open_gradebook\n"
            "with open_gradebook(sys.argv[1]):\n"
            "    pass\n"
            "print(sqlite3.connect(sys.argv[1] + '/gradebook.db').execute("
            "'select version_num from alembic_version').fetchall())\n")
    output = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                            timeout=120)
    assert output.returncode == 0, output.stderr
    assert output.stdout.strip() == repr([(heads[0],)])


@pytest.mark.slow
def test_course_cli_validates_notebooks_without_the_iri_parser(tmp_path):
    """Does ``python -m course_utils.grading`` (every make step) also do without rfc3987_syntax, while nbformat
    still validates with jsonschema?"""
    code = ("import runpy, sys\n"
            "try:\n"
            "    runpy.run_module('course_utils.grading', run_name='__main__', alter_sys=True)\n"
            "except SystemExit:\n"
            "    pass\n"
            "import nbformat\n"
            "nbformat.validate(nbformat.v4.new_notebook())\n"
            "print('jsonschema' in sys.modules, sys.modules.get('rfc3987_syntax'))\n")
    output = subprocess.run([sys.executable, "-c", code, "export", "--course", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert output.stdout.splitlines()[-1] == "True None", output.stdout + output.stderr


def test_default_autograde_command_leaves_settings_to_nbgrader_config():
    assert nbgrader_command("autograde", "tanh")[3:] == ["autograde", "tanh"]


def test_nbgrader_environment(monkeypatch):
    """Is the interpreter's bin/ first on PATH (for alembic), with one thread per kernel unless set?"""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    env = nbgrader_environment(GradingOptions(env={"EXTRA": "1"}))
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert (env["OMP_NUM_THREADS"], env["EXTRA"]) == ("1", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert nbgrader_environment()["OMP_NUM_THREADS"] == "4"


def test_tanh_homework_has_ten_automatic_points_and_a_written_answer():
    """Does the source notebook carry the points the issue promises?"""
    auto, manual = points(nbformat.read(COURSE / "source" / "tanh" / "tanh.ipynb", as_version=4))
    assert sum(auto.values()) == 10 and manual > 0
    assert all(grade_id.startswith("test_") for grade_id in auto)


def test_find_submissions_reads_student_and_assignment_from_folders(tmp_path):
    for folder in ["alice/tanh", "bob/tanh", "bob/augmentation", ".hidden/tanh", "carol/.ipynb_checkpoints"]:
        (tmp_path / "submitted" / folder).mkdir(parents=True)
    (tmp_path / "submitted" / "stray.txt").write_text("")
    assert find_submissions(tmp_path) == [("augmentation", "bob"), ("tanh", "alice"), ("tanh", "bob")]


def test_cli_refuses_a_folder_that_is_no_course(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["autograde", "--course", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "no nbgrader course" in capsys.readouterr().err


# -- a tiny course through the real nbgrader --------------------------------------------------


@pytest.fixture(scope="module")
def tiny_course(make_tiny_course) -> Path:
    return make_tiny_course(first=42, second=7)


def submit(course: Path, student: str, assignment: str, text: str, name: str | None = None) -> None:
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    (folder / (name or f"{assignment}.ipynb")).write_text(text)


def released_with(course: Path, assignment: str, answer_source: str | None) -> str:
    notebook = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    if answer_source is not None:
        notebook.cells[0].source = answer_source
    return nbformat.writes(notebook)


@pytest.mark.slow
def test_every_assignment_is_released_and_every_submission_gets_a_row(tiny_course):
    """Are all assignments released, and does each broken submission get a row with its status?"""
    assert release(tiny_course) == ["first", "second"]
    assert (tiny_course / "release" / "second" / "second.ipynb").exists()
    right = "def answer():\n    return 42\n"
    submit(tiny_course, "bob", "first", released_with(tiny_course, "first", right))
    submit(tiny_course, "bob", "second", '{"cells": [')  # invalid JSON
    submit(tiny_course, "carol", "first", released_with(tiny_course, "first", right), name="first (1).ipynb")
    submit(tiny_course, "dave", "first", released_with(tiny_course, "first", None))
    submit(tiny_course, "eve", "third", "{}")  # no such assignment

    results = autograde(tiny_course, options=GradingOptions(timeout=30))

    rows = {(r["assignment"], r["student_id"]): r for r in read_grades(tiny_course)}  # what make export writes
    assert sorted(rows) == [("first", "bob"), ("first", "carol"), ("first", "dave"), ("second", "bob"),
                            ("third", "eve")]
    assert (rows["first", "bob"]["status"], rows["first", "bob"]["total"]) == ("graded", "2")
    assert (rows["first", "dave"]["status"], rows["first", "dave"]["total"]) == ("graded", "0")
    assert rows["first", "carol"]["status"] == "missing"
    assert "expected first.ipynb; found first (1).ipynb" in rows["first", "carol"]["detail"]
    assert (rows["second", "bob"]["status"], rows["second", "bob"]["max"]) == ("failed", "2")
    assert "NotJSONError" in rows["second", "bob"]["detail"]
    assert rows["third", "eve"]["status"] == "failed" and "unknown assignment" in rows["third", "eve"]["detail"]
    assert len(results) == 5


@pytest.mark.slow
def test_grading_one_submission_needs_no_other(tiny_course):
    """Can a worker grade a single submission on its own, e.g. again after a fix?"""
    submit(tiny_course, "frank", "second", released_with(tiny_course, "second", "def answer():\n    return 7\n"))
    result = grade_submission(tiny_course, "second", "frank", GradingOptions(timeout=30))
    assert (result.status, result.auto_score, result.cell_scores) == (
        "graded", 2, {"test_answer_positive": 1.0, "test_answer_exact": 1.0})


def test_feedback_preprocessor_hides_hidden_tests_and_their_tracebacks():
    """Does a test cell with hidden tests lose them, and its error its traceback, while other cells keep theirs?"""
    from course_utils.grading.feedback import HideHiddenTests

    error = {"output_type": "error", "ename": "AssertionError", "evalue": "f(2) should be 4",
             "traceback": ["----> 3 assert f(2) == 4, 'secret check'"]}
    meta = {"nbgrader": {"grade": True, "grade_id": "test_f", "locked": True, "points": 1, "solution": False,
                         "schema_version": 3}}
    hidden = new_code_cell('"""f works."""\nassert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(2) == 4, "secret check"\n'
                           '### END HIDDEN TESTS', metadata=meta, outputs=[nbformat.from_dict(error)])
    student = new_code_cell("def f(x):\n    return x", outputs=[nbformat.from_dict(error)])
    notebook, _ = HideHiddenTests().preprocess(new_notebook(cells=[hidden, student]), {})
    assert "secret" not in notebook.cells[0].source and "HIDDEN" not in notebook.cells[0].source
    assert notebook.cells[0].outputs[0].traceback == ["AssertionError: f(2) should be 4"]
    assert notebook.cells[1].outputs[0].traceback == error["traceback"]
