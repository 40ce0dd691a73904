"""Self-checks for lecture 07 (notMNIST): two "your turn" cells, then the end-of-lecture exercises.

Every check takes the student's answer first and returns a
:class:`~course_utils.selfcheck.Verdict`; none prints the expected answer.
Checks draw their test inputs from their own ``torch.Generator`` and run the
student's code inside :func:`_random_state_kept`, so running a check never
changes the notebook's random numbers (torch's, NumPy's legacy global ones, or
Python's ``random``).
"""
from __future__ import annotations

import contextlib
import math
import random

import numpy as np
import torch
from torch import nn

from ..selfcheck import right, self_check, wrong


@contextlib.contextmanager
def _random_state_kept():
    """Restore torch's CPU generator, NumPy's global generator and Python's ``random`` afterwards."""
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)


def _number(value) -> float:
    """A Python float from a number, a NumPy scalar or a one-element tensor/array."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
    return float(value)


# ---------------------------------------------------------------- your turn


def smoothed_floor_reference(num_classes: int, smoothing: float) -> float:
    """The smallest value of ``F.cross_entropy(logits, y, label_smoothing=smoothing)``: the entropy of the target."""
    right_class = 1 - smoothing + smoothing / num_classes
    other_class = smoothing / num_classes
    return -(math.log(right_class) * right_class
             + (num_classes - 1) * (other_class * math.log(other_class) if other_class > 0 else 0.0))


@self_check
def check_smoothed_loss_floor(smoothed_loss_floor) -> object:
    """Your turn (section 10): ``smoothed_loss_floor(num_classes, smoothing)``: the smallest loss that
    ``F.cross_entropy(logits, y, label_smoothing=smoothing)`` can reach, for any logits, with
    ``0 <= smoothing <= 1``."""
    cases = [(10, 0.1), (2, 0.3), (100, 0.05), (10, 0.0), (3, 1.0), (1000, 0.2), (26, 0.5)]
    with _random_state_kept():
        answers = [(k, eps, smoothed_loss_floor(k, eps)) for k, eps in cases]
    for k, eps, answer in answers:
        if answer is None:
            return wrong("return the floor (a number); your function returned None.")
        got = _number(answer)
        expected = smoothed_floor_reference(k, eps)
        if math.isnan(got):
            return wrong(f"for smoothing = {eps} your function returned nan. A class whose target share is 0 adds "
                         "nothing to the loss (0 · log 0 counts as 0): treat that case on its own.")
        if math.isclose(got, expected, rel_tol=1e-5, abs_tol=1e-6):
            continue
        if eps > 0 and abs(got) < 1e-6:
            return wrong(f"for smoothing = {eps} you say the loss can reach 0. Can it? The target is no longer "
                         "one-hot, and no prediction matches a target better than the target itself.")
        spread_over_others = -((1 - eps) * math.log(1 - eps) if eps < 1 else 0.0) - (
            eps * math.log(eps / (k - 1)) if eps > 0 else 0.0)
        if math.isclose(got, spread_over_others, rel_tol=1e-5, abs_tol=1e-6):
            return wrong("you gave the right class 1 - smoothing and spread `smoothing` over the other classes "
                         "only. PyTorch spreads it over all num_classes classes, the right one included "
                         "(section 10: 0.91 and 0.01 for ten letters).")
        return wrong(f"for num_classes = {k}, smoothing = {eps} your value is off. Write down the smoothed target "
                     "for one image; which prediction makes the cross-entropy against it smallest, and what is "
                     "the loss there?")
    return right("the floor is the entropy of the smoothed target, reached when softmax(logits) equals that target.")


def expected_best_reference(num_models: int, acc: float, n: int) -> tuple[float, float]:
    """Mean and standard deviation of the best of ``num_models`` independent Binomial(n, acc) / n measurements."""
    x = torch.arange(n + 1, dtype=torch.float64)
    log_pmf = (torch.lgamma(torch.tensor(n + 1.0, dtype=torch.float64)) - torch.lgamma(x + 1)
               - torch.lgamma(n - x + 1) + x * math.log(acc) + (n - x) * math.log1p(-acc))
    cdf = torch.cumsum(log_pmf.exp(), 0).clamp(max=1.0)
    below = torch.cat([torch.zeros(1, dtype=torch.float64), cdf[:-1]])
    p_best = cdf ** num_models - below ** num_models  # P(max == x)
    share = x / n
    mean = (p_best * share).sum().item()
    return mean, math.sqrt(max((p_best * share ** 2).sum().item() - mean ** 2, 0.0))


@self_check
def check_expected_best(expected_best) -> object:
    """Your turn (section 11): ``expected_best(num_models, acc, n, num_trials, seed)``: simulate ``num_trials``
    experiments in which ``num_models`` equally good models (true accuracy ``acc``) are each measured on ``n``
    images; return the average, over the experiments, of the best measured accuracy. Same seed, same result."""
    num_trials = 2000
    cases = [(20, 0.94, 1000), (1, 0.94, 1000), (5, 0.8, 100), (50, 0.5, 400)]
    with _random_state_kept():
        answers = [(case, expected_best(*case, num_trials, 0)) for case in cases]
        again = expected_best(*cases[0], num_trials, 0)
        other_seeds = [expected_best(*cases[0], num_trials, seed) for seed in (1, 2)]
    for (num_models, acc, n), answer in answers:
        if answer is None:
            return wrong("return the average best accuracy (a number); your function returned None.")
        got = _number(answer)
        mean, spread = expected_best_reference(num_models, acc, n)
        tolerance = 6 * spread / math.sqrt(num_trials) + 1e-9
        where = f"for num_models = {num_models}, acc = {acc}, n = {n}"
        if got > 1:
            return wrong(f"{where} you returned {got:.4g}, more than 1: an accuracy is a share of the n images.")
        if abs(got - mean) <= tolerance:
            continue
        if num_models > 1 and abs(got - acc) <= 6 * math.sqrt(acc * (1 - acc) / n / num_models / num_trials) + 1e-9:
            return wrong(f"{where} you returned about acc itself: that is the *average* model's measurement. "
                         "The question is about the best of the num_models measurements in each experiment.")
        return wrong(f"{where} your value ({got:.4f}) is off. In each experiment draw one measured accuracy per "
                     "model, keep the largest; then average that over the experiments.")
    if _number(again) != _number(answers[0][1]):
        return wrong("two calls with the same seed gave different results: draw every random number from a "
                     "generator made from `seed`.")
    if all(_number(value) == _number(again) for value in other_seeds):
        return wrong("seeds 0, 1 and 2 gave exactly the same result: your function ignores `seed`. Make the "
                     "generator from it, e.g. np.random.default_rng(seed).")
    return right("the best of many equally good models looks better than any of them is: choose on validation data.")


# ---------------------------------------------------------------- exercises


@self_check
def check_standard_error(standard_error) -> object:
    """Exercise 1: ``standard_error(acc, n)`` is the binomial standard error of an accuracy measured on ``n`` images."""
    for acc, n in ((0.944, 1000), (0.5, 100), (0.99, 5000), (0.9, 800), (0.3, 7)):
        with _random_state_kept():
            got = _number(standard_error(acc, n))
        expected = math.sqrt(acc * (1 - acc) / n)
        if math.isclose(got, expected, rel_tol=1e-6):
            continue
        if math.isclose(got, math.sqrt(acc * (1 - acc)) / n, rel_tol=1e-6):
            return wrong(f"for acc = {acc}, n = {n} your value is too small: the *variance* of a mean of n flips is "
                         "the variance of one flip divided by n; the standard error is the square root of that.")
        if math.isclose(got, acc * (1 - acc) / n, rel_tol=1e-6):
            return wrong("that is the variance of the accuracy; the standard error is its square root.")
        return wrong(f"for acc = {acc} and n = {n} your value is off. Each image is a coin flip that is "
                     "right with probability acc; what is the standard deviation of the mean of n of them?")
    return right("±1 standard error is about a 68 % interval; ±2 about 95 %.")


class _BuiltAConv(Exception):
    """Raised when a student's ``conv_weight_count`` builds an ``nn.Conv2d`` instead of counting."""


