"""Self-checks for lecture 2 (autograd): "your turn" cells, then the end-of-lecture exercises.

Every check takes the student's answer first and returns a
:class:`~course_utils.selfcheck.Verdict`; none prints the expected answer.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from course_utils.exercises._common import AUTOGRAD_CALLS, every_torch_call, keeps_random_state, torch_calls, used
from course_utils.selfcheck import right, self_check, wrong


# ---------------------------------------------------------------- your turn


@self_check
@keeps_random_state
def check_gradients_by_hand(gradients):
    """``gradients(a, b)`` returns ``(dL/da, dL/db)`` for ``L = sum(a**2 * b)``, written by hand (no autograd)."""
    generator = torch.Generator().manual_seed(3)
    for shape, dtype in (((5,), torch.float64), ((3, 4), torch.float32), ((1,), torch.float64)):
        a = torch.randn(shape, generator=generator, dtype=torch.float64)
        b = torch.randn(shape, generator=generator, dtype=torch.float64)
        answer, calls = every_torch_call(gradients, a.to(dtype), b.to(dtype))
        if used(calls, AUTOGRAD_CALLS):  # torch.autograd.functional and torch.func included
            return wrong("your function asks autograd for the gradients; derive them by hand and write them as "
                         "tensor expressions in a and b.")
        grad_a, grad_b = answer
        leaf_a, leaf_b = a.clone().requires_grad_(), b.clone().requires_grad_()
        (leaf_a**2 * leaf_b).sum().backward()
        for name, ours, expected in (("dL/da", grad_a, leaf_a.grad), ("dL/db", grad_b, leaf_b.grad)):
            ours = torch.as_tensor(ours).detach().to(torch.float64)
            if ours.shape != expected.shape:
                return wrong(f"{name} should have the shape of its variable, {tuple(shape)}, not {tuple(ours.shape)}.")
            if not torch.allclose(ours, expected, rtol=1e-5, atol=1e-6):
                return wrong(f"{name} differs from autograd's. Differentiate a_i**2 * b_i with respect to one "
                             "variable, treating the other as a constant.")
    return right("both gradients match autograd's.")


@self_check
@keeps_random_state
def check_gradient_in_chunks(gradient_in_chunks):
    """``gradient_in_chunks(w, X, y, chunk_size)``: the gradient of ``((X @ w - y) ** 2).mean()`` over all rows,
    from one backward pass per chunk of ``chunk_size`` rows (the last may be shorter), left in and returned as
    ``w.grad``."""
    generator = torch.Generator().manual_seed(4)
    for n, d, chunk_size in ((10, 3, 4), (12, 2, 3), (7, 4, 7), (9, 1, 2)):
        X = torch.randn(n, d, generator=generator, dtype=torch.float64)
        y = torch.randn(n, generator=generator, dtype=torch.float64)
        start = torch.randn(d, generator=generator, dtype=torch.float64)
        w = start.clone().requires_grad_()
        saved_rows = []   # the first size of every tensor autograd saves: a chunk's rows, or all n of them

        def pack(tensor):
            saved_rows.append(tensor.shape[0] if tensor.dim() else 0)
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            returned, calls = torch_calls(gradient_in_chunks, w, X.clone(), y.clone(), chunk_size)
        leaf = start.clone().requires_grad_()
        ((X @ leaf - y) ** 2).mean().backward()
        chunks = math.ceil(n / chunk_size)
        passes = sum(name in ("backward", "grad") for name in calls)
        if passes != chunks:
            return wrong(f"for {n} rows in chunks of {chunk_size} your code ran {passes} backward passes; the "
                         f"exercise asks for one per chunk ({chunks} here), so that no pass holds all the rows.")
        if chunk_size < n and n in saved_rows:   # (no case has d == n: w itself is saved too)
            return wrong(f"for {n} rows in chunks of {chunk_size}, one forward pass of your code computed all "
                         f"{n} rows at once, so its graph holds the whole batch; the point of chunks is that no "
                         "graph ever does. Compute each chunk's loss from that chunk's rows only.")
        ours = returned if isinstance(returned, torch.Tensor) else w.grad
        if ours is None or tuple(ours.shape) != (d,):
            return wrong(f"return w.grad, a tensor of the shape of w, ({d},).")
        if not torch.allclose(ours.detach(), leaf.grad, rtol=1e-6, atol=1e-9):
            return wrong(f"for {n} rows in chunks of {chunk_size} the gradient differs from the gradient of the mean "
                         "over all rows. What does each chunk's loss need to be multiplied by, so that the "
                         "accumulated sum is that mean's gradient? (Mind a last chunk that is shorter.)")
    return right("each chunk's share of the mean, accumulated in w.grad: the gradient of the whole batch.")


@self_check
@keeps_random_state
def check_to_numpy(to_numpy):
    """``to_numpy(t)`` returns a NumPy array with ``t``'s values for any tensor, even one that requires grad, that
    is safe to write into: it does not share memory with ``t``."""
    w = torch.tensor([[1.5, -2.0, 0.25]], requires_grad=True)
    tensors = [w, w * 2, torch.arange(3), torch.tensor(7.5, dtype=torch.float64, requires_grad=True),
               torch.tensor([True, False]), torch.ones(2, 3, dtype=torch.float64).t()]
    if torch.cuda.is_available():  # the text promises a GPU tensor too; only a machine with one can try it
        tensors.append(torch.tensor([0.5, -1.0], device="cuda", requires_grad=True) * 3)
    for tensor in tensors:
        before = tensor.detach().cpu().clone()
        array = to_numpy(tensor)
        if not isinstance(array, np.ndarray):
            return wrong(f"for a tensor of shape {tuple(tensor.shape)} you returned a {type(array).__name__}, "
                         "not a numpy.ndarray.")
        if array.shape != tuple(tensor.shape) or not np.array_equal(array, before.numpy()):
            return wrong(f"for a tensor of shape {tuple(tensor.shape)} and dtype {tensor.dtype} the array does not "
                         "hold the tensor's values (or has another shape).")
        if tensor.device.type == "cpu" and array.size and np.shares_memory(array, tensor.detach().numpy()):
            return wrong("the array shares the tensor's memory: writing into it would change the tensor behind "
                         "autograd's back, as in the demo above. Return an array of its own.")
    if w.grad is not None or not w.requires_grad:
        return wrong("converting must not change the tensor or run backward().")
    return right("out of the graph, onto the CPU, and into memory of its own.")


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
    if isinstance(names, str):  # the printed tree pasted as text
        names = names.split("\n")
    names = [str(name).strip().split(" ")[0] for name in names if str(name).strip()]
    if len(names) != len(expected):
        return wrong(f"you listed {len(names)} nodes; count again: a leaf used twice is reached twice by "
                     "print_graph, once along each path.")
    for position, (guess, actual) in enumerate(zip(names, expected), start=1):
        if guess != actual:
            return wrong(f"node {position} ({guess}) is not what print_graph prints there.")
    return right("the tree print_graph walks; a drawn graph shows a's AccumulateGrad once with two arrows in.")


def _jacobian_test_functions():
    def f(x):  # R^3 -> R^4
        return torch.stack([x[0] * x[1] * x[2], torch.exp(x[1]) - x[0], x[2] ** 3, x[0] + 2 * x[1]])

    def g(x):  # R^2 -> R^5
        return torch.cat([torch.sin(x) * x.sum(), x**2, (x[0] * x[1]).reshape(1)])

    return ((f, torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)),
            (g, torch.tensor([1.5, -0.3], dtype=torch.float32)))


@self_check
@keeps_random_state
def check_jacobian_by_backward(jacobian):
    """``jacobian(f, x)`` returns the (m, n) Jacobian of ``f`` at ``x`` from m backward passes, one per row."""
    for f, x in _jacobian_test_functions():
        result, calls = torch_calls(jacobian, f, x.clone())
        expected = torch.autograd.functional.jacobian(f, x).to(torch.float64)
        m, n = expected.shape
        if not isinstance(result, torch.Tensor) or tuple(result.shape) != (m, n):
            return wrong(f"for f from R^{n} to R^{m} the Jacobian has shape ({m}, {n}): one row per output.")
        passes = sum(name in ("backward", "grad") for name in calls)
        if passes != m:
            return wrong(f"for f from R^{n} to R^{m} your code ran {passes} backward passes of its own; the "
                         f"exercise is to build the Jacobian from {m}, one per row (torch.autograd.functional "
                         "and torch.func do not count).")
        if not torch.allclose(result.detach().to(torch.float64), expected, rtol=1e-5, atol=1e-6):
            return wrong(f"for f from R^{n} to R^{m} the values differ from torch.autograd.functional.jacobian. "
                         "Remember to clear x.grad between the backward calls (gradients accumulate) and to "
                         "rebuild the graph each time.")
    return right("row i of J is the gradient of output i: v = e_i in v^T J.")


@self_check
def check_rescaled_lr_max(lr_max):
    """``lr_max``: the largest stable learning rate after dividing the second column of X by 10."""
    X = torch.tensor([[1.0, 4.0], [2.0, 3.0], [3.0, 2.0], [4.0, 1.0]], dtype=torch.float64)
    hessian = 2 / len(X) * X.T @ X
    expected = 2 / torch.linalg.eigvalsh(hessian).max().item()
    if isinstance(lr_max, (str, bytes)):
        return wrong("give the learning rate as a number, not as text.")
    if abs(float(lr_max) - expected) <= 0.01 * expected:
        return right("smaller features, a smaller largest eigenvalue, a larger stable step.")
    return wrong("not the value from 2 / lambda_max of the new Hessian 2/n X^T X (within 1 %).")
