"""The checks that the homework notebooks' test cells call, and the tools they are made of.

A homework's test cell is one call of a named check, e.g.
``check_tanh_backward(tanh_backward)``; the checks of each homework live in
:mod:`course_utils.homework_checks.tanh` and
:mod:`course_utils.homework_checks.augmentation`. A check computes what it
expects first, runs the student's code inside :func:`student_code`, then
compares with :func:`assert_tensor_close`::

    expected = torch.tanh(x)
    with student_code("tanh_forward", forbid=["torch.tanh", "numpy.tanh"]):
        y = tanh_forward(x)
    assert_tensor_close(y, expected, what="tanh_forward(x)", x=x)

Everything here is imported by notebooks, in a student's kernel and in the
grading kernel, so it needs only torch: nothing of the instructor's grading
machinery (:mod:`course_utils.grading`) is imported. While grading, the
course's kernel guard sets ``_GUARD``, which :func:`student_code` calls each
time the student's code hands control back.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import signal
import threading
import warnings
from collections.abc import Iterable, Iterator

import torch
from torch.utils._python_dispatch import TorchDispatchMode

DEFAULT_SECONDS = 5.0
# Set by course_utils.grading.kernel_guard while a submission is graded; None in a student's kernel.
_GUARD = None


class ForbiddenCallError(AssertionError):
    """The student's code called a function that the assignment asks them to write themselves."""


class _OutOfTime(BaseException):
    # A BaseException, like KeyboardInterrupt, so that `except Exception` in the
    # student's code cannot swallow it.
    pass


@contextlib.contextmanager
def student_code(what: str, *, forbid: Iterable[str] = (), seconds: float | None = DEFAULT_SECONDS) -> Iterator[None]:
    """Run the block the way an autograder test should run a student's code.

    * Every function named in ``forbid`` raises :class:`ForbiddenCallError`,
      and the block fails afterwards even if the student's code caught it.
      A torch operator (``"torch.tanh"``) is caught at torch's dispatcher, so
      the name also covers ``Tensor.tanh``, ``tanh_``, ``torch.nn.functional.tanh``,
      ``nn.Tanh`` and ``from torch import tanh``. Any other dotted name
      (``"numpy.tanh"``, ``"math.tanh"``) is replaced for the duration of the block.
    * Warnings and writes to ``sys.stderr`` are swallowed: nbgrader gives 0 to
      a test cell with any stderr output, and a correct solution that happens
      to warn must not lose points.
    * After ``seconds`` the block fails with :class:`TimeoutError` (POSIX, main
      thread; elsewhere there is no limit and nbgrader's per-cell timeout applies).

    ``what`` names the code under test in messages, e.g. ``"tanh_forward"``.
    """
    calls: list[str] = []

    def refuse(name: str):
        calls.append(name)
        raise ForbiddenCallError(_forbidden_message(what, name))

    torch_ops, functions = _split_forbidden(forbid)
    guard = _GUARD  # taken now: the student's code cannot swap the hook that checks on it
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(warnings.catch_warnings())
            warnings.simplefilter("ignore")
            stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
            for name in functions:
                stack.enter_context(_replaced(name, refuse))
            if torch_ops:
                _warm_up_dispatch_mode()
                stack.enter_context(_RefuseTorchOps(torch_ops, refuse))
            stack.enter_context(_time_limit(seconds, what))
            yield
    finally:
        if guard is not None:  # while grading: what the student's code changed is undone and reported
            guard(what)
    if calls:
        raise ForbiddenCallError(_forbidden_message(what, calls[0]))


