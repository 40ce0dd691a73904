"""Lecture 04's self-checks: right answers (written two ways) are right, plausible wrong ones are not yet, a
placeholder waits, and no check touches the notebook's random state."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.exercises.activations import (check_collapsed_linear, check_leaky_relu, check_max_network,
                                               check_softmax_with_temperature, check_stable_softplus,
                                               check_temperature_for_top_probability)


def not_implemented(*args):
    raise NotImplementedError


# --- your turn: collapse three Linear layers into one -------------------------------------------------------------

def collapse_right(first, second, third):
    one = nn.Linear(first.in_features, third.out_features)
    with torch.no_grad():
        one.weight.copy_(third.weight @ second.weight @ first.weight)
        one.bias.copy_(third.weight @ (second.weight @ first.bias + second.bias) + third.bias)
    return one


def collapse_by_probing(first, second, third):
    """Another right answer: the bias is the output for x = 0, the weight's columns the responses to unit vectors."""
    stack = nn.Sequential(first, second, third)
    with torch.no_grad():
        bias = stack(torch.zeros(1, first.in_features))[0]
        weight = (stack(torch.eye(first.in_features)) - bias).T
    one = nn.Linear(first.in_features, third.out_features)
    with torch.no_grad():
        one.weight.copy_(weight)
        one.bias.copy_(bias)
    return one


def collapse_forgets_a_bias(first, second, third):
    one = collapse_right(first, second, third)
    with torch.no_grad():
        one.bias.copy_(third.weight @ second.weight @ first.bias + third.bias)
    return one


def collapse_in_place(first, second, third):
    """Right outputs, but it overwrites the first layer."""
    with torch.no_grad():
        bias = third.weight @ (second.weight @ first.bias + second.bias) + third.bias
        weight = third.weight @ second.weight @ first.weight
    first.weight = nn.Parameter(weight)
    first.bias = nn.Parameter(bias)
    first.out_features = weight.shape[0]
    return first


def collapse_weights_only(first, second, third):
    one = nn.Linear(first.in_features, third.out_features, bias=False)
    with torch.no_grad():
        one.weight.copy_(third.weight @ second.weight @ first.weight)
    return one


@pytest.mark.parametrize("answer", [collapse_right, collapse_by_probing])
def test_collapsed_linear_right(answer):
    assert check_collapsed_linear(answer).passed


def test_collapsed_linear_wrong():
    verdict = check_collapsed_linear(collapse_forgets_a_bias)
    assert verdict.status == "wrong" and "bias" in verdict.message
    assert "changed the layers" in check_collapsed_linear(collapse_in_place).message
    assert check_collapsed_linear(lambda a, b, c: nn.Sequential(a, b, c)).status == "wrong"
    assert check_collapsed_linear(collapse_weights_only).status == "wrong"  # no bias at all: raises, reported
    assert check_collapsed_linear(not_implemented).status == "not attempted"


# --- your turn: softmax with temperature -------------------------------------------------------------------------

def softmax_t_row_max(z, T):
    z = z / T
    e = torch.exp(z - z.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def softmax_t_logsumexp(z, T):
    scaled = z / T
    return torch.exp(scaled - torch.logsumexp(scaled, dim=-1, keepdim=True))


def softmax_t_global_max(z, T):
    z = z / T
    e = torch.exp(z - z.max())
    return e / e.sum(dim=-1, keepdim=True)


def softmax_t_naive(z, T):
    return torch.exp(z / T) / torch.exp(z / T).sum(-1, keepdim=True)


def softmax_t_in_place(z, T):
    z -= z.max(dim=-1, keepdim=True).values
    return softmax_t_row_max(z, T)


def softmax_t_multiplies(z, T):
    return softmax_t_row_max(z * T, 1.0)


@pytest.mark.parametrize("answer", [softmax_t_row_max, softmax_t_logsumexp])
def test_softmax_with_temperature_right(answer):
    assert check_softmax_with_temperature(answer).passed


def test_softmax_with_temperature_wrong(capsys):
    global_max = check_softmax_with_temperature(softmax_t_global_max)  # fails on [[1000, 999], [-1000, -999]]
    assert global_max.status == "wrong" and "each row's own" in global_max.message
    naive = check_softmax_with_temperature(softmax_t_naive)
    assert naive.status == "wrong" and "subtract" in naive.message
    assert "changed the logits" in check_softmax_with_temperature(softmax_t_in_place).message
    assert "divisor" in check_softmax_with_temperature(softmax_t_multiplies).message
    assert "torch.softmax" in check_softmax_with_temperature(lambda z, T: torch.softmax(z / T, dim=-1)).message
    assert "softmax" in check_softmax_with_temperature(lambda z, T: F.softmax(z / T, -1)).message
    assert "softmax" in check_softmax_with_temperature(lambda z, T: (z / T).softmax(-1)).message
    assert "softmin" in check_softmax_with_temperature(lambda z, T: F.softmin(-z / T, dim=-1)).message
    assert check_softmax_with_temperature(...).status == "not attempted"
    assert "0.659" not in capsys.readouterr().out  # never prints an expected probability


def test_global_max_really_fails_on_the_far_apart_batch():
    """The case the check relies on: a global maximum leaves the second row as 0 / 0."""
    batch = torch.tensor([[1000.0, 999.0], [-1000.0, -999.0]])
    assert torch.isnan(softmax_t_global_max(batch, 1.0)[1]).all()
    assert torch.allclose(softmax_t_row_max(batch, 1.0), torch.softmax(batch, dim=-1))


# --- exercise 1: LeakyReLU ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", [
    lambda x, slope: torch.where(x > 0, x, slope * x),
    lambda x, slope: torch.maximum(x, slope * x),  # right for 0 <= slope < 1, which the exercise promises
    lambda x, slope: x.clamp(min=0) + slope * x.clamp(max=0),
])
def test_leaky_relu_right(answer):
    assert check_leaky_relu(answer).passed


