"""Lecture 04's self-checks: each says right for a right answer, not yet for a wrong one, and waits for a placeholder."""
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.exercises.activations import (check_collapsed_linear, check_leaky_relu, check_max_network,
                                               check_softmax_with_temperature, check_stable_softplus,
                                               check_temperature_for_top_probability)


def not_implemented(*args):
    raise NotImplementedError


def collapse_right(first, second, third):
    one = nn.Linear(first.in_features, third.out_features)
    with torch.no_grad():
        one.weight.copy_(third.weight @ second.weight @ first.weight)
        one.bias.copy_(third.weight @ (second.weight @ first.bias + second.bias) + third.bias)
    return one


def collapse_forgets_a_bias(first, second, third):
    one = collapse_right(first, second, third)
    with torch.no_grad():
        one.bias.copy_(third.weight @ second.weight @ first.bias + third.bias)
    return one


def test_collapsed_linear():
    assert check_collapsed_linear(collapse_right).passed
    verdict = check_collapsed_linear(collapse_forgets_a_bias)
    assert verdict.status == "wrong" and "bias" in verdict.message
    assert check_collapsed_linear(lambda a, b, c: nn.Sequential(a, b, c)).status == "wrong"
    assert check_collapsed_linear(not_implemented).status == "not attempted"


def test_collapsed_linear_leaves_the_global_random_state_alone():
    state = torch.get_rng_state()
    check_collapsed_linear(collapse_right)
    assert torch.equal(torch.get_rng_state(), state)


def stable_softmax_t(z, T):
    z = z / T
    e = torch.exp(z - z.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def test_softmax_with_temperature(capsys):
    assert check_softmax_with_temperature(stable_softmax_t).passed
    naive = check_softmax_with_temperature(lambda z, T: torch.exp(z / T) / torch.exp(z / T).sum(-1, keepdim=True))
    assert naive.status == "wrong" and "subtract" in naive.message
    assert check_softmax_with_temperature(lambda z, T: torch.softmax(z, dim=-1)).status == "wrong"
    assert check_softmax_with_temperature(...).status == "not attempted"
    assert "0.659" not in capsys.readouterr().out  # never prints an expected probability


def test_leaky_relu():
    assert check_leaky_relu(lambda x, slope: torch.where(x > 0, x, slope * x)).passed
    assert check_leaky_relu(lambda x, slope: torch.where(x > 0, x, 0.01 * x)).status == "wrong"
    assert check_leaky_relu(lambda x, slope: x.clamp_(min=0)).status == "wrong"  # in place
    assert check_leaky_relu(not_implemented).status == "not attempted"


def test_stable_softplus():
    assert check_stable_softplus(lambda x: x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))).passed
    overflow = check_stable_softplus(lambda x: torch.log(1 + torch.exp(x)))
    assert overflow.status == "wrong" and "overflows" in overflow.message
    assert check_stable_softplus(lambda x: F.softplus(x).detach()).status == "wrong"  # no gradient
    assert check_stable_softplus(not_implemented).status == "not attempted"


def test_temperature_for_top_probability(capsys):
    logits = torch.tensor([2.0, 1.0, 0.1], dtype=torch.float64)
    low, high = 0.01, 1.0
    for _ in range(60):  # bisection: the top probability falls as T grows
        middle = (low + high) / 2
        low, high = (middle, high) if torch.softmax(logits / middle, 0)[0] > 0.9 else (low, middle)
    assert check_temperature_for_top_probability(low).passed
    too_hot = check_temperature_for_top_probability(1.0)
    assert too_hot.status == "wrong" and "lower" in too_hot.message
    assert check_temperature_for_top_probability(-1).status == "wrong"
    assert check_temperature_for_top_probability(...).status == "not attempted"
    assert f"{low:.3f}" not in capsys.readouterr().out.split("Right")[0]


def max_net():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, -1.0], [0.0, 1.0], [0.0, -1.0]]))
        net[0].bias.zero_()
        net[2].weight.copy_(torch.tensor([[1.0, 1.0, -1.0]]))
        net[2].bias.zero_()
    return net


def test_max_network():
    assert check_max_network(max_net()).passed
    assert check_max_network(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))).status == "wrong"
    assert check_max_network(nn.Linear(2, 1)).status == "wrong"
    assert check_max_network(...).status == "not attempted"
