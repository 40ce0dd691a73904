"""Lecture 07's self-checks: each says right for a right answer, not yet (with the reason) for a wrong one,
and "not attempted" for the untouched placeholder."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.exercises.notmnist import (check_conv_weight_count, check_log_softmax_classifier,
                                             check_per_class_accuracy, check_standard_error,
                                             check_stratified_folds, check_top_k_accuracy, check_training_pass)

ALL_CHECKS = [check_log_softmax_classifier, check_training_pass, check_standard_error, check_conv_weight_count,
              check_per_class_accuracy, check_stratified_folds, check_top_k_accuracy]


@pytest.mark.parametrize("check", ALL_CHECKS)
def test_placeholder_is_not_attempted(check, capsys):
    assert check(...).status == "not attempted"
    assert capsys.readouterr().out.startswith("Not attempted yet:")


def not_implemented(*args):
    raise NotImplementedError


# ---------------------------------------------------------------- your turn


def classifier(dim=1, softmax_too=False):
    layers = [nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)]
    if softmax_too:
        layers.append(nn.Softmax(dim=1))
    return nn.Sequential(*layers, nn.LogSoftmax(dim=dim))


def test_log_softmax_classifier():
    assert check_log_softmax_classifier(classifier()).passed
    wrong_dim = check_log_softmax_classifier(classifier(dim=0))
    assert wrong_dim.status == "wrong" and "dim=0" in wrong_dim.message
    assert "nn.Softmax" in check_log_softmax_classifier(classifier(softmax_too=True)).message
    no_log = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    assert check_log_softmax_classifier(no_log).status == "wrong"
    no_flatten = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10), nn.LogSoftmax(dim=1))
    assert check_log_softmax_classifier(no_flatten).status == "wrong"  # 28 x 28 inputs raise: reported, not raised
    assert check_log_softmax_classifier("a model").status == "wrong"


def test_log_softmax_check_keeps_the_models_mode_and_the_random_state():
    model = classifier().train()
    state = torch.get_rng_state()
    check_log_softmax_classifier(model)
    assert model.training and torch.equal(torch.get_rng_state(), state)


def epoch_right(model, loader, optimizer):
    total, count = 0.0, 0
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        count += len(y)
    return total / count


def epoch_without_zero_grad(model, loader, optimizer):
    total = []
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        total.append(loss.item())
    return sum(total) / len(total)


def epoch_mean_over_batches(model, loader, optimizer):
    losses = []
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)  # wrong: the last batch is shorter


def epoch_without_step(model, loader, optimizer):
    for x, y in loader:
        F.cross_entropy(model(x), y).backward()
    return 1.0


def test_training_pass():
    assert check_training_pass(epoch_right).passed
    assert "zero_grad" in check_training_pass(epoch_without_zero_grad).message
    assert "mean over all examples" in check_training_pass(epoch_mean_over_batches).message
    assert "step" in check_training_pass(epoch_without_step).message
    assert check_training_pass(not_implemented).status == "not attempted"


# ---------------------------------------------------------------- exercises


def test_standard_error():
    assert check_standard_error(lambda p, n: math.sqrt(p * (1 - p) / n)).passed
    assert "square root" in check_standard_error(lambda p, n: p * (1 - p) / n).message
    assert check_standard_error(lambda p, n: math.sqrt(p * (1 - p)) / n).status == "wrong"
    assert check_standard_error(lambda p, n: math.sqrt(p / n)).status == "wrong"


def test_conv_weight_count():
    assert check_conv_weight_count(lambda i, o, k: i * o * k * k + o).passed
    assert "biases" in check_conv_weight_count(lambda i, o, k: i * o * k * k).message
    assert check_conv_weight_count(lambda i, o, k: o * k * k + o).status == "wrong"


def test_per_class_accuracy():
    assert check_per_class_accuracy(lambda m: m.diag() / m.sum(dim=1)).passed
    assert "column" in check_per_class_accuracy(lambda m: m.diag() / m.sum(dim=0)).message
    assert check_per_class_accuracy(lambda m: m.diag().float().sum() / m.sum()).status == "wrong"


def folds_right(labels, k, seed):
    rng = np.random.default_rng(seed)
    folds = [[] for _ in range(k)]
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        for j, part in enumerate(np.array_split(idx, k)):
            folds[j].extend(part.tolist())
    return [np.array(f) for f in folds]


def folds_not_stratified(labels, k, seed):
    return np.array_split(np.arange(len(labels)), k)  # in order, ignoring the classes


def folds_unseeded(labels, k, seed):
    return folds_right(labels, k, 0)  # ignores the seed: always the same folds


def test_stratified_folds():
    assert check_stratified_folds(folds_right).passed
    assert "unevenly" in check_stratified_folds(folds_not_stratified).message
    assert "shuffle" in check_stratified_folds(folds_unseeded).message
    assert "every index" in check_stratified_folds(lambda y, k, s: folds_right(y, k, s)[:-1] + [[]]).message


def test_top_k_accuracy():
    def right(logits, labels, k):
        return (logits.topk(k, dim=1).indices == labels[:, None]).any(dim=1).float().mean().item()

    assert check_top_k_accuracy(right).passed
    assert check_top_k_accuracy(lambda z, y, k: (z.argmax(dim=1) == y).float().mean()).status == "wrong"
    assert check_top_k_accuracy(lambda z, y, k: (z.topk(k, dim=1).indices == y[:, None]).sum()).status == "wrong"
