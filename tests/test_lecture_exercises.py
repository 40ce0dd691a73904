"""Do lectures 01-06 and 08 keep their exercises: at least two "your turn" cells inside the lecture and at least
four exercises at the end, each answer cell followed by a check cell that calls an existing, unit-tested
check and, untouched, says "Not attempted yet"? And do the check cells of 04-06 and 08 stay collapsed, with no
nbval marker left as a comment?

Lectures 01-03 and 04-06 were written with two conventions for cell ids and check calls
(:data:`CONVENTIONS`); each lecture is held to its own.
"""
import ast
import importlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Convention:
    your_turn_prefix: str  # ids of your-turn check cells: <prefix>...-check
    exercise_id: str  # regex for the ids counted as end exercises
    exercises_after_heading: bool  # must the first counted exercise come after the "exercises" heading?
    check_cell_id: str  # regex (search) for the ids of check cells
    check_call: str  # regex, {module} filled in, whose group 1 is the check's name
    tested: str  # regex, {name} filled in, that the check's unit-test file must contain


CONVENTIONS = {
    "01-03": Convention("yourturn-", r"exercise-\d+|exercises", False, r"-check$",
                        r"^checks\.(check_\w+)\(\w+\)$", r"checks\.{name}\b"),
    "04-06": Convention("your-turn-", r"exercise-\d+-check", True, r"(your-turn-.*|exercise-\d+)-check$",
                        r"from course_utils\.exercises\.{module} import (check_\w+)\n\n\1\(.+\)$", r"\b{name}\("),
}
LECTURES = {  # lecture -> (its course_utils.exercises module, its convention)
    "01_tensors": ("tensors", "01-03"), "02_autograd": ("autograd", "01-03"), "03_backprop": ("backprop", "01-03"),
    "04_activations": ("activations", "04-06"), "05_optimizers": ("optimizers", "04-06"),
    "06_training_api": ("training_api", "04-06"), "08_training_craft": ("training_craft", "04-06"),
}


def _cells(lecture):
    return json.loads((ROOT / "lectures" / f"{lecture}.ipynb").read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("lecture", LECTURES)
def test_your_turn_cells_inside_the_lecture_and_exercises_at_the_end(lecture):
    convention = CONVENTIONS[LECTURES[lecture][1]]
    ids = [cell["id"] for cell in _cells(lecture)]
    your_turn = [i for i in ids if i.startswith(convention.your_turn_prefix) and i.endswith("-check")]
    exercises = [i for i in ids if re.fullmatch(convention.exercise_id, i)]
    assert len(your_turn) >= 2
    assert len(exercises) >= 4
    assert ids.index(your_turn[-1]) < ids.index("exercises")  # your-turn cells sit inside the lecture
    if convention.exercises_after_heading:
        assert ids.index("exercises") < ids.index(exercises[0])


@pytest.mark.parametrize("lecture", LECTURES)
def test_every_check_cell_calls_a_unit_tested_check_and_is_not_attempted_untouched(lecture):
    module, which = LECTURES[lecture]
    convention = CONVENTIONS[which]
    checks = importlib.import_module(f"course_utils.exercises.{module}")
    tests = (ROOT / "tests" / f"test_exercises_{module}.py").read_text(encoding="utf-8")
    cells = _cells(lecture)
    check_cells = [(k, cell) for k, cell in enumerate(cells) if re.search(convention.check_cell_id, cell["id"])]
    assert check_cells
    for k, cell in check_cells:
        source = "".join(cell["source"])
        name = re.search(convention.check_call.format(module=module), source.strip()).group(1)
        assert callable(getattr(checks, name)), name
        assert re.search(convention.tested.format(name=name), tests), f"{name} has no unit test"
        assert cells[k - 1]["id"].endswith("-answer"), cell["id"]
        printed = "".join("".join(output.get("text", "")) for output in cell["outputs"])
        assert printed.startswith("Not attempted yet"), cell["id"]


def _only_asserts(source):
    body = ast.parse(source).body
    return bool(body) and all(isinstance(node, ast.Assert) for node in body)


@pytest.mark.parametrize("lecture", [lecture for lecture, (_, which) in LECTURES.items() if which == "04-06"])
def test_assert_cells_are_collapsed_and_nbval_markers_are_tags(lecture):
    for cell in _cells(lecture):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if _only_asserts(source):
            assert cell["metadata"].get("jupyter", {}).get("source_hidden"), cell["id"]
        assert not re.search(r"^\s*#\s*NBVAL_", source, re.MULTILINE), cell["id"]
