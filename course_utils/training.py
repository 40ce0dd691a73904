"""Mini-batch training and evaluation for classifiers: ``fit``, ``evaluate``, ``predict``.

Lecture 06 writes the training loop by hand; from lecture 07 on, notebooks
call :func:`fit`, which is that same loop (forward, loss, ``zero_grad``,
``backward``, ``step``) plus a validation pass after every epoch and a
text progress bar. Models return logits; the loss is ``F.cross_entropy`` unless
told otherwise.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["fit", "evaluate", "predict", "accuracy", "confusion_matrix", "most_confused"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _model_device(model: nn.Module) -> torch.device:
    tensor = next(model.parameters(), None)
    if tensor is None:
        tensor = next(model.buffers(), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def accuracy(outputs: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of correct predictions, in [0, 1].

    ``outputs``: ``N x K`` logits or probabilities (the largest entry is the
    prediction) or ``N`` predicted labels. ``labels``: ``N`` true labels.
    """
    outputs, labels = torch.as_tensor(outputs), torch.as_tensor(labels)
    predicted = outputs.argmax(dim=1) if outputs.dim() == 2 else outputs
    if predicted.shape != labels.shape:
        raise ValueError(f"{predicted.shape[0]} predictions for {labels.shape[0]} labels")
    if labels.numel() == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return (predicted.cpu() == labels.cpu()).double().mean().item()


