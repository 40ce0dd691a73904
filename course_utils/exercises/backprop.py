"""Self-checks for lecture 3 (backpropagation): "your turn" cells, then the end-of-lecture exercises.

Every check takes the student's answer first and returns a
:class:`~course_utils.selfcheck.Verdict`; none prints the expected answer.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.exercises._common import AUTOGRAD_CALLS, every_torch_call, keeps_random_state, used
from course_utils.selfcheck import right, self_check, wrong


def _float64(*shapes, seed: int):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=generator, dtype=torch.float64) for shape in shapes]


def _compare(name: str, ours, expected, hint: str, rtol: float = 1e-6):
    """None when ``ours`` equals ``expected`` (shape and values), else a wrong() verdict naming ``name``."""
    if not isinstance(ours, torch.Tensor) or ours.shape != expected.shape:
        shape = tuple(ours.shape) if isinstance(ours, torch.Tensor) else type(ours).__name__
        return wrong(f"{name} should have shape {tuple(expected.shape)} (the shape of what it is the gradient of), "
                     f"not {shape}.")
    expected = expected.to(torch.float64)
    if not torch.allclose(ours.detach().to(torch.float64), expected, rtol=rtol, atol=rtol * 1e-3 * (1 + expected.abs().max().item())):
        return wrong(f"{name} differs from autograd's. {hint}")
    return None


# ---------------------------------------------------------------- your turn


@self_check
@keeps_random_state
def check_linear_backward(linear_backward):
    """``linear_backward(X, W, b, grad_output)`` returns ``(grad_X, grad_W, grad_b)`` for ``Y = X @ W + b``."""
    for seed, (N, D, H), dtype in ((4, (6, 4, 3), torch.float64), (14, (5, 4, 4), torch.float64),
                                   (24, (1, 3, 2), torch.float32), (34, (4, 4, 4), torch.float32)):
        X, W, b, G = _float64((N, D), (D, H), (H,), (N, H), seed=seed)
        grad_X, grad_W, grad_b = linear_backward(*(t.to(dtype) for t in (X, W, b, G)))
        leaves = [t.clone().requires_grad_() for t in (X, W, b)]
        (leaves[0] @ leaves[1] + leaves[2]).backward(G)
        rtol = 1e-6 if dtype == torch.float64 else 1e-4
        for name, ours, leaf, hint in (
            ("grad_X", grad_X, leaves[0], "Which matrix do you multiply grad_output by, and on which side? "
                                          "(With a square W the shapes alone cannot tell.)"),
            ("grad_W", grad_W, leaves[1], f"Let the shapes guide you: which two of X, W and grad_output "
                                          f"multiply to W's shape ({D}, {H})?"),
            ("grad_b", grad_b, leaves[2], "b is added to every row, so each row contributes."),
        ):
            verdict = _compare(f"for X of shape ({N}, {D}) and W of shape ({D}, {H}), {name}", ours, leaf.grad,
                               hint, rtol)
            if verdict is not None:
                return verdict
    return right("all three gradients match autograd's.")


@self_check
@keeps_random_state
def check_tanh_layer(Tanh):
    """``Tanh``: a layer class with ``forward(T)`` and ``backward(grad_output)`` like ``Sigmoid`` in the lecture."""
    for seed, shape, dtype, scale in ((5, (5, 4), torch.float64, 1.0), (15, (1, 7), torch.float32, 1.0),
                                      (25, (3, 6), torch.float32, 100.0)):
        T, G = _float64(shape, shape, seed=seed)
        T = (T * scale).to(dtype)
        layer = Tanh()
        out = layer.forward(T.clone())
        if not isinstance(out, torch.Tensor) or not torch.isfinite(out).all():
            return wrong(f"for inputs as large as {T.abs().max().item():.0f}, forward(T) is not finite: "
                         "a formula with exp(T) overflows; torch.tanh does not.")
        if not torch.allclose(out.double(), torch.tanh(T.double()), atol=1e-6):
            return wrong("forward(T) does not return tanh(T).")
        grad = layer.backward(G.to(dtype))
        leaf = T.double().requires_grad_()
        torch.tanh(leaf).backward(G)
        verdict = _compare("backward(grad_output)", grad, leaf.grad,
                           "tanh'(t) = 1 - tanh(t)^2; keep what forward computed and multiply by grad_output.",
                           rtol=1e-6 if dtype == torch.float64 else 1e-4)
        if verdict is not None:
            return verdict
    return right("forward keeps what backward needs; backward multiplies grad_output by 1 - tanh(T)^2.")


# ---------------------------------------------------------------- exercises


#: What exercise 3 asks the student to write themselves instead of calling.
_LIBRARY_SOFTMAX = frozenset({"cross_entropy", "nll_loss", "log_softmax", "softmax", "logsumexp"})


@self_check
@keeps_random_state
def check_softmax_cross_entropy(SoftmaxCrossEntropy):
    """``SoftmaxCrossEntropy``: ``forward(Z, labels)`` is the mean cross-entropy, ``backward()`` its gradient in Z;
    exact for logits as large as 1000, written without torch's softmax / cross-entropy functions or autograd."""
    generator = torch.Generator().manual_seed(6)
    cases = [(torch.randn(6, 4, generator=generator, dtype=torch.float64) * 3, torch.float64),
             (torch.randn(50, 10, generator=generator, dtype=torch.float64), torch.float32),
             (torch.tensor([[1000.0, 0.0]], dtype=torch.float64), torch.float64),
             (torch.randn(8, 3, generator=generator, dtype=torch.float64) * 1000, torch.float32),
             (torch.tensor([[1000.0, 999.0, -1000.0], [-1000.0, -999.0, 1000.0]], dtype=torch.float64), torch.float32)]
    for Z, dtype in cases:
        labels = torch.randint(0, Z.shape[1], (len(Z),), generator=generator)
        if Z.shape == (1, 2):
            labels = torch.tensor([1])   # the wrong class by 1000: the loss is 1000
        loss = SoftmaxCrossEntropy()
        # every call, torch's own included: nn.CrossEntropyLoss()(Z, y) is F.cross_entropy by another route
        value, forward_calls = every_torch_call(loss.forward, Z.to(dtype, copy=True), labels.clone())
        gradient, backward_calls = every_torch_call(loss.backward)
        library = used(forward_calls + backward_calls, _LIBRARY_SOFTMAX | AUTOGRAD_CALLS)
        if library:
            return wrong(f"your class calls {sorted(library)} (directly, through an nn module or torch.special); "
                         "the exercise is to write softmax, its logarithm and the gradient yourself (the max trick "
                         "included), without autograd.")
        leaf = Z.clone().requires_grad_()
        expected = F.cross_entropy(leaf, labels)
        expected.backward()
        value = torch.as_tensor(value).detach().to(torch.float64)
        size = f"for logits of shape {tuple(Z.shape)} as large as {Z.abs().max().item():.0f}"
        if value.shape != () or not torch.isfinite(value):
            return wrong(f"{size} forward does not return a finite number: with M the row maximum, write "
                         "log softmax(Z) in terms of Z - M; then nothing overflows and no log(0) is taken.")
        if not torch.isclose(value, expected.detach(), rtol=1e-4 if dtype == torch.float32 else 1e-7, atol=1e-6):
            return wrong(f"{size} forward gives {value.item():.4g}, not the mean cross-entropy. Mean over the "
                         "batch? And for large logits: adding a small number inside log(p) caps the loss; "
                         "compute log softmax directly from Z - M instead.")
        verdict = _compare(f"{size} backward()", gradient, leaf.grad,
                           "Check the sign and the division by N (the batch size).",
                           rtol=1e-6 if dtype == torch.float64 else 1e-4)
        if verdict is not None:
            return verdict
    return right("softmax minus one-hot, over N; exact for large logits too.")


