"""Self-checks for lecture 1 (tensors): "your turn" cells, then the end-of-lecture exercises.

Every check takes the student's answer first and returns a
:class:`~course_utils.selfcheck.Verdict`; none prints the expected answer.
"""
from __future__ import annotations

import torch

from course_utils.selfcheck import right, self_check, wrong


def _shape(value) -> tuple[int, ...]:
    return tuple(int(size) for size in value)


# ---------------------------------------------------------------- your turn


#: The three expressions of the dtype "your turn" in lecture 1, in order: (as written, how to compute it).
DTYPE_EXPRESSIONS = (
    ("torch.tensor([1, 2], dtype=torch.int32) * 2.5",
     lambda: torch.tensor([1, 2], dtype=torch.int32) * 2.5),
    ("torch.tensor([True, False]) + torch.tensor([1, 2], dtype=torch.uint8)",
     lambda: torch.tensor([True, False]) + torch.tensor([1, 2], dtype=torch.uint8)),
    ("torch.tensor([1.0, 2.0], dtype=torch.float16) * torch.tensor(3.0, dtype=torch.float64)",
     lambda: torch.tensor([1.0, 2.0], dtype=torch.float16) * torch.tensor(3.0, dtype=torch.float64)),
)


@self_check
def check_result_dtypes(answer):
    """``answer``: the dtypes of the three :data:`DTYPE_EXPRESSIONS`, as a tuple of torch dtypes."""
    if not isinstance(answer, (tuple, list)) or len(answer) != 3:
        return wrong("give a tuple of three dtypes, e.g. (torch.float64, torch.int64, torch.float32).")
    for (expression, compute), guess in zip(DTYPE_EXPRESSIONS, answer):
        if not isinstance(guess, torch.dtype):
            return wrong(f"{guess!r} is not a torch dtype; write e.g. torch.float32.")
        if guess != compute().dtype:
            return wrong(f"`{expression}` does not give {guess}. Category first (bool < integer < floating), "
                         "then size; a Python number or a 0-d tensor can lift the category but never decides "
                         "the size.")
    return right("the category decides first; only tensors with dimensions decide the size.")


@self_check
def check_rows_to_probabilities(rows_to_probabilities):
    """``rows_to_probabilities(M)``: ``M`` (n, k) of positive numbers, each row divided by its own sum."""
    generator = torch.Generator().manual_seed(1)
    for shape in ((4, 4), (3, 5)):
        M = torch.rand(shape, generator=generator) + 0.1
        before = M.clone()
        result = rows_to_probabilities(M)
        if not torch.equal(M, before):
            return wrong("your function changed its input; return a new tensor instead.")
        if not isinstance(result, torch.Tensor) or tuple(result.shape) != shape:
            return wrong(f"for a {shape} input the result should have the same shape {shape}.")
        if not torch.allclose(result.sum(dim=1), torch.ones(shape[0]), atol=1e-5):
            hint = (" For a square matrix, dividing by M.sum(dim=1) runs without an error but lines the "
                    "sums up with the columns: keep the summed dimension (keepdim=True).") if shape[0] == shape[1] else ""
            return wrong(f"for a {shape} input the rows do not sum to 1.{hint}")
        if not torch.allclose(result * M.sum(dim=1, keepdim=True), M, atol=1e-5):
            return wrong("the rows sum to 1 but are not the rows of M scaled: divide, do not transform otherwise.")
    return right("the (n, 1) row sums broadcast across the columns.")


# ---------------------------------------------------------------- exercises


@self_check
def check_permuted_strides(answer):
    """``answer``: ``(shape, stride)`` of ``torch.zeros(4, 5, 6).permute(2, 0, 1)``."""
    t = torch.zeros(4, 5, 6).permute(2, 0, 1)
    shape, stride = answer
    if _shape(shape) != tuple(t.shape):
        return wrong("the shape is not right: permute(2, 0, 1) puts old dimension 2 first, then 0, then 1.")
    if _shape(stride) != t.stride():
        return wrong("the shape is right, the strides are not: permute moves each stride together with its size; "
                     "start from the strides of the contiguous (4, 5, 6) tensor.")
    return right("permute only reorders shape and strides; no data moves.")


