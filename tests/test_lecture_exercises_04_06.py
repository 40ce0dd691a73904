"""Do lectures 04-06 keep their exercises: at least two "your turn" cells inside the lecture and at least four
exercises at the end, each answer cell followed by a check cell that calls an existing, unit-tested check and,
untouched, says "Not attempted yet"? And do their check cells stay collapsed, with no nbval marker left as a
comment?"""
import ast
import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LECTURES = {"04_activations": "activations", "05_optimizers": "optimizers", "06_training_api": "training_api"}


def _cells(lecture):
    return json.loads((ROOT / "lectures" / f"{lecture}.ipynb").read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("lecture", LECTURES)
def test_your_turn_cells_inside_the_lecture_and_exercises_at_the_end(lecture):
    ids = [cell["id"] for cell in _cells(lecture)]
    your_turn = [i for i in ids if i.startswith("your-turn-") and i.endswith("-check")]
    exercises = [i for i in ids if re.fullmatch(r"exercise-\d+-check", i)]
    assert len(your_turn) >= 2
    assert len(exercises) >= 4
    assert ids.index(your_turn[-1]) < ids.index("exercises") < ids.index(exercises[0])


@pytest.mark.parametrize("lecture,module", LECTURES.items())
def test_every_check_cell_calls_a_unit_tested_check_and_is_not_attempted_untouched(lecture, module):
    checks = importlib.import_module(f"course_utils.exercises.{module}")
    tests = (ROOT / "tests" / f"test_exercises_{module}.py").read_text(encoding="utf-8")
    cells = _cells(lecture)
    check_cells = [(k, cell) for k, cell in enumerate(cells) if re.search(r"(your-turn-.*|exercise-\d+)-check$", cell["id"])]
    for k, cell in check_cells:
        source = "".join(cell["source"])
        name = re.search(rf"from course_utils\.exercises\.{module} import (check_\w+)\n\n\1\(.+\)$", source).group(1)
        assert callable(getattr(checks, name)), name
        assert re.search(rf"\b{name}\(", tests), f"{name} has no unit test"
        assert cells[k - 1]["id"].endswith("-answer"), cell["id"]
        printed = "".join("".join(output.get("text", "")) for output in cell["outputs"])
        assert printed.startswith("Not attempted yet"), cell["id"]


def _only_asserts(source):
    body = ast.parse(source).body
    return bool(body) and all(isinstance(node, ast.Assert) for node in body)


@pytest.mark.parametrize("lecture", LECTURES)
def test_assert_cells_are_collapsed_and_nbval_markers_are_tags(lecture):
    for cell in _cells(lecture):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if _only_asserts(source):
            assert cell["metadata"].get("jupyter", {}).get("source_hidden"), cell["id"]
        assert not re.search(r"^\s*#\s*NBVAL_", source, re.MULTILINE), cell["id"]
