"""Pictures of computation graphs: autograd's ``grad_fn`` chain, and a two-layer net's passes.

``grad_fn_graph(tensor)`` reads the backward graph autograd recorded for a
tensor; ``draw_grad_fn_graph`` draws it. ``draw_two_layer_pass(step)`` draws
one of the nine steps of the forward and backward pass of the network
``T = X W1, A = sigmoid(T), Y_hat = A W2, L = MSE(Y_hat, Y)`` of lecture 3.

Every drawing function draws into the Axes it is given (or a new figure) and
returns that Axes; none calls ``plt.show()``, sets rcParams or keeps state.
Nodes are ``ax.texts`` with a box around them, edges are arrow annotations.
"""
from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import torch

FILL = "#dbe9f6"       # a node that has been computed
EMPTY = "white"        # a node not computed yet
CURRENT = "#d62728"    # the edge colour of the node the current step computes
FORWARD = "#1f77b4"
BACKWARD = "#ff7f0e"


def grad_fn_graph(tensor: torch.Tensor, names: Mapping[str, torch.Tensor] | None = None):
    """The backward graph of ``tensor`` as ``(labels, edges)``, output first.

    ``labels`` is a list of node labels: the output's ``grad_fn`` class name
    (``"MulBackward0"``), and for a leaf ``"AccumulateGrad: a (2,)"`` with the
    name given in ``names`` (a dict ``{"a": a}``) or ``"leaf"``. ``edges`` is a
    list of ``(i, j)`` index pairs: node ``i`` passes a gradient to node ``j``
    (``j`` is in ``i.next_functions``). A node reached twice (a leaf used
    twice) appears once. Inputs that need no gradient (``None``) are left out.
    Raises ``ValueError`` when ``tensor`` has no ``grad_fn``.
    """
    if tensor.grad_fn is None:
        raise ValueError("this tensor has no grad_fn: it is a leaf or was computed without autograd; "
                         "build it from tensors with requires_grad=True")
    name_of = {id(t): n for n, t in (names or {}).items()}
    index: dict[int, int] = {}
    labels: list[str] = []
    edges: list[tuple[int, int]] = []

    def visit(node) -> int:
        if id(node) in index:
            return index[id(node)]
        label = type(node).__name__
        if hasattr(node, "variable"):
            leaf = node.variable
            label += f": {name_of.get(id(leaf), 'leaf')} {tuple(leaf.shape)}"
        index[id(node)] = len(labels)
        labels.append(label)
        me = index[id(node)]
        for child, _ in node.next_functions:
            if child is not None:
                edges.append((me, visit(child)))
        return me

    visit(tensor.grad_fn)
    return labels, edges


def _depths(count: int, edges: list[tuple[int, int]]) -> list[int]:
    """Longest distance of each node from node 0 (the output), so every edge points down."""
    depth = [0] * count
    changed = True
    while changed:
        changed = False
        for i, j in edges:
            if depth[j] < depth[i] + 1:
                depth[j] = depth[i] + 1
                changed = True
    return depth


def _node(ax, x, y, text, *, face=FILL, edge="0.3", width=1.0, fontsize=9):
    return ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=3,
                   bbox=dict(boxstyle="round,pad=0.4", facecolor=face, edgecolor=edge, linewidth=width))


def _arrow(ax, start, end, color="0.3", label=None):
    return ax.annotate(label or "", xy=end, xytext=start, zorder=2,
                       arrowprops=dict(arrowstyle="-|>", color=color, shrinkA=14, shrinkB=14, linewidth=1.2))


def draw_grad_fn_graph(tensor: torch.Tensor, names: Mapping[str, torch.Tensor] | None = None, *, ax=None):
    """Draw the backward graph of ``tensor`` (see :func:`grad_fn_graph`), output at the top.

    Arrows point the way ``backward()`` sends gradients: from the output
    down to the ``AccumulateGrad`` nodes of the leaves. Returns the Axes.
    """
    labels, edges = grad_fn_graph(tensor, names)
    depth = _depths(len(labels), edges)
    rows: dict[int, list[int]] = {}
    for node, d in enumerate(depth):
        rows.setdefault(d, []).append(node)
    position = {}
    for d, members in rows.items():
        for k, node in enumerate(members):
            position[node] = ((k + 1) / (len(members) + 1), -d)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 1.1 * (max(depth) + 1) + 0.5))
    for i, j in edges:
        _arrow(ax, position[i], position[j])
    for node, label in enumerate(labels):
        _node(ax, *position[node], label)
    ax.set_xlim(0, 1)
    ax.set_ylim(-max(depth) - 0.5, 0.5)
    ax.set_axis_off()
    ax.set_title("backward graph from grad_fn: gradients flow along the arrows", fontsize=10)
    return ax


