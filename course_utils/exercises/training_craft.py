"""Self-checks for lecture 08 (the craft of training an image classifier).

Each check tries the student's answer on inputs of its own (several shapes,
dtypes and magnitudes, and every case the exercise promises) and says right
or not yet, and why, without printing the expected answer. Every check runs
under ``torch.random.fork_rng`` (and restores NumPy's and Python's random
state), so running one never changes the notebook's random numbers, even when
the student's code draws some.
"""
from __future__ import annotations

import functools
import math
import random
from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.data import DataLoader, TensorDataset

from ..selfcheck import Verdict, right, self_check, wrong


def _keeps_random_state(check):
    @functools.wraps(check)
    def run(*args, **kwargs):
        numpy_state, python_state = np.random.get_state(), random.getstate()
        try:
            with torch.random.fork_rng(devices=[]):
                return check(*args, **kwargs)
        finally:
            np.random.set_state(numpy_state)
            random.setstate(python_state)

    return run


def _as_int(value):
    """``value`` as an int if it is a whole number (int, integral float, 0-d tensor), else None."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            return None
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    if not float(value).is_integer():
        return None
    return int(value)


# ------------------------------------------------------------------ your turn: the output size


def conv_output_size_reference(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


@self_check
@_keeps_random_state
def check_conv_output_size(conv_output_size) -> Verdict:
    """Your turn (section 2): ``conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1)``."""
    if conv_output_size(28, 3) is None:  # a body that is still `pass`
        return wrong("conv_output_size returned None: return the number of output positions.")
    cases = [(28, 3, 1, 0, 1), (28, 3, 1, 1, 1), (28, 5, 2, 2, 1), (7, 2, 2, 0, 1), (28, 3, 2, 1, 1),
             (10, 4, 3, 0, 1), (11, 3, 1, 0, 2), (32, 3, 2, 2, 3), (5, 5, 1, 0, 1), (1, 1, 1, 0, 1),
             (9, 3, 4, 1, 2), (30, 7, 3, 3, 1)]
    generator = torch.Generator().manual_seed(8)
    while len(cases) < 60:
        size, kernel, stride, padding, dilation = (int(v) for v in (
            torch.randint(1, 41, (1,), generator=generator), torch.randint(1, 8, (1,), generator=generator),
            torch.randint(1, 5, (1,), generator=generator), torch.randint(0, 4, (1,), generator=generator),
            torch.randint(1, 4, (1,), generator=generator)))
        if padding <= kernel // 2 and conv_output_size_reference(size, kernel, stride, padding, dilation) >= 1:
            cases.append((size, kernel, stride, padding, dilation))
    for size, kernel, stride, padding, dilation in cases:
        if dilation == 1 and (stride, padding) == (1, 0):
            got = conv_output_size(size, kernel)  # the defaults
        else:
            got = conv_output_size(size, kernel, stride=stride, padding=padding, dilation=dilation)
        expected = conv_output_size_reference(size, kernel, stride, padding, dilation)
        number = _as_int(got)
        if number is None:
            return wrong(f"conv_output_size({size}, kernel_size={kernel}, stride={stride}, padding={padding}, "
                         f"dilation={dilation}) returned {got!r}: a layer has a whole number of output positions.")
        if number != expected:
            return wrong(f"conv_output_size({size}, kernel_size={kernel}, stride={stride}, padding={padding}, "
                         f"dilation={dilation}) returned {number}, but nn.Conv2d gives a different size.")
    return right("the output size agrees with nn.Conv2d for 60 combinations, dilated ones included.")


# ------------------------------------------------------------------ your turn: BatchNorm by hand


@self_check
@_keeps_random_state
def check_batchnorm_by_hand(batchnorm_train) -> Verdict:
    """Your turn (section 3): ``batchnorm_train(x, eps)``, BatchNorm2d's training-mode normalisation (no γ, β)."""
    generator = torch.Generator().manual_seed(3)
    shapes = [(8, 3, 5, 5), (2, 4, 1, 1), (5, 1, 3, 7), (3, 2, 6, 2), (16, 6, 4, 4)]
    for k, shape in enumerate(shapes):
        dtype = torch.float64 if k % 2 else torch.float32
        scale = 10.0 ** (k - 2)  # 0.01 ... 100
        offset = torch.randn(1, shape[1], 1, 1, generator=generator, dtype=dtype) * 5 * scale
        x = offset + scale * torch.randn(shape, generator=generator, dtype=dtype)
        for eps in (1e-5, 0.1 * scale**2):
            original = x.clone()
            got = batchnorm_train(x, eps)
            if not torch.equal(x, original):
                return wrong("your function changed its input x in place; return a new tensor.")
            if not isinstance(got, torch.Tensor):
                return wrong(f"return a tensor, not a {type(got).__name__}.")
            if got.shape != x.shape:
                return wrong(f"for x of shape {tuple(shape)} the result should have the same shape; yours is "
                             f"{tuple(got.shape)}.")
            if got.dtype != x.dtype:
                return wrong(f"for {x.dtype} input the result should be {x.dtype}, not {got.dtype}.")
            expected = F.batch_norm(x, None, None, training=True, eps=eps)
            tolerance = 1e-4 if dtype == torch.float32 else 1e-9
            if not torch.allclose(got, expected, rtol=tolerance, atol=tolerance):
                return wrong(f"for x of shape {tuple(shape)} (values around {scale:g}) and eps={eps:g}, your "
                             f"result differs from BatchNorm2d(affine=False) in training mode. Which numbers "
                             f"share one mean, and which variance does BatchNorm divide by?")
    return right("per channel, over the batch and every position, with the biased variance and eps inside the root.")