@self_check
def check_conv_weight_count(conv_weight_count) -> object:
    """Exercise 2: ``conv_weight_count(in_channels, out_channels, kernel_size)``: weights and biases of an
    ``nn.Conv2d`` with an int ``kernel_size``, counted without building one."""
    cases = ((1, 16, 3), (16, 32, 3), (3, 8, 5), (7, 2, 1), (64, 128, 7))
    with _random_state_kept():  # building a layer draws its initial weights
        expected = {case: sum(p.numel() for p in nn.Conv2d(*case).parameters()) for case in cases}

    def refuse(*args, **kwargs):
        raise _BuiltAConv

    original = nn.Conv2d.__init__
    nn.Conv2d.__init__ = refuse
    try:
        with _random_state_kept():
            answers = {case: conv_weight_count(*case) for case in cases}
    except _BuiltAConv:
        return wrong("your function builds an nn.Conv2d. Count from the shapes instead: that is the exercise, and "
                     "it answers the question for layers too large to build.")
    finally:
        nn.Conv2d.__init__ = original
    for (c_in, c_out, k), answer in answers.items():
        got = _number(answer)
        if got == expected[c_in, c_out, k]:
            continue
        if got == c_in * c_out * k * k:
            return wrong(f"for nn.Conv2d({c_in}, {c_out}, {k}) you forgot the biases (one per output channel).")
        return wrong(f"for nn.Conv2d({c_in}, {c_out}, {k}) your count is off. How many k x k filters does one "
                     "output channel have, and what else does it add?")
    return right("the count does not depend on the image size: that is weight sharing.")


