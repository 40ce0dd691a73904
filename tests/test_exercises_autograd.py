"""Lecture 2's self-checks: does each say right for every right answer (written in several ways), not yet (with a
reason) for the wrong answers a student would plausibly write, and not attempted for the placeholder, without
printing the answer or moving the notebook's random state?"""
import numpy as np
import pytest
import torch

from course_utils.exercises import autograd as checks
from selfcheck_contract import answer_table_tests, contract_tests


def _by_hand_with_autograd(a, b):
    a, b = a.clone().requires_grad_(), b.clone().requires_grad_()
    (a**2 * b).sum().backward()
    return a.grad, b.grad


def _by_hand_with_functional_vjp(a, b):
    _, (grad_a, grad_b) = torch.autograd.functional.vjp(lambda a, b: (a**2 * b).sum(), (a, b))
    return grad_a, grad_b


def _chunks_scaled(w, X, y, chunk_size):
    n = len(X)
    for start in range(0, n, chunk_size):
        Xc, yc = X[start:start + chunk_size], y[start:start + chunk_size]
        (((Xc @ w - yc) ** 2).mean() * len(Xc) / n).backward()
    return w.grad


def _chunks_summed_squares(w, X, y, chunk_size):
    for Xc, yc in zip(X.split(chunk_size), y.split(chunk_size)):
        loss = ((Xc @ w - yc) ** 2).sum() / len(X)
        loss.backward()
    return w.grad


def _chunks_unscaled(w, X, y, chunk_size):
    for Xc, yc in zip(X.split(chunk_size), y.split(chunk_size)):
        ((Xc @ w - yc) ** 2).mean().backward()
    return w.grad


def _chunks_averaged_over_chunks(w, X, y, chunk_size):
    chunks = list(zip(X.split(chunk_size), y.split(chunk_size)))
    for Xc, yc in chunks:
        (((Xc @ w - yc) ** 2).mean() / len(chunks)).backward()
    return w.grad


def _chunks_cleared_each_time(w, X, y, chunk_size):
    for Xc, yc in zip(X.split(chunk_size), y.split(chunk_size)):
        w.grad = None
        (((Xc @ w - yc) ** 2).sum() / len(X)).backward()
    return w.grad


def _chunks_one_pass(w, X, y, chunk_size):
    ((X @ w - y) ** 2).mean().backward()
    return w.grad


def _chunks_of_one_forward_pass(w, X, y, chunk_size):
    """One backward per chunk, but all rows go through one forward pass: the graph holds the whole batch."""
    squared_errors = (X @ w - y) ** 2
    for start in range(0, len(X), chunk_size):
        squared_errors[start:start + chunk_size].sum().div(len(X)).backward(retain_graph=True)
    return w.grad


def _chunks_drop_the_short_one(w, X, y, chunk_size):
    n = len(X)
    for start in range(0, n - chunk_size + 1, chunk_size):
        Xc, yc = X[start:start + chunk_size], y[start:start + chunk_size]
        (((Xc @ w - yc) ** 2).sum() / n).backward()
    return w.grad


def _jacobian_backward(f, x):
    x = x.clone().requires_grad_()
    rows = []
    for i in range(len(f(x))):
        x.grad = None
        f(x)[i].backward()
        rows.append(x.grad.clone())
    return torch.stack(rows)


def _jacobian_autograd_grad(f, x):
    x = x.clone().requires_grad_()
    y = f(x)
    rows = []
    for i in range(len(y)):
        v = torch.zeros_like(y)
        v[i] = 1
        (row,) = torch.autograd.grad(y, x, grad_outputs=v, retain_graph=True)
        rows.append(row)
    return torch.stack(rows)


def _jacobian_accumulating(f, x):
    x = x.clone().requires_grad_()
    rows = []
    for i in range(len(f(x))):
        f(x)[i].backward()           # forgets to clear x.grad
        rows.append(x.grad.clone())
    return torch.stack(rows)


