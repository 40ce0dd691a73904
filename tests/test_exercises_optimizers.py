"""Lecture 05's self-checks: right answers (written two ways) are right, plausible wrong ones are not yet, a
placeholder waits, and no check touches the notebook's random state."""
import math

import numpy as np
import pytest
import torch

from course_utils.exercises.optimizers import (check_adamax, check_classify_critical_point, check_early_stopping,
                                               check_fastest_learning_rate, check_momentum_settings,
                                               check_step_lr_value)


def not_implemented(*args, **kwargs):
    raise NotImplementedError


# --- your turn: the fastest learning rate ------------------------------------------------------------------------

def grid_searched_rate():
    rates = torch.linspace(0.001, 0.1, 991, dtype=torch.float64)
    factors = torch.maximum((1 - rates * 1).abs(), (1 - rates * 20).abs())
    return rates[factors.argmin()]  # a tensor


def test_fastest_learning_rate(capsys):
    assert check_fastest_learning_rate(2 / 21).passed
    assert check_fastest_learning_rate(grid_searched_rate()).passed
    capsys.readouterr()
    too_small = check_fastest_learning_rate(0.05)  # 1 / λ_max: right for the steep axis only
    assert too_small.status == "wrong" and "flat direction" in too_small.message
    assert check_fastest_learning_rate(0.1).status == "wrong"  # the stability limit 2 / λ_max is not the fastest rate
    assert check_fastest_learning_rate(0.09).status == "wrong"  # the rate section 2 used
    assert check_fastest_learning_rate(2 / 20).status == "wrong"
    assert check_fastest_learning_rate(...).status == "not attempted"
    assert "0.0952" not in capsys.readouterr().out


# --- your turn: classify a critical point ------------------------------------------------------------------------

def classify_by_eigenvalues(hessian):
    eigenvalues = torch.linalg.eigvalsh(hessian.double())
    return "minimum" if (eigenvalues > 0).all() else "maximum" if (eigenvalues < 0).all() else "saddle"


def classify_by_extreme_eigenvalues(hessian):
    eigenvalues = torch.linalg.eigvals(hessian).real  # a general solver, complex results
    if eigenvalues.min() > 0:
        return "minimum"
    if eigenvalues.max() < 0:
        return "maximum"
    return "saddle"


def classify_by_diagonal(hessian):
    diagonal = hessian.diagonal()
    return "minimum" if (diagonal > 0).all() else "maximum" if (diagonal < 0).all() else "saddle"


def classify_by_determinant(hessian):
    """The 2×2 rule (det > 0: an extremum, its kind from H[0, 0]); calls diag(-1, -1, 5) a maximum."""
    if torch.linalg.det(hessian) < 0:
        return "saddle"
    return "minimum" if hessian[0, 0] > 0 else "maximum"


def classify_by_first_two_eigenvalues(hessian):
    eigenvalues = torch.linalg.eigvalsh(hessian)
    if eigenvalues[0] > 0:
        return "minimum"
    if eigenvalues[1] < 0:  # written for 2×2: the largest of two
        return "maximum"
    return "saddle"


@pytest.mark.parametrize("answer", [classify_by_eigenvalues, classify_by_extreme_eigenvalues])
def test_classify_critical_point_right(answer):
    assert check_classify_critical_point(answer).passed


@pytest.mark.parametrize("answer", [classify_by_diagonal, classify_by_determinant, classify_by_first_two_eigenvalues,
                                    lambda h: "min"])
def test_classify_critical_point_wrong(answer):
    assert check_classify_critical_point(answer).status == "wrong"


def test_classify_critical_point_placeholder():
    assert check_classify_critical_point(not_implemented).status == "not attempted"


def test_the_issue_s_saddle_is_tried():
    """diag(-1, -1, 5) is a saddle; the 2×2 determinant rule calls it a maximum."""
    assert classify_by_determinant(torch.diag(torch.tensor([-1.0, -1.0, 5.0]))) == "maximum"
    verdict = check_classify_critical_point(classify_by_determinant)
    assert "determinant" in verdict.message


# --- exercise 1: read a schedule ---------------------------------------------------------------------------------

def step_lr_rate_at_35():
    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)
    for _ in range(35):
        optimizer.step()
        scheduler.step()
    return optimizer.param_groups[0]["lr"]


def test_step_lr_value():
    assert check_step_lr_value(step_lr_rate_at_35()).passed
    assert check_step_lr_value(torch.tensor(0.1 * 0.5**3)).passed
    assert check_step_lr_value(0.1 * 0.5**4).status == "wrong"  # halved once too often
    assert check_step_lr_value(0.1 * 0.5**3.5).status == "wrong"  # a smooth decay
    assert check_step_lr_value(0.1 * 0.5**2).status == "wrong"
    assert check_step_lr_value(...).status == "not attempted"


