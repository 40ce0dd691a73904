"""Lecture 05's self-checks: each says right for a right answer, not yet for a wrong one, and waits for a placeholder."""
import math

import torch

from course_utils.exercises.optimizers import (check_adamax, check_classify_critical_point, check_early_stopping,
                                               check_fastest_learning_rate, check_momentum_settings,
                                               check_step_lr_value)


def not_implemented(*args, **kwargs):
    raise NotImplementedError


def test_fastest_learning_rate(capsys):
    assert check_fastest_learning_rate(2 / 21).passed
    capsys.readouterr()
    too_small = check_fastest_learning_rate(0.05)
    assert too_small.status == "wrong" and "flat direction" in too_small.message
    assert check_fastest_learning_rate(0.1).status == "wrong"  # the stability limit is not the fastest rate
    assert check_fastest_learning_rate(...).status == "not attempted"
    assert "0.0952" not in capsys.readouterr().out


def classify_by_eigenvalues(hessian):
    eigenvalues = torch.linalg.eigvalsh(hessian.double())
    return "minimum" if (eigenvalues > 0).all() else "maximum" if (eigenvalues < 0).all() else "saddle"


def classify_by_diagonal(hessian):
    diagonal = hessian.diagonal()
    return "minimum" if (diagonal > 0).all() else "maximum" if (diagonal < 0).all() else "saddle"


def test_classify_critical_point():
    assert check_classify_critical_point(classify_by_eigenvalues).passed
    verdict = check_classify_critical_point(classify_by_diagonal)
    assert verdict.status == "wrong" and "diagonal" in verdict.message
    assert check_classify_critical_point(lambda h: "min").status == "wrong"
    assert check_classify_critical_point(not_implemented).status == "not attempted"


def test_step_lr_value():
    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)
    for _ in range(35):
        optimizer.step()
        scheduler.step()
    assert check_step_lr_value(optimizer.param_groups[0]["lr"]).passed
    assert check_step_lr_value(0.1 * 0.5**4).status == "wrong"
    assert check_step_lr_value(...).status == "not attempted"


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


def test_early_stopping():
    assert check_early_stopping(early_stopping_right).passed
    assert check_early_stopping(early_stopping_counts_ties_as_improvement).status == "wrong"
    assert check_early_stopping(lambda losses, patience: len(losses)).status == "wrong"
    assert check_early_stopping(not_implemented).status == "not attempted"


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


class AdamaxWithoutBiasCorrection(AdamaxRight):
    @torch.no_grad()
    def step(self):
        for p, m, u in zip(self.params, self.m, self.u):
            m.mul_(self.beta1).add_((1 - self.beta1) * p.grad)
            u.copy_(torch.maximum(self.beta2 * u, p.grad.abs() + self.eps))
            p -= self.lr * m / u


def test_adamax():
    assert check_adamax(AdamaxRight).passed
    verdict = check_adamax(AdamaxWithoutBiasCorrection)
    assert verdict.status == "wrong" and "first step" in verdict.message
    assert check_adamax(lambda params, lr: torch.optim.Adam(params, lr=lr)).status == "wrong"
    assert check_adamax(not_implemented).status == "not attempted"


def test_momentum_settings():
    kappa = 20.0
    lr = 4 / (math.sqrt(kappa) + 1) ** 2
    momentum = ((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)) ** 2
    assert check_momentum_settings((lr, momentum)).passed
    plain = check_momentum_settings((2 / 21, 0.0))  # the best plain GD cannot do it
    assert plain.status == "wrong" and "not below 1e-8" in plain.message
    assert check_momentum_settings((0.2, 0.9)).status == "wrong"
    assert check_momentum_settings(0.1).status == "wrong"
    assert check_momentum_settings(...).status == "not attempted"
