"""The checks that the homework notebooks' test cells call, and the tools they are made of.

A homework's test cell is a few calls of named checks, e.g.
``check_tanh_backward(tanh_backward, kind="random")``. Each check is a
:class:`Check`, defined once, in three parts:

* ``inputs(generator, **params)``: the tensors the student's code is given,
  made from a ``torch.Generator`` (a fixed seed for the visible tests; while
  grading, hidden tests get a seed the grader draws for the run);
* ``probe(*subjects, inputs, **params)``: calls the student's code (inside
  :func:`student_code`) and returns what came back as plain data: plain
  tensors, numbers, short strings, and lists or dicts of those;
* ``judge(inputs, results, **params)``: computes what was expected (torch's
  reference), compares, and raises :class:`CheckFailure` with the message a
  student reads.

In a student's kernel (the visible tests, *Validate*) calling the check runs
all three. While grading (:mod:`course_utils.grading.judged_execute`) only the
probe runs in the kernel, through :mod:`course_utils.homework_checks.runner`
(from a copy of these modules loaded afresh for each request, not the one a
notebook imported); inputs go in and results come back as safetensors (:func:`pack`,
:func:`unpack`), and the grader judges outside the kernel.

Everything here needs only torch and safetensors: nothing of the instructor's
grading machinery (:mod:`course_utils.grading`) is imported.
"""
from __future__ import annotations

import base64
import contextlib
import dataclasses
import importlib
import io
import json
import math
import signal
import struct
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator

import torch
from torch.utils._python_dispatch import TorchDispatchMode

DEFAULT_SECONDS = 5.0
VISIBLE_SEED = 0  # the inputs of every visible test (what Validate shows is what grading checks)

# What a probe may hand back (checked in the kernel and again, on the bytes, by the grader).
MAX_RESULT_BYTES = 32 << 20  # all results of one test cell
MAX_TENSOR_BYTES = 8 << 20  # one tensor, its whole storage (a small view of a huge storage too)
MAX_TENSORS = 256
MAX_STRING = 2000
MAX_DEPTH = 6  # of what one probe returns (the answer around it adds two levels)
ALLOWED_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
                  "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
                  "BOOL": torch.bool}


class CheckFailure(AssertionError):
    """A check failed. ``hidden_message`` (if given) is what a hidden test shows instead: it never names
    the value expected for a hidden input."""

    def __init__(self, message: str, hidden_message: str | None = None):
        super().__init__(message)
        self.hidden_message = hidden_message or message


def fail(message: str, hidden_message: str | None = None):
    raise CheckFailure(message, hidden_message)


def expect(condition, message: str, hidden_message: str | None = None) -> None:
    """``assert`` that also runs under ``python -O`` and keeps the hidden variant of the message."""
    if not condition:
        raise CheckFailure(message, hidden_message)


@dataclasses.dataclass(frozen=True)
class Check:
    """One graded behaviour, defined once: inputs, probe, judgement (see the module's docstring).

    ``subjects`` names the student's objects the check takes, in order (the
    test cell passes them by name). ``vary(generator, params)``, if given,
    returns the parameters of a hidden call with some drawn afresh.
    Calling the check runs all three parts, as in a student's kernel.
    """

    name: str
    subjects: tuple[str, ...]
    inputs: Callable[..., dict]
    probe: Callable[..., object]
    judge: Callable[..., None]
    vary: Callable[..., dict] | None = None
    forbid: tuple[str, ...] = ()  # what the student's code under test may not call (see student_code)

    def __call__(self, *subjects, **params):
        if len(subjects) != len(self.subjects):
            raise TypeError(f"{self.name} takes {', '.join(self.subjects)}, then keyword parameters")
        inputs = self.make_inputs(torch.Generator().manual_seed(VISIBLE_SEED), params)
        what = getattr(subjects[0], "__name__", self.subjects[0])
        results = plain_data(self.probe(*subjects, clone_inputs(inputs), **params), what)
        self.judge(inputs, results, **params)

    def make_inputs(self, generator: torch.Generator, params: dict) -> dict[str, torch.Tensor]:
        return self.inputs(generator, **params)


REGISTRY: dict[str, Check] = {}


def check(subjects: str, *, inputs, judge, vary=None, forbid=()):
    """Decorator: the decorated function is the probe of a :class:`Check` named after it, registered."""

    def make(probe) -> Check:
        made = Check(probe.__name__, tuple(subjects.split()), inputs, probe, judge, vary, tuple(forbid))
        REGISTRY[made.name] = made
        return made

    return make


def no_inputs(generator, **params) -> dict:
    return {}


def clone_inputs(inputs: dict) -> dict:
    return {key: value.clone() for key, value in inputs.items()}


# -- plain data: what a probe returns, and how it crosses between kernel and grader --------


def plain_data(value, what: str, depth: int = 0):
    """``value`` as plain data (contiguous CPU tensor clones, numbers, strings, lists, dicts), or
    :class:`CheckFailure` saying what is not."""
    if depth > MAX_DEPTH:
        fail(f"{what} returned data nested too deeply")
    kind = type(value)
    if kind is torch.Tensor:
        if value.device.type != "cpu":
            fail(f"{what} returned a tensor on {value.device}; keep the input's device")
        if value.untyped_storage().nbytes() > MAX_TENSOR_BYTES:
            fail(f"{what} returned a tensor whose memory holds {value.untyped_storage().nbytes()} bytes "
                 f"(at most {MAX_TENSOR_BYTES} are read back)")
        if value.is_sparse or value.is_quantized or value.is_complex():
            fail(f"{what} returned a {value.layout} {value.dtype} tensor; return a dense real tensor")
        return value.detach().clone().contiguous()
    if isinstance(value, torch.Tensor):
        fail(f"{what} returned a {kind.__name__} (a subclass of torch.Tensor); return a plain torch.Tensor")
    if kind in (bool, int, float) or value is None:
        return value
    if kind is str:
        return value[:MAX_STRING]
    if kind in (list, tuple):
        return [plain_data(item, what, depth + 1) for item in value]
    if kind is dict and all(type(key) is str for key in value):
        return {key: plain_data(item, what, depth + 1) for key, item in value.items()}
    fail(f"{what} returned a {kind.__name__}, which is not plain data")


