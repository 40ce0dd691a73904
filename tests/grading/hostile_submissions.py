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
(no undeserved points). The test cells are judged outside the kernel
(course_utils.grading.judged_execute): whatever the notebook changes in its
kernel, before or while the tests run, changes only the raw results its own
functions hand back, so tampering with wrong answers stays at 0, ``graded``.
A forbidden call that the kernel's detection missed is ``flagged`` for a
person (the static look at the code under test), with the points the tests
gave.
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
import builtins
import sys
import torch
import course_utils.homework_checks as checks


def assert_tensor_close(*args, **kwargs):
    pass


checks.assert_tensor_close = assert_tensor_close
for name, module in list(sys.modules.items()):
    if name.startswith("course_utils.homework_checks."):
        module.assert_tensor_close = assert_tensor_close
        for attribute in dir(module):
            if attribute.startswith("check_"):
                setattr(module, attribute, lambda *args, **kwargs: None)
                globals()[attribute] = lambda *args, **kwargs: None
torch.equal = lambda *args, **kwargs: True
torch.allclose = lambda *args, **kwargs: True
torch.autograd.gradcheck = lambda *args, **kwargs: True
"""

REPLACE_BUILTINS = """\
import builtins
builtins.isinstance = lambda *args: True
builtins.abs = lambda value: 0
"""

# Called inside the tests: replaces the checks' helpers and torch's comparisons the first time it runs.
PATCH_WHILE_TESTED = """\
def _cheat():
    import sys
    import torch
    for name, module in list(sys.modules.items()):
        if name.startswith("course_utils.homework_checks"):
            for attribute in ("assert_tensor_close", "plain_tensor", "_GUARD"):
                if hasattr(module, attribute):
                    setattr(module, attribute, lambda *args, **kwargs: args[0] if args else None)
    torch.isclose = lambda a, b, **kwargs: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)
    torch.allclose = lambda *args, **kwargs: True
    torch.equal = lambda *args, **kwargs: True
    torch.autograd.gradcheck = lambda *args, **kwargs: True
    sys.settrace(lambda *args: None)


_wrapped = {}
for _name, _value in list(globals().items()):
    if callable(_value) and getattr(_value, "__module__", None) == "__main__" and not _name.startswith("_"):
        def _make(function):
            def cheating(*args, **kwargs):
                _cheat()
                return function(*args, **kwargs)
            return cheating
        _wrapped[_name] = _make(_value)
globals().update(_wrapped)
"""

REWRITE_TEST_CELLS = """\
# Every cell that runs from now on is replaced by `pass`, and every error is swallowed.
import ast
ip = get_ipython()
ip.input_transformers_post.append(lambda lines: ["pass\\n"])


class Emptied(ast.NodeTransformer):
    def visit_Module(self, node):
        return ast.Module(body=[ast.Pass()], type_ignores=[])


ip.ast_transformers.append(Emptied())
ip.set_custom_exc((BaseException,), lambda *args, **kwargs: None)
ip.events.register("pre_run_cell", lambda info: None)
"""

FAKE_PACKAGE = {  # a package of the submission's own that stands in for the course's checks
    "course_utils/__init__.py": b"",
    "course_utils/homework_checks/__init__.py": b"def __getattr__(name):\n    return lambda *args, **kwargs: None\n",
    "course_utils/homework_checks/tanh.py": b"def __getattr__(name):\n    return lambda *args, **kwargs: None\n",
    "torch.py": b"raise ImportError('a fake torch')\n",
}

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

# tanh_forward switches off the checks' detection of torch.tanh (a dispatch mode) and calls it anyway.
FORBIDDEN_CALL_UNDETECTED = """\
def tanh_forward(x):
    from torch.utils._python_dispatch import _disable_current_modes

    with _disable_current_modes():
        return torch.tanh(x)
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
    """The locked set-up cell deleted; every name it imported defined as a no-op."""
    notebook = wrong(assignment)
    (setup,) = [cell for cell in notebook.cells if grade_id(cell) == "setup"]
    names = sorted({alias.asname or alias.name.split(".")[0] for node in ast.walk(ast.parse(setup.source))
                    if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names} - {"torch", "nn"})
    fake = "import torch\nfrom torch import nn\n\n" + "".join(
        f"def {name}(*args, **kwargs):\n    pass\n\n\n" for name in names)
    notebook.cells = [cell for cell in notebook.cells if grade_id(cell) != "setup"]
    return as_file(add_cell(notebook, fake, index=0), assignment)


def _replaced_builtins(assignment):
    return as_file(add_cell(wrong(assignment), REPLACE_BUILTINS), assignment)


def _patched_while_tested(assignment):
    notebook = wrong(assignment)
    return as_file(add_cell(notebook, PATCH_WHILE_TESTED, index=first_answer_index(notebook) + 1), assignment)


def _rewritten_test_cells(assignment):
    return as_file(add_cell(wrong(assignment), REWRITE_TEST_CELLS), assignment)


def _tensor_subclass(assignment):
    code = ("class Agreeable(torch.Tensor):\n"
            "    @classmethod\n"
            "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
            "        return torch.ones((), dtype=torch.bool)\n\n\n"
            "def tanh_forward(x):\n    return x.as_subclass(Agreeable)\n")
    return as_file(answered(wrong(assignment), {"tanh_forward": code}), assignment)


def _fake_package(assignment):
    files = as_file(wrong(assignment), assignment)
    files.update(FAKE_PACKAGE)
    return files


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
    Hostile("patched_helpers", _patched_helpers, "graded", 0,
            "an added cell replaces the checks, torch's comparisons and isinstance: put back while the tests run"),
    Hostile("replaced_set_up_cell", _replaced_set_up, "graded", 0,
            "the locked set-up cell is deleted and the checks it imported are defined as no-ops: the tests run "
            "the instructor's checks"),
    Hostile("hidden_tracebacks", _hidden_tracebacks, "graded", 0,
            "InteractiveShell.showtraceback overridden to hide failures: put back while the tests run"),
    Hostile("replaces_builtins", _replaced_builtins, "failed", 0,
            "builtins.isinstance replaced: that breaks the kernel's own messaging, so no test can run"),
    Hostile("patches_while_tested", _patched_while_tested, "graded", 0,
            "the answers, when the tests call them, replace the checks' helpers, torch's comparisons and set a "
            "trace function: the judgement runs in the grader, so the wrong results still fail"),
    Hostile("forbidden_call_undetected", lambda a: as_file(answered(solved(a), {"tanh_forward": FORBIDDEN_CALL_UNDETECTED}), a),
            "flagged", FULL,
            "tanh_forward defeats the kernel's detection of torch.tanh: it earns what a correct function earns, and "
            "the static look at its code flags it for a person"),
    Hostile("rewrites_test_cells", _rewritten_test_cells, "graded", 0,
            "input and AST transformers that turn every cell into `pass`, a custom exception handler and an "
            "event callback: set aside while the tests run"),
    Hostile("tensor_subclass_answer", _tensor_subclass, "graded", 0,
            "tanh_forward returns a Tensor subclass whose __torch_function__ agrees with every comparison"),
    Hostile("fake_course_package", _fake_package, "graded", 0,
            "the submission folder holds its own course_utils (checks that pass everything) and torch.py"),
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
    Hostile("prints_hidden_tests", _print_hidden_tests, "graded", FULL,
            "prints the source of every cell run (In): test cells never run in the kernel, so neither their "
            "hidden nor their visible part is there to print"),
]
