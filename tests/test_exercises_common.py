"""The helpers lectures 01-03's checks share: do they see only the student's own torch calls, and leave the
random state as it was?"""
import torch

from torch import nn

from course_utils.exercises._common import every_torch_call, keeps_random_state, torch_calls, used


def test_calls_made_by_the_students_code_are_recorded_in_order():
    X = torch.ones(3, 2)
    result, names = torch_calls(lambda: torch.cdist(X, X).pow(2))
    assert names == ["cdist", "pow"] and result.shape == (3, 3)


def test_calls_made_inside_torch_are_left_out():
    """torch.autograd.functional.jacobian runs autograd.grad itself: that is not the student's backward pass."""
    _, names = torch_calls(torch.autograd.functional.jacobian, lambda v: v**2, torch.ones(3))
    assert "grad" not in names and "backward" not in names


def test_a_backward_call_of_the_student_is_recorded():
    def by_autograd():
        x = torch.ones(2, requires_grad=True)
        (x * x).sum().backward()
    _, names = torch_calls(by_autograd)
    assert "backward" in names


def test_keeps_random_state_restores_the_generator():
    state = torch.get_rng_state()
    draw = keeps_random_state(lambda: torch.rand(5))
    first, second = draw(), draw()
    assert torch.equal(torch.get_rng_state(), state) and torch.equal(first, second)


def test_every_torch_call_sees_what_torch_calls_for_the_student():
    """Does every_torch_call see F.cross_entropy inside nn.CrossEntropyLoss and autograd.grad inside
    torch.autograd.functional, which torch_calls leaves out?"""
    Z, labels = torch.zeros(2, 3), torch.tensor([0, 2])
    _, own = torch_calls(lambda: nn.CrossEntropyLoss()(Z, labels))
    _, every = every_torch_call(lambda: nn.CrossEntropyLoss()(Z, labels))
    assert "cross_entropy" not in own and "cross_entropy" in every
    _, every = every_torch_call(torch.autograd.functional.vjp, lambda v: (v**2).sum(), torch.ones(3))
    assert "grad" in every


def test_used_knows_torch_special_names():
    assert used(["sub", "special_logsumexp", "exp"], {"logsumexp", "softmax"}) == {"logsumexp"}
    assert used(["sub", "exp"], {"logsumexp"}) == set()
