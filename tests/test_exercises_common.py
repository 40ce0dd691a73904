"""The helpers lectures 01-03's checks share: do they see only the student's own torch calls, and leave the
random state as it was?"""
import torch

from course_utils.exercises._common import keeps_random_state, torch_calls


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
