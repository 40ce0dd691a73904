"""Homework in JupyterLab: what nbgrader's *Validate* button tells a student.

Runs on the released homework (``python -m course_utils.grading release`` in a
copy of the course), as a student receives it.
"""
from __future__ import annotations

import json

import pytest

from homework import graded_cells, hidden_test_lines, solution_cells
from lab_pages import ROOT, save, set_cell_source

ASSIGNMENTS = sorted(path.name for path in (ROOT / "assignments" / "source").iterdir()
                     if (path / f"{path.name}.ipynb").is_file())
VALIDATE_TIMEOUT_MS = 240_000


def validate(page):
    """Press Validate and return the dialog it opens (success or error)."""
    page.locator("jp-button.validate-button").click()
    dialog = page.locator(".nbgrader-SuccessDialog, .nbgrader-ErrorDialog")
    dialog.wait_for(timeout=VALIDATE_TIMEOUT_MS)
    return dialog


def released(lab_server, assignment):
    return lab_server.root / "assignments" / "release" / assignment / f"{assignment}.ipynb"


def source(assignment):
    return ROOT / "assignments" / "source" / assignment / f"{assignment}.ipynb"


def leaked_hidden_tests(text: str, assignment: str, notebook) -> list[str]:
    """Lines of the hidden tests (not also in the released notebook) that ``text`` shows."""
    released_text = "\n".join("".join(cell["source"]) for cell in json.loads(notebook.read_text())["cells"])
    return [line for line in hidden_test_lines(source(assignment))
            if line not in released_text and line in text]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_validate_on_untouched_homework_names_the_failing_tests(assignment, lab_server, lab_window, shots):
    """Does Validate on the homework as released report the tests that fail, with the
    test's code and the error, and nothing of the hidden tests?"""
    notebook = released(lab_server, assignment)
    page = lab_window.open(notebook.relative_to(lab_server.root).as_posix())
    shots(page, "released")
    dialog = validate(page)
    shots(page, "validated")
    assert "nbgrader-ErrorDialog" in dialog.get_attribute("class"), dialog.inner_text()
    text = dialog.inner_text()
    failed = dialog.locator(".validation-failed > .jp-RenderedText")
    # pairs of blocks: the failing test cell's code, then its error
    reported = [" ".join(failed.nth(i).inner_text().split()) for i in range(failed.count())]
    assert reported and "The following cell failed" in text, text[:2000]
    graded = {" ".join(source.split()): kind for source, kind in graded_cells(notebook).items()}
    for source, error in zip(reported[0::2], reported[1::2]):
        assert source in graded, f"the dialog shows a cell that is neither a test nor an answer: {source[:300]}"
        if graded[source] == "code":  # a test: it fails because the answer is not written yet
            assert "NotImplementedError" in error, f"{source[:200]}\nfailed with\n{error[:1000]}"
    tests_reported = [source for source in reported[0::2] if graded[source] == "code"]
    assert tests_reported, "Validate named no failing test cell"
    assert not leaked_hidden_tests(text, assignment, notebook)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_validate_on_solved_homework_reports_success(assignment, lab_server, lab_window, shots):
    """With every answer cell filled in correctly, does Validate say the notebook passes?"""
    notebook = released(lab_server, assignment)
    solved = notebook.with_name(f"{assignment}-solved.ipynb")
    solved.write_bytes(notebook.read_bytes())
    page = lab_window.open(solved.relative_to(lab_server.root).as_posix())
    for index, text in solution_cells(notebook, source(assignment)):
        set_cell_source(page, index, text)
    save(page)
    shots(page, "answers-written")
    dialog = validate(page)
    shots(page, "validated")
    text = dialog.inner_text()
    assert "nbgrader-SuccessDialog" in dialog.get_attribute("class"), text[:3000]
    assert "Success! Your notebook passes all the tests." in text