# ------------------------------------------------------------------ exercise 1: shapes without running


class _RanALayer(Exception):
    pass


def _refuse_to_run(module, inputs):
    raise _RanALayer


class _RefuseLayerMath(TorchFunctionMode):
    """Refuses the functions the layers run (``F.conv2d``, ``F.max_pool2d``, ...), called on any tensor."""

    REFUSED = {"conv2d", "max_pool2d", "max_pool2d_with_indices", "avg_pool2d", "linear", "batch_norm", "flatten"}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in self.REFUSED:
            raise _RanALayer
        return func(*args, **(kwargs or {}))


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _random_network(generator, input_shape):
    """A random stack of Conv2d / BatchNorm2d / ReLU / MaxPool2d / AvgPool2d / Dropout, then Flatten and Linear."""
    def pick(options):
        return options[int(torch.randint(len(options), (1,), generator=generator))]

    n, channels, height, width = input_shape
    layers = []
    for _ in range(int(torch.randint(2, 5, (1,), generator=generator))):
        kernel = pick([3, 1, 5, (3, 1), (1, 3), (5, 3)])
        kh, kw = _pair(kernel)
        stride = pick([1, 2, (2, 1), 1])
        padding = pick([0, 1, (kh // 2, kw // 2), (kh // 2, 0)])
        ph, pw = _pair(padding)
        if ph > kh // 2 or pw > kw // 2 or height + 2 * ph < kh or width + 2 * pw < kw:
            padding, ph, pw = 0, 0, 0
            if height < kh or width < kw:
                continue
        out_channels = int(torch.randint(2, 9, (1,), generator=generator))
        layers.append(nn.Conv2d(channels, out_channels, kernel, stride=stride, padding=padding))
        channels = out_channels
        sh, sw = _pair(stride)
        height, width = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
        layers += [pick([nn.BatchNorm2d(channels), nn.Identity()]), nn.ReLU()]
        if isinstance(layers[-2], nn.Identity):
            del layers[-2]
        pool_kernel = pick([2, 3, (2, 1)])
        pool_stride = pick([None, 1, 2])
        pkh, pkw = _pair(pool_kernel)
        if height >= pkh and width >= pkw:
            pool = pick([nn.MaxPool2d, nn.AvgPool2d])(pool_kernel, stride=pool_stride)
            layers.append(pool)
            psh, psw = _pair(pool.stride)
            height, width = (height - pkh) // psh + 1, (width - pkw) // psw + 1
        if int(torch.randint(3, (1,), generator=generator)) == 0:
            layers.append(nn.Dropout(0.25))
    layers += [nn.Flatten(), nn.Linear(channels * height * width, int(torch.randint(3, 12, (1,),
                                                                                   generator=generator)))]
    return layers


def _true_shapes(layers, input_shape):
    shapes, x = [], torch.zeros(input_shape)
    with torch.no_grad():
        for layer in layers:
            x = layer.eval()(x)
            shapes.append(tuple(x.shape))
    return shapes


def _as_shape(value):
    if isinstance(value, torch.Size):
        return tuple(value)
    if isinstance(value, (tuple, list)) and all(_as_int(v) is not None for v in value):
        return tuple(_as_int(v) for v in value)
    return None


@self_check
@_keeps_random_state
def check_track_shapes(track_shapes) -> Verdict:
    """Exercise 1: ``track_shapes(layers, input_shape)`` -> the shape after every layer, without running any."""
    generator = torch.Generator().manual_seed(1)
    fixed = [
        ([nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3),
          nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.5), nn.Flatten(), nn.Linear(32 * 6 * 6, 10)], (4, 1, 28, 28)),
        ([nn.Conv2d(3, 8, 5, stride=2, padding=2), nn.ReLU(), nn.AvgPool2d(3, stride=2), nn.Flatten(),
          nn.Linear(8 * 3 * 4, 5)], (2, 3, 15, 17)),
        ([nn.Conv2d(2, 4, (3, 1), stride=(2, 1), padding=(1, 0)), nn.MaxPool2d((2, 1)), nn.Flatten(),
          nn.Linear(4 * 2 * 9, 3)], (1, 2, 9, 9)),
        # pools with padding: ResNet's stem pool, and an average pool
        ([nn.Conv2d(3, 6, 7, stride=2, padding=3), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1),
          nn.AvgPool2d(2, padding=1), nn.Flatten(), nn.Linear(6 * 5 * 4, 4)], (2, 3, 31, 25)),
    ]
    networks = fixed + [(_random_network(generator, shape), shape)
                        for shape in [(3, 1, 28, 28), (2, 3, 32, 24), (5, 2, 19, 23), (1, 1, 12, 30), (4, 3, 27, 27),
                                      (3, 4, 21, 13)]]
    for layers, input_shape in networks:
        expected = _true_shapes(layers, input_shape)
        handles = [layer.register_forward_pre_hook(_refuse_to_run) for layer in layers]
        try:
            with _RefuseLayerMath():
                got = track_shapes(list(layers), input_shape)
        except _RanALayer:
            return wrong("your code ran a layer (or its function, such as F.conv2d): work the shapes out from the "
                         "layers' settings (out_channels, kernel_size, stride, padding, out_features), without "
                         "computing any layer's output.")
        finally:
            for handle in handles:
                handle.remove()
        described = " → ".join(type(layer).__name__ for layer in layers)
        if not isinstance(got, (list, tuple)) or len(got) != len(layers):
            return wrong(f"return one shape per layer ({len(layers)} for {described}).")
        for index, (shape, true_shape) in enumerate(zip(got, expected)):
            shape = _as_shape(shape)
            if shape is None:
                return wrong("each shape should be a tuple of whole numbers, e.g. (4, 16, 28, 28).")
            if shape != true_shape:
                return wrong(f"for input {input_shape} and the layers {described}, the shape after layer {index} "
                             f"({layers[index]}) is not {shape}.")
    return right("every shape right, for ten networks, without running a layer.")


