"""Pictures of how tensors work: strides over flat memory, and broadcasting.

``draw_strides(t)`` draws a 1-D or 2-D tensor as the grid you index and, below
it, the flat memory it reads, each element coloured by its memory position.
``draw_broadcast(a, b)`` draws ``a``, ``b`` and ``a + b``, with the values
broadcasting repeats drawn faded.

Both draw into the Axes they are given (or a new figure) and return it; they
never call ``plt.show()``, set rcParams, keep state or modify their inputs.
Every element is one ``ax.texts`` entry whose box (``text.get_bbox_patch()``)
carries the colour.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

REPEATED_ALPHA = 0.25   # opacity of the faded copies that broadcasting adds


def _as_2d(t: torch.Tensor) -> torch.Tensor:
    if t.dim() > 2:
        raise ValueError(f"only 0-, 1- and 2-D tensors can be drawn, got {t.dim()}-D; draw a slice such as t[0]")
    return t.reshape((1,) * (2 - t.dim()) + tuple(t.shape)) if t.dim() < 2 else t


def _cell(ax, x, y, text, color, alpha=1.0, dashed=False):
    return ax.text(x, y, text, ha="center", va="center", fontsize=9, alpha=max(alpha, 0.5),
                   bbox=dict(boxstyle="square,pad=0.6", facecolor=color, alpha=alpha,
                             edgecolor="0.2", linestyle="--" if dashed else "-"))


def _format(value) -> str:
    value = value.item() if isinstance(value, torch.Tensor) else value
    return f"{value:g}" if isinstance(value, float) else str(value)


def memory_positions(t: torch.Tensor) -> torch.Tensor:
    """Where in its storage each element of ``t`` lives: ``offset + sum(index * stride)``, shape of ``t``."""
    position = torch.full(tuple(t.shape), t.storage_offset(), dtype=torch.int64)
    for dim, (size, stride) in enumerate(zip(t.shape, t.stride())):
        shape = [1] * t.dim()
        shape[dim] = size
        position = position + torch.arange(size).reshape(shape) * stride
    return position


def draw_strides(t: torch.Tensor, *, ax=None, title: str | None = None):
    """Draw ``t`` (0-, 1- or 2-D) as its index grid above the flat memory it reads.

    Each grid cell shows the element's value and its memory position
    (``@k``); the row below is the storage, element ``k`` at position ``k``.
    Cells and the memory they read share a colour. The grid's texts come first
    in ``ax.texts`` (row by row), then the memory row. Returns the Axes.
    """
    grid = _as_2d(t.detach())
    positions = _as_2d(memory_positions(t.detach()))
    storage_size = t.untyped_storage().nbytes() // t.element_size()
    memory = t.detach().as_strided((storage_size,), (1,), 0)
    colors = plt.get_cmap("viridis")
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 0.6 * storage_size + 1.5), 1.2 + 0.6 * grid.shape[0]))
    rows, cols = grid.shape
    for i in range(rows):
        for j in range(cols):
            k = positions[i, j].item()
            _cell(ax, j, 1.6 + 1.4 * (rows - 1 - i), f"{_format(grid[i, j])}\n@{k}",
                  colors(0.2 + 0.75 * k / max(storage_size - 1, 1)))
    for k in range(storage_size):
        _cell(ax, k, 0, f"{_format(memory[k])}\n@{k}", colors(0.2 + 0.75 * k / max(storage_size - 1, 1)))
    ax.text(-0.9, 0, "memory", ha="right", va="center", fontsize=9)
    ax.text(-0.9, 1.6 + 0.7 * (rows - 1), "tensor", ha="right", va="center", fontsize=9)
    ax.set_xlim(-2.2, max(cols, storage_size) - 0.3)
    ax.set_ylim(-0.8, 1.4 * rows + 0.9)
    ax.set_axis_off()
    ax.set_title(title or f"shape {tuple(t.shape)}, stride {t.stride()}, offset {t.storage_offset()}", fontsize=10)
    return ax


def draw_broadcast(a: torch.Tensor, b: torch.Tensor, *, ax=None):
    """Draw ``a``, ``b`` (each at most 2-D) and ``a + b`` side by side.

    Each operand is drawn at the size of the result: its own elements solid,
    the copies broadcasting pretends to make faded with a dashed edge.
    ``ax.texts`` holds ``a``'s cells, then ``b``'s, then the result's (row by
    row), then the three captions. Raises ``ValueError`` for shapes that do
    not broadcast. Returns the Axes.
    """
    try:
        shape = torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError as error:
        raise ValueError(f"shapes {tuple(a.shape)} and {tuple(b.shape)} do not broadcast: {error}") from None
    if len(shape) > 2:
        raise ValueError(f"the result {tuple(shape)} has more than 2 dimensions; draw a 2-D example")
    result = _as_2d(a.detach() + b.detach())
    rows, cols = result.shape
    if ax is None:
        _, ax = plt.subplots(figsize=(1.7 * (3 * cols + 4) / 2.2, 0.8 * rows + 1.2))
    colors = {"a": "#9ecae1", "b": "#fdae6b", "a + b": "#a1d99b"}
    left = 0
    for name, operand in (("a", a.detach()), ("b", b.detach()), ("a + b", result)):
        small = _as_2d(operand)
        expanded = small.expand(rows, cols)
        for i in range(rows):
            for j in range(cols):
                own = (small.shape[0] == rows or i == 0) and (small.shape[1] == cols or j == 0)
                _cell(ax, left + j, rows - 1 - i, _format(expanded[i, j]), colors[name],
                      alpha=1.0 if own else REPEATED_ALPHA, dashed=not own)
        left += cols + 1.5
    left = 0
    for name, operand_shape in (("a", a.shape), ("b", b.shape), ("a + b", shape)):
        ax.text(left + (cols - 1) / 2, rows - 0.2, f"{name}\nshape {tuple(operand_shape)}",
                ha="center", va="bottom", fontsize=9)
        left += cols + 1.5
    ax.set_xlim(-0.8, left - 1.0)
    ax.set_ylim(-0.8, rows + 0.9)
    ax.set_axis_off()
    ax.set_title("broadcasting: faded cells are repeats, not copies in memory", fontsize=10)
    return ax