# --- exercise 2: early stopping ----------------------------------------------------------------------------------

def early_stopping_right(val_losses, patience):
    best, best_epoch, waited = math.inf, 0, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best:
            best, best_epoch, waited = loss, epoch, 0
        else:
            waited += 1
            if waited == patience:
                return epoch, best_epoch
    return len(val_losses), best_epoch


def early_stopping_as_a_list(val_losses, patience):
    """Another right answer: from the index of the best loss so far, returned as a list."""
    for epoch in range(1, len(val_losses) + 1):
        seen = val_losses[:epoch]
        best_epoch = seen.index(min(seen)) + 1  # the first epoch with the smallest loss
        if epoch - best_epoch == patience:
            return [epoch, best_epoch]
    return [len(val_losses), val_losses.index(min(val_losses)) + 1]


def early_stopping_counts_ties_as_improvement(val_losses, patience):
    best, best_epoch, waited = math.inf, 0, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if loss <= best:
            best, best_epoch, waited = loss, epoch, 0
        else:
            waited += 1
            if waited == patience:
                return epoch, best_epoch
    return len(val_losses), best_epoch


def early_stopping_waits_one_epoch_too_long(val_losses, patience):
    best, best_epoch, waited = math.inf, 0, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best:
            best, best_epoch, waited = loss, epoch, 0
        else:
            waited += 1
            if waited > patience:
                return epoch, best_epoch
    return len(val_losses), best_epoch


def early_stopping_counts_from_zero(val_losses, patience):
    epochs, best_epoch = early_stopping_right(val_losses, patience)
    return epochs - 1, best_epoch - 1


@pytest.mark.parametrize("answer", [early_stopping_right, early_stopping_as_a_list,
                                    lambda v, p: np.array(early_stopping_right(v, p))])
def test_early_stopping_right(answer):
    assert check_early_stopping(answer).passed


@pytest.mark.parametrize("answer", [early_stopping_counts_ties_as_improvement, early_stopping_waits_one_epoch_too_long,
                                    early_stopping_counts_from_zero, lambda losses, patience: len(losses),
                                    lambda v, p: tuple(x + 0.5 for x in early_stopping_right(v, p))])
def test_early_stopping_wrong(answer):
    assert check_early_stopping(answer).status == "wrong"


def test_early_stopping_placeholder():
    assert check_early_stopping(not_implemented).status == "not attempted"


# --- exercise 3: Adamax ------------------------------------------------------------------------------------------

class AdamaxRight:
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, (self.beta1, self.beta2), self.eps = list(params), lr, betas, eps
        self.m = [torch.zeros_like(p) for p in self.params]
        self.u = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        self.t += 1
        for p, m, u in zip(self.params, self.m, self.u):
            m.mul_(self.beta1).add_((1 - self.beta1) * p.grad)
            u.copy_(torch.maximum(self.beta2 * u, p.grad.abs() + self.eps))
            p -= self.lr / (1 - self.beta1**self.t) * m / u


class AdamaxWithStateDicts:
    """Another right answer: the lecture's style, a state dict per parameter, amax over a stack."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params = list(params)
        self.state = [{} for _ in self.params]
        self.lr, self.betas, self.eps, self.t = lr, betas, eps, 0

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        self.t += 1
        beta1, beta2 = self.betas
        for p, state in zip(self.params, self.state):
            m = state["m"] = beta1 * state.get("m", torch.zeros_like(p)) + (1 - beta1) * p.grad
            u = state["u"] = torch.stack([beta2 * state.get("u", torch.zeros_like(p)), p.grad.abs() + self.eps]).amax(0)
            p -= self.lr * (m / (1 - beta1**self.t)) / u


class AdamaxWithoutBiasCorrection(AdamaxRight):
    @torch.no_grad()
    def step(self):
        for p, m, u in zip(self.params, self.m, self.u):
            m.mul_(self.beta1).add_((1 - self.beta1) * p.grad)
            u.copy_(torch.maximum(self.beta2 * u, p.grad.abs() + self.eps))
            p -= self.lr * m / u


class AdamaxWithASumNotAMaximum(AdamaxRight):
    @torch.no_grad()
    def step(self):
        self.t += 1
        for p, m, u in zip(self.params, self.m, self.u):
            m.mul_(self.beta1).add_((1 - self.beta1) * p.grad)
            u.copy_(self.beta2 * u + p.grad.abs() + self.eps)
            p -= self.lr / (1 - self.beta1**self.t) * m / u


class AdamaxCorrectingUToo(AdamaxRight):
    @torch.no_grad()
    def step(self):
        self.t += 1
        for p, m, u in zip(self.params, self.m, self.u):
            m.mul_(self.beta1).add_((1 - self.beta1) * p.grad)
            u.copy_(torch.maximum(self.beta2 * u, p.grad.abs() + self.eps))
            p -= self.lr / (1 - self.beta1**self.t) * m / (u / (1 - self.beta2**self.t))


class AdamaxCountingStepsPerParameter(AdamaxRight):
    """Right for one parameter; with two, t advances twice per step."""

    @torch.no_grad()
    def step(self):
        for p, m, u in zip(self.params, self.m, self.u):
            self.t += 1
            m.mul_(self.beta1).add_((1 - self.beta1) * p.grad)
            u.copy_(torch.maximum(self.beta2 * u, p.grad.abs() + self.eps))
            p -= self.lr / (1 - self.beta1**self.t) * m / u


class AdamaxWithoutEps(AdamaxRight):
    """Right wherever no gradient is 0 and eps is tiny; a weight the loss ignores divides 0 by 0."""

    @torch.no_grad()
    def step(self):
        self.t += 1
        for p, m, u in zip(self.params, self.m, self.u):
            m.mul_(self.beta1).add_((1 - self.beta1) * p.grad)
            u.copy_(torch.maximum(self.beta2 * u, p.grad.abs()))
            p -= self.lr / (1 - self.beta1**self.t) * m / u


class AdamaxWithEpsOutsideTheMaximum(AdamaxRight):
    """Adam's habit, m / (u + eps): not the form the exercise states (and torch.optim.Adamax uses)."""

    @torch.no_grad()
    def step(self):
        self.t += 1
        for p, m, u in zip(self.params, self.m, self.u):
            m.mul_(self.beta1).add_((1 - self.beta1) * p.grad)
            u.copy_(torch.maximum(self.beta2 * u, p.grad.abs()))
            p -= self.lr / (1 - self.beta1**self.t) * m / (u + self.eps)