# ------------------------------------------------------------------ exercise 2: fold BatchNorm into a convolution


def _conv_bn_pair(generator, bias, stride, padding, in_channels, out_channels, kernel):
    conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding, bias=bias)
    bn = nn.BatchNorm2d(out_channels, eps=float(10.0 ** -int(torch.randint(1, 6, (1,), generator=generator))))
    with torch.no_grad():
        for parameter in conv.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
        bn.running_mean.copy_(3 * torch.randn(out_channels, generator=generator))
        bn.running_var.copy_(10.0 ** (2 * torch.rand(out_channels, generator=generator) - 2.5))
        bn.weight.copy_(torch.randn(out_channels, generator=generator))
        bn.bias.copy_(torch.randn(out_channels, generator=generator))
    return conv.eval(), bn.eval()  # folding is done on a model in eval mode (fuse_conv_bn_eval insists on it)


@self_check
@_keeps_random_state
def check_fold_batchnorm(fold_batchnorm) -> Verdict:
    """Exercise 2: ``fold_batchnorm(conv, bn)`` -> one ``nn.Conv2d`` that computes ``bn(conv(x))`` in eval mode."""
    generator = torch.Generator().manual_seed(2)
    settings = [(True, 1, 1, 3, 8, 3), (False, 1, 1, 1, 4, 3), (True, 2, 0, 2, 5, 5), (False, 2, 2, 4, 6, (3, 5)),
                (True, 1, 0, 3, 1, 1)]
    for bias, stride, padding, in_channels, out_channels, kernel in settings:
        conv, bn = _conv_bn_pair(generator, bias, stride, padding, in_channels, out_channels, kernel)
        before = {**{f"conv.{k}": v.clone() for k, v in conv.state_dict().items()},
                  **{f"bn.{k}": v.clone() for k, v in bn.state_dict().items()}}
        folded = fold_batchnorm(conv, bn)
        after = {**{f"conv.{k}": v for k, v in conv.state_dict().items()},
                 **{f"bn.{k}": v for k, v in bn.state_dict().items()}}
        if any(not torch.equal(before[key], after[key]) for key in before):
            return wrong("your function changed conv or bn; build a new layer and leave both as they were.")
        if not isinstance(folded, nn.Conv2d) or folded is conv:
            got = "conv itself" if folded is conv else type(folded).__name__
            return wrong(f"return a new nn.Conv2d with the folded weights (got {got}).")
        if folded.bias is None:
            return wrong("the folded convolution needs a bias: BatchNorm's shift has to go somewhere.")
        x = torch.randn(3, in_channels, 11, 9, generator=generator)
        with torch.no_grad():
            expected, got = bn(conv(x)), folded(x)
        if got.shape != expected.shape:
            return wrong(f"the folded layer gives shape {tuple(got.shape)}, conv then bn {tuple(expected.shape)}: "
                         "keep the convolution's stride and padding.")
        if not torch.allclose(got, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item()):
            which = "with" if bias else "without"
            return wrong(f"for a convolution {which} a bias and bn.eps = {bn.eps:g}, the folded layer's output "
                         "differs from bn(conv(x)) in eval mode. Which of bn's numbers scale the weights, and "
                         "which shift the bias?")
    return right("one convolution that computes conv then BatchNorm (eval mode), with and without a conv bias.")


