"""Optimisation paths drawn over the contours of a loss on a plane of two weights.

``plot_trajectory`` is the special case the lectures use most: a linear
regression ``y ≈ X @ w`` with two features and no bias, whose mean squared
error is a bowl over the (w1, w2) plane. ``plot_trajectories`` draws several
optimisers' paths over any loss of two weights (a quadratic, Rosenbrock, ...).

Like every plotting helper of the course, these draw into the given ``ax`` (or
a new figure), return the Axes, never call ``plt.show()``, and copy their
inputs instead of changing them.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .plotting import _as_numpy

LossOfTwoWeights = Callable[[torch.Tensor], torch.Tensor]


def linear_regression_mse(X, y) -> LossOfTwoWeights:
    """The loss surface ``w -> mean((X @ w - y)**2)`` of a two-feature linear regression.

    ``X``: N×2, ``y``: N (or N×1). The returned function takes a float64
    tensor ``w`` of shape ``(..., 2)`` and returns the MSE for every ``w`` at
    once, of shape ``(...)``: the form ``plot_trajectories`` expects.
    """
    X = torch.as_tensor(_as_numpy(X))
    y = torch.as_tensor(_as_numpy(y)).reshape(-1)
    if X.dim() != 2 or X.shape[1] != 2 or len(X) != len(y):
        raise ValueError(f"expected X of shape N×2 and y of length N, got {tuple(X.shape)} and {tuple(y.shape)}")
    # Expand the square: MSE(w) = wᵀAw - 2bᵀw + c with A = XᵀX/N, b = Xᵀy/N,
    # c = yᵀy/N, so a grid of 10⁴ points costs no more than one N×2 product.
    A, b, c = X.T @ X / len(X), X.T @ y / len(X), y @ y / len(X)

    def mse(w: torch.Tensor) -> torch.Tensor:
        w = torch.as_tensor(w, dtype=torch.float64)
        return torch.einsum("...i,ij,...j->...", w, A, w) - 2 * (w @ b) + c

    return mse


def _path(weights) -> np.ndarray:
    """Weights after each step (T tensors/arrays of 2 numbers, or T×2) as a T×2 array."""
    path = _as_numpy(weights)
    if path.ndim < 1 or len(path) == 0 or path.size != 2 * len(path):
        raise ValueError(
            f"weights must hold T points of 2 numbers each (shape T×2, or T tensors of shape 2 or 1×2); "
            f"got shape {path.shape}"
        )
    return path.reshape(len(path), 2)


def _window(points: np.ndarray, margin: float = 0.25) -> tuple[tuple[float, float], tuple[float, float]]:
    finite = points[np.isfinite(points).all(axis=1)]
    low, high = finite.min(axis=0), finite.max(axis=0)
    pad = np.maximum((high - low) * margin, 0.5)
    return (low[0] - pad[0], high[0] + pad[0]), (low[1] - pad[1], high[1] + pad[1])


def plot_trajectories(
    trajectories: Mapping[str, Sequence],
    loss_fn: LossOfTwoWeights,
    *,
    optimum=None,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    levels=30,
    resolution: int = 200,
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Several optimisers' paths over the contours of one loss of two weights.

    ``trajectories`` maps a name to the weights after every step, start
    included (T×2, or T tensors of 2 numbers). ``loss_fn`` takes a float64
    tensor of shape ``(..., 2)`` and returns the loss of shape ``(...)``, e.g.
    ``lambda w: (1 - w[..., 0])**2 + 100 * (w[..., 1] - w[..., 0]**2)**2``.
    ``optimum`` (2 numbers), if given, is marked with a star.

    The window covers every finite point of every path and the optimum unless
    ``xlim``/``ylim`` are given (set them when a path diverges). ``levels`` is
    passed to ``contour`` (a number or increasing values; use
    ``np.logspace`` for steep surfaces like Rosenbrock).

    Each path is a line with a circle at its start and a square at its end,
    drawn in one colour and labelled with its name. Returns the Axes.
    """
    paths = {name: _path(weights) for name, weights in trajectories.items()}
    if not paths:
        raise ValueError("trajectories is empty: pass {name: weights_after_each_step}")
    points = np.concatenate(list(paths.values()))
    if optimum is not None:
        optimum = _as_numpy(optimum).reshape(2)
        points = np.vstack([points, optimum])
    auto_x, auto_y = _window(points)
    xlim, ylim = xlim or auto_x, ylim or auto_y

    w1 = torch.linspace(xlim[0], xlim[1], resolution, dtype=torch.float64)
    w2 = torch.linspace(ylim[0], ylim[1], resolution, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(w1, w2, indexing="xy"), dim=-1)
    with torch.no_grad():
        surface = _as_numpy(loss_fn(grid))
    if surface.shape != (resolution, resolution):
        raise ValueError(
            f"loss_fn must map a (..., 2) tensor to shape (...); it returned {surface.shape} for {tuple(grid.shape)}"
        )

    if ax is None:
        _, ax = plt.subplots()
    contours = ax.contour(_as_numpy(w1), _as_numpy(w2), surface, levels=levels, cmap="viridis", linewidths=0.8)
    contours.set_label("_loss contours")
    for name, path in paths.items():
        (line,) = ax.plot(path[:, 0], path[:, 1], "-", linewidth=1.5, label=name)
        colour = line.get_color()
        ax.plot(*path[0], "o", color=colour, markersize=7, label="_start")
        ax.plot(*path[-1], "s", color=colour, markersize=7, label="_end")
    if optimum is not None:
        ax.plot(*optimum, "*", color="crimson", markersize=14, label="optimum")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")
    if title is not None:
        ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return ax


