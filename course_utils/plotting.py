"""Figures the lectures draw again and again: activations, softmax, learning curves, images.

Every function draws into the Axes it is given (or a new figure when none is
given) and returns what it drew on. None calls ``plt.show()``, sets rcParams,
seeds anything or keeps state between calls, and none modifies the tensors or
arrays it is passed: inputs are copied to NumPy before use. All of them work
with the headless ``Agg`` backend.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch


def _as_numpy(values) -> np.ndarray:
    """A float NumPy copy of a tensor, array or nested list (never a view of the input)."""
    if isinstance(values, torch.Tensor):
        values = values.detach().to("cpu", torch.float64).numpy()
    elif isinstance(values, (list, tuple)) and values and isinstance(values[0], torch.Tensor):
        values = torch.stack([v.detach().to("cpu", torch.float64) for v in values]).numpy()
    return np.array(values, dtype=np.float64, copy=True)


def plot_activation(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor | None = None,
    *,
    name: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Draw an elementwise activation ``fn`` and its derivative on one Axes.

    ``fn`` is any callable on float tensors (``torch.tanh``, ``nn.ReLU()``, a
    lambda). ``x`` is a 1-D tensor of inputs, by default 401 points on
    [-5, 5]. The derivative is computed by autograd, not by a formula; a
    function whose output does not depend on its input through autograd (a
    threshold written as ``(x > 0).float()``) has derivative 0.

    The function is ``ax.lines[0]`` (label ``f(x)``), the derivative
    ``ax.lines[1]`` (label ``f'(x)``, dashed). Returns the Axes.
    """
    if x is None:
        x = torch.linspace(-5.0, 5.0, 401)
    if not isinstance(x, torch.Tensor) or x.dim() != 1:
        raise ValueError("x must be a 1-D tensor of inputs, e.g. torch.linspace(-5, 5, 401)")
    x = x.detach().clone().to(torch.float64).requires_grad_(True)
    y = fn(x)
    if y.shape != x.shape:
        raise ValueError(
            f"fn must be elementwise: it returned shape {tuple(y.shape)} for input shape {tuple(x.shape)}"
        )
    if y.requires_grad:
        (dy,) = torch.autograd.grad(y.sum(), x, allow_unused=True)
        dy = torch.zeros_like(x) if dy is None else dy
    else:
        dy = torch.zeros_like(x)
    if ax is None:
        _, ax = plt.subplots()
    xs = _as_numpy(x)
    ax.plot(xs, _as_numpy(y), label="f(x)")
    ax.plot(xs, _as_numpy(dy), "--", label="f'(x)")
    ax.axhline(0.0, color="0.6", linewidth=0.8)
    ax.axvline(0.0, color="0.6", linewidth=0.8)
    if name is None:
        name = getattr(fn, "__name__", None) or type(fn).__name__
    ax.set_title(name)
    ax.set_xlabel("x")
    ax.legend(loc="best")
    return ax


def _curves_ending_with(history: Mapping[str, Sequence[float]], suffixes: tuple[str, ...]):
    return {key: values for key, values in history.items() if key.endswith(suffixes)}


def _draw_curves(ax: plt.Axes, curves: Mapping[str, Sequence[float]], ylabel: str) -> None:
    for key, values in curves.items():
        values = _as_numpy(values).reshape(-1)
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, values, marker="o" if len(values) <= 30 else None, label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.legend(loc="best")


def plot_losses(history: Mapping[str, Sequence[float]], *, ax=None):
    """Learning curves from a history dict of per-epoch lists.

    ``history`` maps names to lists of numbers, one per epoch, e.g.
    ``{"train_loss": [...], "val_loss": [...], "train_acc": [...], "val_acc": [...]}``.
    Keys ending in ``loss`` are drawn on the loss Axes, keys ending in ``acc``
    or ``accuracy`` on an accuracy Axes; other keys are ignored. Epochs are
    numbered from 1, one line per key, labelled with the key, in dict order.

    * Without accuracy keys: one Axes (``ax`` if given); returns the **Axes**.
    * With accuracy keys: two Axes side by side, loss then accuracy (``ax``
      may be a pair of Axes to draw into); returns the **Figure**.
    """
    losses = _curves_ending_with(history, ("loss",))
    accuracies = _curves_ending_with(history, ("acc", "accuracy"))
    if not losses:
        raise ValueError(
            f"history has no key ending in 'loss' (keys: {sorted(history)}); "
            "expected e.g. {'train_loss': [...], 'val_loss': [...]}"
        )
    if not accuracies:
        if ax is None:
            _, ax = plt.subplots()
        elif not isinstance(ax, plt.Axes):
            raise TypeError("without accuracy keys, ax must be a single matplotlib Axes")
        _draw_curves(ax, losses, "loss")
        return ax
    if ax is None:
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    else:
        if isinstance(ax, plt.Axes) or len(ax) != 2:
            raise TypeError("history has accuracy keys: pass ax as a pair (loss_axes, accuracy_axes) or None")
        ax_loss, ax_acc = ax
        fig = ax_loss.figure
    _draw_curves(ax_loss, losses, "loss")
    _draw_curves(ax_acc, accuracies, "accuracy")
    return fig


