"""The checks of homework 1 (tanh by hand): one per graded behaviour.

Each check fails with a message the student can act on. Checks of one part
never depend on another part being right: :func:`check_tanh_function` runs
the student's ``TanhFunction`` with reference ``tanh_forward`` and
``tanh_backward`` in place of the student's (computed by torch, not written
here), and :func:`check_tanh_module` runs ``Tanh`` with a reference
``TanhFunction``. So a wrong ``tanh_backward`` costs only its own points.
"""
from __future__ import annotations

import contextlib
import inspect

import torch
from torch import nn
from torch.utils._python_dispatch import _disable_current_modes

from . import assert_tensor_close, plain_tensor, student_code

# What the student's code must not call. "torch.tanh" stands for all of torch's forms:
# Tensor.tanh, Tensor.tanh_, torch.nn.functional.tanh, nn.Tanh.
BUILTIN_TANH = ("torch.tanh", "numpy.tanh", "math.tanh")
TOLERANCE = {torch.float32: dict(rtol=1e-6, atol=1e-6), torch.float64: dict(rtol=1e-10, atol=1e-12)}


def check_tanh_forward_values(tanh_forward, x: torch.Tensor | None = None) -> None:
    """tanh_forward(x) matches torch.tanh(x) (default: 17 points in [-4, 4], float64)."""
    x = torch.linspace(-4, 4, 17, dtype=torch.float64) if x is None else x
    expected = torch.tanh(x)
    with student_code("tanh_forward", forbid=BUILTIN_TANH):
        y = tanh_forward(x)
    assert_tensor_close(y, expected, what="tanh_forward(x)", x=x, **TOLERANCE[x.dtype])


def check_tanh_forward_stable(tanh_forward, values=(-1e4, -1000.0, -100.0, -20.0, 20.0, 100.0, 1000.0, 1e4),
                              dtypes=(torch.float32, torch.float64)) -> None:
    """tanh_forward stays finite and right for huge inputs, in each dtype."""
    for dtype in dtypes:
        x = torch.tensor(values, dtype=dtype)
        expected = torch.tanh(x)
        with student_code("tanh_forward", forbid=BUILTIN_TANH):
            y = tanh_forward(x)
        assert_tensor_close(y, expected, what=f"tanh_forward(x) in {dtype}", x=x, **TOLERANCE[dtype])


def check_tanh_forward_properties(tanh_forward, x: torch.Tensor) -> None:
    """tanh_forward(x) keeps shape, dtype and device, accepts strided input and leaves x unchanged."""
    x_before = x.clone()
    expected = torch.tanh(x)
    with student_code("tanh_forward", forbid=BUILTIN_TANH):
        y = tanh_forward(x)
    y = plain_tensor(y, "tanh_forward")
    assert y.shape == x.shape, f"tanh_forward turned shape {tuple(x.shape)} into {tuple(y.shape)}; keep the shape"
    assert y.dtype == x.dtype, f"tanh_forward returned {y.dtype} for a {x.dtype} input; keep the input's dtype"
    assert y.device == x.device, f"tanh_forward moved a tensor from {x.device} to {y.device}; keep the input's device"
    assert torch.equal(x, x_before), "tanh_forward changed its input; compute a new tensor instead of modifying x"
    assert_tensor_close(y, expected, what=f"tanh_forward(x) for x of shape {tuple(x.shape)}", rtol=1e-5, atol=1e-6)


def check_tanh_backward(tanh_backward, output: torch.Tensor | None = None,
                        grad_output: torch.Tensor | None = None) -> None:
    """tanh_backward(grad_output, output) is the gradient of tanh's input; its arguments stay unchanged."""
    if output is None:
        output = torch.tensor([-0.9, -0.5, 0.0, 0.5, 0.99])
        grad_output = torch.tensor([1.0, 2.0, -1.0, 0.5, 3.0])
    expected = torch.ops.aten.tanh_backward(grad_output, output)
    before = (grad_output.clone(), output.clone())
    with student_code("tanh_backward", forbid=BUILTIN_TANH):
        grad_input = tanh_backward(grad_output, output)
    grad_input = plain_tensor(grad_input, "tanh_backward")
    assert_tensor_close(grad_input, expected, what="tanh_backward(grad_output, output)", **TOLERANCE[output.dtype])
    assert grad_input.dtype == output.dtype, f"tanh_backward returned {grad_input.dtype} for {output.dtype} arguments"
    assert torch.equal(grad_output, before[0]) and torch.equal(output, before[1]), (
        "tanh_backward changed its arguments; compute a new tensor instead")


def check_tanh_backward_against_autograd(tanh_backward, x: torch.Tensor, grad_output: torch.Tensor) -> None:
    """tanh_backward agrees with autograd through torch's own tanh at the inputs x."""
    x = x.detach().requires_grad_()
    output = torch.tanh(x)
    output.backward(grad_output)
    with student_code("tanh_backward", forbid=BUILTIN_TANH):
        grad_input = tanh_backward(grad_output, output.detach())
    assert_tensor_close(grad_input, x.grad, what="tanh_backward(grad_output, tanh(x))", **TOLERANCE[x.dtype])


