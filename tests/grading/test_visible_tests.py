"""Do the tests a student can read give no solution away, and are they short?

For every homework in ``assignments/source``: no line of a reference solution
(a solution region, or a whole answer cell) appears in what the release shows
of a test cell (its visible part) or in the checks the test cells call
(``course_utils/homework_checks``, which students have). Test cells are a few
calls of named checks, so JupyterLab's *Validate* shows the reason of a
failure, not a page of test code. No nbgrader run needed.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from course_utils.grading.markers import MARKER, SOLUTION, Markers

ROOT = Path(__file__).resolve().parents[2]
MARKERS = Markers.for_course(ROOT / "assignments")
visible_part = MARKERS.visible_part

SOURCE = ROOT / "assignments" / "source"
HOMEWORKS = sorted(path for path in SOURCE.glob("*/*.ipynb") if ".ipynb_checkpoints" not in path.parts)
CHECKS = sorted((ROOT / "course_utils" / "homework_checks").glob("*.py"))
MIN_LENGTH = 12  # shorter lines ("return x", ")") say nothing


def solution_lines(notebook) -> set[str]:
    lines = set()
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution") or cell.cell_type != "code":
            continue
        regions = MARKERS.regions(cell.source)
        whole = SOLUTION not in dict(regions)  # a solution cell without a region is a solution throughout
        for region, line in regions:
            stripped = line.strip()
            if (region == SOLUTION or (whole and region != MARKER)) and len(stripped) >= MIN_LENGTH \
                    and not stripped.startswith("#"):
                lines.add(stripped)
    return lines


def test_there_are_homeworks_to_check():
    assert {path.parent.name for path in HOMEWORKS} >= {"tanh", "augmentation"}


@pytest.mark.parametrize("path", HOMEWORKS, ids=lambda path: path.parent.name)
def test_no_solution_line_in_a_released_test_cell(path):
    """Does no visible part of a test cell repeat a line of the reference solution?"""
    notebook = nbformat.read(path, as_version=4)
    secret = solution_lines(notebook)
    assert len(secret) >= 5, "the search has something to find"
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            shown = {line.strip() for line in visible_part(cell.source).splitlines()}
            leaked = sorted(secret & shown)
            assert not leaked, f"{meta['grade_id']} shows solution lines: {leaked[:3]}"


@pytest.mark.parametrize("path", HOMEWORKS, ids=lambda path: path.parent.name)
def test_no_solution_line_in_the_checks_students_can_read(path):
    """Do the check modules, which students have, hold no line of the reference solution?"""
    secret = solution_lines(nbformat.read(path, as_version=4))
    for module in CHECKS:
        shown = {line.strip() for line in module.read_text(encoding="utf-8").splitlines()}
        leaked = sorted(secret & shown)
        assert not leaked, f"{module.name} holds solution lines of {path.name}: {leaked[:3]}"


@pytest.mark.parametrize("path", HOMEWORKS, ids=lambda path: path.parent.name)
def test_released_test_cells_are_short_calls_of_named_checks(path):
    """Is each visible test a docstring and a few calls of checks, binding no variable of its own?"""
    import ast

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not (meta.get("grade") and not meta.get("solution") and cell.cell_type == "code"):
            continue
        visible = visible_part(cell.source)
        assert len(visible.splitlines()) <= 8, f"{meta['grade_id']}: {len(visible.splitlines())} visible lines"
        for part in (visible, cell.source):
            tree = ast.parse(part)
            assert isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Constant), (
                f"{meta['grade_id']} should open with a docstring that says what it checks")
            for statement in tree.body[1:]:
                assert isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call), (
                    f"{meta['grade_id']}: {ast.unparse(statement)[:60]!r} is not a call of a check: a test cell "
                    "binds no name the student's code could also use")


@pytest.mark.parametrize("path", HOMEWORKS, ids=lambda path: path.parent.name)
def test_no_check_runs_only_on_some_grading_machines(path):
    """Does every test cell run the same checks with or without a GPU, so that points never depend on it?"""
    notebook = nbformat.read(path, as_version=4)
    sources = [cell.source for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade")]
    sources += [module.read_text(encoding="utf-8") for module in CHECKS]
    for source in sources:
        for word in ("cuda", "get_device", "is_available", "mps"):
            assert word not in source, f"a check depends on the machine ({word!r}): {source[:80]!r}"

