"""Does CallsTo see the torch functions a student's code calls, however they are reached, and let them run?"""
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.exercises.calls import CallsTo


def test_sees_a_function_through_a_module_a_method_and_an_alias():
    x = torch.randn(5)
    leaky = F.leaky_relu
    with CallsTo("leaky_relu", "softmax") as spy:
        nn.LeakyReLU(0.1)(x)
        leaky(x, 0.2)
        x.softmax(0)
        torch.special.softmax(x, 0)
    assert len(spy.called) == 4 and all("leaky_relu" in name or "softmax" in name for name in spy.called)


def test_the_calls_still_run_and_other_calls_are_not_recorded():
    x = torch.randn(5)
    with CallsTo("softplus") as spy:
        y = F.softplus(x)
        z = torch.log1p(torch.exp(-x.abs())) + x.clamp(min=0)
    assert torch.allclose(y, z, atol=1e-6)
    assert spy.called == ["torch.nn.functional.softplus"]
