"""The checks of homework 1 (tanh by hand): one per graded behaviour, each a probe and a judgement.

Each check fails with a message the student can act on. Checks of one part
never depend on another part being right: :func:`check_tanh_function` runs
the student's ``TanhFunction`` with reference ``tanh_forward`` and
``tanh_backward`` in place of the student's, and :func:`check_tanh_module`
runs ``Tanh`` with a reference forward and backward in the student's
``TanhFunction`` (counting that autograd calls them: that is what "built on
TanhFunction" means, whatever name or alias the student's code uses). So a
wrong ``tanh_backward`` costs only its own points. What is expected is
computed by torch (``torch.tanh``, ``aten.tanh_backward``, autograd), in the
judgement, which runs outside the student's kernel while grading.
"""
from __future__ import annotations

import contextlib
import inspect
import math

import torch
from torch import nn
from torch.utils._python_dispatch import _disable_current_modes

from . import assert_tensor_close, check, expect, plain_tensor, student_code

# What the student's code must not call. "torch.tanh" stands for all of torch's forms:
# Tensor.tanh, Tensor.tanh_, torch.nn.functional.tanh, nn.Tanh.
BUILTIN_TANH = ("torch.tanh", "numpy.tanh", "math.tanh")
TOLERANCE = {torch.float32: dict(rtol=1e-6, atol=1e-6), torch.float64: dict(rtol=1e-10, atol=1e-12)}
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _signed(magnitudes: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    signs = torch.randint(0, 2, magnitudes.shape, generator=generator) * 2 - 1
    return magnitudes * signs.to(magnitudes.dtype)


def _forward(tanh_forward, x: torch.Tensor):
    with student_code("tanh_forward", forbid=BUILTIN_TANH):
        return tanh_forward(x)


# -- tanh_forward -------------------------------------------------------------------------


def _values_inputs(generator, kind="grid", size=1000, scale=3.0):
    """``grid``: 17 points in [-4, 4]; ``normal``: ``size`` draws of N(0, scale²); ``tiny``: signed
    magnitudes from 1e-300 to 1e-3, zeros and the smallest subnormal (all float64)."""
    f64 = torch.float64
    if kind == "grid":
        x = torch.linspace(-4, 4, 17, dtype=f64)
    elif kind == "normal":
        x = scale * torch.randn(size, generator=generator, dtype=f64)
    elif kind == "tiny":
        magnitudes = 10 ** torch.empty(size, dtype=f64).uniform_(-300, -3, generator=generator)
        x = torch.cat([_signed(magnitudes, generator), torch.tensor([0.0, -0.0, 5e-324, -5e-324], dtype=f64)])
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return {"x": x}


def _judge_values(inputs, results, **params):
    x = inputs["x"]
    assert_tensor_close(results["y"], torch.tanh(x), what="tanh_forward(x)", x=x, **TOLERANCE[x.dtype])


@check("tanh_forward", inputs=_values_inputs, judge=_judge_values, forbid=BUILTIN_TANH)
def check_tanh_forward_values(tanh_forward, inputs, **params):
    """tanh_forward(x) matches torch.tanh(x) in float64 (see _values_inputs for the kinds of x)."""
    return {"y": _forward(tanh_forward, inputs["x"])}


def _stable_inputs(generator, kind="visible", dtypes=("float32", "float64")):
    """``visible``: |x| from 20 to 1e4; ``extreme``: around the points where exp(x) and exp(2x) overflow,
    huge magnitudes up to the dtype's largest finite value, and ±inf; one tensor per dtype."""
    inputs = {}
    for name in dtypes:
        dtype = DTYPES[name]
        if kind == "visible":
            x = torch.tensor([-1e4, -1000.0, -100.0, -20.0, 20.0, 100.0, 1000.0, 1e4], dtype=dtype)
        elif kind == "extreme":
            largest = torch.finfo(dtype).max
            overflow = math.log(largest)  # exp(x) is inf beyond this (88.7 in float32, 709.8 in float64)
            near = torch.tensor([overflow / 2, overflow] * 4, dtype=torch.float64)
            near = near + torch.empty(8, dtype=torch.float64).uniform_(-1.5, 1.5, generator=generator)
            huge = 10 ** torch.empty(8, dtype=torch.float64).uniform_(1.3, math.log10(largest), generator=generator)
            magnitudes = torch.cat([near, huge.clamp(max=largest), torch.tensor([largest, math.inf])])
            x = torch.cat([_signed(magnitudes, generator), torch.tensor([-math.inf, math.inf])]).to(dtype)
        else:
            raise ValueError(f"unknown kind {kind!r}")
        inputs[f"x_{name}"] = x
    return inputs


def _judge_stable(inputs, results, **params):
    for key, x in inputs.items():
        assert_tensor_close(results[key.replace("x_", "y_")], torch.tanh(x), what=f"tanh_forward(x) in {x.dtype}",
                            x=x, **TOLERANCE[x.dtype])


@check("tanh_forward", inputs=_stable_inputs, judge=_judge_stable, forbid=BUILTIN_TANH)
def check_tanh_forward_stable(tanh_forward, inputs, **params):
    """tanh_forward stays finite and right for huge inputs, in each dtype."""
    return {key.replace("x_", "y_"): _forward(tanh_forward, x) for key, x in inputs.items()}


LAYOUTS = {"contiguous": lambda x: x, "transposed": lambda x: x.t(), "strided": lambda x: x[..., ::2],
           "permuted": lambda x: x.permute(2, 0, 1)}


def _properties_inputs(generator, shape=(2, 3, 4), dtype="float32", layout="contiguous"):
    return {"x": torch.randn(tuple(shape), generator=generator, dtype=DTYPES[dtype])}


def _judge_properties(inputs, results, layout="contiguous", **params):
    x = LAYOUTS[layout](inputs["x"])
    y = plain_tensor(results["y"], "tanh_forward")
    expect(y.shape == x.shape, f"tanh_forward turned shape {tuple(x.shape)} into {tuple(y.shape)}; keep the shape")
    expect(y.dtype == x.dtype, f"tanh_forward returned {y.dtype} for a {x.dtype} input; keep the input's dtype")
    expect(torch.equal(results["x_after"], x), "tanh_forward changed its input; compute a new tensor instead of "
                                               "modifying x")
    assert_tensor_close(y, torch.tanh(x), what=f"tanh_forward(x) for x of shape {tuple(x.shape)}", rtol=1e-5,
                        atol=1e-6)


@check("tanh_forward", inputs=_properties_inputs, judge=_judge_properties, forbid=BUILTIN_TANH)
def check_tanh_forward_properties(tanh_forward, inputs, layout="contiguous", **params):
    """tanh_forward(x) keeps shape, dtype and device, accepts strided input and leaves x unchanged."""
    x = LAYOUTS[layout](inputs["x"])
    return {"y": _forward(tanh_forward, x), "x_after": x}


# -- tanh_backward ------------------------------------------------------------------------


def _backward_inputs(generator, kind="visible", shape=(6,), dtype="float64"):
    """(output, grad_output): ``visible``: five fixed pairs (float32); ``random``: outputs uniform in
    (-1, 1); ``saturated``: outputs of exactly ±1 and 0 among random ones; ``autograd``: outputs
    torch.tanh(x) of x ~ N(0, 9)."""
    dtype = DTYPES[dtype]
    if kind == "visible":
        return {"output": torch.tensor([-0.9, -0.5, 0.0, 0.5, 0.99]),
                "grad_output": torch.tensor([1.0, 2.0, -1.0, 0.5, 3.0])}
    grad_output = torch.randn(tuple(shape), generator=generator, dtype=dtype)
    if kind == "random":
        output = torch.rand(tuple(shape), generator=generator, dtype=dtype) * 2 - 1
    elif kind == "saturated":
        output = torch.rand(tuple(shape), generator=generator, dtype=dtype) * 2 - 1
        exact = torch.tensor([-1.0, 1.0, 0.0], dtype=dtype)[torch.randint(0, 3, tuple(shape), generator=generator)]
        output = torch.where(torch.rand(tuple(shape), generator=generator) < 0.5, exact, output)
        grad_output = 5 * grad_output
    elif kind == "autograd":
        output = torch.tanh(3 * torch.randn(tuple(shape), generator=generator, dtype=dtype))
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return {"output": output, "grad_output": grad_output}


def _judge_backward(inputs, results, **params):
    output, grad_output = inputs["output"], inputs["grad_output"]
    grad_input = plain_tensor(results["grad_input"], "tanh_backward")
    assert_tensor_close(grad_input, torch.ops.aten.tanh_backward(grad_output, output),
                        what="tanh_backward(grad_output, output)", **TOLERANCE[output.dtype])
    expect(grad_input.dtype == output.dtype, f"tanh_backward returned {grad_input.dtype} for {output.dtype} arguments")
    expect(torch.equal(results["grad_output_after"], grad_output) and torch.equal(results["output_after"], output),
           "tanh_backward changed its arguments; compute a new tensor instead")


@check("tanh_backward", inputs=_backward_inputs, judge=_judge_backward, forbid=BUILTIN_TANH)
def check_tanh_backward(tanh_backward, inputs, **params):
    """tanh_backward(grad_output, output) is the gradient of tanh's input; its arguments stay unchanged."""
    grad_output, output = inputs["grad_output"], inputs["output"]
    with student_code("tanh_backward", forbid=BUILTIN_TANH):
        grad_input = tanh_backward(grad_output, output)
    return {"grad_input": grad_input, "grad_output_after": grad_output, "output_after": output}


# -- TanhFunction and Tanh ----------------------------------------------------------------


def _reference_forward(x):
    with _disable_current_modes():  # torch.tanh is refused to the student's code only
        return torch.tanh(x)


def _reference_backward(grad_output, output):
    with _disable_current_modes():
        return torch.ops.aten.tanh_backward(grad_output, output)


def _method(cls, name):
    """The plain function behind ``cls.name`` (static method or not), or None."""
    try:
        value = inspect.getattr_static(cls, name)
    except AttributeError:
        return None
    return getattr(value, "__func__", value)


@contextlib.contextmanager
def _names_replaced(functions, **replacements):
    """The global names of ``functions`` (Python functions of the notebook) replaced for a while."""
    namespaces = {id(ns): ns for ns in (getattr(f, "__globals__", None) for f in functions) if ns is not None}
    missing = object()
    saved = [(ns, name, ns.get(name, missing)) for ns in namespaces.values() for name in replacements]
    for ns in namespaces.values():
        ns.update(replacements)
    try:
        yield
    finally:
        for ns, name, value in saved:
            if value is missing:
                ns.pop(name, None)
            else:
                ns[name] = value


def _is_function_class(value) -> bool:
    return isinstance(value, type) and issubclass(value, torch.autograd.Function)


def _function_inputs(generator, kind="grid"):
    """x (float64) and a gradient for it: ``grid``: 7 points in [-3, 3]; ``normal``: 3×4 of N(0, 1);
    ``transposed``: a transposed 5×3; ``extreme``: magnitudes from 1e-8 to 30."""
    f64 = torch.float64
    if kind == "grid":
        x = torch.linspace(-3, 3, 7, dtype=f64)
    elif kind == "normal":
        x = torch.randn(3, 4, generator=generator, dtype=f64)
    elif kind == "transposed":
        x = torch.randn(5, 3, generator=generator, dtype=f64)
    elif kind == "extreme":
        x = _signed(10 ** torch.empty(8, dtype=f64).uniform_(-8, math.log10(30), generator=generator), generator)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    view = x.t() if kind == "transposed" else x
    return {"x": x, "grad_output": torch.randn(tuple(view.shape), generator=generator, dtype=f64)}


def _judge_function(inputs, results, kind="grid", **params):
    expect(results["is_function"], "TanhFunction should be a subclass of torch.autograd.Function")
    x = inputs["x"].t() if kind == "transposed" else inputs["x"]
    y = plain_tensor(results["y"], "TanhFunction.apply")
    assert_tensor_close(y, torch.tanh(x), what="TanhFunction.apply(x)", x=x, **TOLERANCE[torch.float64])
    grad = results["grad"]
    expect(grad is not None, "TanhFunction.apply(x).backward(g) left x.grad empty: backward should return the "
                             "gradient with respect to x")
    assert_tensor_close(grad, torch.ops.aten.tanh_backward(inputs["grad_output"], torch.tanh(x)),
                        what="the gradient of TanhFunction.apply(x) (with correct tanh_forward and tanh_backward)",
                        x=x, **TOLERANCE[torch.float64])
    expect(any(type(saved) is torch.Tensor and saved.shape == y.shape and torch.equal(saved, y)
               for saved in results["saved"]),
           "TanhFunction.forward should save its output with ctx.save_for_backward(output); backward needs only that")


@check("TanhFunction", inputs=_function_inputs, judge=_judge_function, forbid=BUILTIN_TANH)
def check_tanh_function(TanhFunction, inputs, kind="grid", **params):
    """TanhFunction.apply computes tanh and its gradient, with reference tanh_forward and tanh_backward in
    place of yours (this tests TanhFunction, not them), and forward saves its output for backward."""
    if not _is_function_class(TanhFunction):
        return {"is_function": False}
    x = (inputs["x"].t() if kind == "transposed" else inputs["x"]).requires_grad_()
    methods = [_method(TanhFunction, name) for name in ("forward", "backward", "setup_context")]
    with _names_replaced([m for m in methods if m is not None], tanh_forward=_reference_forward,
                         tanh_backward=_reference_backward):
        with student_code("TanhFunction", forbid=BUILTIN_TANH):
            y = TanhFunction.apply(x)
            saved = list(getattr(getattr(y, "grad_fn", None), "saved_tensors", None) or ())[:4]
            if type(y) is torch.Tensor and y.requires_grad:
                y.backward(inputs["grad_output"])
    return {"is_function": True, "y": y.detach() if type(y) is torch.Tensor else y, "grad": x.grad,
            "saved": [value.detach() for value in saved if type(value) is torch.Tensor]}


class _ReferenceParts:
    """A reference forward and backward put into the student's TanhFunction, counting their calls."""

    def __init__(self):
        self.calls = {"forward": 0, "backward": 0}

    def forward(self, ctx, x):
        self.calls["forward"] += 1
        result = _reference_forward(x)
        ctx.save_for_backward(result)
        return result

    def backward(self, ctx, grad_output):
        self.calls["backward"] += 1
        (result,) = ctx.saved_tensors
        return _reference_backward(grad_output, result)


@contextlib.contextmanager
def _reference_function(TanhFunction, parts: _ReferenceParts):
    """The student's ``TanhFunction`` class (every alias of it) runs the reference parts for a while."""
    if not _is_function_class(TanhFunction):
        yield
        return
    own = {name: vars(TanhFunction).get(name) for name in ("forward", "backward", "setup_context", "vjp")}
    TanhFunction.forward = staticmethod(parts.forward)
    TanhFunction.backward = staticmethod(parts.backward)
    for name in ("setup_context", "vjp"):  # the classic style, whatever the student's class used
        if own[name] is not None:
            delattr(TanhFunction, name)
    try:
        yield
    finally:
        for name, value in own.items():
            if value is not None:
                setattr(TanhFunction, name, value)
            elif name in vars(TanhFunction):
                delattr(TanhFunction, name)


def _module_inputs(generator, kind="layer", shape=(4, 3), dtype="float32"):
    """``layer``: x and a gradient for Tanh()(x); ``mlp``: a 2-16-1 MLP's weights, 64 inputs, targets."""
    if kind == "layer":
        dtype = DTYPES[dtype]
        return {"x": torch.randn(tuple(shape), generator=generator, dtype=dtype),
                "grad_output": torch.randn(tuple(shape), generator=generator, dtype=dtype)}
    if kind == "mlp":
        f64 = torch.float64
        inputs = torch.randn(64, 2, generator=generator, dtype=f64)
        return {"inputs": inputs, "targets": torch.sin(2 * inputs[:, :1]) * torch.cos(inputs[:, 1:]),
                "w1": torch.empty(16, 2, dtype=f64).uniform_(-0.7, 0.7, generator=generator),
                "b1": torch.empty(16, dtype=f64).uniform_(-0.7, 0.7, generator=generator),
                "w2": torch.empty(1, 16, dtype=f64).uniform_(-0.25, 0.25, generator=generator),
                "b2": torch.empty(1, dtype=f64).uniform_(-0.25, 0.25, generator=generator)}
    raise ValueError(f"unknown kind {kind!r}")


WEIGHTS = ("w1", "b1", "w2", "b2")


def _mlp_loss(inputs, weights, activation):
    hidden = activation(inputs["inputs"] @ weights["w1"].t() + weights["b1"])
    return nn.functional.mse_loss(hidden @ weights["w2"].t() + weights["b2"], inputs["targets"])


def _judge_module(inputs, results, kind="layer", **params):
    expect(results["is_module"], "Tanh should be a subclass of nn.Module")
    expect(results["parameters"] == 0, f"Tanh should have no parameters; it has {results['parameters']}")
    expect(results["forward_calls"] >= 1,
           "Tanh()(x) never ran TanhFunction's forward: Tanh.forward should return TanhFunction.apply(x), so that "
           "autograd uses your backward")
    if kind == "layer":
        x = inputs["x"]
        assert_tensor_close(results["y"], torch.tanh(x), what="Tanh()(x)", x=x, rtol=1e-5, atol=1e-6)
    expect(results["backward_calls"] >= 1,
           "backpropagating through Tanh()(x) never ran TanhFunction's backward: return TanhFunction.apply(x) "
           "itself (no .detach(), no copy), so that autograd uses your backward")
    if kind == "layer":
        assert_tensor_close(results["grad"], torch.ops.aten.tanh_backward(inputs["grad_output"], torch.tanh(x)),
                            what="the gradient of Tanh()(x)", x=x, rtol=1e-5, atol=1e-6)
        return
    weights = {name: inputs[name].clone().requires_grad_() for name in WEIGHTS}
    reference_loss = _mlp_loss(inputs, weights, torch.tanh)
    reference_loss.backward()
    got = plain_tensor(results["loss"], "an MLP with your Tanh")
    expect(got.numel() == 1 and abs(float(got) - float(reference_loss.detach())) < 1e-10,
           f"an MLP with your Tanh gives the loss {got.flatten()[:1].tolist()}, not that of the same MLP with nn.Tanh",
           "an MLP with your Tanh gives another loss than the same MLP with nn.Tanh")
    for name in WEIGHTS:
        assert_tensor_close(results["grads"][name], weights[name].grad,
                            what=f"the gradient of parameter {name} in an MLP with your Tanh", rtol=1e-8, atol=1e-10)


@check("Tanh TanhFunction", inputs=_module_inputs, judge=_judge_module, forbid=BUILTIN_TANH)
def check_tanh_module(Tanh, TanhFunction, inputs, kind="layer", **params):
    """Tanh is a parameter-free nn.Module that runs TanhFunction (checked with a reference forward and
    backward inside your TanhFunction: autograd must call them)."""
    parts = _ReferenceParts()
    with student_code("Tanh", forbid=BUILTIN_TANH):
        layer = Tanh()
    results = {"is_module": issubclass(type(layer), nn.Module)}  # type(): a __class__ property cannot answer
    if not results["is_module"]:
        return results
    results["parameters"] = len(list(nn.Module.parameters(layer)))
    with _reference_function(TanhFunction, parts), student_code("Tanh", forbid=BUILTIN_TANH):
        if kind == "layer":
            x = inputs["x"].requires_grad_()
            y = layer(x)
            if type(y) is torch.Tensor and y.requires_grad:
                y.backward(inputs["grad_output"])
            results.update(y=y.detach() if type(y) is torch.Tensor else y, grad=x.grad)
        else:
            weights = {name: inputs[name].requires_grad_() for name in WEIGHTS}
            mlp_loss = _mlp_loss(inputs, weights, layer)
            if type(mlp_loss) is torch.Tensor and mlp_loss.requires_grad:
                mlp_loss.backward()
            results.update(loss=mlp_loss.detach() if type(mlp_loss) is torch.Tensor else mlp_loss,
                           grads={name: weights[name].grad for name in WEIGHTS})
    results.update({f"{name}_calls": count for name, count in parts.calls.items()})
    return results

