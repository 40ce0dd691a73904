"""A student's output that names a hidden-test marker (issue 27): redacted in every output type, and a page
that still shows one is withheld for that student only, not for the class."""
from __future__ import annotations

import subprocess

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course_utils.grading import pipeline
from course_utils.grading.feedback import REMOVED, HideHiddenTests


def test_markers_are_redacted_from_every_output_type():
    """JavaScript, JSON and SVG outputs are written into the page as they are: is a marker in them removed?"""
    display = {"output_type": "display_data", "metadata": {}, "data": {
        "application/javascript": 'var note = "BEGIN HIDDEN TESTS";',
        "application/json": {"note": ["### END HIDDEN TESTS"], "n": 1},
        "image/svg+xml": ["<svg>", "<text>BEGIN HIDDEN TESTS</text>", "</svg>"],
        "text/plain": "x"}}
    cell = new_code_cell("print(1)", outputs=[nbformat.from_dict(display)])
    notebook, _ = HideHiddenTests().preprocess(new_notebook(cells=[cell]), {})
    data = notebook.cells[0].outputs[0].data
    assert "HIDDEN TESTS" not in repr(dict(data)), data
    assert data["application/javascript"] == REMOVED and data["application/json"]["n"] == 1
    assert data["text/plain"] == "x"


def test_a_page_that_names_a_marker_is_withheld_and_the_others_kept(tmp_path, monkeypatch, capsys):
    course = tmp_path
    for student in ("alice", "eve"):
        (course / "autograded" / student / "first").mkdir(parents=True)
        (course / "feedback" / student / "first").mkdir(parents=True)
    (course / "feedback" / "alice" / "first" / "first.html").write_text("<p>well done</p>")
    (course / "feedback" / "eve" / "first" / "first.html").write_text('<script>var n="BEGIN HIDDEN TESTS"</script>')
    monkeypatch.setattr(pipeline, "run_nbgrader", lambda *a, **k: subprocess.CompletedProcess([], 0, "", ""))
    pages = pipeline.feedback(course)
    assert [page.parent.parent.name for page in pages] == ["alice"]
    assert not (course / "feedback" / "eve" / "first" / "first.html").exists()
    assert "WITHHELD" in capsys.readouterr().out


def test_when_every_page_names_a_marker_the_configuration_is_blamed(tmp_path, monkeypatch):
    (tmp_path / "autograded" / "alice" / "first").mkdir(parents=True)
    (tmp_path / "feedback" / "alice" / "first").mkdir(parents=True)
    (tmp_path / "feedback" / "alice" / "first" / "first.html").write_text("### BEGIN HIDDEN TESTS")
    monkeypatch.setattr(pipeline, "run_nbgrader", lambda *a, **k: subprocess.CompletedProcess([], 0, "", ""))
    with pytest.raises(pipeline.GradingError, match="GenerateFeedback.preprocessors"):
        pipeline.feedback(tmp_path)
    assert not (tmp_path / "feedback" / "alice" / "first" / "first.html").exists()