def evaluate(model: nn.Module, loader, device=None, loss_fn: LossFn = F.cross_entropy) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` over every batch of ``loader``, in eval mode.

    ``loader`` yields ``(inputs, labels)`` batches. The mean is over examples
    (a short last batch counts for what it holds). ``device`` defaults to where
    the model's parameters are. No gradients are computed; the model's
    train/eval mode is restored afterwards.
    """
    device = torch.device(device) if device is not None else _model_device(model)
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    try:
        with torch.no_grad():
            for inputs, labels in loader:
                inputs, labels = inputs.to(device), labels.to(device)
                logits = model(inputs)
                total_loss += loss_fn(logits, labels).item() * len(labels)
                correct += (logits.argmax(dim=1) == labels).sum().item()
                count += len(labels)
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("the loader yielded no examples")
    return total_loss / count, correct / count


def predict(model: nn.Module, inputs, device=None, batch_size: int = 1024) -> torch.Tensor:
    """The model's outputs (logits) for ``inputs``, computed in eval mode, returned on the CPU.

    ``inputs``: a tensor or array of examples (e.g. ``N x 28 x 28`` images),
    processed ``batch_size`` at a time. The model's mode is restored afterwards.
    """
    device = torch.device(device) if device is not None else _model_device(model)
    inputs = torch.as_tensor(inputs)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            outputs = [model(inputs[i : i + batch_size].to(device)).cpu() for i in range(0, len(inputs), batch_size)]
    finally:
        model.train(was_training)
    if not outputs:
        raise ValueError("inputs is empty")
    return torch.cat(outputs)


def fit(
    model: nn.Module,
    train_loader,
    val_loader,
    optimizer: torch.optim.Optimizer,
    num_epochs: int,
    device=None,
    *,
    loss_fn: LossFn = F.cross_entropy,
    val_loss_fn: Optional[LossFn] = None,
    augment: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
    scheduler=None,
    progress: bool = True,
    desc: str = "training",
) -> dict[str, list[float]]:
    """Train ``model`` for ``num_epochs`` passes over ``train_loader``; return its history.

    Every batch: move to ``device``, ``augment(inputs)`` if given (a
    batch-wise random transform, training batches only), forward,
    ``loss_fn(logits, labels)``, ``optimizer.zero_grad()``, ``backward()``,
    ``optimizer.step()`` and, if given, ``scheduler.step()`` (so pass a
    per-batch schedule such as ``OneCycleLR``). After every epoch the model is
    evaluated on ``val_loader`` (:func:`evaluate`, with ``val_loss_fn``,
    default ``loss_fn``); ``val_loader=None`` skips that (training on
    everything, with no validation left).

    The model is moved to ``device`` (default: where its parameters already
    are) and trained in place; it is left in eval mode. Returns a dict of
    per-epoch lists ``train_loss``, ``val_loss``, ``train_acc``, ``val_acc``
    (ready for ``plot_losses``; the ``val_`` lists stay empty without a
    ``val_loader``). The train numbers are averaged over the epoch's batches
    as they were trained (dropout and augmentation on, weights still
    changing), the usual and free way to track them; the validation numbers
    come from a separate pass in eval mode.

    A text progress bar (tqdm) on standard output counts epochs and ends
    showing the last epoch's numbers; ``progress=False`` hides it. It is text
    rather than a Jupyter widget so that a saved notebook shows the finished
    bar in any viewer, not a widget's first frame.
    """
    import sys

    from tqdm.std import tqdm

    if num_epochs < 0:
        raise ValueError(f"num_epochs must be >= 0, got {num_epochs}")
    device = torch.device(device) if device is not None else _model_device(model)
    val_loss_fn = loss_fn if val_loss_fn is None else val_loss_fn
    model.to(device)
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "train_acc": [], "val_acc": []}
    with tqdm(range(num_epochs), desc=desc, unit="epoch", disable=not progress, file=sys.stdout) as bar:
        for _ in bar:
            model.train()
            total_loss, correct, count = 0.0, 0, 0
            for inputs, labels in train_loader:
                inputs, labels = inputs.to(device), labels.to(device)
                if augment is not None:
                    inputs = augment(inputs)
                logits = model(inputs)
                loss = loss_fn(logits, labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                total_loss += loss.item() * len(labels)
                correct += (logits.argmax(dim=1) == labels).sum().item()
                count += len(labels)
            if count == 0:
                raise ValueError("train_loader yielded no examples")
            history["train_loss"].append(total_loss / count)
            history["train_acc"].append(correct / count)
            shown = {"train_loss": f"{total_loss / count:.3f}"}
            if val_loader is not None:
                val_loss, val_acc = evaluate(model, val_loader, device, val_loss_fn)
                history["val_loss"].append(val_loss)
                history["val_acc"].append(val_acc)
                shown.update(val_loss=f"{val_loss:.3f}", val_acc=f"{val_acc:.3f}")
            bar.set_postfix(shown)
    model.eval()
    return history


def confusion_matrix(labels, predictions, num_classes: Optional[int] = None) -> torch.Tensor:
    """Counts ``matrix[true, predicted]``: row = true class, column = predicted class.

    ``labels`` and ``predictions``: ``N`` class indices (tensors, arrays or
    lists). ``num_classes`` defaults to one more than the largest index seen.
    Returns an int64 tensor ``K x K`` whose entries sum to ``N``; the diagonal
    holds the correct predictions.
    """
    labels = torch.as_tensor(labels, dtype=torch.int64).reshape(-1).cpu()
    predictions = torch.as_tensor(predictions, dtype=torch.int64).reshape(-1).cpu()
    if labels.shape != predictions.shape:
        raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
    if num_classes is None:
        num_classes = int(max(labels.max(), predictions.max()).item()) + 1 if len(labels) else 0
    if len(labels) and (min(labels.min(), predictions.min()) < 0 or max(labels.max(), predictions.max()) >= num_classes):
        raise ValueError(f"class indices must lie in 0..{num_classes - 1}")
    flat = torch.bincount(labels * num_classes + predictions, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def most_confused(matrix: torch.Tensor, classes: Sequence[str], k: int = 5) -> list[tuple[str, str, int]]:
    """The ``k`` largest off-diagonal entries of a confusion matrix, largest first.

    Returns ``(true_class, predicted_class, count)`` triples, skipping zero
    counts; ties are broken by row, then column, so the order is fixed.
    """
    matrix = torch.as_tensor(matrix)
    if matrix.dim() != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] != len(classes):
        raise ValueError(f"expected a {len(classes)} x {len(classes)} matrix, got shape {tuple(matrix.shape)}")
    cells = [
        (int(matrix[t, p]), t, p)
        for t in range(len(classes))
        for p in range(len(classes))
        if t != p and matrix[t, p] > 0
    ]
    cells.sort(key=lambda cell: (-cell[0], cell[1], cell[2]))
    return [(classes[t], classes[p], count) for count, t, p in cells[:k]]
