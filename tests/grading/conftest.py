"""Fixtures that build throwaway nbgrader courses and submissions, like nbgrader's own tests.

A test never touches ``assignments/`` itself: ``make_course`` copies its
``nbgrader_config.py`` and ``source/`` into a temporary folder, and
``make_submission`` writes ``submitted/<student>/<assignment>/<name>.ipynb``
there, built from the released notebook with some solution cells filled in.
``make_tiny_course`` builds a course without torch, for tests of the grading
machinery rather than of a homework (a grading kernel starts in about a second
instead of five).
"""
from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

COURSE = Path(__file__).resolve().parents[2] / "assignments"


def sandbox_unavailable() -> str | None:
    """Why the grading sandbox cannot run here (a one-line reason), or None when it can.

    As root a missing bubblewrap is a failure, not a reason: ``make test`` installs it. Without root
    it cannot be installed, so grading tests grade without the sandbox and the sandbox's own tests skip.
    """
    from course_utils.grading import sandbox

    try:
        sandbox.check_sandbox()
    except sandbox.NoUserNamespaces as error:
        return f"no user namespaces on this machine, the sandbox cannot run: {error}"
    except sandbox.SandboxUnavailable as error:
        if os.geteuid() == 0:
            raise
        return f"needs bubblewrap, which only root can install here ('sudo apt-get install bubblewrap'): {error}"
    return None


@pytest.fixture(scope="session", autouse=True)
def grade_without_the_sandbox_where_it_cannot_run():
    """Without root and without bubblewrap, grading tests grade with ``COURSE_SANDBOX=off`` (as an
    instructor would there); the tests of the sandbox itself skip, saying why (:func:`sandbox_unavailable`)."""
    from course_utils.grading import sandbox

    if sandbox_unavailable() is None:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(sandbox.SWITCH_ENV, "off")
        yield


@pytest.fixture(scope="session")
def make_course(tmp_path_factory):
    """``make_course(*assignments)``: a copy of the course with those assignments (all if none named)."""

    def make(*assignments: str) -> Path:
        course = tmp_path_factory.mktemp("course") / "assignments"
        (course / "source").mkdir(parents=True)
        shutil.copy(COURSE / "nbgrader_config.py", course)
        for name in assignments or [p.name for p in (COURSE / "source").iterdir() if p.is_dir()]:
            shutil.copytree(COURSE / "source" / name, course / "source" / name,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        return course

    return make


@pytest.fixture(scope="session")
def make_released_course(make_course, tmp_path_factory):
    """``make_released_course(*assignments)``: a copy of the course with those assignments released, to grade in.

    ``nbgrader generate_assignment`` runs once per set of assignments and test run, shared by pytest-xdist's
    workers (a file lock; the first to ask releases); every caller gets a copy of its own.
    """
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")  # the same in every worker of one run
    shared = (tmp_path_factory.getbasetemp().parent / f"released-{run}" if run
              else tmp_path_factory.getbasetemp() / "released")
    shared.mkdir(exist_ok=True)

    def make(*assignments: str) -> Path:
        from course_utils.grading.pipeline import release

        key = "-".join(sorted(assignments)) or "all"
        released = shared / key / "assignments"
        with open(shared / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not (shared / key / "complete").exists():
                shutil.rmtree(shared / key, ignore_errors=True)
                course = make_course(*assignments)
                release(course)
                shutil.copytree(course, released, symlinks=True)
                (shared / key / "complete").touch()
        copy = tmp_path_factory.mktemp("released") / "assignments"
        shutil.copytree(released, copy, symlinks=True)
        return copy

    return make


def solution_answers(source_notebook: Path) -> dict[str, str]:
    """``{grade_id: source}`` of every solution cell, as a student who solved it would submit it."""
    from course_utils.grading.markers import Markers

    markers = Markers.for_course(source_notebook.parents[2])  # <course>/source/<assignment>/<name>.ipynb
    notebook = nbformat.read(source_notebook, as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: markers.without(cell.source) for cell in notebook.cells
            if cell.metadata.get("nbgrader", {}).get("solution")}


@pytest.fixture(scope="session")
def source_answers():
    """``source_answers(course, assignment)``: the solution of every solution cell, from the source notebook."""

    def answers(course: Path, assignment: str, name: str | None = None) -> dict[str, str]:
        return solution_answers(course / "source" / assignment / f"{name or assignment}.ipynb")

    return answers


@pytest.fixture(scope="session")
def make_submission():
    """``make_submission(course, student, assignment, answers)``: write a submission, return its path.

    The notebook is ``release/<assignment>/<name>.ipynb`` (so the course must
    be released) with the solution cells named in ``answers`` replaced; no
    answers submits the blank release. ``notebook=`` submits a given notebook
    file instead, and ``save_as=`` names the submitted file differently.
    """

    def make(course: Path, student: str, assignment: str, answers: Mapping[str, str] | None = None, *,
             name: str | None = None, notebook: Path | None = None, save_as: str | None = None) -> Path:
        name = name or assignment
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / (save_as or f"{name}.ipynb")
        if notebook is not None:
            shutil.copy(notebook, target)
            return target
        released = nbformat.read(course / "release" / assignment / f"{name}.ipynb", as_version=4)
        answers = dict(answers or {})
        for cell in released.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in answers:
                cell.source = answers.pop(grade_id)
        assert not answers, f"no solution cells {sorted(answers)} in the released {name}.ipynb"
        nbformat.write(released, target)
        return target

    return make


def tiny_notebook(answer: int) -> nbformat.NotebookNode:
    """A homework of one solution cell, ``answer()``, and two autograded test cells of 1 point each.

    ``test_answer_positive`` passes for any positive answer; ``test_answer_exact``
    hides its check, so a positive wrong answer scores 1 of 2. The released
    ``answer()`` raises NotImplementedError.
    """
    meta = {"schema_version": 3, "task": False}

    def test(grade_id: str, source: str):
        return new_code_cell(source, metadata={"nbgrader": {**meta, "grade_id": grade_id, "solution": False,
                                                            "grade": True, "locked": True, "points": 1}})

    solution = new_code_cell(f"def answer():\n    ### BEGIN SOLUTION\n    return {answer}\n    ### END SOLUTION",
                             metadata={"nbgrader": {**meta, "grade_id": "answer", "solution": True, "grade": False,
                                                    "locked": False}})
    return new_notebook(cells=[
        solution,
        test("test_answer_positive", '"""answer() is positive."""\nassert answer() > 0'),
        test("test_answer_exact", f'"""answer() is right."""\nassert isinstance(answer(), int)\n'
                                  f"### BEGIN HIDDEN TESTS\nassert answer() == {answer}\n### END HIDDEN TESTS"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


@pytest.fixture(scope="session")
def make_tiny_course(tmp_path_factory):
    """``make_tiny_course(first=42, ...)``: a course with the course's nbgrader_config.py and one
    :func:`tiny_notebook` assignment per keyword (its name, its right answer), not released yet."""

    def make(**answers: int) -> Path:
        course = tmp_path_factory.mktemp("tiny") / "assignments"
        course.mkdir()
        shutil.copy(COURSE / "nbgrader_config.py", course)
        for name, answer in answers.items():
            (course / "source" / name).mkdir(parents=True)
            nbformat.write(tiny_notebook(answer), course / "source" / name / f"{name}.ipynb")
        return course

    return make
