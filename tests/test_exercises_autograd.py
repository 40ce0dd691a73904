"""Lecture 2's self-checks: right for a right answer, not yet (with a reason) for a wrong one,
not attempted for the placeholder."""
import numpy as np
import torch

from course_utils.exercises import autograd as checks
from selfcheck_contract import contract_tests


def _sgd_right(params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
    for p in params:
        p.grad = None


def _sgd_keeps_grad(params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad


def _jacobian_right(f, x):
    x = x.clone().requires_grad_()
    rows = []
    for i in range(len(f(x))):
        x.grad = None
        f(x)[i].backward()
        rows.append(x.grad.clone())
    return torch.stack(rows)


def _jacobian_accumulating(f, x):
    x = x.clone().requires_grad_()
    rows = []
    for i in range(len(f(x))):
        f(x)[i].backward()           # forgets to clear x.grad
        rows.append(x.grad.clone())
    return torch.stack(rows)


RIGHT_AND_WRONG = [
    (checks.check_gradients_by_hand, lambda a, b: (2 * a * b, a**2), lambda a, b: (2 * a, a**2)),
    (checks.check_sgd_step, _sgd_right, _sgd_keeps_grad),
    (checks.check_to_numpy, lambda t: t.detach().cpu().numpy(), lambda t: t.detach().tolist()),
    (checks.check_graph_of_expression,
     ["SumBackward0", "MulBackward0", "AddBackward0", "AccumulateGrad", "AccumulateGrad", "AccumulateGrad"],
     ["SumBackward0", "MulBackward0", "AddBackward0", "AccumulateGrad", "AccumulateGrad"]),
    (checks.check_jacobian_by_backward, _jacobian_right, _jacobian_accumulating),
    (checks.check_rescaled_lr_max, 2 / np.linalg.eigvalsh(2 / 4 * np.array([[30.0, 20.0], [20.0, 30.0]])).max(), 0.001327),
]
test_right_answer_is_right, test_wrong_answer_is_not_yet_with_a_reason, test_placeholder_is_not_attempted = (
    contract_tests(RIGHT_AND_WRONG))


def test_plain_numpy_call_fails_on_a_tensor_that_requires_grad_and_is_reported():
    """The mistake the exercise is about: t.numpy() raises, and the check says so instead of crashing."""
    verdict = checks.check_to_numpy(lambda t: t.numpy())
    assert verdict.status == "wrong" and "RuntimeError" in verdict.message


def test_sgd_step_that_replaces_the_tensor_is_wrong():
    def rebinds(params, lr):
        for p in params:
            p.data = p.data - lr * p.grad   # right values, but the gradients are kept
    assert "gradients" in checks.check_sgd_step(rebinds).message


def test_accumulated_jacobian_gets_the_clear_the_gradient_hint():
    assert "clear" in checks.check_jacobian_by_backward(_jacobian_accumulating).message


def test_graph_names_from_print_graph_lines_are_accepted():
    lines = ["SumBackward0", "MulBackward0", "AddBackward0", "AccumulateGrad -> leaf of shape (2,)",
             "AccumulateGrad -> leaf of shape (2,)", "AccumulateGrad -> leaf of shape (2,)"]
    assert checks.check_graph_of_expression(lines).passed