def pack(value) -> bytes:
    """Plain data as safetensors bytes: the tensors as tensors, the rest as JSON in the metadata."""
    tensors: dict[str, torch.Tensor] = {}

    def encode(item):
        if type(item) is torch.Tensor:
            key = f"t{len(tensors)}"
            tensors[key] = item.detach().contiguous()
            return {"__tensor__": key}
        if isinstance(item, (list, tuple)):
            return [encode(part) for part in item]
        if isinstance(item, dict):
            return {key: encode(part) for key, part in item.items()}
        return item

    from safetensors.torch import save

    return save(tensors, metadata={"data": json.JSONEncoder().encode(encode(value))})


class UnreadableResult(ValueError):
    """Bytes that are not the plain data :func:`pack` writes, or beyond the limits."""


def unpack(blob: bytes):
    """The plain data of :func:`pack` ``blob``, read without running any code, within the limits.

    Checked before anything is read: the total size, the header's size, each
    tensor's dtype (numbers and bools only), shape and byte range; then the
    JSON structure (depth, string lengths, keys).
    """
    if not isinstance(blob, bytes) or not 8 <= len(blob) <= MAX_RESULT_BYTES:
        raise UnreadableResult(f"{len(blob) if isinstance(blob, bytes) else '?'} bytes of results "
                               f"(at most {MAX_RESULT_BYTES} are read)")
    (header_size,) = struct.unpack("<Q", blob[:8])
    if header_size > min(len(blob) - 8, 1 << 20):
        raise UnreadableResult("the results' header is larger than the results")
    try:
        header = json.loads(blob[8:8 + header_size])
        metadata = header.pop("__metadata__", None) or {}
        structure = json.loads(metadata["data"])
    except (ValueError, KeyError, TypeError) as error:
        raise UnreadableResult(f"the results' header cannot be read ({error})") from None
    if not isinstance(header, dict) or len(header) > MAX_TENSORS:
        raise UnreadableResult("too many tensors in the results")
    for key, entry in header.items():
        try:
            dtype, shape, (begin, end) = ALLOWED_DTYPES[entry["dtype"]], entry["shape"], entry["data_offsets"]
            count = math.prod(shape)
        except (KeyError, TypeError, ValueError):
            raise UnreadableResult(f"tensor {key!r} of the results is not a plain numeric tensor") from None
        if not all(type(size) is int and size >= 0 for size in shape) or \
                end - begin != count * torch.empty((), dtype=dtype).element_size() or end - begin > MAX_TENSOR_BYTES:
            raise UnreadableResult(f"tensor {key!r} of the results has an impossible shape or size")
    from safetensors.torch import load

    try:
        tensors = load(blob)
    except Exception as error:  # safetensors' own validation: overlapping or out-of-range data
        raise UnreadableResult(f"the results cannot be read: {error}") from None

    def decode(item, depth=0):
        if depth > MAX_DEPTH + 3:
            raise UnreadableResult("the results are nested too deeply")
        if isinstance(item, dict) and set(item) == {"__tensor__"}:
            if item["__tensor__"] not in tensors:
                raise UnreadableResult("the results name a tensor they do not hold")
            return tensors[item["__tensor__"]]
        if isinstance(item, list):
            return [decode(part, depth + 1) for part in item]
        if isinstance(item, dict):
            return {str(key): decode(part, depth + 1) for key, part in item.items()}
        if isinstance(item, str):
            return item[:MAX_STRING]
        if item is None or isinstance(item, (bool, int, float)):
            return item
        raise UnreadableResult("the results hold something that is not plain data")

    return decode(structure)


def encode_text(blob: bytes) -> str:
    return base64.b64encode(blob).decode("ascii")


def decode_text(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


class ForbiddenCallError(CheckFailure):
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
        fail(f"{what} has shape {tuple(actual.shape)}; expected {tuple(expected.shape)}")
    got = actual.detach().to("cpu", expected.dtype)
    want = expected.detach().cpu()
    wrong = ~torch.isclose(got, want, rtol=rtol, atol=atol)  # nan is never close to anything
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
    off = f"{int(wrong.sum())} of {wrong.numel()} values off by more than rtol={rtol:g}, atol={atol:g}"
    fail(f"{what} is wrong at {where}: got {g!r}, expected {w!r} ({off}){hint}",
         f"{what} is wrong at {where}: got {g!r} ({off}){hint}")


def plain_tensor(value, what: str) -> torch.Tensor:
    """``value`` if it is a plain ``torch.Tensor`` (not a subclass, whose methods could answer anything)."""
    if type(value) is not torch.Tensor:
        kind = "a subclass of torch.Tensor" if isinstance(value, torch.Tensor) else "not a tensor"
        fail(f"{what} returned a {type(value).__name__} ({kind}); return a plain torch.Tensor")
    return value


def plain_string(value, what: str) -> str:
    if type(value) is not str:
        fail(f"{what} returned a {type(value).__name__}; return a str")
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
