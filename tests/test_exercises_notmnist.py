"""Lecture 07's self-checks: each says right for two differently written right answers, not yet (with a reason)
for at least three plausible wrong ones, "not attempted" for the placeholder, and leaves the random state alone;
and the lecture's check cells call them."""
import json
import math
import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.exercises import notmnist
from course_utils.exercises.notmnist import (check_conv_weight_count, check_expected_best, check_per_class_accuracy,
                                             check_smoothed_loss_floor, check_standard_error,
                                             check_stratified_folds, check_top_k_accuracy)

LECTURE = Path(__file__).resolve().parents[1] / "lectures" / "07_notmnist.ipynb"


def not_implemented(*args):
    raise NotImplementedError


def assert_right(check, answer):
    verdict = check(answer)
    assert verdict.status == "right", verdict.message


def assert_wrong(check, answer, *words):
    verdict = check(answer)
    assert verdict.status == "wrong" and len(verdict.message) > 20, verdict
    for word in words:
        assert word in verdict.message, verdict.message


# ---------------------------------------------------------------- your turn: the floor under a smoothed loss


def floor_with_xlogy(num_classes, smoothing):
    q = torch.full((num_classes,), smoothing / num_classes, dtype=torch.float64)
    q[0] += 1 - smoothing
    return -torch.xlogy(q, q).sum().item()


def floor_with_cross_entropy(num_classes, smoothing):
    """Feed the logits log q (the best prediction) to the loss itself."""
    q = torch.full((1, num_classes), smoothing / num_classes, dtype=torch.float64)
    q[0, 0] += 1 - smoothing
    return F.cross_entropy(q.log(), torch.tensor([0]), label_smoothing=smoothing)


def floor_with_categorical(num_classes, smoothing):
    probs = [smoothing / num_classes] * num_classes
    probs[0] += 1 - smoothing
    return torch.distributions.Categorical(probs=torch.tensor(probs, dtype=torch.float64)).entropy()


def floor_unguarded(num_classes, smoothing):  # nan at smoothing 0: 0 * log 0
    right, other = 1 - smoothing + smoothing / num_classes, smoothing / num_classes
    return -(right * math.log(right) + (num_classes - 1) * other * math.log(other)) if other else float("nan")


def floor_spread_over_others(num_classes, smoothing):  # the other convention: 1 - eps and eps / (K - 1)
    q = torch.full((num_classes,), smoothing / (num_classes - 1), dtype=torch.float64)
    q[0] = 1 - smoothing
    return -torch.xlogy(q, q).sum().item()


def floor_right_class_one_minus_eps(num_classes, smoothing):  # forgets that the right class also gets eps / K
    q = torch.full((num_classes,), smoothing / num_classes, dtype=torch.float64)
    q[0] = 1 - smoothing
    return -torch.xlogy(q, q).sum().item()


def floor_without_multiplicity(num_classes, smoothing):  # counts one wrong class instead of K - 1
    right, other = 1 - smoothing + smoothing / num_classes, smoothing / num_classes
    return -(torch.xlogy(torch.tensor(right), torch.tensor(right)) + torch.xlogy(torch.tensor(other),
                                                                                 torch.tensor(other))).item()


def test_smoothed_floor_reference_is_the_minimum_of_pytorchs_loss():
    """Is the reference the loss PyTorch gives at its best logits, and no logits go below it?"""
    for k, eps in [(10, 0.1), (2, 0.3), (100, 0.05), (3, 1.0)]:
        reference = notmnist.smoothed_floor_reference(k, eps)
        assert math.isclose(float(floor_with_cross_entropy(k, eps)), reference, rel_tol=1e-9)
        logits = torch.randn(500, k, dtype=torch.float64, generator=torch.Generator().manual_seed(k)) * 3
        losses = F.cross_entropy(logits, torch.zeros(500, dtype=torch.int64), label_smoothing=eps, reduction="none")
        assert losses.min().item() >= reference - 1e-12
    assert math.isclose(notmnist.smoothed_floor_reference(10, 0.1), -0.91 * math.log(0.91) - 0.09 * math.log(0.01))