class AdamaxIgnoringBetas(AdamaxRight):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, lr, (0.9, 0.999), eps)


class AdamaxIgnoringEps(AdamaxRight):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, lr, betas, 1e-8)


def test_adamax_with_other_settings_and_a_zero_gradient():
    """Are a missing eps, eps outside the maximum, and ignored betas or eps rejected? (With the default settings
    and no zero gradient all four match torch.optim.Adamax to 1e-6.)"""
    assert "inside the maximum" in check_adamax(AdamaxWithoutEps).message
    assert "inside the maximum" in check_adamax(AdamaxWithEpsOutsideTheMaximum).message
    assert "betas and eps you are given" in check_adamax(AdamaxIgnoringBetas).message
    assert "betas and eps you are given" in check_adamax(AdamaxIgnoringEps).message


@pytest.mark.parametrize("answer", [AdamaxRight, AdamaxWithStateDicts])
def test_adamax_right(answer):
    assert check_adamax(answer).passed


def test_adamax_wrong():
    verdict = check_adamax(AdamaxWithoutBiasCorrection)
    assert verdict.status == "wrong" and "first step" in verdict.message
    assert check_adamax(AdamaxWithASumNotAMaximum).status == "wrong"
    assert check_adamax(AdamaxCorrectingUToo).status == "wrong"
    assert "once per step" in check_adamax(AdamaxCountingStepsPerParameter).message
    assert check_adamax(lambda params, lr: torch.optim.Adam(params, lr=lr)).status == "wrong"
    assert check_adamax(not_implemented).status == "not attempted"


# --- exercise 4: momentum beats the condition number ------------------------------------------------------------

def test_momentum_settings():
    kappa = 20.0
    lr = 4 / (math.sqrt(kappa) + 1) ** 2
    momentum = ((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)) ** 2
    assert check_momentum_settings((lr, momentum)).passed
    assert check_momentum_settings([0.12, 0.5]).passed  # found on a coarse grid
    assert check_momentum_settings(np.array([0.12, 0.5])).passed
    plain = check_momentum_settings((2 / 21, 0.0))  # the best plain GD cannot do it
    assert plain.status == "wrong" and "not below 1e-8" in plain.message
    assert check_momentum_settings((0.2, 0.9)).status == "wrong"
    assert check_momentum_settings((0.05, 0.9)).status == "wrong"  # the usual default momentum, too much here
    assert check_momentum_settings((0.1, 1.0)).status == "wrong"
    assert check_momentum_settings(0.1).status == "wrong"
    assert check_momentum_settings(...).status == "not attempted"


# --- no check changes the notebook's random numbers --------------------------------------------------------------

@pytest.mark.parametrize("check,answer", [
    (check_fastest_learning_rate, 0.05), (check_classify_critical_point, classify_by_eigenvalues),
    (check_step_lr_value, 0.0125), (check_early_stopping, early_stopping_right), (check_adamax, AdamaxRight),
    (check_momentum_settings, (0.12, 0.5)),
], ids=lambda value: getattr(value, "__name__", None))
def test_checks_leave_the_global_random_state_alone(check, answer):
    state = torch.get_rng_state()
    check(answer)
    assert torch.equal(torch.get_rng_state(), state)
