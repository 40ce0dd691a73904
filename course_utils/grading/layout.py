"""The course's layout on disk and the points of its notebooks (no nbgrader process is started here)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat


def assignment_names(course: Path) -> list[str]:
    """Every assignment in ``source/``: a folder holding at least one notebook."""
    source = course / "source"
    if not source.is_dir():
        return []
    return sorted(folder.name for folder in source.iterdir()
                  if visible(folder) and folder.is_dir() and source_notebooks(course, folder.name))


def source_notebooks(course: Path, assignment: str) -> list[Path]:
    return sorted(path for path in (course / "source" / assignment).glob("*.ipynb") if visible(path))


def find_submissions(course: Path) -> list[tuple[str, str]]:
    """Every ``(assignment, student)`` with a folder ``submitted/<student>/<assignment>``, sorted.

    A folder whose name is not a valid student id (``*``, ``-rf``, made by hand) is left out: the
    id would reach nbgrader's ``--student=`` (:func:`.roster.check_student_id`).
    """
    from .roster import RosterError, check_student_id

    submitted = course / "submitted"
    if not submitted.is_dir():
        return []
    found = []
    for student in submitted.iterdir():
        if not (visible(student) and student.is_dir()):
            continue
        try:
            check_student_id(student.name, "folder submitted/")
        except RosterError:
            continue
        for assignment in student.iterdir():
            if visible(assignment) and assignment.is_dir():
                found.append((assignment.name, student.name))
    return sorted(found)


def visible(path: Path) -> bool:
    return not path.name.startswith(".")


def points(notebook: nbformat.NotebookNode) -> tuple[dict[str, float], float]:
    """``({grade_id: points} of the autograded test cells, points graded by hand)``."""
    auto: dict[str, float] = {}
    manual = 0.0
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade") and not meta.get("task"):
            continue
        if is_autograded_test(cell):
            auto[meta["grade_id"]] = float(meta.get("points", 0))
        else:
            manual += float(meta.get("points", 0))
    return auto, manual


def is_autograded_test(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def cell_scores(notebook: nbformat.NotebookNode) -> dict[str, float]:
    """Points of each autograded test cell of a graded notebook, scored exactly as nbgrader does."""
    from nbgrader.utils import determine_grade  # nbgrader is slow to import: only when grading

    return {cell.metadata["nbgrader"]["grade_id"]: float(determine_grade(cell)[0])
            for cell in notebook.cells if is_autograded_test(cell)}


def submission_digest(folder: Path) -> str:
    """A hash of a submission's content: every visible file's path and bytes (what the grader grades)."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not path.is_symlink() and not any(part.startswith(".") for part in relative.parts):
            data = path.read_bytes()
            digest.update(f"\0{relative.as_posix()}\0{len(data)}\0".encode())
            digest.update(data)
    return digest.hexdigest()
