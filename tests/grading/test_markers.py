"""markers.py, the one parser of nbgrader's markers: the same regions as nbgrader's release, the course's delimiters.

No kernel and no nbgrader command: nbgrader's release preprocessors run in
this process on the course's source notebooks, and a throwaway course with
other delimiters in its ``nbgrader_config.py`` is read by each user of the
markers (the student edition's leak check, the similarity report's starter code).
"""
from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_utils.grading import similarity, student_edition
from course_utils.grading.markers import HIDDEN, MARK_SCHEME, MARKER, PUBLIC, SOLUTION, Markers

COURSE = Path(__file__).resolve().parents[2] / "assignments"
OTHER_DELIMITERS = """c = get_config()  # noqa: F821
c.ClearSolutions.begin_solution_delimeter = "<<< ANSWER"
c.ClearSolutions.end_solution_delimeter = ">>> ANSWER"
c.ClearSolutions.code_stub = {"python": "raise NotImplementedError('your turn')"}
c.ClearHiddenTests.begin_test_delimeter = "<<< SECRET CHECKS"
c.ClearHiddenTests.end_test_delimeter = ">>> SECRET CHECKS"
c.ClearMarkScheme.begin_mark_scheme_delimeter = "<<< RUBRIC"
c.ClearMarkScheme.end_mark_scheme_delimeter = ">>> RUBRIC"
c.ClearMarkScheme.enforce_metadata = False
"""
SOLUTION_CELL = ("def cube_of_the_input(value):\n    \"\"\"The cube.\"\"\"\n    # <<< ANSWER\n"
                 "    result_of_the_cube = value * value * value\n    return result_of_the_cube\n    # >>> ANSWER")
TEST_CELL = ("assert cube_of_the_input(2) == 8\n# <<< SECRET CHECKS\nassert cube_of_the_input(-3) == -27, 'negative'\n"
             "# >>> SECRET CHECKS")
RUBRIC_CELL = "Why is the cube odd?\n\n<<< RUBRIC\nFull marks for naming the sign of the input.\n>>> RUBRIC"


def nbgraders_release(notebook: nbformat.NotebookNode, config) -> nbformat.NotebookNode:
    """What ``nbgrader generate_assignment`` does to the cells' sources (its three clearing preprocessors)."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearMarkScheme, ClearSolutions

    released = copy.deepcopy(notebook)
    for preprocessor in (ClearSolutions, ClearHiddenTests, ClearMarkScheme):
        released, _ = preprocessor(config=config).preprocess(released, {})
    return released


def course_config(course: Path):
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()


@pytest.fixture
def other_course(tmp_path) -> Path:
    """A course whose nbgrader_config.py renames every delimiter, with one assignment written with them."""
    course = tmp_path / "course"
    (course / "source" / "cubes").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(OTHER_DELIMITERS)
    meta = {"solution": True, "grade": False, "locked": False, "grade_id": "cube", "schema_version": 3}
    tests = {"solution": False, "grade": True, "locked": True, "grade_id": "cube_test", "points": 1,
             "schema_version": 3}
    question = {"solution": False, "grade": False, "locked": True, "grade_id": "why", "schema_version": 3}
    notebook = new_notebook(cells=[new_code_cell("import math"),
                                   new_code_cell(SOLUTION_CELL, metadata={"nbgrader": meta}),
                                   new_code_cell(TEST_CELL, metadata={"nbgrader": tests}),
                                   new_markdown_cell(RUBRIC_CELL, metadata={"nbgrader": question})],
                            metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Py"}})
    nbformat.write(notebook, course / "source" / "cubes" / "cubes.ipynb")
    return course


@pytest.mark.parametrize("assignment", ["tanh", "augmentation"])
def test_every_cell_is_released_as_nbgrader_releases_it(assignment):
    """On the course's own homework, does ``released`` give each cell exactly what nbgrader's release writes?"""
    notebook = nbformat.read(COURSE / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    markers = Markers.for_course(COURSE)
    expected = nbgraders_release(notebook, course_config(COURSE))
    assert [markers.released(cell) for cell in notebook.cells] == [cell.source for cell in expected.cells]
    assert any(markers.begin_hidden in cell.source for cell in notebook.cells)  # there was something to remove


def test_a_course_without_nbgrader_config_gets_nbgraders_defaults(tmp_path):
    """Is a folder without nbgrader_config.py read with nbgrader's default delimiters and stubs?"""
    assert Markers.for_course(tmp_path) == Markers()
    assert Markers.for_course(COURSE).all() == Markers().all()  # the course keeps nbgrader's defaults


