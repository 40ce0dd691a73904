"""course_utils.grading.integrity: do the static hints for a reviewer point at tampering-like code?

The scan decides no grade (the kernel guard judges tampering by its effect,
see test_adversarial.py and test_honest_corpus.py); it only adds hints to a
flagged submission's detail.

Each check builds a graded notebook the way nbgrader leaves it (the
instructor's locked cells as in the source) from the tanh source notebook,
with one cell of student code added, and reads the findings. No kernel runs.
"""
from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest

from course_utils.grading.integrity import find_tampering

COURSE = Path(__file__).resolve().parents[2] / "assignments"
SOURCE = nbformat.read(COURSE / "source" / "tanh" / "tanh.ipynb", as_version=4)


def with_student_cell(code: str, *, answer: str | None = None) -> nbformat.NotebookNode:
    """The solved source notebook with ``code`` as a new cell (or as the tanh_forward answer)."""
    notebook = copy.deepcopy(SOURCE)
    if answer is None:
        notebook.cells.insert(5, nbformat.v4.new_code_cell(code))
    else:
        (cell,) = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "tanh_forward"]
        cell.source = answer + "\n\n" + code
    return notebook


@pytest.mark.parametrize("assignment", ["tanh", "augmentation"])
def test_the_reference_solutions_are_not_flagged(assignment):
    source = nbformat.read(COURSE / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    assert find_tampering(source, source) == []


HONEST = {
    "own objects": "net = nn.Sequential(nn.Linear(2, 3))\nnet[0].weight.data.fill_(0.1)\nnet.scale = 2.0\n"
                   "optimizer = torch.optim.SGD(net.parameters(), lr=0.1)\noptimizer.param_groups[0]['lr'] = 0.01\n"
                   "for p in net.parameters():\n    p.grad = None\n",
    "a module with state": "class Scaled(nn.Module):\n    def __init__(self, k):\n        super().__init__()\n"
                           "        self.k = k\n    def forward(self, x):\n        return self.k * x\n",
    "an autograd function": "class Square(torch.autograd.Function):\n    @staticmethod\n"
                            "    def forward(ctx, x):\n        ctx.save_for_backward(x)\n        ctx.note = 'x'\n"
                            "        return x * x\n",
    "a local that shadows a module name": "def f(torch):\n    torch.value = 1\n    return torch\n",
    "settings": "torch.backends.cudnn.deterministic = True\nimport os\nos.environ['OMP_NUM_THREADS'] = '1'\n"
                "import matplotlib.pyplot as plt\nplt.rcParams['figure.figsize'] = (4, 3)\n",
    "magics": "%matplotlib inline\n%timeit tanh_forward(torch.zeros(3))\n",
    "builtins as variable names": "input = torch.randn(3)\ninput.requires_grad = True\nsum = 0\nid = 5\n",
    "the set-up's own import again": "import torch\nfrom torch import nn\n",
    "printing and warnings": "import sys, warnings\nprint('x', file=sys.stderr)\nwarnings.warn('w')\n",
}


@pytest.mark.parametrize("name", sorted(HONEST))
def test_honest_code_is_not_flagged(name):
    assert find_tampering(with_student_cell(HONEST[name]), SOURCE) == []


TAMPERING = {
    "rebinding a check": ("check_tanh_backward = lambda *a, **k: None", "rebinds 'check_tanh_backward'"),
    "a def over a check": ("def check_tanh_function(*a, **k):\n    pass", "rebinds 'check_tanh_function'"),
    "importing over a check": ("from contextlib import nullcontext as check_tanh_module", "rebinds 'check_tanh_module'"),
    "patching torch": ("torch.allclose = lambda *a, **k: True", "changes torch.allclose"),
    "patching the helpers' module": ("import course_utils.grading.checks as c\nc.assert_tensor_close = print",
                                     "changes c.assert_tensor_close"),
    "patching through an alias": ("t = torch\nt.equal = lambda *a: True", "changes t.equal"),
    "patching inside a function": ("def cheat():\n    torch.isclose = lambda *a, **k: True\ncheat()",
                                   "changes torch.isclose"),
    "patching a module handed to a function": ("def cheat(m):\n    m.isclose = None\ncheat(torch)",
                                               "hands 'torch' to its own function cheat()"),
    "deleting from a module": ("del torch.tanh", "changes torch.tanh"),
    "setattr": ("setattr(torch, 'equal', lambda *a: True)", "uses setattr"),
    "exec": ("exec('torch.equal = print')", "uses exec"),
    "globals": ("globals()['student_code'] = print", "uses globals"),
    "builtins module": ("import builtins\nbuiltins.abs = print", "imports builtins"),
    "frames": ("import sys\nsys._getframe(0).f_globals['x'] = 1", "uses ._getframe"),
    "IPython's shell": ("get_ipython().ast_transformers.append(None)", "uses get_ipython"),
    "hidden tracebacks": ("from IPython.core.interactiveshell import InteractiveShell\n"
                          "InteractiveShell.showtraceback = print", "changes InteractiveShell.showtraceback"),
    "reading the cells run so far": ("print(In)", "uses In"),
    "a magic that runs shell code": ("!rm -rf /", "uses get_ipython"),
    "tampering inside %time": ("%time torch.equal = print", "changes torch.equal"),
    "ctypes": ("import ctypes", "imports ctypes"),
    "star import": ("from os.path import *", "imports * from os.path"),
}


@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_tampering_is_found_with_its_cell_and_line(name):
    code, expected = TAMPERING[name]
    findings = find_tampering(with_student_cell(code), SOURCE)
    assert any(expected in finding for finding in findings), findings
    assert all(finding.startswith("cell 6, line ") for finding in findings), findings


def test_tampering_in_an_answer_cell_is_found_too():
    findings = find_tampering(with_student_cell("check_tanh_backward = print", answer="def tanh_forward(x):\n"
                                                "    return x"), SOURCE)
    assert findings and "rebinds 'check_tanh_backward'" in findings[0]


def test_a_changed_locked_cell_is_read_as_student_code():
    """A set-up cell that is not the instructor's (say, nbgrader did not restore it) is checked like any other."""
    notebook = copy.deepcopy(SOURCE)
    (setup,) = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup"]
    setup.source += "\ncheck_tanh_backward = None\n"
    assert any("rebinds 'check_tanh_backward'" in finding for finding in find_tampering(notebook, SOURCE))


def test_comments_do_not_make_a_locked_cell_foreign():
    """nbgrader puts deleted test cells back with a comment in front: still the instructor's code."""
    notebook = copy.deepcopy(SOURCE)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "# # This cell was missing from the submission; nbgrader put it back.\n" + cell.source
    assert find_tampering(notebook, SOURCE) == []