def test_leaky_relu_wrong():
    assert "slope" in check_leaky_relu(lambda x, slope: torch.where(x > 0, x, 0.01 * x)).message
    assert "identity" in check_leaky_relu(lambda x, slope: F.relu(x) + slope * x).message
    assert check_leaky_relu(lambda x, slope: torch.where(x > 0, x, torch.full_like(x, slope))).status == "wrong"
    assert "in place" in check_leaky_relu(lambda x, slope: x.clamp_(min=0)).message
    assert "leaky_relu" in check_leaky_relu(lambda x, slope: F.leaky_relu(x, slope)).message
    assert "leaky_relu" in check_leaky_relu(lambda x, slope: nn.LeakyReLU(slope)(x)).message
    assert "prelu" in check_leaky_relu(lambda x, slope: F.prelu(x, torch.tensor([slope], dtype=x.dtype))).message
    assert check_leaky_relu(not_implemented).status == "not attempted"


# --- exercise 2: a softplus that never overflows ----------------------------------------------------------------

@pytest.mark.parametrize("answer", [
    lambda x: x.clamp(min=0) + torch.log1p(torch.exp(-x.abs())),
    lambda x: torch.logaddexp(x, torch.zeros_like(x)),
    lambda x: torch.maximum(x, torch.zeros_like(x)) + torch.log(1 + torch.exp(-torch.abs(x))),
])
def test_stable_softplus_right(answer):
    assert check_stable_softplus(answer).passed


def softplus_where(x):
    """Right values, but torch.where's unused branch is inf at x = 1000 and its gradient is nan."""
    return torch.where(x > 0, x + torch.log1p(torch.exp(-x)), torch.log1p(torch.exp(x)))


def test_stable_softplus_wrong():
    overflow = check_stable_softplus(lambda x: torch.log(1 + torch.exp(x)))
    assert overflow.status == "wrong" and "overflows" in overflow.message
    assert "torch.where" in check_stable_softplus(softplus_where).message
    assert check_stable_softplus(lambda x: x.clamp(min=0)).status == "wrong"  # the ReLU is not softplus
    detached = check_stable_softplus(lambda x: x.detach().clamp(min=0) + torch.log1p(torch.exp(-x.detach().abs())))
    assert "autograd graph" in detached.message
    assert "softplus" in check_stable_softplus(lambda x: F.softplus(x)).message
    assert check_stable_softplus(not_implemented).status == "not attempted"


# --- exercise 3: a temperature -----------------------------------------------------------------------------------

def bisected_temperature():
    logits = torch.tensor([2.0, 1.0, 0.1], dtype=torch.float64)
    low, high = 0.01, 1.0
    for _ in range(60):  # the top probability falls as T grows
        middle = (low + high) / 2
        low, high = (middle, high) if torch.softmax(logits / middle, 0)[0] > 0.9 else (low, middle)
    return low


def grid_temperature():
    temperatures = torch.linspace(0.1, 1.0, 9001)
    top = torch.softmax(torch.tensor([2.0, 1.0, 0.1]) / temperatures.unsqueeze(1), dim=1)[:, 0]
    return temperatures[(top - 0.9).abs().argmin()]  # a tensor, not a float


