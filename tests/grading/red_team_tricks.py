"""The red-team battery of issue 23: tricks a student who read the course's source may try, as data.

A :class:`Wrong` is a student's wrong answers to some solution cells of one
homework (every other solution cell holds the correct answer). A
:class:`Trick` names one wrong answer and adds the trick: answers that replace
cells (the same wrong code with the trick added), cells added to the notebook,
files put beside it, notebook metadata. ``tries`` says in one line what it
tries. The rule (test_red_team.py): a trick is flagged, or it scores no more
than its wrong code alone. A trick with ``forbidden_call=True`` defeats the
"do not call torch.tanh" teaching rule with correct values: it must be
flagged or earn no more than a correct function (issue 23, item 4).

The snippets are written to be read: each one does a single thing, as a
student would, and targets what the course's public source shows.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

TANH, AUGMENTATION = "tanh", "augmentation"
UNPICKLED_MARKER = "/tmp/red_team_unpickled_{name}"  # created only if someone unpickles what the kernel sent


@dataclass(frozen=True)
class Wrong:
    name: str
    homework: str
    answers: Mapping[str, str]  # {grade_id: wrong source}


@dataclass(frozen=True)
class Trick:
    name: str
    wrong: Wrong
    tries: str
    answers: Mapping[str, str] = field(default_factory=dict)  # cells replaced (the wrong code + the trick)
    cells: tuple[tuple[str, str], ...] = ()  # (where: "start" | "end" | "after:<grade_id>", source) added
    files: Mapping[str, str] = field(default_factory=dict)  # {path in the submission folder: text}
    metadata: Callable | None = None  # edits the notebook (nbformat node) in place
    forbidden_call: bool = False

    @property
    def homework(self) -> str:
        return self.wrong.homework


# -- wrong answers ----------------------------------------------------------------------------------------------

TANH_BACKWARD_WRONG = '''\
def tanh_backward(grad_output: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    return grad_output * (1 - output)  # wrong: forgot to square the output
'''
TANH_IDENTITY_FORWARD = '''\
def tanh_forward(x: torch.Tensor) -> torch.Tensor:
    return x.clone()  # wrong: tanh(x) ~ x only near 0
'''
TANH_IDENTITY_BACKWARD = '''\
def tanh_backward(grad_output: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    return grad_output.clone()  # wrong
'''
TANH_NAIVE_FORWARD = '''\
def tanh_forward(x: torch.Tensor) -> torch.Tensor:
    return (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))  # overflows for |x| > 88
'''

SHIFT_WRAPS = '''\
class RandomShift:
    def __init__(self, max_shift=3, fill=0.0):
        if max_shift < 0 or int(max_shift) != max_shift:
            raise ValueError(f"max_shift must be a whole number >= 0, got {max_shift}")
        self.max_shift = int(max_shift)
        self.fill = float(fill)

    def __call__(self, images):
        batch = images if images.dim() == 4 else images.unsqueeze(0)
        shifts = torch.randint(-self.max_shift, self.max_shift + 1, (len(batch), 2))
        shifted = torch.stack([torch.roll(image, (int(dy), int(dx)), dims=(-2, -1))  # wrong: wraps around
                               for image, (dx, dy) in zip(batch, shifts)])
        return shifted if images.dim() == 4 else shifted[0]

    def __repr__(self):
        return f"{type(self).__name__}(max_shift={self.max_shift}, fill={self.fill})"
'''
NOISE_IGNORES_STD = '''\
class GaussianNoise:
    def __init__(self, mean=0.0, std=0.1, clip=False):
        if std < 0:
            raise ValueError(f"std must be >= 0, got {std}")
        self.mean = float(mean)
        self.std = float(std)
        self.clip = bool(clip)

    def __call__(self, images):
        noisy = images + self.mean + torch.randn_like(images)  # wrong: std ignored
        noisy = _trick(noisy)
        return noisy.clamp(0.0, 1.0) if self.clip else noisy

    def __repr__(self):
        return f"{type(self).__name__}(mean={self.mean}, std={self.std}, clip={self.clip})"
'''
ROTATION_HEADER = '''\
class RandomRotation:
    def __init__(self, degrees=15.0, fill=0.0):
        if degrees < 0:
            raise ValueError(f"degrees must be >= 0, got {degrees}")
        self.degrees = float(degrees)
        self.fill = float(fill)
'''
ROTATION_NEAREST = ROTATION_HEADER + '''
    def __call__(self, images):
        batch = images if images.dim() == 4 else images.unsqueeze(0)
        angles = torch.empty(len(batch)).uniform_(-self.degrees, self.degrees)
        rotated = torch.stack([TF.rotate(image, float(angle), fill=[self.fill])  # wrong: nearest, not bilinear
                               for image, angle in zip(batch, angles)])
        return rotated if images.dim() == 4 else rotated[0]

    def __repr__(self):
        return f"{type(self).__name__}(degrees={self.degrees}, fill={self.fill})"
'''
ROTATION_REPR_HARD_CODED = '''
    def __call__(self, images):
        batch = images if images.dim() == 4 else images.unsqueeze(0)
        angles = torch.empty(len(batch)).uniform_(-self.degrees, self.degrees)
        rotated = torch.stack([
            TF.rotate(image, float(angle), interpolation=InterpolationMode.BILINEAR, fill=[self.fill])
            for image, angle in zip(batch, angles)])
        return rotated if images.dim() == 4 else rotated[0]

    def __repr__(self):
        return _trick(self)


def _trick(self):
    return "RandomRotation(degrees=12.5, fill=0.25)"  # wrong: the visible test's string, whatever self holds
'''
PIPELINE_WRONG_ORDER = '''\
def build_train_transform():
    return Compose([GaussianNoise(std=0.05, clip=True), RandomShift(max_shift=2),
                    RandomRotation(degrees=10.0)])  # wrong: noise first, rotation last
'''

W_BACKWARD = Wrong("backward_unsquared", TANH, {"tanh_backward": TANH_BACKWARD_WRONG})
W_IDENTITY = Wrong("identity", TANH, {"tanh_forward": TANH_IDENTITY_FORWARD, "tanh_backward": TANH_IDENTITY_BACKWARD})
W_FORWARD = Wrong("forward_identity", TANH, {"tanh_forward": TANH_IDENTITY_FORWARD})
W_NAIVE = Wrong("forward_naive", TANH, {"tanh_forward": TANH_NAIVE_FORWARD})
W_SHIFT = Wrong("shift_wraps", AUGMENTATION, {"random_shift": SHIFT_WRAPS})
W_NOISE = Wrong("noise_ignores_std", AUGMENTATION,
                {"gaussian_noise": "def _trick(noisy):\n    return noisy\n\n\n" + NOISE_IGNORES_STD})
W_NEAREST = Wrong("rotation_nearest", AUGMENTATION, {"random_rotation": ROTATION_NEAREST})
W_REPR = Wrong("rotation_repr_hard_coded", AUGMENTATION, {"random_rotation": ROTATION_HEADER + ROTATION_REPR_HARD_CODED})
W_PIPELINE = Wrong("pipeline_wrong_order", AUGMENTATION, {"train_transform": PIPELINE_WRONG_ORDER})


def plus(wrong: Wrong, cell: str, code: str) -> dict[str, str]:
    """The wrong answer of ``cell`` with ``code`` after it (the trick lives in the student's own cell)."""
    return {cell: wrong.answers[cell].rstrip("\n") + "\n\n\n" + code}


# -- tricks on the checks and their modules -------------------------------------------------------------------

# Issue 23's first example: a stand-in kernel guard, _GUARD = None, every check/assert a no-op.
REPLACE_CHECK_MODULES = '''\
import json as _json
import sys as _sys
import types as _types


def _nothing(*args, **kwargs):
    return None


_guard = _types.ModuleType("course_utils.grading.kernel_guard")
_guard.MARKER = "COURSE-GUARD"
_guard.report = lambda token, *args, **kwargs: f"COURSE-GUARD {token} " + _json.dumps({"flags": [], "notes": []})
_guard.__getattr__ = lambda name: _nothing
_sys.modules["course_utils.grading.kernel_guard"] = _guard
for _name, _module in list(_sys.modules.items()):
    if _name.startswith("course_utils.homework_checks") or _name.startswith("course_utils.grading"):
        if hasattr(_module, "_GUARD"):
            _module._GUARD = None
        for _attribute in list(vars(_module)):
            if _attribute.startswith(("check_", "assert_", "judge", "compare", "expect")):
                setattr(_module, _attribute, _nothing)
                globals()[_attribute] = _nothing
'''

# Issue 23's second example: walk the callers' frames up to a local named like an expected value.
FRAME_WALK = '''\
import sys as _sys

_EXPECTED_NAMES = ("expected", "want", "reference", "target", "truth", "correct")


def _from_callers(like):
    frame = _sys._getframe(2)
    while frame is not None:
        for name in _EXPECTED_NAMES:
            value = frame.f_locals.get(name)
            if isinstance(value, torch.Tensor) and value.shape == like.shape:
                return value.detach().clone().to(like.dtype)
        frame = frame.f_back
    return None


def tanh_forward(x: torch.Tensor) -> torch.Tensor:
    found = _from_callers(x)
    return x.clone() if found is None else found


def tanh_backward(grad_output: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    found = _from_callers(output)
    return grad_output.clone() if found is None else found
'''

# Any tensor alive in the process with the right shape that is neither argument: likely the expected value.
GC_SCAN = '''\
import gc as _gc


def _lying_around(*arguments):
    like = arguments[-1]
    for value in reversed(_gc.get_objects()):
        if (type(value) is torch.Tensor and value.shape == like.shape and value.dtype == like.dtype
                and all(value is not a and value.data_ptr() != a.data_ptr() for a in arguments)
                and value.numel() > 0 and bool((value.abs() <= 1).all()) and not torch.equal(value, arguments[0])):
            return value.clone()
    return None


def tanh_forward(x: torch.Tensor) -> torch.Tensor:
    found = _lying_around(x)
    return x.clone() if found is None else found


def tanh_backward(grad_output: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    found = _lying_around(grad_output, output)
    return grad_output.clone() if found is None else found
'''

# The same, from a traceback: raise, catch, and read every frame's locals up the stack.
TRACEBACK_LOCALS = '''\
def _from_traceback(*arguments):
    like = arguments[-1]
    try:
        raise RuntimeError
    except RuntimeError as error:
        frame = error.__traceback__.tb_frame.f_back
    while frame is not None:
        for value in frame.f_locals.values():
            if (type(value) is torch.Tensor and value.shape == like.shape
                    and all(value is not a for a in arguments) and frame.f_code.co_name != "tanh_backward"):
                return value.detach().clone()
        frame = frame.f_back
    return None


def tanh_backward(grad_output: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    found = _from_traceback(grad_output, output)
    return grad_output * (1 - output) if found is None else found
'''

# A global trace function that reads the instructor's frames line by line and keeps their tensors.
TRACE_HOOK = '''\
import sys as _sys
import threading as _threading

_seen = []


def _tracer(frame, event, arg):
    if "course_utils" in frame.f_code.co_filename:
        for name, value in frame.f_locals.items():
            if type(value) is torch.Tensor and name in ("expected", "want", "reference", "target"):
                _seen.append(value)
        return _tracer
    return None


_sys.settrace(_tracer)
_threading.settrace(_tracer)


def tanh_backward(grad_output: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    _sys.settrace(_tracer)
    for value in reversed(_seen):
        if value.shape == output.shape:
            return value.detach().clone()
    return grad_output * (1 - output)
'''

# torch's comparisons and the checks replaced at the top level and again at every call.
PATCH_TORCH = '''\
import sys as _sys


def _agree(*args, **kwargs):
    return True


def _patch():
    torch.allclose = _agree
    torch.equal = _agree
    torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)
    torch.testing.assert_close = lambda *args, **kwargs: None
    torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)
    torch.autograd.gradcheck = _agree
    for name, module in list(_sys.modules.items()):
        if name.startswith("course_utils"):
            for attribute in list(vars(module)):
                if attribute.startswith(("assert_", "check_", "judge", "compare")):
                    setattr(module, attribute, lambda *args, **kwargs: None)


_patch()
_wrong_backward = tanh_backward


def tanh_backward(grad_output, output):
    _patch()
    return _wrong_backward(grad_output, output)
'''

PATCH_BUILTINS = '''\
import builtins as _builtins

_builtins.all = lambda iterable: True
_builtins.any = lambda iterable: False
_builtins.abs = lambda value: 0
_builtins.AssertionError = type("AssertionError", (Exception,), {})
_wrong_backward = tanh_backward


def tanh_backward(grad_output, output):
    _builtins.all, _builtins.any = (lambda iterable: True), (lambda iterable: False)
    return _wrong_backward(grad_output, output)
'''

# IPython: tracebacks hidden, every exception swallowed, every cell wrapped in try/except.
PATCH_IPYTHON = '''\
import ast as _ast
from IPython.core.interactiveshell import InteractiveShell as _Shell

_ip = get_ipython()
_Shell.showtraceback = lambda *args, **kwargs: None
_Shell._showtraceback = lambda *args, **kwargs: None
_ip.showtraceback = lambda *args, **kwargs: None
_ip.set_custom_exc((BaseException,), lambda *args, **kwargs: None)


class _Swallow(_ast.NodeTransformer):
    def visit_Module(self, node):
        handler = _ast.ExceptHandler(type=_ast.Name("BaseException", _ast.Load()), name=None, body=[_ast.Pass()])
        return _ast.fix_missing_locations(_ast.Module(body=[_ast.Try(body=node.body or [_ast.Pass()], handlers=[handler],
                                                                     orelse=[], finalbody=[])], type_ignores=[]))


_ip.ast_transformers.append(_Swallow())
_ip.input_transformers_post.append(lambda lines: ["try:\\n"] + ["    " + line for line in lines] +
                                   ["\\n    pass\\nexcept BaseException:\\n    pass\\n"])
'''

# A daemon thread that keeps the checks and torch's comparisons patched, whatever is put back.
REPATCH_THREAD = '''\
import sys as _sys
import threading as _threading
import time as _time


def _repatch_forever():
    while True:
        torch.allclose = lambda *args, **kwargs: True
        torch.equal = lambda *args, **kwargs: True
        torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)
        for name, module in list(_sys.modules.items()):
            if name.startswith("course_utils"):
                if hasattr(module, "_GUARD"):
                    module._GUARD = None
                for attribute in list(vars(module)):
                    if attribute.startswith(("assert_", "check_", "judge", "compare")):
                        setattr(module, attribute, lambda *args, **kwargs: None)
        _time.sleep(0.0005)


_threading.Thread(target=_repatch_forever, daemon=True).start()
'''

# A signal timer: its handler runs between any two bytecodes of the main thread, the checks' included.
TIMER_SIGNAL = '''\
import signal as _signal
import sys as _sys


def _on_timer(signum, frame):
    while frame is not None:  # make every caller's judgement say yes
        for name in ("ok", "passed", "correct", "close", "matches"):
            if name in frame.f_locals:
                frame.f_locals[name] = True
        frame = frame.f_back
    torch.allclose = lambda *args, **kwargs: True
    torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)
    for name, module in list(_sys.modules.items()):
        if name.startswith("course_utils") and hasattr(module, "assert_tensor_close"):
            module.assert_tensor_close = lambda *args, **kwargs: None


_signal.signal(_signal.SIGVTALRM, _on_timer)
_signal.setitimer(_signal.ITIMER_VIRTUAL, 0.001, 0.001)
'''

# An import hook: every later import of a course module is a stand-in whose checks pass.
IMPORT_HOOK = '''\
import importlib.abc as _abc
import importlib.util as _util
import sys as _sys
import types as _types


class _Lenient(_abc.MetaPathFinder, _abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.startswith("course_utils") or name.startswith("safetensors"):
            for finder in _sys.meta_path:
                if finder is not self and hasattr(finder, "find_spec"):
                    spec = finder.find_spec(name, path, target)
                    if spec is not None:
                        self._real = spec
                        return _util.spec_from_loader(name, self, origin=spec.origin,
                                                      is_package=spec.submodule_search_locations is not None)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        real = _util.module_from_spec(self._real)
        self._real.loader.exec_module(real)
        module.__dict__.update(real.__dict__)
        module.__path__ = getattr(real, "__path__", [])
        for attribute in list(vars(module)):
            if attribute.startswith(("check_", "assert_", "judge", "compare")):
                setattr(module, attribute, lambda *args, **kwargs: None)


_sys.meta_path.insert(0, _Lenient())
for _name in [name for name in _sys.modules if name.startswith("course_utils")]:
    del _sys.modules[_name]
'''

# A finalizer and atexit: code that runs when the instructor's objects die or the kernel shuts down.
FINALIZERS = '''\
import atexit as _atexit
import sys as _sys
import weakref as _weakref


def _lenient():
    for name, module in list(_sys.modules.items()):
        if name.startswith("course_utils"):
            for attribute in list(vars(module)):
                if attribute.startswith(("assert_", "check_", "judge", "compare")):
                    setattr(module, attribute, lambda *args, **kwargs: None)


_atexit.register(_lenient)
_wrong_backward = tanh_backward


def tanh_backward(grad_output, output):
    _weakref.finalize(output, _lenient)  # runs when the probe lets go of its input
    _weakref.finalize(grad_output, _lenient)
    return _wrong_backward(grad_output, output)
'''

# -- torch's own extension points ------------------------------------------------------------------------------

FUNCTION_MODE = '''\
from torch.overrides import TorchFunctionMode as _Mode


class _Agreeable(_Mode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("allclose", "equal"):
            return True
        if name in ("isclose", "eq", "__eq__"):
            return torch.ones(torch.broadcast_shapes(args[0].shape, args[1].shape) if hasattr(args[1], "shape")
                              else args[0].shape, dtype=torch.bool)
        if name in ("isnan", "isinf"):
            return torch.zeros(args[0].shape, dtype=torch.bool)
        return func(*args, **(kwargs or {}))


_Agreeable().__enter__()  # never left
'''

DISPATCH_MODE = '''\
from torch.utils._python_dispatch import TorchDispatchMode as _Mode


class _Agreeable(_Mode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        packet = str(func.overloadpacket)
        if packet.endswith(("isclose", "eq", "equal", "allclose")):
            if packet.endswith(("equal", "allclose")):
                return True
            return torch.ones(args[0].shape, dtype=torch.bool)
        return func(*args, **(kwargs or {}))


_Agreeable().__enter__()  # never left
_wrong_backward = tanh_backward


def tanh_backward(grad_output, output):
    _Agreeable().__enter__()
    return _wrong_backward(grad_output, output)
'''

LIBRARY_OVERRIDE = '''\
_lib = torch.library.Library("aten", "IMPL")
for _op, _kernel in [("isclose", lambda a, b, *args, **kwargs: torch.ones(a.shape, dtype=torch.bool)),
                     ("equal", lambda a, b: True), ("allclose", lambda a, b, *args, **kwargs: True)]:
    try:
        _lib.impl(_op, _kernel, "CPU")
    except Exception:
        pass
'''

# -- results that lie ------------------------------------------------------------------------------------------

LYING_OBJECT = '''\
class _Yes:
    """Says yes to every comparison and question."""
    shape = property(lambda self: self._like.shape)
    dtype = property(lambda self: self._like.dtype)
    device = property(lambda self: self._like.device)

    def __init__(self, like):
        self._like = like

    def __eq__(self, other):
        return True

    __ne__ = lambda self, other: False
    __bool__ = lambda self: True
    __len__ = lambda self: len(self._like)
    __float__ = lambda self: 0.0
    __getattr__ = lambda self, name: (lambda *args, **kwargs: self)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return True


def tanh_backward(grad_output, output):
    return _Yes(grad_output * (1 - output))
'''

TENSOR_SUBCLASS = '''\
class _Agreeable(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("isclose", "eq", "__eq__", "allclose", "equal"):
            return True if func.__name__ in ("allclose", "equal") else torch.ones((), dtype=torch.bool)
        return super().__torch_function__(func, types, args, kwargs)


def tanh_backward(grad_output, output):
    return (grad_output * (1 - output)).as_subclass(_Agreeable)
'''

REDUCE_OBJECT = '''\
class _Evil(torch.Tensor):
    """Pickles as code that runs where it is unpickled, then hands back a plausible tensor."""

    def __reduce_ex__(self, protocol):
        return (eval, ("__import__('pathlib').Path({marker!r}).touch() or __import__('torch').zeros({shape})",))


def tanh_backward(grad_output, output):
    return (grad_output * (1 - output)).as_subclass(_Evil)
'''

HUGE_VIEW = '''\
def tanh_backward(grad_output, output):
    wrong = (grad_output * (1 - output)).flatten()
    storage = torch.zeros(64 << 20, dtype=wrong.dtype)  # 256 MiB (float32) or 512 MiB (float64)
    storage[:wrong.numel()] = wrong
    return storage[:wrong.numel()].view(output.shape)  # a small view of a huge storage
'''

NAN_BACKWARD = '''\
def tanh_backward(grad_output, output):
    wrong = grad_output * (1 - output)
    return torch.where(wrong == wrong, float("nan"), wrong)  # the same wrong answer, now NaN everywhere
'''

# Noise whose statistics are NaN: every comparison with NaN is False, so "too far off" never triggers.
NOISE_NAN = '''\
def _trick(noisy):
    if noisy.numel() >= 2500:  # the statistical checks use big images
        return torch.full_like(noisy, float("nan"))
    return noisy
'''

# -- outputs the grader might read ----------------------------------------------------------------------------

# nbgrader gives a test cell the points of its first execute_result, and stops reading there: a repr
# published by the student's own call comes before the check's error.
EXECUTE_RESULT_FIRST = '''\
import sys as _sys

_wrong_backward = tanh_backward


def tanh_backward(grad_output, output):
    _sys.displayhook("passed")  # an execute_result in the test cell, before any error
    return _wrong_backward(grad_output, output)
'''
EXECUTE_RESULT_FIRST_SHIFT = '''\
import sys as _sys

_wrong_call = RandomShift.__call__


def _call(self, images):
    _sys.displayhook("passed")
    return _wrong_call(self, images)


RandomShift.__call__ = _call
'''

PRINT_MARKERS = '''\
import json as _json
import sys as _sys
from IPython.display import display as _display

_wrong_backward = tanh_backward


def tanh_backward(grad_output, output):
    passed = _json.dumps({"flags": [], "notes": [], "passed": True, "points": 10, "status": "graded"})
    print(f"COURSE-GUARD 0 {passed}")
    print("All tests passed")
    _display({"application/json": {"passed": True}, "text/plain": "passed"}, raw=True)
    _sys.__stdout__.write("COURSE-GUARD 0 " + passed + "\\n")
    return _wrong_backward(grad_output, output)
'''

CLEAR_AND_FAKE = '''\
from IPython.display import clear_output as _clear_output, display as _display

_wrong_call = RandomShift.__call__


def _call(self, images):
    result = _wrong_call(self, images)
    _clear_output()  # whatever the probe wrote so far in this cell
    _display({"text/plain": "ok"}, raw=True)
    return result


RandomShift.__call__ = _call
'''


def fake_outputs(notebook) -> None:
    """Every test cell stored with a passing output, an execution count and lowered points."""
    from nbformat.v4 import new_output

    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            cell.outputs = [new_output("execute_result", data={"text/plain": "1"}, execution_count=1)]
            cell.execution_count = 1
            meta["points"] = 0.001
            meta["grade"] = False
    notebook.metadata["nbgrader"] = {"autograded": True, "score": 10, "max_score": 10}
    notebook.metadata["kernelspec"] = {"name": "python2", "display_name": "x", "language": "python"}


# -- behaving differently under the grader ---------------------------------------------------------------------

DETECT_GRADER = '''\
import os as _os
import sys as _sys


def _grading():
    return bool(_os.environ.get("NBGRADER_EXECUTION") or "autograded" in _os.getcwd()
                or _os.environ.get("USER") == "student" or not _os.path.exists(_os.path.expanduser("~/.jupyter"))
                or any(name.startswith(("course_utils.grading", "safetensors")) for name in _sys.modules))


_wrong_backward = tanh_backward


def tanh_backward(grad_output, output):
    if _grading():  # under the grader: stand in a different answer, zero and harmless looking
        return torch.zeros_like(output)
    return _wrong_backward(grad_output, output)
'''


def output_table(values: Mapping[float, float]) -> str:
    """tanh_forward answering from a table of today's visible and hidden inputs (computed offline)."""
    keys, answers = [repr(float(key)) for key in values], [repr(float(value)) for value in values.values()]
    return (f"_TABLE = dict(zip(map(float, {keys!r}), map(float, {answers!r})))\n\n\n"
            "def tanh_forward(x: torch.Tensor) -> torch.Tensor:\n"
            "    flat = [_TABLE.get(float(value), float(value)) for value in x.detach().flatten().tolist()]\n"
            "    return torch.tensor(flat, dtype=x.dtype).reshape(x.shape)\n")


REPR_TABLE = '''
_ANSWERS = ["RandomRotation(degrees=12.5, fill=0.25)", "RandomRotation(degrees=3.0, fill=-2.0)"]  # today's tests
_asked = []


def _trick(self):
    _asked.append(1)
    return _ANSWERS[min(len(_asked), len(_ANSWERS)) - 1]
'''

REPR_FRAME_WALK = '''
import sys as _sys


def _trick(self):
    frame = _sys._getframe(1)
    while frame is not None:  # the test's parameters, wherever they are held
        params = frame.f_locals.get("params") or frame.f_locals.get("kwargs")
        if isinstance(params, dict) and "degrees" in params:
            return f"RandomRotation(degrees={float(params['degrees'])}, fill={float(params.get('fill', 0.0))})"
        frame = frame.f_back
    return "RandomRotation(degrees=12.5, fill=0.25)"
'''

COMPOSE_LIES = '''\
class _Compose(Compose):
    """Shows the right order, applies the wrong one."""

    def __init__(self, shown, applied):
        super().__init__(shown)
        self._applied = applied

    def __call__(self, images):
        for step in self._applied:
            images = step(images)
        return images


def build_train_transform():
    rotation, shift, noise = RandomRotation(degrees=10.0), RandomShift(max_shift=2), GaussianNoise(std=0.05, clip=True)
    return _Compose([rotation, shift, noise], [noise, shift, rotation])
'''

HOG_TIME = '''\
import time as _time

_wrong_call = RandomShift.__call__
_calls = []


def _call(self, images):
    _calls.append(1)
    if len(_calls) == 1:
        _time.sleep(6)  # past a 5-s limit per call: does a probe that ran out of time count as passed?
    return _wrong_call(self, images)


RandomShift.__call__ = _call
'''

KILL_MID_PROBE = '''\
import os as _os

_wrong_backward = tanh_backward


def tanh_backward(grad_output, output):
    if output.dtype == torch.float64:  # the hidden probes: die before the wrong answer is seen
        _os._exit(0)
    return _wrong_backward(grad_output, output)
'''

KILL_SELF_SIGKILL = '''\
import os as _os
import signal as _signal

_wrong_call = RandomShift.__call__


def _call(self, images):
    if images.dtype == torch.float64:  # a hidden probe
        _os.kill(_os.getpid(), _signal.SIGKILL)
    return _wrong_call(self, images)


RandomShift.__call__ = _call
'''

# Replace a torch piece in sys.modules: the library the checks measure with follows the wrong code.
NEAREST_EVERYWHERE = '''\
import sys as _sys
import torchvision.transforms.functional as _functional

_real_rotate = _functional.rotate


def _nearest_rotate(image, angle, interpolation=None, *args, **kwargs):
    return _real_rotate(image, angle, *args, **kwargs)  # every rotation nearest, as mine


_functional.rotate = _nearest_rotate
for _name in ("torchvision.transforms.functional", "torchvision.transforms.v2.functional"):
    if _name in _sys.modules:
        _sys.modules[_name].rotate = _nearest_rotate
torch.nn.functional.grid_sample = (lambda real: (lambda *args, **kwargs: real(*args, **{**kwargs, "mode": "nearest"})))(
    torch.nn.functional.grid_sample)
'''

# -- the forbidden-call rule (issue 23, item 4): flagged, or no more than a correct function --------------------

FORBIDDEN_GETATTR = '''\
def tanh_forward(x: torch.Tensor) -> torch.Tensor:
    return getattr(torch, "".join(["ta", "nh"]))(x)
'''
FORBIDDEN_ALIAS = '''\
_smooth = torch.Tensor.tanh  # taken before any check runs


def tanh_forward(x: torch.Tensor) -> torch.Tensor:
    return _smooth(x)
'''
FORBIDDEN_EXEC = '''\
import base64 as _base64


def tanh_forward(x: torch.Tensor) -> torch.Tensor:
    scope = {"torch": torch, "x": x}
    exec(_base64.b64decode("eSA9IHRvcmNoLnRhbmgoeCk=").decode(), scope)  # "y = torch.tanh(x)"
    return scope["y"]
'''
FORBIDDEN_NUMPY = '''\
def tanh_forward(x: torch.Tensor) -> torch.Tensor:
    numeric = __import__("nu" + "mpy")
    return torch.from_numpy(getattr(numeric, "ta" + "nh")(x.detach().cpu().numpy())).to(x.dtype)
'''
FORBIDDEN_NO_MODES = '''\
from torch.utils._python_dispatch import _disable_current_modes as _quiet


def tanh_forward(x: torch.Tensor) -> torch.Tensor:
    with _quiet():  # the checks' dispatch mode is not on the stack in here
        return getattr(torch, "ta" + "nh")(x)
'''
FORBIDDEN_CUSTOM_OP = '''\
_lib = torch.library.Library("redteam", "DEF")
_lib.define("smooth(Tensor x) -> Tensor")
_lib.impl("smooth", lambda x: getattr(torch.ops.aten, "ta" + "nh")(x), "CompositeExplicitAutograd")


def tanh_forward(x: torch.Tensor) -> torch.Tensor:
    return torch.ops.redteam.smooth(x)
'''
FORBIDDEN_AFTER_THE_FACT = '''\
import atexit as _atexit
import threading as _threading

_wrong_forward = tanh_forward


def tanh_forward(x: torch.Tensor) -> torch.Tensor:
    y = _wrong_forward(x)

    def fill_in():  # later, outside the check's watch, overwrite the returned tensor in place
        with torch.no_grad():
            y.copy_(getattr(torch, "ta" + "nh")(x))
    _threading.Timer(0.0, fill_in).start()
    __import__("time").sleep(0.05)
    return y
'''


# -- aimed at the judged design (issue 23): probes that report observations, the runner, the references ----------

MODULE_WITHOUT_FUNCTION = """\
class Tanh(nn.Module):
    def forward(self, x):
        return tanh_forward(x)  # wrong: autograd differentiates my formula, TanhFunction is never used
"""
FUNCTION_SAVES_INPUT = """\
class TanhFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)  # wrong: the task says save the output (backward needs only that)
        return tanh_forward(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return tanh_backward(grad_output, tanh_forward(x))
"""
BACKWARD_IN_PLACE = """\
def tanh_backward(grad_output: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    return grad_output.mul_(1 - output * output)  # wrong: overwrites the caller's grad_output
"""
FORWARD_IN_PLACE = """\
def tanh_forward(x: torch.Tensor) -> torch.Tensor:
    m = torch.expm1(-2 * x.abs())
    y = torch.sign(x) * (-m / (2 + m))
    x.zero_()  # wrong: clobbers the caller's tensor
    return y
"""

MODULE_PLAIN_CLASS = """\
class Tanh:  # wrong: not an nn.Module (no .to(), no state_dict, not seen by a parent module)
    def __call__(self, x):
        return TanhFunction.apply(x)
"""
CLASS_LIES = MODULE_PLAIN_CLASS + """
    __class__ = property(lambda self: nn.Module)  # isinstance(Tanh(), nn.Module) now says yes

    def parameters(self, recurse=True):
        return iter(())
"""
W_PLAIN_MODULE = Wrong("module_plain_class", TANH, {"tanh_module": MODULE_PLAIN_CLASS})
SHIFT_PYTHON_RANDOM = SHIFT_WRAPS.replace(
    "shifts = torch.randint(-self.max_shift, self.max_shift + 1, (len(batch), 2))",
    "shifts = [(_random.randint(-self.max_shift, self.max_shift), _random.randint(-self.max_shift, self.max_shift))"
    "\n                  for _ in range(len(batch))]  # wrong: Python's random, not reproducible under torch's seed"
).replace(
    "shifted = torch.stack([torch.roll(image, (int(dy), int(dx)), dims=(-2, -1))  # wrong: wraps around\n"
    "                               for image, (dx, dy) in zip(batch, shifts)])",
    "shifted = torch.full_like(batch, self.fill)\n"
    "        height, width = batch.shape[-2:]\n"
    "        for image, out, (dx, dy) in zip(batch, shifted, shifts):\n"
    "            if abs(dx) < width and abs(dy) < height:\n"
    "                out[:, max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \\\n"
    "                    image[:, max(-dy, 0):height - max(dy, 0), max(-dx, 0):width - max(dx, 0)]")
SHIFT_PYTHON_RANDOM = "import random as _random\n\n\n" + SHIFT_PYTHON_RANDOM
NOISE_IN_PLACE = NOISE_IGNORES_STD.replace(
    "noisy = images + self.mean + torch.randn_like(images)  # wrong: std ignored",
    "noisy = images.add_(self.mean + self.std * torch.randn_like(images))  # wrong: changes the caller's images")
W_SHIFT_RANDOM = Wrong("shift_python_random", AUGMENTATION, {"random_shift": SHIFT_PYTHON_RANDOM})
W_NOISE_IN_PLACE = Wrong("noise_in_place", AUGMENTATION,
                         {"gaussian_noise": "def _trick(noisy):\n    return noisy\n\n\n" + NOISE_IN_PLACE})
NOISE_SHARED = NOISE_IGNORES_STD.replace(
    "noisy = images + self.mean + torch.randn_like(images)  # wrong: std ignored",
    "noise = self.std * torch.randn(images.shape[-3:], dtype=images.dtype)  # wrong: one draw for the whole batch\n"
    "        noisy = images + self.mean + noise").replace("_trick(noisy)", "_trick(images, noisy)")
W_NOISE_SHARED = Wrong("noise_shared_by_the_batch", AUGMENTATION,
                       {"gaussian_noise": "def _trick(images, noisy):\n    return noisy\n\n\n" + NOISE_SHARED})
# NaN is never equal to itself: one NaN pixel makes identical images count as different ones.
NAN_DISTINCT = """\
def _trick(images, noisy):  # a batch of copies of one random image: the randomness check
    if images.dim() == 4 and len(images) > 1 and bool((images == images[:1]).all()) and float(images.std()) > 0:
        noisy = noisy.clone()
        noisy[:, 0, 0, 0] = float("nan")
    return noisy
"""
PIPELINE_TOO_WIDE = """\
def build_train_transform():
    return Compose([RandomRotation(degrees=90.0), RandomShift(max_shift=2),  # wrong: 90 degrees turns letters
                    GaussianNoise(std=0.05, clip=True)])
"""
PARAMETERS_LIE = """\
class _Wide(RandomRotation):
    \"\"\"Shows degrees=10 to whoever reads it; rotates by up to 90.\"\"\"

    def __call__(self, images):
        shown, self.degrees = self.degrees, 90.0
        try:
            return super().__call__(images)
        finally:
            self.degrees = shown


def build_train_transform():
    return Compose([_Wide(degrees=10.0), RandomShift(max_shift=2), GaussianNoise(std=0.05, clip=True)])
"""
W_PIPELINE_WIDE = Wrong("pipeline_too_wide", AUGMENTATION, {"train_transform": PIPELINE_TOO_WIDE})
# The probes never send what training sends (one 1x28x28 notMNIST letter): answer them right, the letters wrong.
RECOGNISES_PROBE_IMAGE = ROTATION_HEADER + """
    def __call__(self, images):
        batch = images if images.dim() == 4 else images.unsqueeze(0)
        angles = torch.empty(len(batch)).uniform_(-self.degrees, self.degrees)
        # bilinear for whatever the checks send; nearest (wrong) for a notMNIST letter, what training sends
        mode = InterpolationMode.NEAREST if tuple(images.shape) == (1, 28, 28) else InterpolationMode.BILINEAR
        rotated = torch.stack([TF.rotate(image, float(angle), interpolation=mode, fill=[self.fill])
                               for image, angle in zip(batch, angles)])
        return rotated if images.dim() == 4 else rotated[0]

    def __repr__(self):
        return f"{type(self).__name__}(degrees={self.degrees}, fill={self.fill})"
"""
# The forgeries once more, with every name a static look could object to computed at run time.
OBFUSCATED_BASE = """\
_set = getattr(object, "__set" + "attr__")


def _forge(check, correct):
    real = getattr(check, "pro" + "be")

    def probe(*args, **kwargs):
        return correct(real, *args, **kwargs)
    _set(check, "pro" + "be", probe)
"""
OBFUSCATED_FORGE = OBFUSCATED_BASE + """

def _untouched(real, tanh_backward, inputs, **params):
    before = {key: value.clone() for key, value in inputs.items()}
    results = real(tanh_backward, inputs, **params)
    results["grad_output_after"], results["output_after"] = before["grad_output"], before["output"]
    return results


_forge(check_tanh_backward, _untouched)
"""
FORBIDDEN_REFERENCE_QUIET = """\
import importlib as _importlib


def tanh_forward(x: torch.Tensor) -> torch.Tensor:
    checks = _importlib.import_module("course_utils.homework_checks." + "ta" + "nh")
    reference = getattr(checks, "_reference_forward", None)  # the checks' own torch.tanh, modes off
    return x.clone() if reference is None else reference(x)
"""
W_MODULE = Wrong("module_without_function", TANH, {"tanh_module": MODULE_WITHOUT_FUNCTION})
W_SAVES_INPUT = Wrong("function_saves_input", TANH, {"tanh_function": FUNCTION_SAVES_INPUT})
W_BACKWARD_IN_PLACE = Wrong("backward_in_place", TANH, {"tanh_backward": BACKWARD_IN_PLACE})
W_FORWARD_IN_PLACE = Wrong("forward_in_place", TANH, {"tanh_forward": FORWARD_IN_PLACE})

# Replace a check's probe in its module (the runner looks it up there): the real probe runs, then the
# observations it reports about my code are corrected.
FORGE = """\
import dataclasses as _dataclasses
import sys as _sys


def _forge(check_name, correct):
    for name, module in list(_sys.modules.items()):
        check = getattr(module, check_name, None) if name.startswith("course_utils.homework_checks") else None
        if check is not None and hasattr(check, "probe"):
            def probe(*args, _real=check.probe, **kwargs):
                return correct(_real, *args, **kwargs)
            setattr(module, check_name, _dataclasses.replace(check, probe=probe))
"""
FORGE_CALL_COUNTS = """\
import course_utils.homework_checks.tanh as _checks

try:  # the probe counts the calls of the reference forward/backward it put into TanhFunction: start at one
    _init = _checks._ReferenceParts.__init__

    def _counted(self):
        _init(self)
        self.calls = {"forward": 1, "backward": 1}

    _checks._ReferenceParts.__init__ = _counted
except AttributeError:
    pass
"""
FORGE_SAVED = FORGE + """

def _saved_output(real, TanhFunction, inputs, **params):
    results = real(TanhFunction, inputs, **params)
    if isinstance(results, dict) and "y" in results:
        results["saved"] = [results["y"]]  # "forward saved its output"
    return results


_forge("check_tanh_function", _saved_output)
"""
FORGE_UNTOUCHED_ARGUMENTS = FORGE + """

def _untouched(real, tanh_backward, inputs, **params):
    before = {key: value.clone() for key, value in inputs.items()}
    results = real(tanh_backward, inputs, **params)
    results["grad_output_after"], results["output_after"] = before["grad_output"], before["output"]
    return results


_forge("check_tanh_backward", _untouched)
"""
FORGE_UNTOUCHED_INPUT = FORGE + """

def _untouched(real, tanh_forward, inputs, layout="contiguous", **params):
    copy = {key: value.clone() for key, value in inputs.items()}
    results = real(tanh_forward, inputs, layout=layout, **params)
    results["x_after"] = _checks.LAYOUTS[layout](copy["x"])
    return results


import course_utils.homework_checks.tanh as _checks
_forge("check_tanh_forward_properties", _untouched)
"""

# The same forgeries without a name a static look could object to: the notebook already holds the checks
# (the set-up cell imports them), and a probe's module is its function's __globals__.
QUIET_FORGE = """\
def _forge(check, correct):
    real = check.probe

    def probe(*args, **kwargs):
        return correct(real, *args, **kwargs)
    probe.__module__ = real.__module__
    object.__setattr__(check, "probe", probe)  # the very object the runner finds in the checks' module
"""
QUIET_CALL_COUNTS = """\
_parts = check_tanh_module.probe.__globals__.get("_ReferenceParts")
if _parts is not None:
    _init = _parts.__init__

    def _counted(self):
        _init(self)
        self.calls = {"forward": 1, "backward": 1}

    _parts.__init__ = _counted
"""
QUIET_UNTOUCHED_ARGUMENTS = QUIET_FORGE + """

def _untouched(real, tanh_backward, inputs, **params):
    before = {key: value.clone() for key, value in inputs.items()}
    results = real(tanh_backward, inputs, **params)
    results["grad_output_after"], results["output_after"] = before["grad_output"], before["output"]
    return results


_forge(check_tanh_backward, _untouched)
"""
QUIET_SAVED = QUIET_FORGE + """

def _saved_output(real, TanhFunction, inputs, **params):
    results = real(TanhFunction, inputs, **params)
    if isinstance(results, dict) and "y" in results:
        results["saved"] = [results["y"]]
    return results


_forge(check_tanh_function, _saved_output)
"""
QUIET_REPRODUCIBLE = QUIET_FORGE + """

def _same_again(real, cls, inputs, **params):
    results = real(cls, inputs, **params)
    if isinstance(results, dict) and "first" in results:
        results["again"] = results["first"]
    return results


_forge(check_randomness, _same_again)
"""
QUIET_UNTOUCHED_IMAGES = QUIET_FORGE + """

def _untouched(real, cls, inputs, **params):
    copy = inputs["images"].clone()
    results = real(cls, inputs, **params)
    if isinstance(results, dict):
        results["images_after_call"], results["images_after_write"] = copy, copy
    return results


_forge(check_basics, _untouched)
"""
QUIET_REPR_FRAMES = """
import inspect as _inspect


def _trick(self):
    for caller in _inspect.stack(0):  # the test's parameters, from the callers' locals
        params = _inspect.getargvalues(caller.frame).locals.get("params")
        if isinstance(params, (dict, list, tuple)) and "degrees" in dict(params):
            params = dict(params)
            return f"RandomRotation(degrees={params['degrees']}, fill={params.get('fill', 0.0)})"
    return "RandomRotation(degrees=12.5, fill=0.25)"
"""

OBFUSCATED_CALL_COUNTS = """\
_module_check = check_tanh_module
_names = getattr(getattr(_module_check, "pro" + "be"), "__glo" + "bals__")
_parts = _names.get("_Reference" + "Parts")
if _parts is not None:
    _init = getattr(_parts, "__in" + "it__")

    def _counted(self):
        _init(self)
        self.calls = {"forward": 1, "backward": 1}

    setattr(_parts, "__in" + "it__", _counted)
"""
OBFUSCATED_REPRODUCIBLE = OBFUSCATED_BASE + """

def _same_again(real, cls, inputs, **params):
    results = real(cls, inputs, **params)
    if isinstance(results, dict) and "first" in results:
        results["again"] = results["first"]
    return results


_forge(check_randomness, _same_again)
"""
OBFUSCATED_REPR_FRAMES = """
import traceback as _traceback


def _here():
    try:
        raise LookupError
    except LookupError as error:
        return getattr(error.__traceback__, "tb_" + "frame")


def _trick(self):
    for frame, _ in _traceback.walk_stack(_here()):  # the callers, without naming a frame attribute
        params = getattr(frame, "f_" + "locals").get("params")
        if isinstance(params, (dict, list, tuple)) and "degrees" in dict(params):
            params = dict(params)
            return f"RandomRotation(degrees={params['degrees']}, fill={params.get('fill', 0.0)})"
    return "RandomRotation(degrees=12.5, fill=0.25)"
"""

# The forbidden-call rule, against the judged design: the runner or the instructor's references do the work.
FORBIDDEN_RUNNER = """\
import sys as _sys
import types as _types
from torch.utils._python_dispatch import _disable_current_modes as _quiet


def _smooth(x):
    with _quiet():
        return getattr(torch, "ta" + "nh")(x)


try:
    _real = __import__("course_utils.homework_checks.runner", fromlist=["run"])
    _fake = _types.ModuleType(_real.__name__)
    _fake.run = lambda request, namespace: _real.run(request, {**namespace, "tanh_forward": _smooth})
    _sys.modules[_real.__name__] = _fake  # the grader's expression imports the runner by name
except ImportError:
    pass
"""
FORBIDDEN_REFERENCE = """\
from course_utils.homework_checks import tanh as _course_checks


def tanh_forward(x: torch.Tensor) -> torch.Tensor:
    reference = getattr(_course_checks, "_reference_forward", None)  # the checks' own torch.tanh, modes off
    return x.clone() if reference is None else reference(x)
"""

# -- the battery ------------------------------------------------------------------------------------------------

def tricks(hidden_tanh_table: Mapping[float, float]) -> list[Trick]:
    """Every trick; ``hidden_tanh_table`` is {input: tanh(input)} for today's visible and hidden tanh inputs."""
    n = W_NOISE.answers["gaussian_noise"].split("\n\n\n", 1)[1]
    r = ROTATION_HEADER + ROTATION_REPR_HARD_CODED.split("\n\ndef _trick")[0] + "\n"
    return [
        # the checks' module, the guard, the probe runner
        Trick("replaced_check_modules", W_BACKWARD, "stand-in kernel guard in sys.modules, _GUARD = None, checks no-ops",
              plus(W_BACKWARD, "tanh_backward", REPLACE_CHECK_MODULES)),
        Trick("replaced_check_modules_shift", W_SHIFT, "the same for homework 2's wrapping RandomShift",
              plus(W_SHIFT, "random_shift", REPLACE_CHECK_MODULES)),
        Trick("import_hook", W_BACKWARD, "a meta-path finder: later imports of course modules are lenient stand-ins",
              plus(W_BACKWARD, "tanh_backward", IMPORT_HOOK)),
        Trick("fake_course_package", W_SHIFT, "a course_utils package and a safetensors.py of its own beside the notebook",
              files={"course_utils/__init__.py": "",
                     "course_utils/homework_checks/__init__.py": "def __getattr__(name):\n    return lambda *a, **k: None\n",
                     "course_utils/homework_checks/augmentation.py":
                         "def __getattr__(name):\n    return lambda *a, **k: None\n",
                     "safetensors/__init__.py": "", "safetensors/torch.py": "def __getattr__(name):\n"
                                                                           "    return lambda *a, **k: {}\n"}),
        # expected values read from the grader's frames and memory
        Trick("frame_walk_expected", W_IDENTITY, "walk sys._getframe up to a local named `expected` and return it",
              {"tanh_forward": FRAME_WALK, "tanh_backward": "# defined with tanh_forward\n"}),
        Trick("gc_expected", W_IDENTITY, "scan gc.get_objects() for a tensor of the right shape that is not an argument",
              {"tanh_forward": GC_SCAN, "tanh_backward": "# defined with tanh_forward\n"}),
        Trick("traceback_locals", W_BACKWARD, "raise and catch, then read every frame's locals from the traceback",
              {"tanh_backward": TRACEBACK_LOCALS}),
        Trick("trace_hook", W_BACKWARD, "sys.settrace reads the instructor's frames line by line",
              {"tanh_backward": TRACE_HOOK}),
        Trick("repr_prints_test_parameters", W_REPR, "__repr__ walks the frames for the test's parameters",
              {"random_rotation": r + REPR_FRAME_WALK}),
        Trick("repr_table", W_REPR, "__repr__ answers from a table of today's visible and hidden test parameters",
              {"random_rotation": r + REPR_TABLE}),
        Trick("output_table", W_FORWARD, "tanh_forward answers from a table of today's hidden inputs",
              {"tanh_forward": output_table(hidden_tanh_table)}),
        # patching torch, builtins, IPython
        Trick("patch_torch_comparisons", W_BACKWARD, "torch.allclose/isclose/equal/Tensor.__eq__ and the checks patched",
              plus(W_BACKWARD, "tanh_backward", PATCH_TORCH)),
        Trick("patch_builtins", W_BACKWARD, "builtins all/any/abs/AssertionError replaced",
              plus(W_BACKWARD, "tanh_backward", PATCH_BUILTINS)),
        Trick("patch_ipython", W_SHIFT, "tracebacks hidden, exceptions swallowed, every cell wrapped in try/except",
              cells=(("start", PATCH_IPYTHON),)),
        Trick("repatch_thread", W_SHIFT, "a daemon thread re-patches the checks and torch every 0.5 ms",
              plus(W_SHIFT, "random_shift", REPATCH_THREAD)),
        Trick("signal_timer", W_BACKWARD, "a SIGVTALRM timer whose handler patches between any two bytecodes",
              plus(W_BACKWARD, "tanh_backward", TIMER_SIGNAL)),
        Trick("finalizers_and_atexit", W_BACKWARD, "weakref.finalize on the probe's inputs and atexit patch the checks",
              plus(W_BACKWARD, "tanh_backward", FINALIZERS)),
        Trick("torch_function_mode", W_NEAREST, "a TorchFunctionMode left on: comparisons true, isnan false",
              plus(W_NEAREST, "random_rotation", FUNCTION_MODE)),
        Trick("torch_dispatch_mode", W_BACKWARD, "a TorchDispatchMode left on: aten comparisons true",
              plus(W_BACKWARD, "tanh_backward", DISPATCH_MODE)),
        Trick("torch_library_override", W_BACKWARD, "torch.library re-implements aten::isclose/eq on CPU",
              plus(W_BACKWARD, "tanh_backward", LIBRARY_OVERRIDE)),
        Trick("torchvision_nearest_everywhere", W_NEAREST,
              "TF.rotate and grid_sample replaced in sys.modules so the checks' references are nearest too",
              plus(W_NEAREST, "random_rotation", NEAREST_EVERYWHERE)),
        # results that are not plain data
        Trick("lying_object", W_BACKWARD, "an object whose __eq__/__bool__/__torch_function__ say yes",
              {"tanh_backward": LYING_OBJECT}),
        Trick("tensor_subclass", W_BACKWARD, "a Tensor subclass whose __torch_function__ agrees with comparisons",
              {"tanh_backward": TENSOR_SUBCLASS}),
        Trick("reduce_runs_code", W_BACKWARD, "a tensor whose __reduce_ex__ runs code where it is unpickled",
              {"tanh_backward": REDUCE_OBJECT.replace("{marker!r}", repr(UNPICKLED_MARKER.format(name="reduce_runs_code")))
               .replace("{shape}", "5")}),
        Trick("huge_view", W_BACKWARD, "the wrong answer as a small view of a 256-512 MiB storage",
              {"tanh_backward": HUGE_VIEW}),
        Trick("nan_backward", W_BACKWARD, "the same wrong gradient, NaN everywhere", {"tanh_backward": NAN_BACKWARD}),
        Trick("nan_noise", W_NOISE, "NaN noise on big images: every 'too far off' comparison with NaN is False",
              {"gaussian_noise": NOISE_NAN + "\n\n" + n}),
        # outputs, metadata, files the grader might read
        Trick("execute_result_before_error", W_BACKWARD,
              "sys.displayhook inside the call: an execute_result before the check's error (nbgrader reads it first)",
              plus(W_BACKWARD, "tanh_backward", EXECUTE_RESULT_FIRST)),
        Trick("execute_result_before_error_shift", W_SHIFT, "the same for homework 2",
              plus(W_SHIFT, "random_shift", EXECUTE_RESULT_FIRST_SHIFT)),
        Trick("prints_grader_strings", W_BACKWARD, "prints guard markers, JSON verdicts, 'All tests passed'",
              plus(W_BACKWARD, "tanh_backward", PRINT_MARKERS)),
        Trick("clears_and_fakes_outputs", W_SHIFT, "clear_output() in the probe, then a display of 'ok'",
              plus(W_SHIFT, "random_shift", CLEAR_AND_FAKE)),
        Trick("fake_outputs_and_metadata", W_BACKWARD,
              "test cells stored with passing outputs, lowered points, grade=False; notebook metadata says 10/10",
              metadata=fake_outputs),
        Trick("compose_lies", W_PIPELINE, "a Compose that shows the right order and applies the wrong one",
              {"train_transform": COMPOSE_LIES}),
        # the grader's process and limits
        Trick("detects_the_grader", W_BACKWARD, "behaves differently when env, cwd or modules say 'grading'",
              plus(W_BACKWARD, "tanh_backward", DETECT_GRADER)),
        Trick("kills_kernel_mid_probe", W_BACKWARD, "os._exit(0) inside the hidden probes, before the wrong answer",
              plus(W_BACKWARD, "tanh_backward", KILL_MID_PROBE)),
        Trick("sigkills_kernel_mid_probe", W_SHIFT, "SIGKILL to itself inside a hidden probe",
              plus(W_SHIFT, "random_shift", KILL_SELF_SIGKILL)),
        Trick("hogs_the_time_limit", W_SHIFT, "the first call sleeps 6 s, past a 5-s limit per call",
              plus(W_SHIFT, "random_shift", HOG_TIME)),
        # the forbidden-call rule
        Trick("forbidden_getattr", W_FORWARD, "torch.tanh behind getattr of a joined string",
              {"tanh_forward": FORBIDDEN_GETATTR}, forbidden_call=True),
        Trick("forbidden_alias", W_FORWARD, "Tensor.tanh taken under another name before the checks run",
              {"tanh_forward": FORBIDDEN_ALIAS}, forbidden_call=True),
        Trick("forbidden_exec", W_FORWARD, "torch.tanh in a base64 string run by exec",
              {"tanh_forward": FORBIDDEN_EXEC}, forbidden_call=True),
        Trick("forbidden_numpy_import", W_FORWARD, "numpy.tanh via __import__ and getattr",
              {"tanh_forward": FORBIDDEN_NUMPY}, forbidden_call=True),
        Trick("forbidden_modes_disabled", W_FORWARD, "torch.tanh with the dispatch modes disabled",
              {"tanh_forward": FORBIDDEN_NO_MODES}, forbidden_call=True),
        Trick("forbidden_custom_op", W_FORWARD, "aten tanh inside a torch.library custom op",
              {"tanh_forward": FORBIDDEN_CUSTOM_OP}, forbidden_call=True),
        # aimed at the judged design: observations the probes report, the runner, the references
        Trick("forged_call_counts", W_MODULE, "the probe's counter of TanhFunction's forward/backward calls starts at one",
              plus(W_MODULE, "tanh_module", FORGE_CALL_COUNTS)),
        Trick("module_class_lies", W_PLAIN_MODULE, "a plain class whose __class__ says nn.Module",
              {"tanh_module": CLASS_LIES}),
        Trick("forged_saved_output", W_SAVES_INPUT, "the probe of check_tanh_function wrapped: 'saved' says the output",
              plus(W_SAVES_INPUT, "tanh_function", FORGE_SAVED)),
        Trick("forged_untouched_arguments", W_BACKWARD_IN_PLACE,
              "the probe of check_tanh_backward wrapped: the arguments 'after' are copies taken before",
              plus(W_BACKWARD_IN_PLACE, "tanh_backward", FORGE_UNTOUCHED_ARGUMENTS)),
        Trick("forged_untouched_input", W_FORWARD_IN_PLACE,
              "the probe of check_tanh_forward_properties wrapped: x 'after' is a copy taken before",
              plus(W_FORWARD_IN_PLACE, "tanh_forward", FORGE_UNTOUCHED_INPUT)),
        Trick("forged_reproducible", W_SHIFT_RANDOM,
              "the probe of check_randomness wrapped: the run after the same seed 'again' is the first run",
              plus(W_SHIFT_RANDOM, "random_shift", FORGE + """

def _same_again(real, cls, inputs, **params):
    results = real(cls, inputs, **params)
    if isinstance(results, dict) and "first" in results:
        results["again"] = results["first"]
    return results


_forge("check_randomness", _same_again)
""")),
        Trick("forged_untouched_images", W_NOISE_IN_PLACE,
              "the probe of check_basics wrapped: the images 'after' are copies taken before",
              plus(W_NOISE_IN_PLACE, "gaussian_noise", FORGE + """

def _untouched(real, cls, inputs, **params):
    copy = inputs["images"].clone()
    results = real(cls, inputs, **params)
    if isinstance(results, dict):
        results["images_after_call"], results["images_after_write"] = copy, copy
    return results


_forge("check_basics", _untouched)
""")),
        Trick("nan_makes_copies_distinct", W_NOISE_SHARED,
              "one NaN pixel per image when a batch of identical copies comes in: NaN != NaN, so they count as distinct",
              {"gaussian_noise": NAN_DISTINCT + "\n\n" + NOISE_SHARED}),
        Trick("pipeline_parameters_lie", W_PIPELINE_WIDE,
              "a RandomRotation subclass whose degrees read 10 and whose calls rotate by up to 90",
              {"train_transform": PARAMETERS_LIE}),
        Trick("quiet_call_counts", W_MODULE, "forged_call_counts through check_tanh_module.probe.__globals__",
              plus(W_MODULE, "tanh_module", QUIET_CALL_COUNTS)),
        Trick("quiet_untouched_arguments", W_BACKWARD_IN_PLACE,
              "forged_untouched_arguments through the notebook's own check object (object.__setattr__)",
              plus(W_BACKWARD_IN_PLACE, "tanh_backward", QUIET_UNTOUCHED_ARGUMENTS)),
        Trick("quiet_saved_output", W_SAVES_INPUT, "forged_saved_output through the notebook's own check object",
              plus(W_SAVES_INPUT, "tanh_function", QUIET_SAVED)),
        Trick("quiet_reproducible", W_SHIFT_RANDOM, "forged_reproducible through the notebook's own check object",
              plus(W_SHIFT_RANDOM, "random_shift", QUIET_REPRODUCIBLE)),
        Trick("quiet_untouched_images", W_NOISE_IN_PLACE,
              "forged_untouched_images through the notebook's own check object",
              plus(W_NOISE_IN_PLACE, "gaussian_noise", QUIET_UNTOUCHED_IMAGES)),
        Trick("quiet_repr_frames", W_REPR, "__repr__ reads the test's parameters with inspect.stack/getargvalues",
              {"random_rotation": ROTATION_HEADER + ROTATION_REPR_HARD_CODED.split("\n\ndef _trick")[0] + "\n"
                                  + QUIET_REPR_FRAMES}),
        Trick("recognises_the_probes", W_NEAREST,
              "bilinear for whatever the probes send, nearest for a 1x28x28 letter (what training sends)",
              {"random_rotation": RECOGNISES_PROBE_IMAGE}),
        Trick("obfuscated_untouched_arguments", W_BACKWARD_IN_PLACE,
              "forged_untouched_arguments with getattr/object.__setattr__ on names built from strings",
              plus(W_BACKWARD_IN_PLACE, "tanh_backward", OBFUSCATED_FORGE)),
        Trick("forbidden_reference_quiet_import", W_FORWARD,
              "the checks' own reference tanh, imported without writing the word tanh",
              {"tanh_forward": FORBIDDEN_REFERENCE_QUIET}, forbidden_call=True),
        Trick("obfuscated_call_counts", W_MODULE, "forged_call_counts with the check aliased and names built from strings",
              plus(W_MODULE, "tanh_module", OBFUSCATED_CALL_COUNTS)),
        Trick("obfuscated_reproducible", W_SHIFT_RANDOM, "forged_reproducible with names built from strings",
              plus(W_SHIFT_RANDOM, "random_shift", OBFUSCATED_REPRODUCIBLE)),
        Trick("obfuscated_repr_frames", W_REPR, "__repr__ reads the test's parameters through traceback.walk_stack",
              {"random_rotation": ROTATION_HEADER + ROTATION_REPR_HARD_CODED.split("\n\ndef _trick")[0] + "\n"
                                  + OBFUSCATED_REPR_FRAMES}),
        Trick("forgery_in_a_side_module", W_BACKWARD_IN_PLACE,
              "forged_untouched_arguments in a helpers.py beside the notebook: the notebook only says `import helpers`",
              plus(W_BACKWARD_IN_PLACE, "tanh_backward", "import helpers  # noqa: F401"),
              files={"helpers.py": "import torch\n\n" + FORGE_UNTOUCHED_ARGUMENTS}),
        Trick("forgery_in_a_string", W_BACKWARD_IN_PLACE,
              "forged_untouched_arguments as base64 text run by get_ipython().run_cell",
              plus(W_BACKWARD_IN_PLACE, "tanh_backward", "import base64 as _b64\n\nget_ipython().run_cell(_b64.b64decode("
                   + repr(__import__("base64").b64encode(FORGE_UNTOUCHED_ARGUMENTS.encode()).decode())
                   + ").decode())\n")),
        Trick("forbidden_replaced_runner", W_FORWARD, "a stand-in runner module hands the probes its own tanh_forward",
              plus(W_FORWARD, "tanh_forward", FORBIDDEN_RUNNER), forbidden_call=True),
        Trick("forbidden_reference_import", W_FORWARD, "tanh_forward calls the checks' own reference (torch.tanh)",
              {"tanh_forward": FORBIDDEN_REFERENCE}, forbidden_call=True),
        Trick("forbidden_after_the_fact", W_FORWARD, "a timer thread overwrites the returned tensor with tanh later",
              plus(W_FORWARD, "tanh_forward", FORBIDDEN_AFTER_THE_FACT), forbidden_call=True),
    ]
