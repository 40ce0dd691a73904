"""Self-checks for lecture 1 (tensors): "your turn" cells, then the end-of-lecture exercises.

Every check takes the student's answer first and returns a
:class:`~course_utils.selfcheck.Verdict`; none prints the expected answer.
"""
from __future__ import annotations

import torch

from course_utils.exercises._common import keeps_random_state, torch_calls
from course_utils.selfcheck import right, self_check, wrong


def _shape(value) -> tuple[int, ...]:
    return tuple(int(size) for size in value)


#: More torch calls than this for one input is a Python loop: a vectorised answer makes a handful, a loop at
#: least one per iteration, and the checks' inputs have 40 or more rows (or columns) to loop over.
_LOOP_CALLS = 30


# ---------------------------------------------------------------- your turn


#: The four expressions of the dtype "your turn" in lecture 1, in order: (as written, how to compute it).
DTYPE_EXPRESSIONS = (
    ("torch.tensor([1, 2], dtype=torch.int16) * 2.5",
     lambda: torch.tensor([1, 2], dtype=torch.int16) * 2.5),
    ("torch.tensor([True, False]) + torch.tensor([1, 2], dtype=torch.uint8)",
     lambda: torch.tensor([True, False]) + torch.tensor([1, 2], dtype=torch.uint8)),
    ("torch.tensor([1.0, 2.0], dtype=torch.float16) * torch.tensor(3.0, dtype=torch.float64)",
     lambda: torch.tensor([1.0, 2.0], dtype=torch.float16) * torch.tensor(3.0, dtype=torch.float64)),
    ("torch.tensor([1, 2]) * torch.tensor(0.5, dtype=torch.float16)",
     lambda: torch.tensor([1, 2]) * torch.tensor(0.5, dtype=torch.float16)),
)


@self_check
def check_result_dtypes(answer):
    """``answer``: the dtypes of the four :data:`DTYPE_EXPRESSIONS`, as a tuple of torch dtypes."""
    if not isinstance(answer, (tuple, list)) or len(answer) != len(DTYPE_EXPRESSIONS):
        return wrong("give a tuple of four dtypes, e.g. (torch.float64, torch.int64, torch.float32, torch.int8).")
    for (expression, compute), guess in zip(DTYPE_EXPRESSIONS, answer):
        if not isinstance(guess, torch.dtype):
            return wrong(f"{guess!r} is not a torch dtype; write e.g. torch.float32.")
        if guess != compute().dtype:
            return wrong(f"`{expression}` does not give {guess}. Category first (bool < integer < floating), "
                         "then size: the tensors with dimensions decide it if one of them is in the result's "
                         "category, else a 0-d tensor of that category; a Python number only lifts the category, "
                         "to that category's default dtype.")
    return right("the category decides first; the size comes from the highest-ranked operands of that category.")


@self_check
@keeps_random_state
def check_rows_to_probabilities(rows_to_probabilities):
    """``rows_to_probabilities(M)``: ``M`` (n, k) of positive numbers, each row divided by its own sum, no loop."""
    generator = torch.Generator().manual_seed(1)
    cases = [((4, 4), torch.float32, 1.0), ((3, 5), torch.float64, 1e3), ((1, 6), torch.float32, 1e-3),
             ((60, 3), torch.float64, 1.0), ((3, 60), torch.float32, 1.0)]
    for shape, dtype, scale in cases:
        M = (torch.rand(shape, generator=generator, dtype=dtype) + 0.1) * scale
        before = M.clone()
        result, calls = torch_calls(rows_to_probabilities, M)
        if not torch.equal(M, before):
            return wrong("your function changed its input; return a new tensor instead.")
        if not isinstance(result, torch.Tensor) or tuple(result.shape) != shape:
            return wrong(f"for a {shape} input the result should have the same shape {shape}.")
        if not torch.allclose(result.sum(dim=1).double(), torch.ones(shape[0], dtype=torch.float64), atol=1e-5):
            hint = (" For a square matrix, dividing by M.sum(dim=1) runs without an error but lines the "
                    "sums up with the columns: keep the summed dimension.") if shape[0] == shape[1] else ""
            return wrong(f"for a {shape} input the rows do not sum to 1.{hint}")
        # in float64: a right answer may return a wider dtype than M's
        if not torch.allclose(result.double() * M.double().sum(dim=1, keepdim=True), M.double(), rtol=1e-5):
            return wrong("the rows sum to 1 but are not the rows of M scaled: divide, do not transform otherwise.")
        if len(calls) > _LOOP_CALLS:
            return wrong(f"for a {shape} input your code made {len(calls)} tensor operations: a loop over the rows "
                         "or the columns. Let broadcasting divide all rows at once.")
    return right("the (n, 1) row sums broadcast across the columns.")


# ---------------------------------------------------------------- exercises