def test_smoothed_loss_floor():
    for answer in (floor_with_xlogy, floor_with_cross_entropy, floor_with_categorical):
        assert_right(check_smoothed_loss_floor, answer)
    assert_wrong(check_smoothed_loss_floor, floor_unguarded, "0 · log 0")
    assert_wrong(check_smoothed_loss_floor, floor_spread_over_others, "all num_classes")
    assert_wrong(check_smoothed_loss_floor, floor_right_class_one_minus_eps)
    assert_wrong(check_smoothed_loss_floor, floor_without_multiplicity)
    assert_wrong(check_smoothed_loss_floor, lambda k, eps: 0.0, "reach 0")
    assert_wrong(check_smoothed_loss_floor, lambda k, eps: math.log(math.e + k - 1) - 1)  # lecture's other floor


# ---------------------------------------------------------------- your turn: the winner's curse


def best_with_binomial(num_models, acc, n, num_trials, seed):
    generator = torch.Generator().manual_seed(seed)
    counts = torch.binomial(torch.full((num_trials, num_models), float(n)), torch.full((num_trials, num_models), acc),
                            generator=generator)
    return (counts / n).max(dim=1).values.mean().item()


def best_with_numpy(num_models, acc, n, num_trials, seed):
    rng = np.random.default_rng(seed)
    return (rng.binomial(n, acc, size=(num_trials, num_models)) / n).max(axis=1).mean()


def best_with_distributions(num_models, acc, n, num_trials, seed):
    torch.manual_seed(seed)  # changes the global generator: the check must undo that
    measured = torch.distributions.Binomial(n, probs=torch.tensor(acc)).sample((num_trials, num_models)) / n
    return measured.amax(dim=1).mean()


def best_with_coin_flips(num_models, acc, n, num_trials, seed):
    generator = torch.Generator().manual_seed(seed)
    best = []
    for _ in range(0, num_trials, 100):  # 100 experiments at a time
        flips = torch.rand(100, num_models, n, generator=generator) < acc
        best.append(flips.float().mean(dim=2).max(dim=1).values)
    return torch.cat(best)[:num_trials].mean()


def best_is_the_mean(num_models, acc, n, num_trials, seed):
    rng = np.random.default_rng(seed)
    return (rng.binomial(n, acc, size=(num_trials, num_models)) / n).mean()


def best_over_everything(num_models, acc, n, num_trials, seed):
    rng = np.random.default_rng(seed)
    return (rng.binomial(n, acc, size=(num_trials, num_models)) / n).max()


def best_ignores_seed(num_models, acc, n, num_trials, seed):  # repeatable, but the same for every seed
    return best_with_numpy(num_models, acc, n, num_trials, 0)


def best_of_means(num_models, acc, n, num_trials, seed):  # averages over trials first, then takes the best model
    rng = np.random.default_rng(seed)
    return (rng.binomial(n, acc, size=(num_trials, num_models)) / n).mean(axis=0).max()


def best_counts(num_models, acc, n, num_trials, seed):  # forgets to divide by n
    rng = np.random.default_rng(seed)
    return rng.binomial(n, acc, size=(num_trials, num_models)).max(axis=1).mean()


def best_unseeded(num_models, acc, n, num_trials, seed):
    return best_with_numpy(num_models, acc, n, num_trials, None)


def test_expected_best_reference_matches_a_simulation():
    for case in [(20, 0.94, 1000), (1, 0.94, 1000), (5, 0.8, 100)]:
        mean, spread = notmnist.expected_best_reference(*case)
        simulated = best_with_numpy(*case, 50_000, 3)
        assert abs(simulated - mean) < 5 * spread / math.sqrt(50_000)
    assert math.isclose(notmnist.expected_best_reference(1, 0.94, 1000)[0], 0.94, rel_tol=1e-9)
    mean, _ = notmnist.expected_best_reference(20, 0.94, 1000)
    assert 0.012 < mean - 0.94 < 0.016  # "about 1.4 points" (lecture, section 11)


def test_expected_best():
    for answer in (best_with_binomial, best_with_numpy, best_with_distributions, best_with_coin_flips):
        assert_right(check_expected_best, answer)
    assert_wrong(check_expected_best, best_is_the_mean, "best of the num_models")
    assert_wrong(check_expected_best, best_over_everything)
    assert_wrong(check_expected_best, best_of_means)
    assert_wrong(check_expected_best, best_counts, "more than 1")
    assert_wrong(check_expected_best, best_unseeded, "same seed")
    assert_wrong(check_expected_best, best_ignores_seed, "ignores `seed`")


# ---------------------------------------------------------------- exercises


