"""Fixtures that build throwaway nbgrader courses and submissions, like nbgrader's own tests.

A test never touches ``assignments/`` itself: ``make_course`` copies its
``nbgrader_config.py`` and ``source/`` into a temporary folder, and
``make_submission`` writes ``submitted/<student>/<assignment>/<name>.ipynb``
there, built from the released notebook with some solution cells filled in.
"""
from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

import nbformat
import pytest

COURSE = Path(__file__).resolve().parents[2] / "assignments"
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


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


def solution_answers(source_notebook: Path) -> dict[str, str]:
    """``{grade_id: source}`` of every solution cell, as a student who solved it would submit it."""
    notebook = nbformat.read(source_notebook, as_version=4)
    answers = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines = cell.source.splitlines()
            answers[meta["grade_id"]] = "\n".join(line for line in lines if line.strip() not in SOLUTION_MARKERS)
    return answers


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