# ------------------------------------------------------------------ exercise 3: classes per batch


def expected_classes_reference(per_class, num_classes, batch_size) -> Fraction:
    total = per_class * num_classes
    missing = Fraction(math.comb(total - per_class, batch_size), math.comb(total, batch_size))
    return num_classes * (1 - missing)


@self_check
@_keeps_random_state
def check_expected_classes(expected_classes) -> Verdict:
    """Exercise 3: ``expected_classes(per_class, num_classes, batch_size)``, drawn without replacement."""
    cases = [(2, 3, 4), (100, 10, 32), (5, 10, 32), (1, 10, 10), (3, 4, 12), (1000, 2, 1), (6, 5, 2), (50, 10, 64),
             (4, 6, 20), (1, 5, 3), (600, 10, 256)]
    for per_class, num_classes, batch_size in cases:
        got = expected_classes(per_class, num_classes, batch_size)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (int, float, Fraction, np.integer, np.floating)) or isinstance(got, bool):
            return wrong(f"return a number; got {type(got).__name__}.")
        expected = expected_classes_reference(per_class, num_classes, batch_size)
        if not math.isclose(float(got), float(expected), rel_tol=1e-6):
            if math.isclose(float(got), float(expected), rel_tol=1e-2):
                return wrong(f"expected_classes(per_class={per_class}, num_classes={num_classes}, batch_size="
                             f"{batch_size}) returned {float(got):.6f}: close, but not the exact value. Float32 "
                             "rounding (of large lgamma values, say) or a simulation? Compute it exactly, with "
                             "math.comb or a product of fractions in float64.")
            return wrong(f"expected_classes(per_class={per_class}, num_classes={num_classes}, batch_size="
                         f"{batch_size}) returned {float(got):.4f}, which is not the expected number of classes "
                         "in a batch drawn without replacement.")
    return right("exact for small and large sets, including batches that hold the whole set.")


# ------------------------------------------------------------------ exercise 4: weights for balanced batches


