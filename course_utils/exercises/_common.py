"""What the checks of lectures 01-03 share: they leave the random state alone, and they can see how an answer
computes (which torch functions the student's own code calls, and which torch calls on its behalf), to hold an
exercise to the method it asks for.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

_TORCH_DIR = str(Path(torch.__file__).resolve().parent)


def keeps_random_state(check):
    """Run ``check`` under ``torch.random.fork_rng``: neither the check nor the student's code it calls moves the
    notebook's torch random state (CPU and CUDA)."""

    @functools.wraps(check)
    def run(*args, **kwargs):
        with torch.random.fork_rng(devices=range(torch.cuda.device_count()) if torch.cuda.is_initialized() else []):
            return check(*args, **kwargs)

    return run


def _called_from_torch() -> bool:
    """Did torch's own Python code (e.g. ``torch.autograd.functional.jacobian``) make the current call?"""
    frame = sys._getframe(2)  # 0: this function, 1: __torch_function__
    while frame is not None and frame.f_code.co_filename.endswith("overrides.py"):
        frame = frame.f_back
    # a Python-level torch function (Tensor.backward, torch.autograd.grad, torch.cdist) has a frame of its own
    if frame is not None and frame.f_code.co_filename.startswith(_TORCH_DIR):
        caller = frame.f_back
        if caller is not None and not caller.f_code.co_filename.startswith(_TORCH_DIR):
            return False
        return True
    return False


class _CallRecorder(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.names: list[str] = []  # the calls the student's own code made
        self.every_name: list[str] = []  # and the calls torch made for it (inside modules, torch.func, ...)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        self.every_name.append(name)
        if not _called_from_torch():
            self.names.append(name)
        return func(*args, **(kwargs or {}))


def torch_calls(function, *args, **kwargs):
    """``(function(*args, **kwargs), names)``: the names of the torch functions and tensor methods that the
    student's code called itself (``"cdist"``, ``"backward"``, ``"grad"``, ``"sub"``, ...), in order, one per call.
    Calls that torch makes internally (inside ``nn.Module``s, ``torch.autograd.functional``) are left out: use this
    to count what the student did (backward passes, loop iterations)."""
    with _CallRecorder() as recorder:
        result = function(*args, **kwargs)
    return result, recorder.names


def every_torch_call(function, *args, **kwargs):
    """``(function(*args, **kwargs), names)`` like :func:`torch_calls`, but with the calls torch makes on the
    student's behalf too: ``nn.CrossEntropyLoss()(Z, y)`` shows ``"cross_entropy"``,
    ``torch.autograd.functional.vjp`` and ``torch.func.grad`` show ``"grad"``. Use this to tell whether an answer
    used a function at all, by whatever route."""
    with _CallRecorder() as recorder:
        result = function(*args, **kwargs)
    return result, recorder.every_name


def used(names, functions) -> set[str]:
    """Which of ``functions`` appear in ``names``, also under ``torch.special``'s names (``special_softmax``)."""
    return {function for function in functions for name in names if name in (function, "special_" + function)}


#: What a student's code calls when it asks autograd for a gradient (``torch.autograd.functional`` and
#: ``torch.func`` end in ``grad`` too, seen by :func:`every_torch_call`).
AUTOGRAD_CALLS = frozenset({"backward", "grad", "jacobian", "vjp", "hessian"})