def _images_as_hwc(images) -> np.ndarray:
    """N×H×W, N×1×H×W, N×3×H×W or N×H×W×3 (or one H×W image) as N×H×W[×3]."""
    array = _as_numpy(images)
    if array.ndim == 2:
        array = array[None]
    if array.ndim == 4 and array.shape[1] in (1, 3) and array.shape[-1] not in (1, 3):
        array = np.moveaxis(array, 1, -1)  # channels first -> channels last
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 3 or (array.ndim == 4 and array.shape[-1] == 3):
        return array
    raise ValueError(
        f"images of shape {tuple(np.shape(images))} are not understood; "
        "expected N×H×W, N×1×H×W, N×3×H×W or N×H×W×3"
    )


def _show_one(ax: plt.Axes, image: np.ndarray) -> None:
    if image.ndim == 3:  # colour: rescale to [0, 1] so imshow neither clips nor warns
        low, high = image.min(), image.max()
        ax.imshow((image - low) / (high - low) if high > low else np.zeros_like(image))
    else:
        ax.imshow(image, cmap="gray")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def _label_text(label, classes: Sequence[str] | None) -> str:
    if isinstance(label, torch.Tensor):
        label = label.item()
    if classes is not None and not isinstance(label, str):
        return str(classes[int(label)])
    return str(label)


def show_images(images, labels=None, ncols: int = 8, *, classes: Sequence[str] | None = None, axes=None):
    """Show a batch of images in a grid, each titled with its label.

    ``images``: tensor or array, N×H×W, N×1×H×W (grayscale, e.g. a DataLoader
    batch), N×3×H×W or N×H×W×3 (colour, rescaled to [0, 1] for display).
    Grayscale images are shown with their own value range, so normalised
    images need no undoing. ``labels``: N strings or ints (a tensor is fine);
    with ``classes``, int labels are shown as ``classes[label]``.

    Draws into ``axes`` (a sequence or array of at least N Axes) if given,
    otherwise into a new figure with ``ncols`` columns; unused Axes are
    hidden. Returns the Figure.
    """
    array = _images_as_hwc(images)
    count = len(array)
    if labels is not None and len(labels) != count:
        raise ValueError(f"got {count} images but {len(labels)} labels")
    if axes is None:
        ncols = max(1, min(ncols, count))
        nrows = math.ceil(count / ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.5 * nrows), squeeze=False, layout="constrained")
    axes = list(np.ravel(axes))
    if len(axes) < count:
        raise ValueError(f"got {count} images but only {len(axes)} Axes to draw them in")
    for index, ax in enumerate(axes):
        if index >= count:
            ax.set_axis_off()
            continue
        _show_one(ax, array[index])
        if labels is not None:
            ax.set_title(_label_text(labels[index], classes), fontsize=9)
    return axes[0].figure