@self_check
@_keeps_random_state
def check_balancing_weights(balancing_weights) -> Verdict:
    """Exercise 4: ``balancing_weights(labels)`` -> one weight per example; every class equally likely."""
    generator = torch.Generator().manual_seed(4)
    label_sets = [torch.tensor([0, 0, 0, 1]), torch.tensor([2, 0, 1, 1, 1, 1, 1, 2, 1, 1])]
    for num_classes in (2, 3, 5, 7, 10):
        counts = torch.randint(1, 60, (num_classes,), generator=generator)
        counts[0] = 1 if num_classes > 2 else counts[0]
        labels = torch.arange(num_classes).repeat_interleave(counts)
        label_sets.append(labels[torch.randperm(len(labels), generator=generator)])
    for labels in label_sets:
        original = labels.clone()
        weights = balancing_weights(labels)
        if not torch.equal(labels, original):
            return wrong("your function changed the labels in place.")
        weights = torch.as_tensor(weights, dtype=torch.float64)
        num_classes = int(labels.max()) + 1
        if weights.dim() != 1 or len(weights) != len(labels):
            return wrong(f"return one weight per example, a 1-D sequence of {len(labels)} here, not shape "
                         f"{tuple(weights.shape)}: WeightedRandomSampler draws examples, not classes, and wants "
                         "its weights in one dimension.")
        if (weights < 0).any() or not torch.isfinite(weights).all() or weights.sum() <= 0:
            return wrong("weights must be finite, non-negative and not all zero.")
        share = torch.zeros(num_classes, dtype=torch.float64).index_add_(0, labels, weights) / weights.sum()
        if not torch.allclose(share, torch.full_like(share, 1 / num_classes), rtol=1e-6):
            counts = torch.bincount(labels).tolist()
            return wrong(f"for classes of {counts} examples, a draw with your weights picks the classes with "
                         f"probabilities {[round(s, 3) for s in share.tolist()]}, not all equal.")
    return right("every class is drawn equally often, whatever its size.")


# ------------------------------------------------------------------ exercise 5: normalisation statistics


def _statistics_loader(generator, num_images, channels, height, width, batch_size, ordered):
    means = torch.tensor([0.5, -3.0, 20.0, 0.0])[:channels]
    stds = torch.tensor([0.2, 2.0, 15.0, 0.01])[:channels]
    brightness = torch.linspace(-1, 1, num_images) if ordered else torch.zeros(num_images)
    images = (means.view(1, -1, 1, 1) + stds.view(1, -1, 1, 1)
              * (torch.randn(num_images, channels, height, width, generator=generator)
                 + 2 * brightness.view(-1, 1, 1, 1)))
    labels = torch.randint(10, (num_images,), generator=generator)
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size), images


@self_check
@_keeps_random_state
def check_channel_mean_std(channel_mean_std) -> Verdict:
    """Exercise 5: ``channel_mean_std(loader)`` -> ``(mean, std)``, one value per channel over every pixel."""
    generator = torch.Generator().manual_seed(5)
    for num_images, channels, height, width, batch_size, ordered in [
        (50, 3, 8, 8, 16, True), (33, 1, 5, 7, 8, True), (40, 4, 3, 3, 40, False), (21, 2, 6, 4, 5, True),
    ]:
        loader, images = _statistics_loader(generator, num_images, channels, height, width, batch_size, ordered)
        result = channel_mean_std(loader)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            return wrong("return a pair (mean, std).")
        mean, std = (torch.as_tensor(value, dtype=torch.float64).flatten() for value in result)
        if mean.numel() != channels or std.numel() != channels:
            return wrong(f"for {channels}-channel images return {channels} means and {channels} standard deviations "
                         f"(one per channel); got {mean.numel()} and {std.numel()}.")
        pixels = images.double().transpose(0, 1).reshape(channels, -1)
        shape = f"{num_images} images of {channels}×{height}×{width} in batches of {batch_size}"
        if not torch.allclose(mean, pixels.mean(dim=1), rtol=1e-4, atol=1e-5 * pixels.abs().max().item()):
            return wrong(f"for {shape}, the means are off: every pixel of every image should count once "
                         "(mind the last, smaller batch).")
        if not any(torch.allclose(std, pixels.std(dim=1, correction=c), rtol=1e-4) for c in (0, 1)):
            return wrong(f"for {shape}, the standard deviations are off: the spread of all pixels of a channel "
                         "around that channel's mean, not an average of spreads within batches or images.")
    return right("per-channel mean and standard deviation over every pixel, however the batches fall.")