def assert_tensor_close(actual, expected: torch.Tensor, *, what: str, x: torch.Tensor | None = None,
                        rtol: float, atol: float) -> None:
    """Fail with a message a student can act on unless ``actual`` matches ``expected``.

    Checks that ``actual`` is a tensor of the expected shape, then its values
    (compared in ``expected``'s dtype on the CPU; dtype and device are for
    separate tests). The message names the first wrong element, by its input
    value when ``x`` (the input, same shape) is given.
    """
    actual = plain_tensor(actual, what)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what} has shape {tuple(actual.shape)}; expected {tuple(expected.shape)}")
    got = actual.detach().to("cpu", expected.dtype)
    want = expected.detach().cpu()
    wrong = ~torch.isclose(got, want, rtol=rtol, atol=atol)
    if not wrong.any():
        return
    i = int(wrong.flatten().nonzero()[0])
    g, w = got.flatten()[i].item(), want.flatten()[i].item()
    where = f"x = {x.detach().flatten()[i].item()!r}" if x is not None else f"flat index {i}"
    hint = ""
    if g != g:
        hint = "; nan usually means an intermediate overflowed to inf (inf/inf, inf - inf) or 0/0"
    elif abs(g) == float("inf"):
        hint = "; inf usually means an exponential overflowed"
    raise AssertionError(
        f"{what} is wrong at {where}: got {g!r}, expected {w!r} "
        f"({int(wrong.sum())} of {wrong.numel()} values off by more than rtol={rtol:g}, atol={atol:g}){hint}"
    )


def plain_tensor(value, what: str) -> torch.Tensor:
    """``value`` if it is a plain ``torch.Tensor`` (not a subclass, whose methods could answer anything)."""
    if type(value) is not torch.Tensor:
        kind = "a subclass of torch.Tensor" if isinstance(value, torch.Tensor) else "not a tensor"
        raise AssertionError(f"{what} returned a {type(value).__name__} ({kind}); return a plain torch.Tensor")
    return value


def plain_string(value, what: str) -> str:
    if type(value) is not str:
        raise AssertionError(f"{what} returned a {type(value).__name__}; return a str")
    return value


def _forbidden_message(what: str, name: str) -> str:
    return (f"{what} called {name}, which this assignment asks you not to use: "
            f"compute the result yourself from elementary operations")


def _split_forbidden(names: Iterable[str]):
    """Torch operators (caught at the dispatcher) apart from other functions (replaced)."""
    torch_ops: dict[object, str] = {}
    functions: list[str] = []
    for name in names:
        module, _, op = name.rpartition(".")
        if module == "torch" and hasattr(torch.ops.aten, op):
            for variant in (op, op + "_"):  # the in-place form too
                if hasattr(torch.ops.aten, variant):
                    torch_ops[getattr(torch.ops.aten, variant)] = name
        else:
            functions.append(name)
    return torch_ops, functions


class _RefuseTorchOps(TorchDispatchMode):
    def __init__(self, ops: dict, refuse):
        super().__init__()
        self._ops = ops
        self._refuse = refuse

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = self._ops.get(func.overloadpacket)
        if name is not None:
            self._refuse(name)
        return func(*args, **(kwargs or {}))


_warmed_up = False


def _warm_up_dispatch_mode() -> None:
    # The first operation under a TorchDispatchMode imports torch._dynamo, which
    # takes seconds: pay that once, here, not inside a student's time limit.
    global _warmed_up
    if not _warmed_up:
        with _RefuseTorchOps({}, None):
            torch.zeros(()) + 0
        _warmed_up = True


@contextlib.contextmanager
def _replaced(name: str, refuse) -> Iterator[None]:
    owner, attribute = _resolve(name)
    own = vars(owner).get(attribute, _MISSING) if isinstance(owner, type) else getattr(owner, attribute)

    def replacement(*args, **kwargs):
        refuse(name)

    setattr(owner, attribute, replacement)
    try:
        yield
    finally:
        if own is _MISSING:
            delattr(owner, attribute)  # it was inherited: uncover it again
        else:
            setattr(owner, attribute, own)


_MISSING = object()


def _resolve(name: str):
    """``"numpy.linalg.norm"`` -> (the object holding ``norm``, ``"norm"``)."""
    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for part in parts[split:-1]:
            owner = getattr(owner, part)
        if not hasattr(owner, parts[-1]):
            break
        return owner, parts[-1]
    raise ValueError(f"cannot forbid {name!r}: no such function (use a dotted name like 'numpy.tanh')")


@contextlib.contextmanager
def _time_limit(seconds: float | None, what: str) -> Iterator[None]:
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if seconds is None or not usable:
        yield
        return

    def out_of_time(signum, frame):
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, out_of_time)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _OutOfTime:
        raise TimeoutError(f"{what} did not finish within {seconds:g} s: look for a loop that never ends") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