def _reference_forward(x):
    with _disable_current_modes():  # torch.tanh is refused to the student's code only
        return torch.tanh(x)


def _reference_backward(grad_output, output):
    with _disable_current_modes():
        return torch.ops.aten.tanh_backward(grad_output, output)


@contextlib.contextmanager
def _names_replaced(function, **replacements):
    """The global names of ``function`` (a Python function of the notebook) replaced for a while."""
    namespace = getattr(function, "__globals__", None)
    if namespace is None:
        yield
        return
    saved = {name: namespace.get(name, _MISSING) for name in replacements}
    namespace.update(replacements)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = value


_MISSING = object()


def _method(cls, name):
    """The plain function behind ``cls.name`` (static method or not), or None."""
    try:
        value = inspect.getattr_static(cls, name)
    except AttributeError:
        return None
    return getattr(value, "__func__", value)


def check_tanh_function(TanhFunction, x: torch.Tensor) -> None:
    """TanhFunction.apply computes tanh and passes gradcheck, with reference tanh_forward and tanh_backward
    in place of yours (this tests TanhFunction, not them), and forward saves its output for backward."""
    if not (isinstance(TanhFunction, type) and issubclass(TanhFunction, torch.autograd.Function)):
        raise AssertionError("TanhFunction should be a subclass of torch.autograd.Function")
    forward = _method(TanhFunction, "forward")
    x = x.detach().to(torch.float64).requires_grad_()
    with _names_replaced(forward, tanh_forward=_reference_forward, tanh_backward=_reference_backward):
        with student_code("TanhFunction", forbid=BUILTIN_TANH):
            y = TanhFunction.apply(x)
            gradients_match = torch.autograd.gradcheck(TanhFunction.apply, (x,), raise_exception=False)
    y = plain_tensor(y, "TanhFunction.apply")
    assert_tensor_close(y, torch.tanh(x.detach()), what="TanhFunction.apply(x)", x=x, **TOLERANCE[torch.float64])
    assert gradients_match, (
        "TanhFunction.backward disagrees with finite differences of TanhFunction.forward (torch.autograd.gradcheck) "
        "even with correct tanh_forward and tanh_backward: check what forward saves and what backward returns")
    assert y.grad_fn is not None and any(torch.equal(saved, y.detach()) for saved in y.grad_fn.saved_tensors), (
        "TanhFunction.forward should save its output with ctx.save_for_backward(output); backward needs only that")


class _ReferenceTanhFunction:
    """Stands in for the student's TanhFunction while Tanh is checked: apply(x) is torch's own tanh."""

    @staticmethod
    def apply(x):
        with _disable_current_modes():
            return torch.tanh(x)


def check_tanh_module(Tanh, x: torch.Tensor) -> None:
    """Tanh is a parameter-free nn.Module whose forward returns TanhFunction.apply(x) (checked with a
    reference TanhFunction in place of yours)."""
    with student_code("Tanh", forbid=BUILTIN_TANH):
        layer = Tanh()
    assert isinstance(layer, nn.Module), "Tanh should be a subclass of nn.Module"
    assert not list(layer.parameters()), "Tanh should have no parameters"
    with _names_replaced(_method(Tanh, "forward"), TanhFunction=_ReferenceTanhFunction):
        with student_code("Tanh", forbid=BUILTIN_TANH):
            y = layer(x)
    y = plain_tensor(y, "Tanh()(x)")
    assert_tensor_close(y, torch.tanh(x.detach()), what="Tanh()(x)", x=x, rtol=1e-5, atol=1e-6)
    assert type(y.grad_fn).__name__ == "TanhBackward0", (
        "Tanh.forward should return TanhFunction.apply(x), so that autograd uses your backward")


def check_tanh_module_in_mlp(Tanh, seed: int) -> None:
    """An MLP with Tanh gives the loss and gradients of the same MLP with nn.Tanh (reference TanhFunction)."""
    generator = torch.Generator().manual_seed(seed)
    with student_code("Tanh", forbid=BUILTIN_TANH):
        layer = Tanh()
    reference = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    net = nn.Sequential(nn.Linear(2, 16), layer, nn.Linear(16, 1)).double()
    net.load_state_dict(reference.state_dict())
    inputs = torch.randn(64, 2, generator=generator, dtype=torch.float64)
    targets = torch.sin(2 * inputs[:, :1]) * torch.cos(inputs[:, 1:])
    reference_loss = nn.functional.mse_loss(reference(inputs), targets)
    reference_loss.backward()
    with _names_replaced(_method(Tanh, "forward"), TanhFunction=_ReferenceTanhFunction):
        with student_code("an MLP with your Tanh", forbid=BUILTIN_TANH):
            mlp_loss = nn.functional.mse_loss(net(inputs), targets)
            mlp_loss.backward()
    assert abs(mlp_loss.item() - reference_loss.item()) < 1e-10, "an MLP with your Tanh gives another loss than with nn.Tanh"
    for (name, parameter), reference_parameter in zip(net.named_parameters(), reference.parameters()):
        assert_tensor_close(parameter.grad, reference_parameter.grad,
                            what=f"the gradient of parameter {name} in an MLP with your Tanh", rtol=1e-8, atol=1e-10)