def _jacobian_rows_not_copied(f, x):
    x = x.clone().requires_grad_()
    rows = []
    for i in range(len(f(x))):
        if x.grad is not None:
            x.grad.zero_()
        f(x)[i].backward()
        rows.append(x.grad)          # the same tensor every time: all rows end up equal to the last
    return torch.stack(rows)


def _jacobian_of_the_sum(f, x):
    x = x.clone().requires_grad_()
    m = len(f(x))
    rows = []
    for _ in range(m):
        x.grad = None
        f(x).sum().backward()
        rows.append(x.grad.clone())
    return torch.stack(rows)


GRAPH = ["SumBackward0", "MulBackward0", "AddBackward0", "AccumulateGrad", "AccumulateGrad", "AccumulateGrad"]
NEW_HESSIAN = 2 / 4 * np.array([[30.0, 20.0], [20.0, 30.0]])   # X with its second column divided by 10

RIGHT = {
    checks.check_gradients_by_hand: [lambda a, b: (2 * a * b, a**2), lambda a, b: (a * b * 2, a.pow(2)),
                                     lambda a, b: (torch.mul(2 * a, b), a * a)],
    checks.check_gradient_in_chunks: [_chunks_scaled, _chunks_summed_squares],
    checks.check_to_numpy: [lambda t: t.detach().cpu().numpy().copy(), lambda t: np.array(t.tolist()),
                            lambda t: t.detach().clone().numpy(), lambda t: np.array(t.detach().numpy())],
    checks.check_graph_of_expression: [GRAPH, tuple(GRAPH), "\n".join(GRAPH)],
    checks.check_jacobian_by_backward: [_jacobian_backward, _jacobian_autograd_grad],
    checks.check_rescaled_lr_max: [2 / np.linalg.eigvalsh(NEW_HESSIAN).max(), 0.08, torch.tensor(0.0801)],
}
WRONG = {
    checks.check_gradients_by_hand: [lambda a, b: (2 * a, a**2), lambda a, b: (2 * a * b, 2 * a),
                                     lambda a, b: (a**2, 2 * a * b),
                                     lambda a, b: ((2 * a * b).sum(), (a**2).sum()),
                                     _by_hand_with_autograd, _by_hand_with_functional_vjp,
                                     lambda a, b: torch.func.grad(lambda a, b: (a**2 * b).sum(), argnums=(0, 1))(a, b)],
    checks.check_gradient_in_chunks: [_chunks_unscaled, _chunks_averaged_over_chunks, _chunks_cleared_each_time,
                                      _chunks_one_pass, _chunks_drop_the_short_one, _chunks_of_one_forward_pass],
    checks.check_to_numpy: [lambda t: t.numpy(), lambda t: t.detach().cpu().numpy(), lambda t: t.numpy(force=True),
                            lambda t: np.asarray(t.detach()), lambda t: t.detach(), lambda t: t.cpu().numpy(),
                            lambda t: t.detach().tolist()],
    checks.check_graph_of_expression: [GRAPH[:-1],  # a's node once, as drawn: print_graph reaches it twice
                                       ["SumBackward0", "AddBackward0", "MulBackward0"] + GRAPH[3:],
                                       ["SumBackward0", "MulBackward0", "AccumulateGrad", "AddBackward0",
                                        "AccumulateGrad", "AccumulateGrad"]],
    checks.check_jacobian_by_backward: [_jacobian_accumulating, _jacobian_rows_not_copied, _jacobian_of_the_sum,
                                        lambda f, x: torch.autograd.functional.jacobian(f, x),
                                        lambda f, x: torch.func.jacrev(f)(x)],
    checks.check_rescaled_lr_max: [0.001327, 1 / 25, 2 / 12.5, 2 / 5, "0.08"],
}
CASES = [(check, RIGHT[check][0], WRONG[check][0]) for check in RIGHT]
test_right_answer_is_right, test_wrong_answer_is_not_yet_with_a_reason, test_placeholder_is_not_attempted = (
    contract_tests(CASES))


