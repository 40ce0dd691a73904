"""Do lectures 01-03 keep their exercises: at least two "your turn" cells where an idea is taught and at
least four exercises at the end, each answer cell followed by a self-check cell that calls an existing,
unit-tested check and, untouched, says "Not attempted yet"?"""
import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LECTURES = {"01_tensors": "tensors", "02_autograd": "autograd", "03_backprop": "backprop"}


def _cells(lecture):
    return json.loads((ROOT / "lectures" / f"{lecture}.ipynb").read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("lecture", LECTURES)
def test_your_turn_cells_and_end_exercises(lecture):
    ids = [cell["id"] for cell in _cells(lecture)]
    your_turn = [i for i in ids if i.startswith("yourturn-") and i.endswith("-check")]
    exercises = [i for i in ids if re.fullmatch(r"exercise-\d+", i) or i == "exercises"]
    assert len(your_turn) >= 2
    assert len(exercises) >= 4
    assert ids.index(your_turn[-1]) < ids.index("exercises")  # your-turn cells sit inside the lecture


@pytest.mark.parametrize("lecture,module", LECTURES.items())
def test_every_check_cell_calls_a_unit_tested_check_and_is_not_attempted_untouched(lecture, module):
    checks = importlib.import_module(f"course_utils.exercises.{module}")
    tests = (ROOT / "tests" / f"test_exercises_{module}.py").read_text(encoding="utf-8")
    cells = _cells(lecture)
    check_cells = [(k, cell) for k, cell in enumerate(cells) if cell["id"].endswith("-check")]
    assert check_cells
    for k, cell in check_cells:
        source = "".join(cell["source"])
        name = re.fullmatch(r"checks\.(check_\w+)\(\w+\)", source.strip()).group(1)
        assert callable(getattr(checks, name)), name
        assert f"checks.{name}" in tests, f"{name} has no unit test"
        assert cells[k - 1]["id"].endswith("-answer")
        printed = "".join("".join(output.get("text", "")) for output in cell["outputs"])
        assert printed.startswith("Not attempted yet"), cell["id"]