# ---------------------------------------------------------------- the two-layer net, step by step

#: (what the step computes, its formula, where it comes from) for each of the nine steps: a
#: forward step reads its inputs, a backward step the gradient arriving from the node above.
TWO_LAYER_STEPS = (
    ("T", "forward 1: T = X W1", ("X", "W1")),
    ("A", "forward 2: A = sigmoid(T)", ("T",)),
    ("Y_hat", "forward 3: Y_hat = A W2", ("A", "W2")),
    ("L", "forward 4: L = mean((Y_hat - Y)^2)", ("Y_hat", "Y")),
    ("dY_hat", "backward 1: dL/dY_hat = 2 (Y_hat - Y) / (N K)", ("L",)),
    ("dW2", "backward 2: dL/dW2 = A^T dL/dY_hat", ("Y_hat",)),
    ("dA", "backward 3: dL/dA = dL/dY_hat W2^T", ("Y_hat",)),
    ("dT", "backward 4: dL/dT = dL/dA * A (1 - A)", ("A",)),
    ("dW1", "backward 5: dL/dW1 = X^T dL/dT", ("T",)),
)

_POSITIONS = {"X": (0, 1), "W1": (0, 0), "T": (1, 0.5), "A": (2, 0.5), "W2": (2, -0.5),
              "Y_hat": (3, 0.5), "Y": (3, -0.5), "L": (4, 0.5)}
_FORWARD_EDGES = (("X", "T"), ("W1", "T"), ("T", "A"), ("A", "Y_hat"), ("W2", "Y_hat"), ("Y_hat", "L"), ("Y", "L"))


def two_layer_shapes(N: int, D: int, H: int, K: int) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor of the two-layer net; a gradient ``dZ`` has the shape of ``Z``."""
    shapes = {"X": (N, D), "W1": (D, H), "T": (N, H), "A": (N, H), "W2": (H, K),
              "Y_hat": (N, K), "Y": (N, K), "L": ()}
    shapes.update({"d" + name: shapes[name] for name in ("Y_hat", "W2", "A", "T", "W1")})
    return shapes


def draw_two_layer_pass(step: int, N: int = 6, D: int = 5, H: int = 4, K: int = 3, *, ax=None):
    """Draw the two-layer net after step ``step`` (0-8) of its forward and backward pass.

    Steps 0-3 are the forward pass (T, A, Y_hat, L), steps 4-8 the backward
    pass (dL/dY_hat, dL/dW2, dL/dA, dL/dT, dL/dW1), in the order of
    :data:`TWO_LAYER_STEPS`. Every tensor is a box labelled with its shape;
    boxes already computed are filled, the one this step computes has a red
    edge, and the step's formula is the title. Gradients computed so far are
    written next to their tensor's box, with orange arrows backwards along the
    edges the backward pass has used. Returns the Axes.
    """
    if not 0 <= step < len(TWO_LAYER_STEPS):
        raise ValueError(f"step must be 0 to {len(TWO_LAYER_STEPS) - 1}, got {step}")
    shapes = two_layer_shapes(N, D, H, K)
    done = {name for name, _, _ in TWO_LAYER_STEPS[: step + 1]}
    current, formula, _ = TWO_LAYER_STEPS[step]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3))
    for start, end in _FORWARD_EDGES:
        computed = end in done
        _arrow(ax, _POSITIONS[start], _POSITIONS[end], color=FORWARD if computed else "0.75")
    for name, (x, y) in _POSITIONS.items():
        is_input = name in ("X", "W1", "W2", "Y")
        face = FILL if is_input or name in done else EMPTY
        edge, width = (CURRENT, 2.5) if name == current else ("0.3", 1.0)
        _node(ax, x, y, f"{name}\n{shapes[name]}", face=face, edge=edge, width=width)
    for name, _, _ in TWO_LAYER_STEPS[4: step + 1]:  # gradients so far, next to their tensor
        target = name[1:]
        x, y = _POSITIONS[target]
        edge, width = (CURRENT, 2.5) if name == current else (BACKWARD, 1.0)
        offset = 0.42 if y > 0 else -0.42  # above the middle row, below the weights: clear of the arrows
        _node(ax, x, y + offset, f"dL/d{target}", face="#ffe5cc", edge=edge, width=width, fontsize=8)
    for name, _, (upstream,) in TWO_LAYER_STEPS[4: step + 1]:  # backwards along the forward edges
        (x0, y0), (x1, y1) = _POSITIONS[upstream], _POSITIONS[name[1:]]
        _arrow(ax, (x0, y0 - 0.1), (x1, y1 - 0.1), color=BACKWARD)
    ax.set_xlim(-0.5, 4.5)
    ax.set_ylim(-1.1, 1.4)
    ax.set_axis_off()
    ax.set_title(formula, fontsize=9)
    return ax
