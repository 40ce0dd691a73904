"""A homework notebook as a student fills it: the released cells, with the solutions typed in.

The solutions come from the instructor's source notebook (``assignments/source``)
with nbgrader's solution markers removed, so the tests follow the homework as
it changes. The markers are the course's (``course_utils.grading.markers``).
"""
from __future__ import annotations

import json
from pathlib import Path

from course_utils.grading.markers import HIDDEN, Markers

WRITTEN_ANSWER = (r"The derivative is $\tanh'(x) = 1 - \tanh^2(x)$, at most 1, "
                  "so gradients never grow through a tanh layer.")


def course_markers(source_notebook: Path) -> Markers:
    """The markers of the course whose ``source/<assignment>/`` holds ``source_notebook`` (nbgrader's layout)."""
    return Markers.for_course(source_notebook.resolve().parents[2])


def solution_sources(source_notebook: Path) -> dict[str, str]:
    """``grade_id -> text a student would write`` for every solution cell of the source notebook."""
    markers = course_markers(source_notebook)
    answers = {}
    for cell in json.loads(source_notebook.read_text())["cells"]:
        nbgrader = cell.get("metadata", {}).get("nbgrader", {})
        if not nbgrader.get("solution"):
            continue
        text = "".join(cell["source"])
        if cell["cell_type"] == "code":
            text = markers.without(text)  # the solution as written, without its marker lines
        else:
            text = WRITTEN_ANSWER
        answers[nbgrader["grade_id"]] = text
    return answers


def solution_cells(released_notebook: Path, source_notebook: Path) -> list[tuple[int, str]]:
    """``(cell index in the released notebook, text to put there)`` for every answer cell."""
    answers = solution_sources(source_notebook)
    cells = json.loads(released_notebook.read_text())["cells"]
    filled = [(index, answers[cell["metadata"]["nbgrader"]["grade_id"]])
              for index, cell in enumerate(cells)
              if cell.get("metadata", {}).get("nbgrader", {}).get("solution")]
    assert filled, f"{released_notebook} has no answer cells"
    return filled


def graded_cells(released_notebook: Path) -> dict[str, str]:
    """``source -> cell type`` of the released notebook's graded cells (what Validate may report):
    the test cells and the written answers."""
    return {"".join(cell["source"]): cell["cell_type"]
            for cell in json.loads(released_notebook.read_text())["cells"]
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade")}


def hidden_test_lines(source_notebook: Path) -> list[str]:
    """Every non-blank line of the source's hidden tests: none may reach a student's page."""
    markers = course_markers(source_notebook)
    return [line.strip() for cell in json.loads(source_notebook.read_text())["cells"]
            for line in markers.lines_in("".join(cell["source"]), HIDDEN)
            if line.strip() and not line.strip().startswith("#")]


def automatic_points(source_notebook: Path) -> float:
    """Points of the autograded test cells (the written answers are graded by hand)."""
    return sum(float(cell["metadata"]["nbgrader"].get("points", 0))
               for cell in json.loads(source_notebook.read_text())["cells"]
               if cell.get("metadata", {}).get("nbgrader", {}).get("grade") and cell["cell_type"] == "code")


def total_points(source_notebook: Path) -> float:
    """Points of every graded cell: the tests and the written answers."""
    return sum(float(cell["metadata"]["nbgrader"].get("points", 0))
               for cell in json.loads(source_notebook.read_text())["cells"]
               if cell.get("metadata", {}).get("nbgrader", {}).get("grade"))
