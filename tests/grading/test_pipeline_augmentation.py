"""Homework 2 (augmentation) through the whole pipeline: release, then autograde.

One course, one release and one autograde run grade every submission below;
the tests then read the results. Each faulty submission is the correct
solution with one mistake from the issue's list, so it must lose exactly the
points of the test cells that check that part of the contract.
"""
from __future__ import annotations

import nbformat
import pytest

from course_utils.grading.pipeline import GradingOptions, autograde
from conftest import COURSE
from course_utils.grading.markers import HIDDEN, SOLUTION, Markers
from expected_scores import assert_graded_with

# Release, autograde and feedback of homework 2.
pytestmark = pytest.mark.slow

ASSIGNMENT = "augmentation"
FULL = {
    "rotation_basics": 1.0,
    "rotation_angles": 1.75,
    "rotation_repr": 0.25,
    "shift_basics": 1.0,
    "shift_translations": 1.75,
    "shift_repr": 0.25,
    "noise_basics": 1.0,
    "noise_statistics": 1.75,
    "noise_repr": 0.25,
    "pipeline": 1.0,
}
NO_REPR = [
    ("random_rotation", 'return f"{type(self).__name__}(degrees={self.degrees}, fill={self.fill})"',
     "raise NotImplementedError()"),
    ("random_shift", 'return f"{type(self).__name__}(max_shift={self.max_shift}, fill={self.fill})"',
     "raise NotImplementedError()"),
    ("gaussian_noise", 'return f"{type(self).__name__}(mean={self.mean}, std={self.std}, clip={self.clip})"',
     "raise NotImplementedError()"),
]

# A mistake is (solution cell, text of the correct solution, its replacement).
ROLL_INSTEAD_OF_SHIFT = (
    "random_shift",
    "        shifted = torch.full_like(batch, self.fill)\n"
    "        for image, out, (dx, dy) in zip(batch, shifted, shifts.tolist()):\n"
    "            if abs(dx) >= width or abs(dy) >= height:\n"
    "                continue  # the whole content left the image\n"
    "            out[:, max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \\\n"
    "                image[:, max(-dy, 0):height - max(dy, 0), max(-dx, 0):width - max(dx, 0)]\n",
    "        shifted = torch.stack([torch.roll(image, (dy, dx), dims=(-2, -1))\n"
    "                               for image, (dx, dy) in zip(batch, shifts.tolist())])\n",
)

# student -> (mistakes, expected points of every test cell)
FAULTY = {
    "noise_in_place": (
        [("gaussian_noise",
          "noisy = images + self.mean + self.std * torch.randn_like(images)",
          "noisy = images.add_(self.mean + self.std * torch.randn_like(images))")],
        {**FULL, "noise_basics": 0.0},
    ),
    "shift_wraps_around": ([ROLL_INSTEAD_OF_SHIFT], {**FULL, "shift_translations": 0.0}),
    "rotation_from_0_to_30": (
        [("random_rotation",
          "uniform_(-self.degrees, self.degrees)",
          "uniform_(0.0, 2 * self.degrees)")],
        {**FULL, "rotation_angles": 0.0},
    ),
    "noise_std_squared": (
        [("gaussian_noise",
          "self.std * torch.randn_like(images)",
          "self.std ** 2 * torch.randn_like(images)")],
        {**FULL, "noise_statistics": 0.0},
    ),
    # Before the cells were split (commit fe46971), a missing __repr__ cost 3 points (the
    # three *_basics cells) and a missing GaussianNoise 4 (its two cells, randomness, pipeline).
    "no_repr": (NO_REPR, {**FULL, "rotation_repr": 0.0, "shift_repr": 0.0, "noise_repr": 0.0}),
    "no_gaussian_noise": ([("gaussian_noise", None, None)],
                          {**FULL, "noise_basics": 0.0, "noise_statistics": 0.0, "noise_repr": 0.0}),
}
CELL_TIMEOUT = 30  # seconds per cell in these tests
MARKERS = Markers.for_course(COURSE)


def with_mistakes(answers: dict[str, str], mistakes) -> dict[str, str]:
    """The solution cells in ``answers`` with each (cell, correct, wrong) mistake made."""
    broken = dict(answers)
    for cell, correct, wrong in mistakes:
        if correct is None:  # left as released
            del broken[cell]
            continue
        assert broken[cell].count(correct) == 1, f"the solution of {cell!r} no longer holds {correct!r}"
        broken[cell] = broken[cell].replace(correct, wrong)
    return broken


@pytest.fixture(scope="module")
def graded(make_released_course, make_submission, source_answers):
    """The augmentation course released, with every submission above autograded."""
    course = make_released_course(ASSIGNMENT)
    source = course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    make_submission(course, "source_as_is", ASSIGNMENT, notebook=source)
    make_submission(course, "blank", ASSIGNMENT)
    correct = source_answers(course, ASSIGNMENT)
    for student, (mistakes, _) in FAULTY.items():
        make_submission(course, student, ASSIGNMENT, with_mistakes(correct, mistakes))
    results = autograde(course, jobs=2, options=GradingOptions(timeout=CELL_TIMEOUT))
    return course, {result.student: result for result in results}


def test_source_notebook_submitted_as_is_gets_full_points(graded):
    """Does the instructor's own notebook, submitted unchanged, get all 10 points?"""
    _, results = graded
    assert_graded_with(results["source_as_is"], FULL)
    assert (results["source_as_is"].auto_score, results["source_as_is"].auto_max) == (10, 10)


def test_blank_release_gets_zero_without_error(graded):
    """Is the untouched release graded (not failed) with 0 points?"""
    _, results = graded
    assert_graded_with(results["blank"], dict.fromkeys(FULL, 0.0))


@pytest.mark.parametrize("student", sorted(FAULTY))
def test_faulty_submission_loses_exactly_the_points_of_its_fault(graded, student):
    """Does each mistake cost the points of the test cells that check it, and no others?"""
    _, results = graded
    assert_graded_with(results[student], FAULTY[student][1])


def test_release_test_cells_are_the_visible_part_of_the_source(graded):
    """Does each released test cell hold exactly its visible tests, and each solution cell no solution?"""
    course, _ = graded
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    released = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    released_cells = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in released.cells}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        release_source = released_cells[meta.get("grade_id")].source if meta else None
        if meta.get("grade"):
            assert MARKERS.lines_in(cell.source, HIDDEN), f"test cell {meta['grade_id']} has no hidden tests"
            visible = MARKERS.visible_part(cell.source)
            assert release_source.rstrip() == visible.rstrip(), f"released {meta['grade_id']} differs from its visible part"
        elif meta.get("solution"):
            assert "raise NotImplementedError()" in release_source
            assert not any(marker in release_source for marker in MARKERS.all())
            for line in MARKERS.lines_in(cell.source, SOLUTION):
                if len(line.strip()) >= 12 and not line.strip().startswith("#"):
                    assert line.strip() not in release_source, f"released {meta['grade_id']} holds its solution"


def test_the_optional_experiment_is_skipped_while_grading(graded):
    """Does NBGRADER_EXECUTION reach the grading kernel, so that a correct notebook's optional training
    experiment is skipped and leaves no error in the graded notebook?"""
    course, _ = graded
    notebook = nbformat.read(course / "autograded" / "source_as_is" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    errors = [(index, output.ename) for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
              for output in cell.get("outputs", []) if output.output_type == "error"]
    assert not errors
    experiment = [cell for cell in notebook.cells if "RUN_EXPERIMENT" in cell.source and "train_and_validate" in cell.source]
    assert experiment and not any(cell.get("outputs") for cell in experiment)