@self_check
def check_view_or_reshape(answer):
    """``answer``: the set of ``{"view", "reshape"}`` that work as ``(6, 20)`` on the permuted tensor."""
    t = torch.zeros(4, 5, 6).permute(2, 0, 1)
    works = set()
    for method in ("view", "reshape"):
        try:
            getattr(t, method)(6, 20)
            works.add(method)
        except RuntimeError:
            pass
    chosen = {answer} if isinstance(answer, str) else set(answer)
    if not chosen <= {"view", "reshape"}:
        return wrong('answer with a set of method names, e.g. {"view"} or {"view", "reshape"}.')
    if chosen != works:
        return wrong("not quite. view needs the dimensions it merges to be adjacent in memory: "
                     "check whether stride[1] == stride[2] * size[2] for the two dimensions that become 20.")
    return right("the two merged dimensions are laid out one after the other, so even view works.")


@self_check
def check_fill_multiples_of_three(fill):
    """``fill(x)`` sets every element of ``x`` divisible by 3 to -1, in place."""
    x = torch.arange(10)
    address = x.data_ptr()
    returned = fill(x)
    expected = torch.tensor([-1, 1, 2, -1, 4, 5, -1, 7, 8, -1])
    if not torch.equal(x, expected):
        if returned is not None and isinstance(returned, torch.Tensor) and torch.equal(returned, expected):
            return wrong("you returned the right values in a new tensor, but x itself is unchanged: "
                         "assign into x with a boolean mask.")
        return wrong("x does not hold the right values afterwards: every multiple of 3 (0 included) becomes -1.")
    if x.data_ptr() != address:
        return wrong("x has new memory: change it in place.")
    return right("masked assignment writes into x's own memory.")


@self_check
def check_pairwise_squared_distances(distances):
    """``distances(X)`` for ``X`` (N, D) is the (N, N) matrix of squared distances between rows."""
    generator = torch.Generator().manual_seed(2)
    X = torch.randn(7, 3, generator=generator, dtype=torch.float64)
    result = distances(X)
    if not isinstance(result, torch.Tensor) or tuple(result.shape) != (7, 7):
        return wrong("for X of shape (7, 3) the result should have shape (7, 7).")
    expected = torch.cdist(X, X) ** 2
    if not torch.allclose(result.to(torch.float64), expected, atol=1e-8):
        if torch.allclose(result.to(torch.float64), expected.sqrt(), atol=1e-8):
            return wrong("these are the distances, not the squared distances.")
        return wrong("the values differ from torch.cdist(X, X) ** 2. Try X[:, None, :] - X[None, :, :].")
    return right("a (N, 1, D) minus a (1, N, D) tensor broadcasts to all pairs.")


@self_check
def check_matmul_shapes(answer):
    """``answer``: the shapes of ``zeros(7, 1, 3) @ zeros(5, 3, 2)`` and ``zeros(3) @ zeros(3, 4)``."""
    first, second = answer
    if _shape(first) != (7, 5, 2):
        return wrong("the first shape is not right: the last two dimensions multiply as matrices, "
                     "the leading ones broadcast (7, 1) with (5,).")
    if _shape(second) != (4,):
        return wrong("the second shape is not right: a 1-D first argument acts as a row and its "
                     "dimension is removed again afterwards.")
    return right("batch dimensions broadcast; a 1-D operand loses its dimension again.")


@self_check
def check_matmul_growth(exponent):
    """``exponent``: p such that a size-n matmul needs time proportional to n**p, by the formula for C_ij."""
    if abs(float(exponent) - 3) < 0.05:
        return right("n² entries, each a sum of n products.")
    return wrong("count the work: how many entries does C have, and how many products does each one sum?")