def _name(value):
    return getattr(value, "__name__", "")


(test_every_right_answer_is_right, test_every_plausible_wrong_answer_is_not_yet,
 test_every_check_has_two_right_and_three_wrong_answers, test_a_check_leaves_the_random_state_alone) = (
    answer_table_tests(RIGHT, WRONG))


def test_plain_numpy_call_fails_on_a_tensor_that_requires_grad_and_is_reported():
    """The mistake the exercise is about: t.numpy() raises, and the check says so instead of crashing."""
    verdict = checks.check_to_numpy(lambda t: t.numpy())
    assert verdict.status == "wrong" and "RuntimeError" in verdict.message


def test_an_array_that_shares_the_tensors_memory_is_named():
    assert "shares the tensor's memory" in checks.check_to_numpy(lambda t: t.detach().numpy()).message


def test_autograd_inside_the_hand_derivation_is_named():
    assert "autograd" in checks.check_gradients_by_hand(_by_hand_with_autograd).message


def test_chunked_gradient_counts_the_backward_passes():
    assert "one per chunk" in checks.check_gradient_in_chunks(_chunks_one_pass).message


def test_accumulated_jacobian_gets_the_clear_the_gradient_hint():
    assert "clear" in checks.check_jacobian_by_backward(_jacobian_accumulating).message


def test_a_library_jacobian_is_refused():
    verdict = checks.check_jacobian_by_backward(lambda f, x: torch.autograd.functional.jacobian(f, x))
    assert "backward passes of its own" in verdict.message


def test_graph_names_from_print_graph_lines_are_accepted():
    lines = ["SumBackward0", "MulBackward0", "AddBackward0", "AccumulateGrad -> leaf of shape (2,)",
             "AccumulateGrad -> leaf of shape (2,)", "AccumulateGrad -> leaf of shape (2,)"]
    assert checks.check_graph_of_expression(lines).passed


ANSWER_FRAGMENTS = {  # what the answer's line would contain; no "Not yet" message may show it
    checks.check_gradients_by_hand: ["2 * a * b", "2ab", "a**2", "a ** 2"],
    checks.check_gradient_in_chunks: ["len(", "/ n", "chunk_size / "],
    checks.check_jacobian_by_backward: ["torch.stack", "x.grad = None"],
}


@pytest.mark.parametrize("check", list(ANSWER_FRAGMENTS), ids=_name)
def test_no_hint_contains_the_answers_line(check):
    for answer in WRONG[check]:
        message = check(answer).message
        assert not any(fragment in message for fragment in ANSWER_FRAGMENTS[check]), message


@pytest.mark.parametrize("answer", [_by_hand_with_functional_vjp,
                                    lambda a, b: torch.func.grad(lambda a, b: (a**2 * b).sum(), argnums=(0, 1))(a, b)])
def test_autograd_by_another_route_is_named(answer):
    """Is "no autograd" held when autograd runs inside torch.autograd.functional or torch.func, not in a call of
    the student's own?"""
    assert "asks autograd" in checks.check_gradients_by_hand(answer).message


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: the check tries a GPU tensor only there")
def test_to_numpy_without_cpu_fails_on_a_gpu_tensor():
    """Where a GPU exists, is an answer that forgets .cpu() (the text promises GPU tensors) told so?"""
    assert checks.check_to_numpy(lambda t: t.detach().numpy().copy()).status == "wrong"
    assert checks.check_to_numpy(lambda t: t.detach().cpu().numpy().copy()).status == "right"


def test_chunks_from_one_forward_pass_over_all_rows_are_named():
    """Are chunks cut from one forward pass over the whole batch (its graph holds every row) told so?"""
    assert "whole batch" in checks.check_gradient_in_chunks(_chunks_of_one_forward_pass).message
