"""Self-checks for lecture 07 (notMNIST): two "your turn" cells, then the end-of-lecture exercises.

Every check takes the student's answer first and returns a
:class:`~course_utils.selfcheck.Verdict`; none prints the expected answer.
Checks that need random numbers use their own generator or restore torch's
global state, so running one does not change the notebook's results.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..selfcheck import right, self_check, wrong

# ---------------------------------------------------------------- your turn


@self_check
def check_log_softmax_classifier(model) -> object:
    """Your turn (section 6): a 784-256-ReLU-10 ``nn.Module`` ending in ``nn.LogSoftmax`` over the classes.

    Its outputs must be log-probabilities of the ten letters for every image
    (``exp`` of a row sums to 1), so that ``F.nll_loss(model(x), y)`` is the
    cross-entropy.
    """
    if not isinstance(model, nn.Module):
        return wrong(f"`model` should be an nn.Module (e.g. an nn.Sequential), not a {type(model).__name__}.")
    if not any(isinstance(m, nn.LogSoftmax) for m in model.modules()):
        return wrong("end the network with nn.LogSoftmax(dim=...), so that nll_loss can use its output.")
    if any(isinstance(m, nn.Softmax) for m in model.modules()):
        return wrong("there is an nn.Softmax in the network: LogSoftmax alone turns logits into log-probabilities.")
    with torch.random.fork_rng(devices=[]):
        x = torch.rand(5, 28, 28, generator=torch.Generator().manual_seed(0))
        try:
            device = next(model.parameters()).device
        except StopIteration:
            device = torch.device("cpu")
        was_training = model.training
        with torch.no_grad():
            out = model.eval()(x.to(device)).cpu()
        model.train(was_training)
    if out.shape != (5, 10):
        return wrong(f"for a batch of 5 images of 28 x 28 the output should be 5 x 10, not {tuple(out.shape)} "
                     "(flatten each image to 784 numbers first).")
    rows = out.exp().sum(dim=1)
    if not torch.allclose(rows, torch.ones(5), atol=1e-4):
        columns = out.exp().sum(dim=0)
        if torch.allclose(columns, torch.ones(10), atol=1e-4):
            return wrong("each *column* sums to 1: LogSoftmax normalised over the batch (dim=0). "
                         "The classes are along dim=1.")
        return wrong("exp(output) should sum to 1 over the ten classes of each image; check LogSoftmax's dim.")
    hidden = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if [(m.in_features, m.out_features) for m in hidden] != [(784, 256), (256, 10)]:
        return wrong("use the baseline's layers: nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10).")
    return right("log-probabilities over dim=1, the classes: F.nll_loss(model(x), y) is now the cross-entropy.")


def _reference_epoch(model, loader, optimizer):
    total, count = 0.0, 0
    model.train()
    for inputs, labels in loader:
        loss = F.cross_entropy(model(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(labels)
        count += len(labels)
    return total / count


def _tiny_problem(seed: int):
    from torch.utils.data import DataLoader, TensorDataset

    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(40, 3, generator=generator)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    model = nn.Linear(3, 3)
    with torch.no_grad():
        model.weight.copy_(torch.randn(3, 3, generator=generator))
        model.bias.zero_()
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=False)  # 16 + 16 + 8: a short last batch
    return model, loader, torch.optim.SGD(model.parameters(), lr=0.5)


@self_check
def check_training_pass(train_one_epoch) -> object:
    """Your turn (section 7): ``train_one_epoch(model, loader, optimizer)`` trains one pass; returns the mean loss.

    Every batch: forward, ``F.cross_entropy``, ``zero_grad``, ``backward``,
    ``step``; the returned number is the loss averaged over *examples*.
    """
    with torch.random.fork_rng(devices=[]):
        model, loader, optimizer = _tiny_problem(0)
        expected_model, expected_loader, expected_optimizer = _tiny_problem(0)
        expected = _reference_epoch(expected_model, expected_loader, expected_optimizer)
        mean_loss = train_one_epoch(model, loader, optimizer)
    if torch.allclose(model.weight, _tiny_problem(0)[0].weight):
        return wrong("the weights did not change: call optimizer.step() after loss.backward().")
    if not torch.allclose(model.weight, expected_model.weight, atol=1e-5):
        return wrong("after one epoch the weights differ from a correct pass. Is optimizer.zero_grad() called "
                     "every batch (gradients add up otherwise), and the loss F.cross_entropy on the logits?")
    if mean_loss is None:
        return wrong("return the epoch's mean loss (a Python float).")
    value = float(mean_loss.detach() if isinstance(mean_loss, torch.Tensor) else mean_loss)
    if not math.isclose(value, expected, rel_tol=1e-4):
        return wrong("the weights are right but the returned loss is not the mean over all examples: weight each "
                     "batch's loss.item() by its size (the last batch is shorter), then divide by the count.")
    return right("forward, loss, zero_grad, backward, step, and a loss averaged over examples.")


# ---------------------------------------------------------------- exercises


@self_check
def check_standard_error(standard_error) -> object:
    """Exercise 1: ``standard_error(acc, n)`` is the binomial standard error of an accuracy measured on ``n`` images."""
    for acc, n in ((0.944, 1000), (0.5, 100), (0.99, 5000), (0.9, 800)):
        got = float(standard_error(acc, n))
        expected = math.sqrt(acc * (1 - acc) / n)
        if math.isclose(got, math.sqrt(acc * (1 - acc)) / n, rel_tol=1e-6):
            return wrong(f"for acc = {acc}, n = {n}: divide the variance by n *inside* the square root.")
        if math.isclose(got, acc * (1 - acc) / n, rel_tol=1e-6):
            return wrong("that is the variance of the accuracy; the standard error is its square root.")
        if not math.isclose(got, expected, rel_tol=1e-6):
            return wrong(f"for acc = {acc} and n = {n} your value is off. Each image is a coin flip that is "
                         "right with probability acc; what is the standard deviation of the mean of n of them?")
    return right("±1 standard error is about a 68 % interval; ±2 about 95 %.")


@self_check
def check_conv_weight_count(conv_weight_count) -> object:
    """Exercise 2: ``conv_weight_count(in_channels, out_channels, kernel_size)``: weights and biases of an ``nn.Conv2d``."""
    for c_in, c_out, k in ((1, 16, 3), (16, 32, 3), (3, 8, 5), (7, 2, 1)):
        got = int(conv_weight_count(c_in, c_out, k))
        expected = sum(p.numel() for p in nn.Conv2d(c_in, c_out, k).parameters())
        if got == c_in * c_out * k * k:
            return wrong(f"for nn.Conv2d({c_in}, {c_out}, {k}) you forgot the biases (one per output channel).")
        if got != expected:
            return wrong(f"for nn.Conv2d({c_in}, {c_out}, {k}) your count is off. Each output channel has one "
                         "k x k filter per input channel, and a bias.")
    return right("the count does not depend on the image size: that is weight sharing.")


@self_check
def check_per_class_accuracy(per_class_accuracy) -> object:
    """Exercise 3: ``per_class_accuracy(matrix)``: for every true class (row), the share predicted correctly."""
    matrix = torch.tensor([[8, 1, 1], [0, 5, 0], [3, 3, 4]])
    got = torch.as_tensor(per_class_accuracy(matrix.clone()), dtype=torch.float64).flatten()
    rows = matrix.diag() / matrix.sum(dim=1)
    columns = matrix.diag() / matrix.sum(dim=0)
    if got.shape != (3,):
        return wrong(f"return one number per class: 3 for a 3 x 3 matrix, not {tuple(got.shape)}.")
    if torch.allclose(got, columns.double()) and not torch.allclose(got, rows.double()):
        return wrong("you divided by the column sums (how often a letter was *predicted*); rows are the true letters.")
    if not torch.allclose(got, rows.double()):
        return wrong("for the matrix [[8, 1, 1], [0, 5, 0], [3, 3, 4]] your values are off; "
                     "row t holds every image whose true class is t.")
    return right("the diagonal divided by the row sums (the recall of each letter).")


@self_check
def check_stratified_folds(stratified_folds) -> object:
    """Exercise 4: ``stratified_folds(labels, k, seed)``: ``k`` disjoint index arrays covering every image, each
    with (within one) the same number of images of every class, and random within a class."""
    labels = np.repeat(np.arange(4), [10, 7, 12, 5])
    np.random.default_rng(1).shuffle(labels)
    for k in (3, 5):
        folds = [np.asarray(f, dtype=np.int64).ravel() for f in stratified_folds(labels.copy(), k, 0)]
        if len(folds) != k:
            return wrong(f"asked for k = {k} folds, got {len(folds)}.")
        everything = np.concatenate(folds)
        if len(everything) != len(labels) or set(everything.tolist()) != set(range(len(labels))):
            return wrong("together the folds must hold every index exactly once (disjoint, nothing left out).")
        counts = np.stack([np.bincount(labels[f], minlength=4) for f in folds])
        if (counts.max(axis=0) - counts.min(axis=0)).max() > 1:
            return wrong(f"with k = {k} some class is spread unevenly (a fold has 2 or more images of it more than "
                         "another): split each class on its own.")
    def sorted_folds(seed):
        return [np.sort(np.asarray(f)) for f in stratified_folds(labels.copy(), 3, seed)]

    first, again, other = sorted_folds(0), sorted_folds(0), sorted_folds(1)
    if not all(np.array_equal(a, b) for a, b in zip(first, again)):
        return wrong("the same seed must give the same folds: draw with np.random.default_rng(seed).")
    if all(np.array_equal(a, b) for a, b in zip(first, other)):
        return wrong("seeds 0 and 1 give the same folds: shuffle each class's indices before cutting it.")
    return right("every image is tested exactly once, and every fold keeps the class balance.")


@self_check
def check_top_k_accuracy(top_k_accuracy) -> object:
    """Exercise 5: ``top_k_accuracy(logits, labels, k)``: share of images whose true class is among the k largest logits."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(200, 10, generator=generator)
    labels = torch.randint(0, 10, (200,), generator=generator)
    for k in (1, 2, 5, 10):
        got = float(top_k_accuracy(logits.clone(), labels.clone(), k))
        expected = (logits.topk(k, dim=1).indices == labels[:, None]).any(dim=1).double().mean().item()
        if got > 1 or got < 0:
            return wrong(f"for k = {k} you returned {got:.3f}: an accuracy is a share between 0 and 1.")
        if not math.isclose(got, expected, abs_tol=1e-6):
            if k == 1:
                return wrong("for k = 1 this is plain accuracy, and your value differs from it.")
            return wrong(f"for k = {k} your value is off: take the k largest logits of each row (dim=1).")
    return right("top-1 is accuracy; top-10 of 10 classes is always 100 %.")
