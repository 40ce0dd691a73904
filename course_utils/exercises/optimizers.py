"""Self-checks for lecture 05 (optimizers).

Each check takes the student's answer (a number, a function or an optimizer
class), tries it on problems of its own and says right or not yet, and why,
without printing the expected answer.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from ..selfcheck import Verdict, right, self_check, wrong

#: The lecture's ill-conditioned quadratic f(w) = ½ wᵀ diag(1, 20) w and its start.
CURVATURES = (1.0, 20.0)
QUADRATIC_START = (-4.0, 1.0)


def _as_float(answer, what: str) -> float:
    if isinstance(answer, torch.Tensor):
        if answer.numel() != 1:
            raise TypeError(f"{what} should be one number, got a tensor of shape {tuple(answer.shape)}")
        answer = answer.item()
    return float(answer)


def _quadratic(w: torch.Tensor) -> torch.Tensor:
    return 0.5 * (torch.tensor(CURVATURES, dtype=w.dtype) * w**2).sum(-1)


@self_check
def check_fastest_learning_rate(lr) -> Verdict:
    """Your turn (section 4): the η that minimises max_i |1 − η λ_i| for λ = 1 and 20."""
    lr = _as_float(lr, "the learning rate")
    factor = max(abs(1 - lr * curvature) for curvature in CURVATURES)
    best = 2 / (min(CURVATURES) + max(CURVATURES))
    if abs(lr - best) > 1e-3:
        slow = "the flat direction (λ = 1)" if lr < best else "the steep direction (λ = 20)"
        return wrong(f"with η = {lr:g} the error shrinks by a factor {factor:.4f} per step, set by {slow}; "
                     "the best η balances the two directions.")
    return right(f"with η = {lr:g} both directions shrink by a factor {factor:.4f} per step, the best possible.")


def _eigenvalues(hessian) -> torch.Tensor:
    return torch.linalg.eigvalsh(torch.as_tensor(hessian, dtype=torch.float64))


def _rotated(eigenvalues, seed: int) -> torch.Tensor:
    """A symmetric matrix with these eigenvalues in a random orthonormal basis (its diagonal says little)."""
    n = len(eigenvalues)
    basis, _ = torch.linalg.qr(torch.randn(n, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return basis @ torch.diag(torch.tensor(eigenvalues, dtype=torch.float64)) @ basis.T


def _hessians() -> list[torch.Tensor]:
    """2×2 to 5×5 Hessians, float32 and float64, every sign pattern: a rule for 2×2 matrices is not enough."""
    plain = [
        [[1.0, 0.0], [0.0, 2.0]],
        [[-1.0, 0.0], [0.0, -3.0]],
        [[0.0, 1.0], [1.0, 0.0]],
        [[2.0, 3.0], [3.0, 2.0]],  # positive diagonal, but a saddle
        [[-2.0, 1.0], [1.0, -2.0]],
        [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 5.0]],  # det > 0 and H[0, 0] < 0, yet a saddle
        [[4.0, 1.0, 0.0], [1.0, 3.0, 0.0], [0.0, 0.0, -0.5]],
        [[5.0, 2.0, 0.0], [2.0, 5.0, 1.0], [0.0, 1.0, 4.0]],
    ]
    hessians = [torch.tensor(h) for h in plain]
    for seed, eigenvalues in enumerate([(-2.0, -1.0, 3.0), (-3.0, -0.5, -1.0), (0.5, 2.0, 1.0), (-1.0, 2.0, 4.0),
                                        (1.0, 2.0, 3.0, -0.1), (-1.0, -2.0, -3.0, -4.0, -5.0), (3.0, -1.0, 2.0, 1.0, 4.0)]):
        hessians.append(_rotated(eigenvalues, seed))
    return hessians


@self_check
def check_classify_critical_point(classify) -> Verdict:
    """Your turn (section 7): ``classify(hessian)`` says "minimum", "maximum" or "saddle" (Hessian invertible).

    Tried on symmetric 2×2 to 5×5 Hessians (float32 and float64) with every
    pattern of eigenvalue signs, most of them in a rotated basis.
    """
    for hessian in _hessians():
        eigenvalues = _eigenvalues(hessian)
        expected = "minimum" if (eigenvalues > 0).all() else "maximum" if (eigenvalues < 0).all() else "saddle"
        answer = classify(hessian.clone())
        if answer not in ("minimum", "maximum", "saddle"):
            return wrong(f'return one of the strings "minimum", "maximum", "saddle"; got {answer!r}.')
        if answer != expected:
            size = len(hessian)
            return wrong(f"for the {size}×{size} Hessian {hessian.numpy().round(3).tolist()} your answer is "
                         f"{answer!r}, which is not right. Neither the diagonal nor (beyond 2×2) the determinant "
                         "decides it: look at the signs of all its eigenvalues.")
    return right("every Hessian, 2×2 to 5×5, classified by the signs of its eigenvalues.")


@self_check
def check_step_lr_value(lr) -> Verdict:
    """Exercise 1: the rate of StepLR(step_size=10, gamma=0.5) from 0.1 at step 35 (counting from 0)."""
    lr = _as_float(lr, "the learning rate")
    expected = 0.1 * 0.5 ** (35 // 10)
    if not math.isclose(lr, expected, rel_tol=1e-6):
        return wrong(f"{lr:g} is not the rate StepLR uses at step 35; how many times has it been halved by then?")
    return right("halved three times: at steps 10, 20 and 30.")


def _integer_pair(answer):
    """``answer`` as a tuple of two ints if it is a pair of whole numbers (tuple, list, tensor, ...), else None."""
    try:
        values = [value.item() if isinstance(value, torch.Tensor) else value for value in answer]
    except TypeError:
        return None
    if len(values) != 2 or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and float(v).is_integer()
                                   for v in values):
        return None
    return tuple(int(v) for v in values)


EARLY_STOPPING_CASES = [
    # (validation losses, patience, (epochs trained, best epoch))
    ([1.0, 0.8, 0.9, 0.85, 0.95, 0.7], 2, (4, 2)),
    ([1.0, 0.9, 0.8, 0.7], 2, (4, 4)),  # never stops early
    ([1.0, 1.0, 1.0], 1, (2, 1)),  # no strict improvement is no improvement
    ([3.0, 2.0, 2.5, 1.0, 1.5, 1.6, 1.7], 3, (7, 4)),
    ([3.0, 2.0, 2.5, 1.0, 1.5, 1.6, 1.7], 2, (6, 4)),
    ([0.5], 1, (1, 1)),
    ([2.0, 1.0, 1.0, 0.99999, 3.0, 4.0], 2, (6, 4)),  # any strictly smaller loss counts, however small the gain
    ([5.0, 4.0, 4.5, 4.2, 3.0, 3.5, 3.6, 3.7, 2.0], 3, (8, 5)),
]


@self_check
def check_early_stopping(early_stopping) -> Verdict:
    """Exercise 2: ``early_stopping(val_losses, patience) -> (epochs_trained, best_epoch)``, both counted from 1."""
    for losses, patience, expected in EARLY_STOPPING_CASES:
        answer = early_stopping(list(losses), patience)
        pair = _integer_pair(answer)
        if pair is None:
            return wrong(f"return a pair of whole numbers (epochs_trained, best_epoch); got {answer!r}.")
        if pair != expected:
            return wrong(f"for val_losses = {losses} and patience = {patience} your answer {answer} is not right "
                         "(epochs count from 1; only a strictly smaller loss is an improvement).")
    return right("stops after `patience` epochs in a row without a new best, and remembers the best epoch.")


def _rosenbrock(w: torch.Tensor) -> torch.Tensor:
    return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2


def _trajectory(make_optimizer, steps: int = 50) -> torch.Tensor:
    w = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer([w])
    path = [w.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        _rosenbrock(w).backward()
        optimizer.step()
        path.append(w.detach().clone())
    return torch.stack(path)


@self_check
def check_adamax(adamax_class) -> Verdict:
    """Exercise 3: a class ``Adamax(params, lr, betas=(0.9, 0.999), eps=1e-8)`` that matches ``torch.optim.Adamax``.

    Also with betas and eps other than the defaults, and a weight whose gradient is exactly 0 (no ε: nan).
    """
    for lr in (0.05, 0.2):
        ours = _trajectory(lambda params: adamax_class(params, lr=lr))
        theirs = _trajectory(lambda params: torch.optim.Adamax(params, lr=lr))
        if not torch.isfinite(ours).all():
            return wrong(f"with lr = {lr} the weights became nan or inf; is ε added before dividing?")
        gap = (ours - theirs).abs().max(dim=1).values
        if gap.max() > 1e-6:
            first = int((gap > 1e-6).nonzero()[0])
            hint = ("the very first step is off: check the bias correction of m" if first == 1
                    else "later steps drift apart: check how u is updated (a maximum, with β₂ and ε)")
            return wrong(f"with lr = {lr} your weights first differ from torch.optim.Adamax after step {first}; {hint}.")
    ours, theirs = _two_parameter_run(adamax_class), _two_parameter_run(torch.optim.Adamax)
    if not all(torch.allclose(a, b, rtol=0, atol=1e-5) for a, b in zip(ours, theirs)):  # float32
        return wrong("with two parameters (a 3×4 and a 5-element tensor, float32) your weights differ from "
                     "torch.optim.Adamax: keep m and u per parameter, and count the step t once per step(), "
                     "not once per parameter.")
    ours, theirs = _other_settings_run(adamax_class), _other_settings_run(torch.optim.Adamax)
    if not torch.isfinite(ours).all():
        return wrong("a weight whose gradient is exactly 0 became nan or inf: with u = max(β₂u, |g| + ε) the "
                     "divisor is at least ε, so ε belongs inside the maximum.")
    if not torch.allclose(ours, theirs, rtol=0, atol=1e-6):
        return wrong(f"with betas={OTHER_SETTINGS['betas']} and eps={OTHER_SETTINGS['eps']} your weights differ from "
                     "torch.optim.Adamax with the same settings: use the betas and eps you are given, and put ε "
                     "inside the maximum, u = max(β₂u, |g| + ε).")
    return right("50 steps on Rosenbrock for two learning rates, a model with two parameters, and other betas "
                 "and eps with a weight the loss ignores, match torch.optim.Adamax.")


#: Settings other than the defaults: an answer that ignores betas or eps, or adds ε outside the maximum, differs.
OTHER_SETTINGS = {"lr": 0.05, "betas": (0.8, 0.99), "eps": 0.1}


def _other_settings_run(make_optimizer, steps: int = 30) -> torch.Tensor:
    """Rosenbrock in the first two of three weights: the third one's gradient is exactly 0 at every step."""
    w = torch.tensor([-1.5, 2.0, 0.7], dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer([w], **OTHER_SETTINGS)
    path = [w.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        _rosenbrock(w).backward()  # uses w[0] and w[1] only
        optimizer.step()
        path.append(w.detach().clone())
    return torch.stack(path)


def _two_parameter_run(make_optimizer, steps: int = 30) -> list[torch.Tensor]:
    """Adamax on two float32 parameters of different shapes (a random quadratic that couples them)."""
    generator = torch.Generator().manual_seed(0)
    A = torch.randn(3, 4, generator=generator).requires_grad_(True)
    b = torch.randn(5, generator=generator).requires_grad_(True)
    M = torch.randn(4, 5, generator=generator)
    optimizer = make_optimizer([A, b], lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        ((A @ M - b) ** 2).sum().backward()  # each parameter's gradient depends on the other
        optimizer.step()
    return [A.detach(), b.detach()]


@self_check
def check_momentum_settings(settings) -> Verdict:
    """Exercise 4: ``(lr, momentum)`` for SGD that takes the quadratic below 1e-8 in 50 steps from (−4, 1)."""
    if isinstance(settings, (torch.Tensor, np.ndarray)):
        settings = settings.tolist()
    if not (isinstance(settings, (tuple, list)) and len(settings) == 2):
        return wrong("answer with a pair (lr, momentum).")
    lr, momentum = (_as_float(value, "each setting") for value in settings)
    if not (lr > 0 and 0 <= momentum < 1):
        return wrong("the learning rate must be positive and the momentum in [0, 1).")
    w = torch.tensor(QUADRATIC_START, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=lr, momentum=momentum)
    for _ in range(50):
        optimizer.zero_grad()
        _quadratic(w).backward()
        optimizer.step()
    loss = _quadratic(w.detach()).item()
    if not math.isfinite(loss) or loss > 1e-8:
        return wrong(f"after 50 steps with lr = {lr:g}, momentum = {momentum:g} the loss is {loss:.3g}, not below 1e-8.")
    return right(f"after 50 steps the loss is {loss:.2g}.")
