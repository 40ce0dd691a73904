"""Self-checks for lecture 04 (activation functions).

Each check takes the student's answer (a function, a number or a model),
tries it on inputs of its own and says right or not yet, and why, without
printing the expected answer.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..selfcheck import Verdict, right, self_check, wrong
from .calls import CallsTo


def _as_float(answer, what: str) -> float:
    if isinstance(answer, torch.Tensor):
        if answer.numel() != 1:
            raise TypeError(f"{what} should be one number, got a tensor of shape {tuple(answer.shape)}")
        answer = answer.item()
    return float(answer)


@self_check
def check_collapsed_linear(collapse) -> Verdict:
    """Your turn (section 1): ``collapse(first, second, third)`` is one ``nn.Linear`` equal to the three in a row."""
    with torch.random.fork_rng(devices=[]):  # leave the notebook's random state as it was
        generator = torch.Generator().manual_seed(0)
        for sizes in ((3, 5, 4, 2), (2, 1, 6, 3)):
            torch.manual_seed(len(sizes) + sizes[1])
            layers = [nn.Linear(n_in, n_out) for n_in, n_out in zip(sizes, sizes[1:])]
            snapshot = [(layer.weight.detach().clone(), layer.bias.detach().clone()) for layer in layers]
            one = collapse(*layers)
            for layer, (weight, bias) in zip(layers, snapshot):
                if not (torch.equal(layer.weight, weight) and torch.equal(layer.bias, bias)):
                    return wrong("your function changed the layers it was given; build a new nn.Linear instead.")
            if not isinstance(one, nn.Linear):
                return wrong(f"return an nn.Linear, not a {type(one).__name__}.")
            if (one.in_features, one.out_features) != (sizes[0], sizes[-1]):
                return wrong(f"three layers {sizes[0]} -> {sizes[1]} -> {sizes[2]} -> {sizes[3]} collapse into "
                             f"nn.Linear({sizes[0]}, {sizes[-1]}); yours is nn.Linear({one.in_features}, {one.out_features}).")
            x = torch.randn(7, sizes[0], generator=generator)
            with torch.no_grad():
                expected, got = nn.Sequential(*layers)(x), one(x)
            if not torch.allclose(got, expected, atol=1e-5):
                weight_right = torch.allclose((x - x[:1]) @ one.weight.T, expected - expected[:1], atol=1e-5)
                part = "the bias" if weight_right else "the weight (mind the order of the products)"
                return wrong(f"the outputs differ from the three layers in a row; {part} is off.")
    return right("one nn.Linear does the work of three: a linear stack adds no expressive power.")


def _softmax_cases():
    """(logits, T) pairs: one row, batches of rows (2-D and 3-D), float32 and float64, small and huge logits."""
    generator = torch.Generator().manual_seed(0)
    return [
        (torch.tensor([2.0, 1.0, 0.1]), 1.0),
        (torch.tensor([2.0, 1.0, 0.1]), 2.0),
        (torch.tensor([2.0, 1.0, 0.1]), 0.5),
        (torch.randn(4, 5, generator=generator), 3.0),
        (torch.randn(2, 3, 4, generator=generator, dtype=torch.float64), 0.7),
        (torch.tensor([1000.0, 999.0, 998.0]), 1.0),
        (torch.tensor([-1000.0, -999.0, -998.0]), 0.1),
        (torch.tensor([[1000.0, 999.0], [-1000.0, -999.0]]), 1.0),  # rows far apart: each needs its own maximum
        (500 * torch.randn(3, 6, generator=generator), 2.0),
    ]


@self_check
def check_softmax_with_temperature(softmax_t) -> Verdict:
    """Your turn (section 4): ``softmax_t(z, T)`` is softmax(z / T) over the last dimension, without overflow.

    Tried on single rows and on batches (2-D and 3-D, float32 and float64), with
    logits up to ±1000 and rows far apart; calling a softmax of torch is not allowed.
    """
    for z, T in _softmax_cases():
        before = z.clone()
        with CallsTo("softmax", "softmin") as spy:
            p = softmax_t(z, T)
        if spy.called:
            return wrong(f"your function calls {spy.called[0]}; compute the softmax yourself from torch.exp and a sum.")
        if not torch.equal(z, before):
            return wrong("your function changed the logits it was given; compute on a copy (z - m, not z -= m).")
        if not isinstance(p, torch.Tensor) or p.shape != z.shape:
            return wrong(f"for logits of shape {tuple(z.shape)} return probabilities of the same shape.")
        if not torch.isfinite(p).all():
            if z.dim() > 1:
                return wrong(f"for the batch {z.tolist()} (T = {T}) you got nan or inf: a row whose logits are far "
                             "below another row's maximum underflows; subtract each row's own largest logit.")
            return wrong(f"for logits {z.tolist()} and T = {T} you got nan or inf: subtract the largest logit first.")
        p = p.to(z.dtype)
        # float32 rounding of logits near 1000 moves a probability by up to ~1e-4 (z - logsumexp(z) loses digits)
        if not torch.allclose(p.sum(dim=-1), torch.ones(p.shape[:-1], dtype=z.dtype), atol=1e-4):
            return wrong("the probabilities must sum to 1 along the last dimension (each row, for a batch).")
        if not torch.allclose(p, torch.softmax(z / T, dim=-1), rtol=1e-3, atol=1e-4):
            return wrong(f"for logits of shape {tuple(z.shape)} and T = {T} the probabilities are not "
                         "softmax(z / T) row by row; is T used (and used as a divisor)?")
    return right("softmax(z / T), stable for large logits, row by row for batches of any shape.")


def _leaky_relu_inputs():
    generator = torch.Generator().manual_seed(0)
    return [
        torch.linspace(-3, 3, 61),  # holds exactly 0
        100 * torch.randn(3, 4, 5, generator=generator),
        torch.randn(7, 2, generator=generator, dtype=torch.float64),
    ]


@self_check
def check_leaky_relu(leaky_relu) -> Verdict:
    """Exercise 1: ``leaky_relu(x, slope)`` is x for x > 0 and slope·x otherwise (0 <= slope < 1), not F.leaky_relu."""
    for x in _leaky_relu_inputs():
        for slope in (0.01, 0.2, 0.5, 0.0):
            before = x.clone()
            with CallsTo("leaky_relu", "rrelu", "prelu") as spy:
                y = leaky_relu(x, slope)
            if spy.called:
                return wrong(f"your function calls {spy.called[0]}; write it from tensor operations "
                             "(a comparison, torch.where, clamp, ...).")
            if not torch.equal(x, before):
                return wrong("your function changed its input in place; return a new tensor.")
            if not isinstance(y, torch.Tensor) or y.shape != x.shape:
                return wrong(f"for x of shape {tuple(x.shape)} return a tensor of the same shape.")
            y, expected = y.detach().double(), F.leaky_relu(x, slope).double()
            positive = x > 0
            if not torch.allclose(y[positive], expected[positive], rtol=1e-5, atol=1e-6):
                return wrong("for positive inputs LeakyReLU is the identity.")
            if not torch.allclose(y, expected, rtol=1e-5, atol=1e-6):
                return wrong(f"with slope = {slope} the negative side is off: use the slope you are given.")
    return right("x for x > 0 and slope·x otherwise, for four slopes and inputs of three shapes.")


def _softplus_inputs():
    generator = torch.Generator().manual_seed(0)
    ends = [-1000.0, -50.0, -3.0, 0.0, 2.0, 50.0, 1000.0]
    return [
        torch.tensor(ends),
        30 * torch.randn(5, 7, generator=generator),
        torch.tensor(ends + [-800.0, 800.0], dtype=torch.float64),
    ]


@self_check
def check_stable_softplus(softplus) -> Verdict:
    """Exercise 2: ``softplus(x) = log(1 + e^x)`` without overflow, with a usable gradient, not F.softplus."""
    for x in _softplus_inputs():
        x = x.clone().requires_grad_(True)
        with CallsTo("softplus") as spy:
            y = softplus(x)
        if spy.called:
            return wrong(f"your function calls {spy.called[0]}; build it from torch.exp, torch.log1p and friends.")
        if not isinstance(y, torch.Tensor) or y.shape != x.shape:
            return wrong(f"for x of shape {tuple(x.shape)} return a tensor of the same shape.")
        if not torch.isfinite(y).all():
            bad = x[~torch.isfinite(y)].tolist()
            return wrong(f"softplus({bad[0]:g}) in {x.dtype} is not finite: e^x overflows; rewrite log(1 + e^x) for large x.")
        if not torch.allclose(y.detach().to(x.dtype), F.softplus(x.detach()), rtol=1e-5, atol=1e-6):
            return wrong(f"the values differ from log(1 + e^x) somewhere (inputs of shape {tuple(x.shape)}, {x.dtype}).")
        if not y.requires_grad:
            return wrong("the result is not connected to x in the autograd graph; use torch operations only.")
        (grad,) = torch.autograd.grad(y.sum(), x)
        smooth = x.detach() != 0  # at exactly 0 a max(x, 0) form may pick either one-sided slope
        if not torch.isfinite(grad).all():
            where = x.detach()[~torch.isfinite(grad)][0].item()
            return wrong(f"the values are right but the gradient at x = {where:g} is nan or inf. torch.where "
                         "differentiates both branches: an inf in the branch it does not pick still poisons the gradient.")
        if not torch.allclose(grad[smooth].to(x.dtype), torch.sigmoid(x.detach())[smooth], atol=1e-5):
            return wrong("the values are right but the gradient is not σ(x) everywhere.")
    return right("finite for every input, equal to log(1 + e^x) in float32 and float64, and its gradient is σ(x).")


TEMPERATURE_LOGITS = torch.tensor([2.0, 1.0, 0.1], dtype=torch.float64)


@self_check
def check_temperature_for_top_probability(temperature) -> Verdict:
    """Exercise 3: the temperature T at which softmax([2, 1, 0.1] / T) gives the top class probability 0.9."""
    T = _as_float(temperature, "the temperature")
    if not T > 0:
        return wrong("a temperature is a positive number.")
    top = torch.softmax(TEMPERATURE_LOGITS / T, dim=0)[0].item()
    if abs(top - 0.9) > 1e-3:
        direction = "lower" if top < 0.9 else "higher"
        return wrong(f"at T = {T:g} the top probability is {top:.4f}; a {direction} temperature is needed.")
    return right(f"at T = {T:g} the top probability is {top:.4f}.")


@self_check
def check_max_network(net) -> Verdict:
    """Exercise 4: ``nn.Sequential(Linear(2, h), ReLU(), Linear(h, 1))`` with hand-set weights computing max(x1, x2)."""
    if not (isinstance(net, nn.Sequential) and len(net) == 3 and isinstance(net[0], nn.Linear)
            and isinstance(net[1], nn.ReLU) and isinstance(net[2], nn.Linear)):
        return wrong("build nn.Sequential(nn.Linear(2, h), nn.ReLU(), nn.Linear(h, 1)): one hidden ReLU layer.")
    if net[0].in_features != 2 or net[2].out_features != 1:
        return wrong("the network takes 2 inputs and returns 1 output.")
    near = torch.cat([torch.randn(500, 2, generator=torch.Generator().manual_seed(1)) * 10,
                      torch.tensor([[0.0, 0.0], [-3.0, -5.0], [2.0, 2.0], [-1.0, 4.0]])])
    # "exactly for every input": also far beyond any offset the biases could add (a bias that shifts a negative
    # input positive works only down to minus that bias), in float64 so that the far points lose no digits
    double = copy.deepcopy(net).double()
    largest_bias = max([layer.bias.abs().max().item() for layer in (net[0], net[2]) if layer.bias is not None] + [0.0])
    far = near.double() * 1e3 * (1 + largest_bias)
    for x in (near.double(), far):
        with torch.no_grad():
            out = double(x).reshape(-1)
        expected = x.max(dim=1).values
        off = (out - expected).abs() / (1 + expected.abs())
        if not off.max() < 1e-5:
            i = off.argmax().item()
            far_only = " It is right near 0 but not far from it: max must hold for every input." if x is far else ""
            return wrong(f"for x = {x[i].tolist()} your network returns {out[i].item():.6g}, "
                         f"which is not the larger of the two.{far_only}")
    return right(f"max(x1, x2) exactly, with {net[0].out_features} hidden units.")