def test_standard_error():
    assert_right(check_standard_error, lambda p, n: math.sqrt(p * (1 - p) / n))
    assert_right(check_standard_error, lambda p, n: np.sqrt((p - p ** 2) / n))
    assert_right(check_standard_error, lambda p, n: torch.tensor(p * (1 - p) / n, dtype=torch.float64).sqrt())
    assert_wrong(check_standard_error, lambda p, n: p * (1 - p) / n, "square root")
    assert_wrong(check_standard_error, lambda p, n: math.sqrt(p * (1 - p)) / n, "too small")
    assert_wrong(check_standard_error, lambda p, n: math.sqrt(p / n))
    assert_wrong(check_standard_error, lambda p, n: math.sqrt(p * (1 - p) / (n - 1)))


def test_conv_weight_count():
    assert_right(check_conv_weight_count, lambda i, o, k: i * o * k * k + o)
    assert_right(check_conv_weight_count, lambda i, o, k: (i * k ** 2 + 1) * o)
    assert_wrong(check_conv_weight_count, lambda i, o, k: i * o * k * k, "biases")
    assert_wrong(check_conv_weight_count, lambda i, o, k: o * k * k + o)
    assert_wrong(check_conv_weight_count, lambda i, o, k: i * o * k + o)
    built = check_conv_weight_count(lambda i, o, k: sum(p.numel() for p in nn.Conv2d(i, o, k).parameters()))
    assert built.status == "wrong" and "builds an nn.Conv2d" in built.message
    assert nn.Conv2d(2, 3, 3).weight.shape == (3, 2, 3, 3)  # the check put nn.Conv2d back


