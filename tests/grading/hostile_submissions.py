"""Broken and hostile submissions, each built from a released notebook, with the grade it deserves.

``HOSTILE`` holds one :class:`Hostile` per way a submission can try to derail
grading. ``case.build(assignment)`` returns the files of one student's
submission folder, ``{file name: bytes}``, so a case can also be a file that is
no notebook, or a notebook under the wrong name. :class:`Assignment` carries
what the builders start from: the released notebook (what students
download), the correct answers of its solution cells, and the release of
another assignment.

``status`` and ``score`` are what ``grades.csv`` must say for the case:
``FULL`` (every automatic point: a correct solution never loses any) or ``0``
(no undeserved points).
"""
from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import nbformat
from nbformat import NotebookNode

FULL = "full"
Files = dict[str, bytes]


@dataclass(frozen=True)
class Assignment:
    name: str  # the notebook is <name>.ipynb
    release: NotebookNode
    answers: Mapping[str, str]  # {grade_id: correct source} of every solution cell
    other_name: str
    other_release: NotebookNode


@dataclass(frozen=True)
class Hostile:
    name: str
    build: Callable[[Assignment], Files]
    status: str
    score: float | str
    why: str


# -- building blocks ----------------------------------------------------------------------


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def is_test(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def answered(release: NotebookNode, answers: Mapping[str, str]) -> NotebookNode:
    """A copy of the release with the solution cells named in ``answers`` replaced."""
    notebook = copy.deepcopy(release)
    for cell in notebook.cells:
        if grade_id(cell) in answers:
            cell.source = answers[grade_id(cell)]
    return notebook


def solved(assignment: Assignment) -> NotebookNode:
    return answered(assignment.release, assignment.answers)


def wrong(assignment: Assignment) -> NotebookNode:
    """Answers that run but are wrong: each function returns its first argument, each class is empty.

    Unless tampering helps it, such a submission scores 0.
    """
    stubs = {}
    for cell_id, source in assignment.answers.items():
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        lines = []
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                params = [arg.arg for arg in node.args.args]
                lines += [f"def {node.name}({', '.join(params)}):", f"    return {params[0] if params else None}"]
            elif isinstance(node, ast.ClassDef):
                bases = ", ".join(ast.unparse(base) for base in node.bases)
                lines += [f"class {node.name}({bases}):", "    pass"]
        stubs[cell_id] = "\n".join(lines) or "pass"
    return answered(assignment.release, stubs)


def first_answer_index(notebook: NotebookNode) -> int:
    return next(index for index, cell in enumerate(notebook.cells)
                if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"))


def append_to_first_answer(notebook: NotebookNode, code: str) -> NotebookNode:
    """``code`` at the end of the first solution cell, after the student's definitions."""
    cell = notebook.cells[first_answer_index(notebook)]
    cell.source = cell.source.rstrip("\n") + "\n\n" + code
    return notebook


def add_cell(notebook: NotebookNode, code: str, index: int | None = None) -> NotebookNode:
    """A new code cell, as a student adds one: by default just before the first solution cell."""
    notebook.cells.insert(first_answer_index(notebook) if index is None else index, nbformat.v4.new_code_cell(code))
    return notebook


def as_file(notebook: NotebookNode, assignment: Assignment, name: str | None = None) -> Files:
    return {name or f"{assignment.name}.ipynb": nbformat.writes(notebook).encode()}


# -- what the hostile cells do ------------------------------------------------------------

# It sleeps in the loop, so that the case costs the test suite wall time, not CPU;
# test_pipeline_tanh.py has a busy loop.
INFINITE_LOOP = "import time\nwhile True:\n    time.sleep(0.01)\n"

LOOP_IGNORING_INTERRUPTS = """\
import time
while True:
    try:
        time.sleep(0.1)
    except BaseException:  # KeyboardInterrupt too: nbgrader's interrupt cannot stop this
        pass
"""

MEMORY_HOG = """\
hog = []
for _ in range(48):  # 1.5 GB, every page written
    hog.append(b"x" * (32 << 20))
del hog
"""

TEN_MEGABYTES_OF_OUTPUT = """\
print("x" * 5_000_000)  # one 5 MB line
for _ in range(50_000):  # and 5 MB in short lines
    print("y" * 99)
"""


def noisy(answer: str) -> str:
    """``answer`` writing to stderr and warning when it runs, and in every function it defines."""
    tree = ast.parse(answer)
    noise = ast.parse('print("debug: here", file=sys.stderr)\nwarnings.warn("a warning", RuntimeWarning)').body
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.body[:0] = copy.deepcopy(noise)
    return "import sys\nimport warnings\n\n" + ast.unparse(ast.Module(body=[*noise, *tree.body], type_ignores=[]))


PATCH_HELPERS = """\
# Make every check pass, whatever the answers.
import torch
import course_utils.grading.checks as checks


def assert_tensor_close(*args, **kwargs):
    pass


checks.assert_tensor_close = assert_tensor_close
torch.equal = lambda *args, **kwargs: True
torch.allclose = lambda *args, **kwargs: True
torch.autograd.gradcheck = lambda *args, **kwargs: True
isinstance = lambda *args: True  # for the test cells' own asserts
"""

REPLACE_SET_UP = """\
# The locked set-up cell is deleted; these stand in for the helpers it imported.
import contextlib
import torch
from torch import nn


def assert_tensor_close(*args, **kwargs):
    pass


@contextlib.contextmanager
def student_code(*args, **kwargs):
    try:
        yield
    except Exception:
        pass
"""

HIDE_TRACEBACKS = """\
from IPython.core.interactiveshell import InteractiveShell
InteractiveShell.showtraceback = lambda *args, **kwargs: None
"""

WRITE_OUTSIDE = """\
import pathlib
written = []
for target in ["../../../WRITTEN_BY_STUDENT", "../WRITTEN_BY_STUDENT", "/tmp/WRITTEN_BY_STUDENT",
               "../../../gradebook.db", "../../../source/{name}/{name}.ipynb",
               "../../../release/{name}/{name}.ipynb", "../../../../WRITTEN_BY_STUDENT"]:
    try:
        pathlib.Path(target).write_text("written by a student")
        written.append(target)
    except OSError:
        pass
print("written:", written)
"""

PRINT_HIDDEN_TESTS = """\
# Every cell run so far, hidden tests included, into this cell's output.
print("\\n".join(In))
"""

# -- the cases ----------------------------------------------------------------------------


def _loop(assignment):
    return as_file(append_to_first_answer(solved(assignment), INFINITE_LOOP), assignment)


def _loop_ignoring_interrupts(assignment):
    return as_file(append_to_first_answer(solved(assignment), LOOP_IGNORING_INTERRUPTS), assignment)


def _exits(code):
    def build(assignment):
        return as_file(append_to_first_answer(solved(assignment), code), assignment)
    return build


def _deleted_tests(assignment):
    notebook = solved(assignment)
    notebook.cells = [cell for cell in notebook.cells if not is_test(cell)]
    return as_file(notebook, assignment)


def _edited_tests(assignment):
    notebook = wrong(assignment)
    for cell in notebook.cells:
        if is_test(cell):
            cell.source = "pass  # every test passes now"
            cell.metadata.nbgrader["points"] = 100
            cell.metadata.nbgrader["locked"] = False
    return as_file(notebook, assignment)


def _patched_helpers(assignment):
    return as_file(add_cell(wrong(assignment), PATCH_HELPERS), assignment)


def _replaced_set_up(assignment):
    notebook = wrong(assignment)
    notebook.cells = [cell for cell in notebook.cells if grade_id(cell) != "setup"]
    return as_file(add_cell(notebook, REPLACE_SET_UP, index=0), assignment)


def _hidden_tracebacks(assignment):
    return as_file(add_cell(wrong(assignment), HIDE_TRACEBACKS), assignment)


def _noisy_stderr(assignment):
    code = {grade_id(cell) for cell in assignment.release.cells if cell.cell_type == "code"}
    return as_file(answered(assignment.release, {cell_id: noisy(answer) if cell_id in code else answer
                                                 for cell_id, answer in assignment.answers.items()}), assignment)


def _write_outside(assignment):
    return as_file(append_to_first_answer(solved(assignment), WRITE_OUTSIDE.format(name=assignment.name)),
                   assignment)


def _print_hidden_tests(assignment):
    return as_file(add_cell(solved(assignment), PRINT_HIDDEN_TESTS, index=len(assignment.release.cells)), assignment)


HOSTILE = [
    Hostile("infinite_loop", _loop, "graded", FULL,
            "a loop at the top level of an answer is interrupted by the cell timeout; the rest is graded"),
    Hostile("loop_ignoring_interrupts", _loop_ignoring_interrupts, "failed", 0,
            "a loop that swallows KeyboardInterrupt never ends: the submission fails within its time bounds"),
    Hostile("sys_exit", _exits("import sys\nsys.exit()\n"), "graded", FULL,
            "IPython turns SystemExit into an error of that cell; the kernel lives on"),
    Hostile("os_exit", _exits("import os\nos._exit(1)\n"), "failed", 0,
            "the kernel dies: no test runs"),
    Hostile("segfault", _exits("import ctypes\nctypes.string_at(0)\n"), "failed", 0,
            "the kernel dies of SIGSEGV: no test runs"),
    Hostile("memory_hog", _exits(MEMORY_HOG), "graded", FULL,
            "1.5 GB taken and given back: within the kernel's memory limit, nothing lost"),
    Hostile("ten_megabytes_of_output", _exits(TEN_MEGABYTES_OF_OUTPUT), "graded", FULL,
            "the output is cut short in the graded notebook; the answers are right"),
    Hostile("deleted_test_cells", _deleted_tests, "graded", FULL,
            "deleted test cells are put back (OverwriteCells.add_missing_cells) and pass"),
    Hostile("edited_test_cells", _edited_tests, "graded", 0,
            "edited test cells (source, points, lock) are restored from the gradebook and fail"),
    Hostile("patched_helpers", _patched_helpers, "flagged", 0,
            "an added cell replaces the test helpers and torch's comparisons"),
    Hostile("replaced_set_up_cell", _replaced_set_up, "flagged", 0,
            "the locked set-up cell is deleted and the helpers it imported are defined as no-ops"),
    Hostile("hidden_tracebacks", _hidden_tracebacks, "flagged", 0,
            "InteractiveShell.showtraceback overridden to hide failures"),
    Hostile("stderr_warnings", _noisy_stderr, "graded", FULL,
            "correct answers that write to stderr and warn, at definition and at every call"),
    Hostile("invalid_json", lambda a: {f"{a.name}.ipynb": b'{"cells": [ this is not JSON'}, "failed", 0,
            "the file is not a notebook"),
    Hostile("wrong_file_name", lambda a: as_file(solved(a), a, f"{a.name} (1).ipynb"), "missing", 0,
            "no notebook of the expected name (the status says which file was found)"),
    Hostile("writes_outside_its_folder", _write_outside, "graded", FULL,
            "writes to the course root, the gradebook, the source and /tmp stay inside the sandbox"),
    Hostile("empty_notebook", lambda a: as_file(nbformat.v4.new_notebook(), a), "failed", 0,
            "valid JSON without cells: nbgrader cannot put the test cells back without the answer cells "
            "before them (KeyError), so the submission fails"),
    Hostile("other_assignment_as_this_one",
            lambda a: as_file(answered(a.other_release, {}), a), "failed", 0,
            "another assignment's notebook under this one's name: nbgrader fails on cells it does not know "
            "(KeyError)"),
    Hostile("other_assignment_file",
            lambda a: as_file(a.other_release, a, f"{a.other_name}.ipynb"), "missing", 0,
            "another assignment's notebook in this assignment's folder"),
    Hostile("prints_hidden_tests", _print_hidden_tests, "flagged", 0,
            "prints the source of every cell run, hidden tests included, into its output (feedback)"),
]