def view_classify(image, probs, classes: Sequence[str] | None = None, *, ax=None):
    """An image next to a horizontal bar chart of the predicted class probabilities.

    ``image``: one H×W, 1×H×W or 3×H×W tensor/array. ``probs``: K
    probabilities (a tensor of shape K or 1×K, e.g. ``softmax(logits)``);
    they must be non-negative and sum to 1, so passing raw logits is an error.
    ``classes``: K names (default ``0 … K-1``). The most probable class is
    named in the bar chart's title; the bars, in class order, are
    ``bar_ax.patches``.

    Draws into ``ax``, a pair ``(image_axes, bar_axes)``, or a new figure.
    Returns the Figure.
    """
    p = _as_numpy(probs).reshape(-1)
    if np.any(p < 0) or not np.isclose(p.sum(), 1.0, atol=1e-3):
        raise ValueError(
            f"probs must be probabilities (non-negative, summing to 1; these sum to {p.sum():.4g}); "
            "pass torch.softmax(logits, dim=-1), not the logits"
        )
    if classes is None:
        classes = [str(k) for k in range(len(p))]
    if len(classes) != len(p):
        raise ValueError(f"got {len(p)} probabilities but {len(classes)} class names")
    picture = _images_as_hwc(image)
    if len(picture) != 1:
        raise ValueError(f"view_classify shows one image; got a batch of {len(picture)}")
    if ax is None:
        fig, (ax_image, ax_bars) = plt.subplots(1, 2, figsize=(6.4, 3.2), width_ratios=(1, 1.4), layout="constrained")
    else:
        ax_image, ax_bars = ax
        fig = ax_image.figure
    _show_one(ax_image, picture[0])
    positions = np.arange(len(p))
    ax_bars.barh(positions, p)
    ax_bars.set_yticks(positions, [str(c) for c in classes])
    ax_bars.invert_yaxis()  # first class at the top
    ax_bars.set_xlim(0, 1.05)
    ax_bars.set_xlabel("probability")
    ax_bars.set_title(f"predicted: {classes[int(p.argmax())]} ({p.max():.2f})")
    return fig


def plot_softmax_temperature(logits, temperatures=None, *, class_names: Sequence[str] | None = None, ax=None):
    """How softmax(logits / T) spreads as the temperature T changes: one line per class.

    ``logits``: K scores (a 1-D tensor, array or list). ``temperatures``:
    increasing positive values for the x axis (default 200 points from 0.05
    to 50, drawn on a log scale). Line ``k`` (``ax.lines[k]``, labelled
    ``class_names[k]``, default ``"class k"``) is the probability of class
    ``k`` at each temperature, so at every T the K lines sum to 1. A dotted
    line marks the uniform probability 1/K that every class tends to as T
    grows; as T shrinks, the largest logit's line tends to 1. Returns the Axes.
    """
    z = torch.as_tensor(_as_numpy(logits))
    if z.dim() != 1 or len(z) < 2:
        raise ValueError(f"logits must be a 1-D sequence of at least 2 scores, got shape {tuple(z.shape)}")
    temps = np.logspace(np.log10(0.05), np.log10(50.0), 200) if temperatures is None else _as_numpy(temperatures)
    temps = temps.reshape(-1)
    if len(temps) < 2 or np.any(temps <= 0) or np.any(np.diff(temps) <= 0):
        raise ValueError("temperatures must be at least 2 positive values in increasing order")
    if class_names is None:
        class_names = [f"class {k}" for k in range(len(z))]
    if len(class_names) != len(z):
        raise ValueError(f"got {len(z)} logits but {len(class_names)} class names")
    probabilities = torch.softmax(z[None, :] / torch.as_tensor(temps)[:, None], dim=1).numpy()  # len(temps) × K
    if ax is None:
        _, ax = plt.subplots()
    for k, name in enumerate(class_names):
        ax.plot(temps, probabilities[:, k], label=str(name))
    ax.axhline(1 / len(z), color="0.4", linestyle=":", linewidth=1, label=f"uniform 1/{len(z)}")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("temperature T")
    ax.set_ylabel("softmax(z / T)")
    ax.legend(loc="best", fontsize=8)
    return ax


def plot_loss_by_step(losses: Mapping[str, Sequence[float]], *, log_scale: bool = True, title: str | None = None,
                      ax=None):
    """Loss against step for several runs on one problem (e.g. one line per optimizer).

    ``losses`` maps a run's name to its losses, the first one before any step
    (so step 0 is the start). Each run is one line labelled with its name, in
    dict order, at x = 0, 1, 2, ... With ``log_scale`` (default) the y axis is
    logarithmic, which shows fast and slow convergence alike; non-positive or
    non-finite values are then left out of that line (a diverged run ends
    where its loss stops being finite). Returns the Axes.
    """
    if not losses:
        raise ValueError("losses is empty: pass {run_name: [loss at step 0, loss at step 1, ...]}")
    if ax is None:
        _, ax = plt.subplots()
    for name, values in losses.items():
        values = _as_numpy(values).reshape(-1)
        steps = np.arange(len(values))
        shown = np.isfinite(values) & (values > 0) if log_scale else np.isfinite(values)
        ax.plot(steps[shown], values[shown], label=str(name))
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if title is not None:
        ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return ax