def plot_trajectory(weights, w_true, X, y, title: str | None = None, ax: plt.Axes | None = None, **kwargs) -> plt.Axes:
    """One optimiser's path over the MSE of a two-feature linear regression ``y ≈ X @ w``.

    ``weights``: the weights after every step, start included (T×2, or T
    tensors of shape 2 or 1×2, e.g. ``model.weight.detach().clone()`` of an
    ``nn.Linear(2, 1, bias=False)``). ``w_true``: the weights the data was
    made with, marked with an ``x``. ``X``: N×2, ``y``: N.

    The contours are those of the MSE on (X, y); the star is its minimum,
    the least-squares solution, which differs from ``w_true`` by the noise in
    ``y``. The path has a circle at its start and a square at its end. Extra
    keyword arguments go to :func:`plot_trajectories`. Returns the Axes.
    """
    X_np, y_np = _as_numpy(X), _as_numpy(y).reshape(-1)
    least_squares, *_ = np.linalg.lstsq(X_np, y_np, rcond=None)
    w_true = _as_numpy(w_true).reshape(2)
    kwargs.setdefault("xlim", None)
    kwargs.setdefault("ylim", None)
    if kwargs["xlim"] is None or kwargs["ylim"] is None:
        # widen the automatic window so that w_true is inside it as well
        auto_x, auto_y = _window(np.vstack([_path(weights), least_squares, w_true]))
        kwargs["xlim"] = kwargs["xlim"] or auto_x
        kwargs["ylim"] = kwargs["ylim"] or auto_y
    mse = linear_regression_mse(X_np, y_np)
    if "levels" not in kwargs:
        # A convex function is largest on a rectangle at one of its corners. Levels spaced
        # quadratically between the minimum and that value are evenly spaced in distance
        # from the optimum, so the contours stay visible close to it.
        corners = torch.tensor([[x, y] for x in kwargs["xlim"] for y in kwargs["ylim"]], dtype=torch.float64)
        low = mse(torch.as_tensor(least_squares)).item()
        high = mse(corners).max().item()
        kwargs["levels"] = low + (high - low) * np.linspace(0, 1, 26)[1:] ** 2
    ax = plot_trajectories({"path": weights}, mse, optimum=least_squares, title=title, ax=ax, **kwargs)
    ax.plot(*w_true, "x", color="black", markersize=10, markeredgewidth=2, label="true weights")
    ax.legend(loc="best", fontsize=8)
    return ax