@self_check
def check_permuted_strides(answer):
    """``answer``: ``(shape, stride)`` of ``torch.zeros(4, 5, 6).permute(2, 0, 1)``."""
    t = torch.zeros(4, 5, 6).permute(2, 0, 1)
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        return wrong("give a pair (shape, strides), e.g. ((1, 2, 3), (6, 3, 1)).")
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
@keeps_random_state
def check_fill_multiples_of_three(fill):
    """``fill(x)`` sets every element of the integer tensor ``x`` divisible by 3 to -1, in place."""
    generator = torch.Generator().manual_seed(3)
    inputs = [torch.arange(10), torch.randint(-50, 50, (3, 4), generator=generator, dtype=torch.int32),
              torch.randint(-10**6, 10**6, (25,), generator=generator)]
    for x in inputs:
        expected = torch.where(x % 3 == 0, -1, x)
        original, address = x.clone(), x.data_ptr()
        returned = fill(x)
        if not torch.equal(x, expected):
            if isinstance(returned, torch.Tensor) and torch.equal(returned, expected) and torch.equal(x, original):
                return wrong("you returned the right values in a new tensor, but x itself is unchanged: "
                             "write into x (assignment through a mask, or an in-place method).")
            which = f"x = {original.tolist()}" if original.numel() <= 12 else f"{original.numel()} random integers"
            return wrong(f"for {which}, x does not hold the right values afterwards: every "
                         "multiple of 3 (0 and negative ones included) becomes -1, every other element stays.")
        if x.data_ptr() != address:
            return wrong("x has new memory: change its elements in place instead of giving it a new tensor.")
    return right("masked assignment writes into x's own memory.")


@self_check
@keeps_random_state
def check_pairwise_squared_distances(distances):
    """``distances(X)`` for ``X`` (N, D) is the (N, N) matrix of squared distances between rows: broadcasting,
    no Python loop, no ``torch.cdist``."""
    generator = torch.Generator().manual_seed(2)
    for (N, D), dtype, scale in (((7, 3), torch.float64, 1.0), ((5, 10), torch.float32, 100.0),
                                 ((1, 4), torch.float32, 1.0), ((40, 2), torch.float64, 1e-2),
                                 ((3, 60), torch.float64, 1.0)):
        X = torch.randn(N, D, generator=generator, dtype=torch.float64) * scale
        result, calls = torch_calls(distances, X.to(dtype))
        if "cdist" in calls or "pairwise_distance" in calls:
            return wrong("the exercise is to build the distances yourself with broadcasting, without "
                         "torch.cdist or F.pairwise_distance.")
        if len(calls) > _LOOP_CALLS:
            return wrong(f"for X of shape ({N}, {D}) your code made {len(calls)} tensor operations: a Python loop "
                         "(over the rows or over the features). Compare every row with every other at once, in "
                         "all features, by broadcasting.")
        if not isinstance(result, torch.Tensor) or tuple(result.shape) != (N, N):
            return wrong(f"for X of shape ({N}, {D}) the result should have shape ({N}, {N}).")
        expected = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
        # float32 rounding: a formula with a difference of large squared norms loses digits, allow for it
        tolerance = (1e-4 if dtype == torch.float32 else 1e-9) * (X.pow(2).sum(1).max().item() + 1e-30)
        if not torch.allclose(result.double(), expected, atol=tolerance, rtol=1e-4):
            if torch.allclose(result.double(), expected.sqrt(), atol=tolerance, rtol=1e-4):
                return wrong("these are the distances, not the squared distances.")
            return wrong(f"for X of shape ({N}, {D}) the values are not the squared distances between rows.")
    return right("a (N, 1, D) minus a (1, N, D) tensor broadcasts to all pairs.")


#: The expressions of exercise 1 in lecture 1, in order: (as written, how to compute it).
MATMUL_EXPRESSIONS = (
    ("torch.zeros(7, 1, 2, 3) @ torch.zeros(5, 3, 4)", lambda: torch.zeros(7, 1, 2, 3) @ torch.zeros(5, 3, 4)),
    ("torch.zeros(7, 2, 3) @ torch.zeros(5, 3, 4)", lambda: torch.zeros(7, 2, 3) @ torch.zeros(5, 3, 4)),
    ("torch.zeros(3) @ torch.zeros(3, 4)", lambda: torch.zeros(3) @ torch.zeros(3, 4)),
)


def _matmul_result(compute):
    try:
        return tuple(compute().shape)
    except RuntimeError:
        return None


@self_check
def check_matmul_shapes(answer):
    """``answer``: for each of :data:`MATMUL_EXPRESSIONS`, the result's shape, or ``None`` if it raises."""
    if not isinstance(answer, (tuple, list)) or len(answer) != len(MATMUL_EXPRESSIONS):
        return wrong("give three answers, each a shape such as (2, 3) or None for an error, e.g. ((2, 3), None, (5,)).")
    hints = ("the last two dimensions multiply as matrices and the batch dimensions in front broadcast "
             "with each other, aligned on the right (section 9's rule).",
             "do the batch dimensions broadcast? Answer None if they cannot.",
             "a 1-D first argument acts as a row, and its dimension is removed again afterwards.")
    for number, ((expression, compute), guess, hint) in enumerate(zip(MATMUL_EXPRESSIONS, answer, hints), start=1):
        expected = _matmul_result(compute)
        if guess is not None and (not isinstance(guess, (tuple, list, torch.Size)) or not all(
                isinstance(size, int) or (isinstance(size, torch.Tensor) and size.dim() == 0) for size in guess)):
            return wrong(f"answer {number} should be a shape such as (2, 3), or None for an error.")
        if guess is None or expected is None:
            if guess is not expected:
                return wrong(f"answer {number}, for `{expression}`, is not right: {hint}")
        elif _shape(guess) != expected:
            return wrong(f"answer {number}, for `{expression}`, is not the right shape: {hint}")
    return right("batch dimensions broadcast (or fail to); a 1-D operand loses its dimension again.")


@self_check
def check_matmul_growth(exponent):
    """``exponent``: p such that a size-n matmul needs time proportional to n**p, by the formula for C_ij."""
    if isinstance(exponent, (str, bytes)):
        return wrong("give the exponent as a number, not as text.")
    if abs(float(exponent) - 3) < 0.05:
        return right("n² entries, each a sum of n products.")
    return wrong("count the work: how many entries does C have, and how many products does each one sum?")