def _random_confusion_matrix(num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """An int64 K x K matrix of counts with a heavy diagonal and no empty row."""
    counts = torch.randint(0, 6, (num_classes, num_classes), generator=generator)
    return counts + torch.diag(torch.randint(1, 60, (num_classes,), generator=generator))


@self_check
def check_per_class_accuracy(per_class_accuracy) -> object:
    """Exercise 3: ``per_class_accuracy(matrix)``: for every true class (row), the share predicted correctly."""
    generator = torch.Generator().manual_seed(0)
    matrices = [torch.tensor([[8, 1, 1], [0, 5, 0], [3, 3, 4]])]
    matrices += [_random_confusion_matrix(k, generator) for k in (2, 10, 7)]
    for matrix in matrices:
        with _random_state_kept():
            answer = per_class_accuracy(matrix.clone())
        got = torch.as_tensor(np.asarray(answer.detach().cpu() if isinstance(answer, torch.Tensor) else answer),
                              dtype=torch.float64).flatten()
        rows = matrix.diag() / matrix.sum(dim=1)
        columns = matrix.diag() / matrix.sum(dim=0)
        k = len(matrix)
        if got.shape != (k,):
            return wrong(f"return one number per class: {k} for a {k} x {k} matrix, not {tuple(got.shape)}.")
        if torch.allclose(got, rows.double(), atol=1e-6):
            continue
        if torch.allclose(got, columns.double(), atol=1e-6):
            return wrong("you divided by the column sums (how often a letter was *predicted*); rows are the "
                         "true letters.")
        if torch.allclose(got, 100 * rows.double(), atol=1e-4):
            return wrong("those are percentages; return shares between 0 and 1.")
        if (got == got.round()).all():
            return wrong("your shares are whole numbers: an integer division? The counts are int64.")
        return wrong(f"for a {k} x {k} matrix your values are off; row t holds every image whose true class is t.")
    return right("the diagonal divided by the row sums (the recall of each letter).")


@self_check
def check_top_k_accuracy(top_k_accuracy) -> object:
    """Exercise 4: ``top_k_accuracy(logits, labels, k)``: share of images whose true class is among the k largest
    logits (``logits`` float, N x C; ``labels`` int64, N)."""
    generator = torch.Generator().manual_seed(0)
    cases = [(200, 10, torch.float32, 1.0, (1, 2, 5, 10)), (57, 3, torch.float64, 1e4, (1, 2)),
             (1000, 26, torch.float32, 1e-3, (3, 13))]
    for n, classes, dtype, scale, ks in cases:
        logits = (torch.randn(n, classes, generator=generator, dtype=torch.float64) * scale).to(dtype)
        labels = torch.randint(0, classes, (n,), generator=generator)
        for k in ks:
            with _random_state_kept():
                got = _number(top_k_accuracy(logits.clone(), labels.clone(), k))
            expected = (logits.topk(k, dim=1).indices == labels[:, None]).any(dim=1).double().mean().item()
            if got > 1 or got < 0:
                return wrong(f"for k = {k} you returned {got:.3f}: an accuracy is a share between 0 and 1.")
            if math.isclose(got, expected, abs_tol=1e-6):
                continue
            if k == 1:
                return wrong(f"for k = 1 this is plain accuracy, and your value differs from it ({n} x {classes} "
                             "logits).")
            return wrong(f"for k = {k} and {n} x {classes} logits your value is off: the k *largest* logits of "
                         "each row (one row per image).")
    return right("top-1 is accuracy; top-C of C classes is always 100 %.")


def _in_index_order(class_indices: np.ndarray, fold: np.ndarray, k: int) -> bool:
    """Whether ``fold``'s members of one class are a consecutive run, or every ``k``-th one, of that class's sorted
    indices: what cutting a class without shuffling it gives."""
    ranks = np.flatnonzero(np.isin(class_indices, fold))
    steps = np.diff(ranks)
    return len(ranks) < 2 or bool((steps == 1).all() or (steps == k).all())


@self_check
def check_stratified_folds(stratified_folds) -> object:
    """Exercise 5: ``stratified_folds(labels, k, seed)``: ``k`` disjoint index arrays covering every image, each
    with (within one) the same number of images of every class, and random within a class."""
    for counts, k in (([10, 7, 12, 5], 3), ([10, 7, 12, 5], 5), ([30] * 10, 4), ([3, 40], 2)):
        labels = np.repeat(np.arange(len(counts)), counts)
        np.random.default_rng(1).shuffle(labels)
        with _random_state_kept():
            folds = [np.asarray(f, dtype=np.int64).ravel() for f in stratified_folds(labels.copy(), k, 0)]
        if len(folds) != k:
            return wrong(f"asked for k = {k} folds, got {len(folds)}.")
        everything = np.concatenate(folds)
        if len(everything) != len(labels) or set(everything.tolist()) != set(range(len(labels))):
            return wrong("together the folds must hold every index exactly once (disjoint, nothing left out).")
        per_fold = np.stack([np.bincount(labels[f], minlength=len(counts)) for f in folds])
        if (per_fold.max(axis=0) - per_fold.min(axis=0)).max() > 1:
            return wrong(f"with k = {k} some class is spread unevenly (a fold has 2 or more images of it more than "
                         "another): split each class on its own.")
    labels = np.repeat(np.arange(4), [10, 7, 12, 5])
    np.random.default_rng(1).shuffle(labels)

    def fold_sets(seed):
        with _random_state_kept():
            return {frozenset(np.asarray(f).ravel().tolist()) for f in stratified_folds(labels.copy(), 3, seed)}

    first, again, other = fold_sets(0), fold_sets(0), fold_sets(1)
    big = np.flatnonzero(labels == 2)  # the 12 images of class 2, in index order
    with _random_state_kept():  # in order for two seeds: not chance (one random cut is, about once in 7,000 seeds)
        orderly = all(_in_index_order(big, np.asarray(f).ravel(), 3)
                      for seed in (0, 1) for f in stratified_folds(labels.copy(), 3, seed))
    if first != again:
        return wrong("the same seed must give the same folds: draw from a generator made from `seed`, such as "
                     "np.random.default_rng(seed).")
    if first == other:
        return wrong("seeds 0 and 1 give folds with the same images (perhaps in another order): shuffle each "
                     "class's indices before cutting it.")
    if orderly:
        return wrong("within a class your folds take the images in index order (consecutive runs, or every k-th "
                     "one): only which fold gets which run is random. Shuffle each class's indices before cutting "
                     "it; files of one letter often come sorted (by font name, for notMNIST).")
    return right("every image is tested exactly once, and every fold keeps the class balance.")