def test_per_class_accuracy():
    assert_right(check_per_class_accuracy, lambda m: m.diag() / m.sum(dim=1))
    assert_right(check_per_class_accuracy, lambda m: [m[t, t].item() / m[t].sum().item() for t in range(len(m))])
    assert_wrong(check_per_class_accuracy, lambda m: m.diag() / m.sum(dim=0), "column")
    assert_wrong(check_per_class_accuracy, lambda m: m.diag().float().sum() / m.sum())
    assert_wrong(check_per_class_accuracy, lambda m: m.diag() // m.sum(dim=1), "integer division")
    assert_wrong(check_per_class_accuracy, lambda m: m.diag() / m.sum())
    assert_wrong(check_per_class_accuracy, lambda m: 100 * m.diag() / m.sum(dim=1), "percentages")


def top_k_with_topk(logits, labels, k):
    return (logits.topk(k, dim=1).indices == labels[:, None]).any(dim=1).float().mean().item()


def top_k_with_ranks(logits, labels, k):
    """The true class is in the top k when fewer than k logits beat it."""
    beaten_by = (logits > logits.gather(1, labels[:, None])).sum(dim=1)
    return (beaten_by < k).double().mean()


def test_top_k_accuracy():
    assert_right(check_top_k_accuracy, top_k_with_topk)
    assert_right(check_top_k_accuracy, top_k_with_ranks)
    assert_wrong(check_top_k_accuracy, lambda z, y, k: (z.argmax(dim=1) == y).float().mean())
    assert_wrong(check_top_k_accuracy, lambda z, y, k: (z.topk(k, dim=1).indices == y[:, None]).sum(), "share")
    assert_wrong(check_top_k_accuracy,
                 lambda z, y, k: (z.topk(k, dim=1, largest=False).indices == y[:, None]).any(dim=1).float().mean())
    assert_wrong(check_top_k_accuracy,
                 lambda z, y, k: (z.argsort(dim=1)[:, :k] == y[:, None]).any(dim=1).float().mean())  # ascending


def folds_right(labels, k, seed):
    rng = np.random.default_rng(seed)
    folds = [[] for _ in range(k)]
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        for j, part in enumerate(np.array_split(idx, k)):
            folds[j].extend(part.tolist())
    return [np.array(f) for f in folds]


def folds_dealt(labels, k, seed):
    """Shuffle everything, sort by class (stable), deal round-robin: stratified in a different way."""
    order = np.random.default_rng(seed).permutation(len(labels))
    order = order[np.argsort(labels[order], kind="stable")]
    return [order[j::k] for j in range(k)]


def folds_not_stratified(labels, k, seed):
    return np.array_split(np.random.default_rng(seed).permutation(len(labels)), k)


def folds_unseeded(labels, k, seed):
    return folds_right(labels, k, 0)  # ignores the seed: always the same folds


def folds_seed_only_orders_them(labels, k, seed):
    folds = folds_right(labels, k, 0)
    return [folds[j] for j in np.random.default_rng(seed).permutation(k)]  # same folds, shuffled order


def folds_in_index_order(labels, k, seed):
    """Each class cut into consecutive runs in index order; only which fold gets which run is random."""
    rng = np.random.default_rng(seed)
    folds = [[] for _ in range(k)]
    for c in np.unique(labels):
        for j, part in zip(rng.permutation(k), np.array_split(np.flatnonzero(labels == c), k)):
            folds[j].extend(part.tolist())
    return folds


def folds_every_kth(labels, k, seed):
    """Each class dealt in index order (every k-th image); only which fold gets which share is random."""
    rng = np.random.default_rng(seed)
    folds = [[] for _ in range(k)]
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        for j, start in zip(rng.permutation(k), range(k)):
            folds[j].extend(idx[start::k].tolist())
    return folds


def test_stratified_folds():
    assert_right(check_stratified_folds, folds_right)
    assert_right(check_stratified_folds, folds_dealt)
    assert_wrong(check_stratified_folds, folds_not_stratified, "unevenly")
    assert_wrong(check_stratified_folds, folds_unseeded, "shuffle")
    assert_wrong(check_stratified_folds, folds_seed_only_orders_them, "shuffle")
    assert_wrong(check_stratified_folds, folds_in_index_order, "index order")
    assert_wrong(check_stratified_folds, folds_every_kth, "index order")
    for seed in range(3):  # a right answer with other seeds is never taken for one in index order
        assert_right(check_stratified_folds, lambda y, k, s, seed=seed: folds_right(y, k, s + 10 * seed))
    assert_wrong(check_stratified_folds, lambda y, k, s: folds_right(y, k, s)[:-1] + [[]], "every index")


# ---------------------------------------------------------------- the contract for every check

RIGHT_ANSWERS = {
    check_smoothed_loss_floor: floor_with_xlogy, check_expected_best: best_with_distributions,
    check_standard_error: lambda p, n: math.sqrt(p * (1 - p) / n),
    check_conv_weight_count: lambda i, o, k: i * o * k * k + o,
    check_per_class_accuracy: lambda m: m.diag() / m.sum(dim=1), check_top_k_accuracy: top_k_with_topk,
    check_stratified_folds: folds_right,
}


@pytest.mark.parametrize("check", RIGHT_ANSWERS, ids=lambda check: check.__name__)
def test_placeholder_is_not_attempted(check, capsys):
    assert check(...).status == "not attempted"
    assert check(not_implemented).status == "not attempted"
    assert capsys.readouterr().out.startswith("Not attempted yet:")


@pytest.mark.parametrize("check", RIGHT_ANSWERS, ids=lambda check: check.__name__)
def test_a_check_leaves_the_random_state_alone(check):
    torch_state, numpy_state, python_state = torch.get_rng_state(), np.random.get_state(), random.getstate()
    assert check(RIGHT_ANSWERS[check]).passed
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), numpy_state))
    assert random.getstate() == python_state


# ---------------------------------------------------------------- the lecture's cells


def lecture_cells():
    return json.loads(LECTURE.read_text(encoding="utf-8"))["cells"]


def test_every_check_cell_calls_a_tested_check_after_its_answer_cell_and_says_not_attempted():
    cells = lecture_cells()
    ids = [cell["id"] for cell in cells]
    checks = [(k, cell) for k, cell in enumerate(cells) if cell["id"].endswith("-check")]
    your_turn = [cell["id"] for _, cell in checks if cell["id"].startswith("your-turn-")]
    exercises = [cell["id"] for _, cell in checks if re.fullmatch(r"exercise-\d+-check", cell["id"])]
    assert len(your_turn) == 2 and len(exercises) == 5
    assert ids.index(your_turn[-1]) < ids.index("exercises") < ids.index(exercises[0])
    tested = {check.__name__ for check in RIGHT_ANSWERS}
    for k, cell in checks:
        source = "".join(cell["source"]).strip()
        name = re.fullmatch(r"from course_utils\.exercises\.notmnist import (check_\w+)\n\n\1\(\w+\)", source)
        assert name and name[1] in tested, cell["id"]
        assert cells[k - 1]["id"] == cell["id"].replace("-check", "-answer")
        printed = "".join("".join(output.get("text", "")) for output in cell["outputs"])
        assert printed.startswith("Not attempted yet"), cell["id"]