def test_temperature_for_top_probability(capsys):
    assert check_temperature_for_top_probability(bisected_temperature()).passed
    assert check_temperature_for_top_probability(grid_temperature()).passed
    capsys.readouterr()
    too_hot = check_temperature_for_top_probability(1.0)
    assert too_hot.status == "wrong" and "lower" in too_hot.message
    assert check_temperature_for_top_probability(0.5).status == "wrong"  # the table's nearest row: 0.864
    assert check_temperature_for_top_probability(1 / bisected_temperature()).status == "wrong"  # the reciprocal
    assert check_temperature_for_top_probability(-1).status == "wrong"
    assert check_temperature_for_top_probability(...).status == "not attempted"
    assert f"{bisected_temperature():.3f}" not in capsys.readouterr().out.split("Right")[0]


# --- exercise 4: max(x1, x2) with one hidden ReLU layer ----------------------------------------------------------

def hand_set(weight, output_weight, bias=None, output_bias=0.0):
    weight = torch.tensor(weight)
    net = nn.Sequential(nn.Linear(2, len(weight)), nn.ReLU(), nn.Linear(len(weight), 1))
    with torch.no_grad():
        net[0].weight.copy_(weight)
        net[0].bias.copy_(torch.tensor(bias) if bias is not None else torch.zeros(len(weight)))
        net[2].weight.copy_(torch.tensor([output_weight]))
        net[2].bias.fill_(output_bias)
    return net


@pytest.mark.parametrize("net", [
    hand_set([[1.0, -1.0], [0.0, 1.0], [0.0, -1.0]], [1.0, 1.0, -1.0]),  # ReLU(a - b) + ReLU(b) - ReLU(-b)
    hand_set([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]], [0.5, -0.5, 0.5, 0.5]),  # (a+b)/2 + |a-b|/2
    # biases that cancel: ReLU(b + 5) - ReLU(-b - 5) - 5 = b for every b
    hand_set([[1.0, -1.0], [0.0, 1.0], [0.0, -1.0]], [1.0, 1.0, -1.0], bias=[0.0, 5.0, -5.0], output_bias=-5.0),
    hand_set([[1.0, -1.0], [0.0, 1.0], [0.0, -1.0]], [1.0, 1.0, -1.0]).double(),  # float64 weights
], ids=["three units", "four units", "cancelling biases", "float64"])
def test_max_network_right(net):
    assert check_max_network(net).passed


def test_max_network_shifted_by_a_bias_is_not_exact():
    """Is a two-unit net that passes b on as ReLU(b + 100) - 100 (right only for b > -100) rejected?"""
    shifted = hand_set([[1.0, -1.0], [0.0, 1.0]], [1.0, 1.0], bias=[0.0, 100.0], output_bias=-100.0)
    verdict = check_max_network(shifted)
    assert verdict.status == "wrong" and "every input" in verdict.message
    huge_shift = hand_set([[1.0, -1.0], [0.0, 1.0]], [1.0, 1.0], bias=[0.0, 1e6], output_bias=-1e6)
    assert check_max_network(huge_shift).status == "wrong"


def test_max_network_wrong():
    assert check_max_network(hand_set([[1.0, -1.0], [0.0, 1.0]], [1.0, 1.0])).status == "wrong"  # b < 0 is lost
    assert check_max_network(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))).status == "wrong"
    assert check_max_network(hand_set([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0]], [0.5, 0.5, 0.5])).status == "wrong"
    assert check_max_network(nn.Linear(2, 1)).status == "wrong"
    assert check_max_network(...).status == "not attempted"


# --- no check changes the notebook's random numbers --------------------------------------------------------------

@pytest.mark.parametrize("check,answer", [
    (check_collapsed_linear, collapse_right), (check_softmax_with_temperature, softmax_t_row_max),
    (check_leaky_relu, lambda x, slope: torch.where(x > 0, x, slope * x)),
    (check_stable_softplus, lambda x: torch.logaddexp(x, torch.zeros_like(x))),
    (check_temperature_for_top_probability, 0.5),
    (check_max_network, hand_set([[1.0, -1.0], [0.0, 1.0], [0.0, -1.0]], [1.0, 1.0, -1.0])),
], ids=lambda value: getattr(value, "__name__", None))
def test_checks_leave_the_global_random_state_alone(check, answer):
    state = torch.get_rng_state()
    check(answer)
    assert torch.equal(torch.get_rng_state(), state)
