"""Self-checks for lecture 2 (autograd): "your turn" cells, then the end-of-lecture exercises.

Every check takes the student's answer first and returns a
:class:`~course_utils.selfcheck.Verdict`; none prints the expected answer.
"""
from __future__ import annotations

import numpy as np
import torch

from course_utils.selfcheck import right, self_check, wrong


# ---------------------------------------------------------------- your turn


@self_check
def check_gradients_by_hand(gradients):
    """``gradients(a, b)`` returns ``(dL/da, dL/db)`` for ``L = sum(a**2 * b)``, written by hand (no autograd)."""
    generator = torch.Generator().manual_seed(3)
    a = torch.randn(5, generator=generator, dtype=torch.float64)
    b = torch.randn(5, generator=generator, dtype=torch.float64)
    grad_a, grad_b = gradients(a.clone(), b.clone())
    leaf_a, leaf_b = a.clone().requires_grad_(), b.clone().requires_grad_()
    (leaf_a**2 * leaf_b).sum().backward()
    for name, ours, expected in (("dL/da", grad_a, leaf_a.grad), ("dL/db", grad_b, leaf_b.grad)):
        ours = torch.as_tensor(ours, dtype=torch.float64)
        if ours.shape != expected.shape:
            return wrong(f"{name} should have the shape of its variable, (5,), not {tuple(ours.shape)}.")
        if not torch.allclose(ours, expected):
            return wrong(f"{name} differs from autograd's. Differentiate a_i**2 * b_i with respect to one "
                         "variable, treating the other as a constant.")
    return right("both gradients match autograd's.")


@self_check
def check_sgd_step(sgd_step):
    """``sgd_step(params, lr)`` does ``p -= lr * p.grad`` for each parameter in place, then clears the gradients."""
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    b = torch.tensor(0.5, requires_grad=True)
    ((w * torch.tensor([3.0, 4.0])).sum() + 2 * b).backward()
    objects = (id(w), id(b))
    sgd_step([w, b], 0.1)
    if (id(w), id(b)) != objects or not (w.is_leaf and b.is_leaf and w.requires_grad and b.requires_grad):
        return wrong("the parameters must stay the same leaf tensors that require grad: update them in place "
                     "(w -= ...) inside torch.no_grad().")
    if not (torch.allclose(w.detach(), torch.tensor([0.7, -2.4])) and torch.isclose(b.detach(), torch.tensor(0.3))):
        return wrong("the new values are not p - lr * p.grad.")
    for p in (w, b):
        if p.grad is not None and bool(p.grad.abs().sum() != 0):
            return wrong("the gradients are still there: set p.grad = None (or zero it) after the update, "
                         "or the next backward() adds to them.")
    return right("an in-place update under no_grad, then the gradients cleared.")


@self_check
def check_to_numpy(to_numpy):
    """``to_numpy(t)`` returns a NumPy array with ``t``'s values for any tensor, even one that requires grad."""
    w = torch.tensor([1.5, -2.0], requires_grad=True)
    y = w * 2
    for tensor in (w, y, torch.arange(3)):
        array = to_numpy(tensor)
        if not isinstance(array, np.ndarray):
            return wrong(f"for a tensor of shape {tuple(tensor.shape)} you returned a {type(array).__name__}, "
                         "not a numpy.ndarray.")
        if array.shape != tuple(tensor.shape) or not np.array_equal(array, tensor.detach().cpu().numpy()):
            return wrong("the array does not hold the tensor's values.")
    if w.grad is not None or not w.requires_grad:
        return wrong("converting must not change the tensor or run backward().")
    return right("detach first (and .cpu() for a GPU tensor), then .numpy().")


# ---------------------------------------------------------------- exercises


def _graph_names(node) -> list[str]:
    """grad_fn class names in the order print_graph visits them (depth first), None left out."""
    if node is None:
        return []
    names = [type(node).__name__]
    for child, _ in node.next_functions:
        names += _graph_names(child)
    return names


@self_check
def check_graph_of_expression(names):
    """``names``: the node names ``print_graph`` prints for ``((a + b) * a).sum()``, top to bottom."""
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(2, requires_grad=True)
    expected = _graph_names(((a + b) * a).sum().grad_fn)
    names = [str(name).split(" ")[0] for name in names]
    if len(names) != len(expected):
        return wrong(f"you listed {len(names)} nodes; count again: a leaf used twice is reached twice by "
                     "print_graph, once along each path.")
    for position, (guess, actual) in enumerate(zip(names, expected), start=1):
        if guess != actual:
            return wrong(f"node {position} ({guess}) is not what print_graph prints there.")
    return right("the tree print_graph walks; a drawn graph shows a's AccumulateGrad once with two arrows in.")


@self_check
def check_jacobian_by_backward(jacobian):
    """``jacobian(f, x)`` returns the (m, n) Jacobian of ``f`` at ``x`` from m backward passes, one per row."""
    def f(x):
        return torch.stack([x[0] * x[1] * x[2], torch.exp(x[1]) - x[0], x[2] ** 3, x[0] + 2 * x[1]])

    x = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    result = jacobian(f, x.clone())
    expected = torch.autograd.functional.jacobian(f, x)
    if not isinstance(result, torch.Tensor) or tuple(result.shape) != (4, 3):
        return wrong("for f from R^3 to R^4 the Jacobian has shape (4, 3): one row per output.")
    if not torch.allclose(result.detach().to(torch.float64), expected):
        if torch.allclose(result.detach().to(torch.float64), expected.T.reshape(4, 3)):
            return wrong("rows and columns are mixed up: backward with v = e_i gives row i.")
        return wrong("the values differ from torch.autograd.functional.jacobian. Remember to clear x.grad "
                     "between the backward calls (gradients accumulate) and to rebuild the graph each time.")
    return right("row i of J is the gradient of output i: v = e_i in v^T J.")


@self_check
def check_rescaled_lr_max(lr_max):
    """``lr_max``: the largest stable learning rate after dividing the second column of X by 10."""
    X = torch.tensor([[1.0, 4.0], [2.0, 3.0], [3.0, 2.0], [4.0, 1.0]], dtype=torch.float64)
    hessian = 2 / len(X) * X.T @ X
    expected = 2 / torch.linalg.eigvalsh(hessian).max().item()
    if abs(float(lr_max) - expected) <= 0.01 * expected:
        return right("smaller features, a smaller largest eigenvalue, a larger stable step.")
    return wrong("not the value from 2 / lambda_max of the new Hessian 2/n X^T X (within 1 %).")
