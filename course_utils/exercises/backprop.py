"""Self-checks for lecture 3 (backpropagation): "your turn" cells, then the end-of-lecture exercises.

Every check takes the student's answer first and returns a
:class:`~course_utils.selfcheck.Verdict`; none prints the expected answer.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.selfcheck import right, self_check, wrong


def _float64(*shapes, seed: int):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=generator, dtype=torch.float64) for shape in shapes]


def _compare(name: str, ours, expected, hint: str):
    """None when ``ours`` equals ``expected`` (shape and values), else a wrong() verdict naming ``name``."""
    if not isinstance(ours, torch.Tensor) or ours.shape != expected.shape:
        shape = tuple(ours.shape) if isinstance(ours, torch.Tensor) else type(ours).__name__
        return wrong(f"{name} should have shape {tuple(expected.shape)} (the shape of what it is the gradient of), "
                     f"not {shape}.")
    if not torch.allclose(ours.detach().to(torch.float64), expected, rtol=1e-6, atol=1e-9):
        return wrong(f"{name} differs from autograd's. {hint}")
    return None


# ---------------------------------------------------------------- your turn


@self_check
def check_linear_backward(linear_backward):
    """``linear_backward(X, W, b, grad_output)`` returns ``(grad_X, grad_W, grad_b)`` for ``Y = X @ W + b``."""
    X, W, b, G = _float64((6, 4), (4, 3), (3,), (6, 3), seed=4)
    grad_X, grad_W, grad_b = linear_backward(X.clone(), W.clone(), b.clone(), G.clone())
    leaves = [t.clone().requires_grad_() for t in (X, W, b)]
    (leaves[0] @ leaves[1] + leaves[2]).backward(G)
    for name, ours, leaf, hint in (
        ("grad_X", grad_X, leaves[0], "Which matrix do you multiply grad_output by, and on which side?"),
        ("grad_W", grad_W, leaves[1], "Let the shapes guide you: (4, 6) @ (6, 3) gives (4, 3)."),
        ("grad_b", grad_b, leaves[2], "b is added to every row, so each row contributes."),
    ):
        verdict = _compare(name, ours, leaf.grad, hint)
        if verdict is not None:
            return verdict
    return right("all three gradients match autograd's.")


@self_check
def check_tanh_layer(Tanh):
    """``Tanh``: a layer class with ``forward(T)`` and ``backward(grad_output)`` like ``Sigmoid`` in the lecture."""
    T, G = _float64((5, 4), (5, 4), seed=5)
    layer = Tanh()
    out = layer.forward(T.clone())
    if not isinstance(out, torch.Tensor) or not torch.allclose(out, torch.tanh(T)):
        return wrong("forward(T) does not return tanh(T).")
    grad = layer.backward(G.clone())
    leaf = T.clone().requires_grad_()
    torch.tanh(leaf).backward(G)
    verdict = _compare("backward(grad_output)", grad, leaf.grad,
                       "tanh'(t) = 1 - tanh(t)^2; keep what forward computed and multiply by grad_output.")
    if verdict is not None:
        return verdict
    return right("forward keeps tanh(T); backward multiplies by 1 - tanh(T)^2.")


# ---------------------------------------------------------------- exercises


@self_check
def check_softmax_cross_entropy(SoftmaxCrossEntropy):
    """``SoftmaxCrossEntropy``: ``forward(Z, labels)`` is the mean cross-entropy, ``backward()`` its gradient in Z."""
    (Z,) = _float64((6, 4), seed=6)
    Z = Z * 3
    labels = torch.tensor([0, 3, 1, 1, 2, 0])
    loss = SoftmaxCrossEntropy()
    value = loss.forward(Z.clone(), labels)
    expected = F.cross_entropy(Z, labels)
    if not torch.isclose(torch.as_tensor(value, dtype=torch.float64), expected):
        return wrong("forward differs from F.cross_entropy(Z, labels) (the mean over the batch).")
    leaf = Z.clone().requires_grad_()
    F.cross_entropy(leaf, labels).backward()
    verdict = _compare("backward()", loss.backward(), leaf.grad,
                       "Check the sign and the division by N (the batch size).")
    if verdict is not None:
        return verdict
    huge = torch.tensor([[1000.0, 0.0]], dtype=torch.float64)
    if not torch.isfinite(torch.as_tensor(SoftmaxCrossEntropy().forward(huge, torch.tensor([1])))):
        return wrong("for logits like (1000, 0) your forward overflows or takes log(0): with M the row maximum, "
                     "log softmax(Z) = (Z - M) - log(sum(exp(Z - M))) stays finite.")
    return right("softmax minus one-hot, over N; and stable for large logits.")


def _recurrence(xs: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    h = torch.zeros((), dtype=xs.dtype)
    for x_t in xs:
        h = torch.tanh(w * h + x_t)
    return h


@self_check
def check_input_gradients_through_time(input_gradients):
    """``input_gradients(xs, w)``: ``dL/dx_t`` for every t of ``h_t = tanh(w h_(t-1) + x_t)``, ``L = h_T``."""
    for w_value in (0.5, 3.0):
        xs = torch.tensor([0.5, -1.0, 0.3, 0.8, -0.2], dtype=torch.float64)
        ours = input_gradients(xs.clone(), w_value)
        leaf = xs.clone().requires_grad_()
        _recurrence(leaf, torch.tensor(w_value, dtype=torch.float64)).backward()
        verdict = _compare(f"for w = {w_value}, the gradients", torch.as_tensor(ours, dtype=torch.float64),
                           leaf.grad, "g_t (1 - h_t^2) is the gradient at the input of tanh at step t, and x_t "
                           "enters there with factor 1.")
        if verdict is not None:
            return verdict
    return right("each step back multiplies by (1 - h_t^2) w: small w vanishes, large w saturates tanh.")


@self_check
def check_saved_bytes_relu(answer):
    """``answer``: bytes autograd saves for the ReLU MLP (841 -> 5 x 100 -> 26) on a batch of 256, float32."""
    expected = 4 * 256 * (841 + 5 * 100)
    if int(answer) == expected:
        return right("ReLU saves its output, which is also the next layer's input: the same memory as sigmoid.")
    return wrong("not the number of bytes. Which tensors does each Linear and each ReLU save, and are any of "
                 "them the same tensor?")


@self_check
def check_kaiming_init(initialise):
    """``initialise(net)`` re-draws every ``nn.Linear`` weight from N(0, 2 / fan_in) and zeroes its bias."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Linear(300, 200))
    initialise(net)
    for layer in (net[0], net[2]):
        target = math.sqrt(2 / layer.in_features)
        spread = layer.weight.std().item()
        if abs(spread - target) > 0.05 * target:
            return wrong(f"a Linear({layer.in_features}, {layer.out_features}) layer's weights have standard "
                         f"deviation {spread:.4f}, which is not sqrt(2 / fan_in) (within 5 %).")
        if abs(layer.weight.mean().item()) > 0.1 * target:
            return wrong("the weights should have mean 0.")
        if layer.bias is not None and bool(layer.bias.abs().max() > 0):
            return wrong("the biases should be zero.")
    return right("variance 2 / fan_in keeps a ReLU layer's signal at its size.")


@self_check
def check_quadrant_classifier(model):
    """``model``: maps points (N, 2) to logits (N, 2); class 1 where x1 * x2 > 0. Needs >= 95 % on fresh points."""
    generator = torch.Generator().manual_seed(7)
    X = torch.randn(2000, 2, generator=generator)
    labels = (X[:, 0] * X[:, 1] > 0).long()
    with torch.no_grad():
        logits = model(X)
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (2000, 2):
        return wrong("the model should map a batch of shape (N, 2) to logits of shape (N, 2).")
    accuracy = (logits.argmax(dim=1) == labels).float().mean().item()
    if accuracy < 0.95:
        return wrong(f"{accuracy:.1%} of 2,000 fresh points are right; reach 95 %: more hidden units, "
                     "more steps or a larger learning rate.")
    return right(f"{accuracy:.1%} of 2,000 points it never saw are classified right.")