def _recurrence(xs: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    h = torch.zeros((), dtype=xs.dtype)
    for x_t in xs:
        h = torch.tanh(w * h + x_t)
    return h


@self_check
@keeps_random_state
def check_input_gradients_through_time(input_gradients):
    """``input_gradients(xs, w)``: ``dL/dx_t`` for every t of ``h_t = tanh(w h_(t-1) + x_t)``, ``L = h_T``, walked
    backwards by hand; ``w`` is a 0-d tensor as in the lecture (``w.item()`` gives the float)."""
    generator = torch.Generator().manual_seed(8)
    cases = [(torch.tensor([0.5, -1.0, 0.3, 0.8, -0.2], dtype=torch.float64), 0.5),
             (torch.tensor([0.5, -1.0, 0.3, 0.8, -0.2], dtype=torch.float64), 3.0),
             (torch.randn(12, generator=generator, dtype=torch.float64) * 0.3, 0.9),
             (torch.randn(1, generator=generator, dtype=torch.float64), -1.2),
             (torch.randn(8, generator=generator, dtype=torch.float64) * 2, -0.7)]
    for xs, w_value in cases:
        w = torch.tensor(w_value, dtype=torch.float64)
        ours, calls = every_torch_call(input_gradients, xs.clone(), w.clone())
        if used(calls, AUTOGRAD_CALLS):  # torch.autograd.functional and torch.func included
            return wrong("your function asks autograd; walk backwards through time by hand, as in section 5.")
        leaf = xs.clone().requires_grad_()
        _recurrence(leaf, w).backward()
        try:
            ours = torch.as_tensor(ours, dtype=torch.float64) if not isinstance(ours, torch.Tensor) else ours
        except (TypeError, ValueError, RuntimeError):
            return wrong("return a tensor (or a list of numbers) with one gradient per x_t.")
        verdict = _compare(f"for {len(xs)} steps and w = {w_value}, the vector of gradients", ours, leaf.grad,
                           "Which quantity of section 5's backward loop is the gradient at the input of tanh at "
                           "step t, and with which factor does x_t enter that input?")
        if verdict is not None:
            return verdict
    return right("each step back multiplies by (1 - h_t^2) w: small w vanishes, large w saturates tanh.")


@self_check
def check_saved_bytes_relu(answer):
    """``answer``: bytes autograd saves for the ReLU MLP (841 -> 5 x 100 -> 26) on a batch of 256, float32."""
    expected = 4 * 256 * (841 + 5 * 100)
    if isinstance(answer, (str, bytes)):
        return wrong("give the number of bytes as a number, not as text.")
    if float(answer) == expected:
        return right("ReLU saves its output, which is also the next layer's input: the same memory as sigmoid.")
    return wrong("not the number of bytes. Which tensors does each Linear and each ReLU save, and are any of "
                 "them the same tensor?")


@self_check
@keeps_random_state
def check_init_keeping_size(initialise):
    """``initialise(net)`` re-draws every ``nn.Linear`` weight with mean 0 and variance 2 / fan_in (the spread that
    keeps a ReLU layer's activations at their size) and zeroes its bias; the layers are not square."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Linear(300, 200), nn.ReLU(), nn.Linear(200, 100))
    initialise(net)
    for layer in (net[0], net[2], net[4]):
        target = math.sqrt(2 / layer.in_features)
        spread = layer.weight.std().item()
        name = f"a Linear({layer.in_features}, {layer.out_features}) layer"
        if abs(spread - target) > 0.05 * target:
            return wrong(f"{name}'s weights have standard deviation {spread:.4f}; that does not keep its activations "
                         "at their size. Redo the sum: how many terms, each of which variance, and what does "
                         "ReLU keep of them? (In a non-square layer, which count is it?)")
        if abs(layer.weight.mean().item()) > 0.1 * target:
            return wrong(f"{name}'s weights should have mean 0.")
        if layer.bias is not None and bool(layer.bias.abs().max() > 0):
            return wrong(f"{name}'s biases should be zero.")
    return right("variance 2 / fan_in: each ReLU layer passes its signal on at the same size.")


@self_check
@keeps_random_state
def check_quadrant_classifier(model):
    """``model``: maps points (N, 2) to logits (N, 2); class 1 where x1 * x2 > 0. Needs >= 95 % on fresh points."""
    generator = torch.Generator().manual_seed(7)
    X = torch.randn(2000, 2, generator=generator)
    labels = (X[:, 0] * X[:, 1] > 0).long()
    parameters = list(model.parameters()) if isinstance(model, nn.Module) else []
    device = parameters[0].device if parameters else torch.device("cpu")   # a model moved to the GPU is fine
    training = isinstance(model, nn.Module) and model.training
    if training:
        model.eval()      # no dropout at test time, and BatchNorm's running statistics left alone
    try:
        with torch.no_grad():
            logits = model(X.to(device))
    finally:
        if training:
            model.train()
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (2000, 2):
        return wrong("the model should map a batch of shape (N, 2) to logits of shape (N, 2).")
    accuracy = (logits.argmax(dim=1).cpu() == labels).float().mean().item()
    if accuracy < 0.95:
        return wrong(f"{accuracy:.1%} of 2,000 fresh points are right; reach 95 %: more hidden units, "
                     "more steps or a larger learning rate.")
    return right(f"{accuracy:.1%} of 2,000 points it never saw are classified right.")