def test_a_course_with_other_delimiters_is_read_with_them(other_course):
    """Does a course that renames every delimiter and the stub in nbgrader_config.py get them all?"""
    markers = Markers.for_course(other_course)
    assert markers.all() == ("<<< ANSWER", ">>> ANSWER", "<<< SECRET CHECKS", ">>> SECRET CHECKS",
                             "<<< RUBRIC", ">>> RUBRIC")
    assert markers.code_stub == "raise NotImplementedError('your turn')"
    assert [region for region, _ in markers.regions(TEST_CELL)] == [PUBLIC, MARKER, HIDDEN, MARKER]
    assert markers.lines_in(SOLUTION_CELL, SOLUTION) == ["    result_of_the_cube = value * value * value",
                                                         "    return result_of_the_cube"]
    assert Markers().lines_in(SOLUTION_CELL, SOLUTION) == []  # nbgrader's default delimiters see no region


def test_a_course_with_other_delimiters_is_released_as_nbgrader_releases_it(other_course):
    """With the course's own delimiters and stub, does ``released`` agree with nbgrader's release, cell by cell?"""
    notebook = nbformat.read(other_course / "source" / "cubes" / "cubes.ipynb", as_version=4)
    expected = nbgraders_release(notebook, course_config(other_course))
    released = [Markers.for_course(other_course).released(cell) for cell in notebook.cells]
    assert released == [cell.source for cell in expected.cells]
    assert "    raise NotImplementedError('your turn')" in released[1] and "value * value" not in released[1]
    assert "negative" not in released[2] and "naming the sign" not in released[3]


def test_without_drops_the_regions_asked_for_and_every_marker_line():
    """Does ``without`` keep the public lines and the regions not named, and drop every marker line?"""
    source = "a = 1\n### BEGIN SOLUTION\nb = 2\n### END SOLUTION\n### BEGIN HIDDEN TESTS\nc = 3\n### END HIDDEN TESTS"
    markers = Markers()
    assert markers.without(source) == "a = 1\nb = 2\nc = 3"
    assert markers.without(source, SOLUTION) == "a = 1\nc = 3"
    assert markers.without(source, SOLUTION, HIDDEN, MARK_SCHEME) == "a = 1"
    assert markers.lines_in(source, HIDDEN, SOLUTION) == ["b = 2", "c = 3"]


def test_the_student_editions_leak_check_uses_the_courses_delimiters(other_course):
    """Are a renamed delimiter in a shipped file, and a line of a renamed region, reported as leaks?"""
    markers = Markers.for_course(other_course)
    secrets = student_edition.secret_lines(other_course.parent, other_course)  # no lectures: nothing else public
    assert secrets == {"result_of_the_cube = value * value * value", "return result_of_the_cube",
                       "assert cube_of_the_input(-3) == -27, 'negative'",
                       "Full marks for naming the sign of the input."}
    files = {"homework/cubes/cubes.ipynb": b"# <<< SECRET CHECKS\n", "notes.txt": b"### BEGIN SOLUTION\n"}
    assert student_edition.find_leaks(files, secrets, markers) == ["homework/cubes/cubes.ipynb: <<< SECRET CHECKS"]


def test_the_similarity_starter_code_is_released_with_the_courses_delimiters(other_course):
    """Unreleased, is the starter code the source as nbgrader would release it: stub in, solution and secret out?"""
    starter = similarity.starter_code(other_course, "cubes")
    assert "raise NotImplementedError('your turn')" in starter
    assert "value * value" not in starter and "-27" not in starter
    assert "cube_of_the_input(2) == 8" in starter  # the visible test is given to every student


def test_each_solution_region_is_replaced_by_its_own_body_at_its_indent():
    """Are two regions filled with two bodies in order, each indented like its marker, blank lines left blank,
    and is running out of bodies an error rather than a region left in place?"""
    source = ("class Net:\n    def forward(self, x):\n        ### BEGIN SOLUTION\n        return x\n"
              "        ### END SOLUTION\n\ndef loss(y):\n    ### BEGIN SOLUTION\n    return y\n    ### END SOLUTION")
    filled = Markers().solutions_replaced(source, ["h = x + 1\n\nreturn h", "return y * y"])
    assert filled == ("class Net:\n    def forward(self, x):\n        h = x + 1\n\n        return h\n\n"
                      "def loss(y):\n    return y * y")
    with pytest.raises(ValueError, match="fewer bodies"):
        Markers().solutions_replaced(source, ["return x"])
