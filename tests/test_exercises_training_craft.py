"""Lecture 08's self-checks: each accepts differently written right answers, rejects the wrong answers a
student would plausibly write (with a reason), waits for the placeholder, and leaves the random state alone."""
import copy
import math
import random
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.exercises.training_craft import (check_balancing_weights, check_batchnorm_by_hand,
                                                   check_channel_mean_std, check_conv_output_size,
                                                   check_expected_classes, check_fold_batchnorm, check_track_shapes)


def not_implemented(*args, **kwargs):
    raise NotImplementedError


def passes(check, answer):
    verdict = check(answer)
    assert verdict.status == "right", verdict.message
    return verdict


def fails(check, answer, *words):
    verdict = check(answer)
    assert verdict.status == "wrong" and len(verdict.message) > 20, verdict
    for word in words:
        assert word in verdict.message, verdict.message
    return verdict


# ------------------------------------------------------------------ conv_output_size

def size_floor(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def size_math_floor(size, kernel_size, stride=1, padding=0, dilation=1):
    span = dilation * (kernel_size - 1) + 1  # the pixels one output position sees
    return math.floor((size + 2 * padding - span) / stride) + 1


def size_no_dilation(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - kernel_size) // stride + 1


def size_ceil(size, kernel_size, stride=1, padding=0, dilation=1):
    return math.ceil((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1


def size_one_side_padding(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + padding - dilation * (kernel_size - 1) - 1) // stride + 1


def size_true_division(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1


def size_dilation_times_kernel(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * kernel_size) // stride + 1


def test_conv_output_size():
    passes(check_conv_output_size, size_floor)
    passes(check_conv_output_size, size_math_floor)
    fails(check_conv_output_size, size_no_dilation, "dilation=")
    fails(check_conv_output_size, size_ceil)
    fails(check_conv_output_size, size_one_side_padding)
    fails(check_conv_output_size, size_true_division, "whole number")
    fails(check_conv_output_size, size_dilation_times_kernel)
    fails(check_conv_output_size, lambda *args, **kwargs: None, "None")
    assert check_conv_output_size(not_implemented).status == "not attempted"


# ------------------------------------------------------------------ batchnorm by hand

def bn_right(x, eps):
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps)


def bn_right_reshaped(x, eps):
    channels = x.transpose(0, 1).reshape(x.shape[1], -1)
    mean, var = channels.mean(dim=1), ((channels - channels.mean(dim=1, keepdim=True)) ** 2).mean(dim=1)
    return (x - mean.view(1, -1, 1, 1)) * (var.view(1, -1, 1, 1) + eps).rsqrt()


def bn_unbiased(x, eps):
    mean, var = x.mean(dim=(0, 2, 3), keepdim=True), x.var(dim=(0, 2, 3), keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


def bn_per_example(x, eps):  # what LayerNorm normalises over
    mean, var = x.mean(dim=(1, 2, 3), keepdim=True), x.var(dim=(1, 2, 3), keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps)


def bn_per_pixel(x, eps):  # over the batch only, like BatchNorm1d on flattened images
    mean, var = x.mean(dim=0, keepdim=True), x.var(dim=0, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps)


def bn_eps_outside(x, eps):
    mean, std = x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True, unbiased=False)
    return (x - mean) / (std + eps)


def bn_no_eps(x, eps):
    return bn_right(x, 0.0)


def bn_in_place(x, eps):
    x -= x.mean(dim=(0, 2, 3), keepdim=True)
    x /= torch.sqrt(x.var(dim=(0, 2, 3), keepdim=True, unbiased=False) + eps)
    return x


def bn_float32(x, eps):
    return bn_right(x.float(), eps)


def test_batchnorm_by_hand():
    passes(check_batchnorm_by_hand, bn_right)
    passes(check_batchnorm_by_hand, bn_right_reshaped)
    passes(check_batchnorm_by_hand, lambda x, eps: F.batch_norm(x, None, None, training=True, eps=eps))
    for wrong_answer in (bn_unbiased, bn_per_example, bn_per_pixel, bn_eps_outside, bn_no_eps):
        fails(check_batchnorm_by_hand, wrong_answer, "differs from BatchNorm2d")
    fails(check_batchnorm_by_hand, bn_in_place, "in place")
    fails(check_batchnorm_by_hand, bn_float32, "float64")
    assert check_batchnorm_by_hand(not_implemented).status == "not attempted"


# ------------------------------------------------------------------ track_shapes

def pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def shapes_right(layers, input_shape, *, pool_floor=True, use_stride=True, use_padding=True, flatten=True,
                 swap=False):
    shape, shapes = tuple(input_shape), []
    for layer in layers:
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            n, c, h, w = shape
            (kh, kw), (sh, sw), (ph, pw) = pair(layer.kernel_size), pair(layer.stride), pair(layer.padding)
            if swap:
                kh, kw = kw, kh
            if not use_stride:
                sh = sw = 1
            if not use_padding:
                ph = pw = 0
            rounding = math.floor if pool_floor or isinstance(layer, nn.Conv2d) else math.ceil
            h, w = rounding((h + 2 * ph - kh) / sh) + 1, rounding((w + 2 * pw - kw) / sw) + 1
            shape = (n, layer.out_channels if isinstance(layer, nn.Conv2d) else c, h, w)
        elif isinstance(layer, nn.Flatten):
            shape = (shape[0], math.prod(shape[1:])) if flatten else shape
        elif isinstance(layer, nn.Linear):
            shape = (shape[0], layer.out_features)
        shapes.append(shape)
    return shapes


def shapes_by_size_formula(layers, input_shape):
    """Another right answer: a size formula per axis, a dict of handlers per layer type."""
    def out(size, k, s, p):
        return (size + 2 * p - k) // s + 1

    def spatial(shape, layer, channels):
        k, s, p = (pair(getattr(layer, name)) for name in ("kernel_size", "stride", "padding"))
        return [shape[0], channels, out(shape[2], k[0], s[0], p[0]), out(shape[3], k[1], s[1], p[1])]

    shapes, shape = [], list(input_shape)
    for layer in layers:
        if isinstance(layer, nn.Conv2d):
            shape = spatial(shape, layer, layer.out_channels)
        elif isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)):
            shape = spatial(shape, layer, shape[1])
        elif isinstance(layer, nn.Flatten):
            shape = [shape[0], int(np.prod(shape[1:]))]
        elif isinstance(layer, nn.Linear):
            shape = [shape[0], layer.out_features]
        shapes.append(torch.Size(shape))
    return shapes


def shapes_without_pool_padding(layers, input_shape):
    """A plausible slip: the pools' size formula without their padding (only the convolutions' is read)."""
    pools_unpadded = [copy.copy(layer) for layer in layers]
    for layer in pools_unpadded:
        if isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)):
            layer.padding = 0
    return shapes_right(pools_unpadded, input_shape)


def shapes_by_running(layers, input_shape):
    x, shapes = torch.zeros(input_shape), []
    for layer in layers:
        x = layer(x)
        shapes.append(tuple(x.shape))
    return shapes


def shapes_by_functions(layers, input_shape):
    """Runs each layer's function on zeros instead of the layer itself."""
    x, shapes = torch.zeros(input_shape), []
    for layer in layers:
        if isinstance(layer, nn.Conv2d):
            x = F.conv2d(x, layer.weight, layer.bias, layer.stride, layer.padding)
        elif isinstance(layer, nn.MaxPool2d):
            x = F.max_pool2d(x, layer.kernel_size, layer.stride, layer.padding)
        elif isinstance(layer, nn.AvgPool2d):
            x = F.avg_pool2d(x, layer.kernel_size, layer.stride, layer.padding)
        elif isinstance(layer, nn.Flatten):
            x = x.reshape(len(x), -1)
        elif isinstance(layer, nn.Linear):
            x = F.linear(x, layer.weight, layer.bias)
        shapes.append(tuple(x.shape))
    return shapes


def test_track_shapes():
    passes(check_track_shapes, shapes_right)
    passes(check_track_shapes, shapes_by_size_formula)
    fails(check_track_shapes, lambda layers, shape: shapes_right(layers, shape, use_stride=False), "is not")
    fails(check_track_shapes, lambda layers, shape: shapes_right(layers, shape, use_padding=False), "is not")
    fails(check_track_shapes, lambda layers, shape: shapes_right(layers, shape, pool_floor=False), "is not")
    fails(check_track_shapes, lambda layers, shape: shapes_right(layers, shape, flatten=False), "is not")
    fails(check_track_shapes, lambda layers, shape: shapes_right(layers, shape, swap=True), "is not")
    fails(check_track_shapes, lambda layers, shape: shapes_right(layers, shape)[:-1], "one shape per layer")
    fails(check_track_shapes, shapes_without_pool_padding, "MaxPool2d")
    fails(check_track_shapes, shapes_by_running, "ran a layer")
    fails(check_track_shapes, shapes_by_functions, "ran a layer")
    fails(check_track_shapes, lambda layers, shape: shapes_by_running(nn.Sequential(*layers), shape), "ran a layer")
    assert check_track_shapes(not_implemented).status == "not attempted"


# ------------------------------------------------------------------ fold_batchnorm

def fold_right(conv, bn):
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                       padding=conv.padding, bias=True)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
        folded.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
    return folded


def fold_right_deepcopy(conv, bn):
    import copy

    folded = copy.deepcopy(conv)
    if folded.bias is None:
        folded.bias = nn.Parameter(torch.zeros(conv.out_channels))
    std = (bn.running_var + bn.eps).sqrt()
    with torch.no_grad():
        folded.weight.mul_((bn.weight / std)[:, None, None, None])
        folded.bias.sub_(bn.running_mean).mul_(bn.weight / std).add_(bn.bias)
    return folded


def fold_variant(conv, bn, *, eps=True, conv_bias=True, in_place=False, shift=True):
    scale = bn.weight / torch.sqrt(bn.running_var + (bn.eps if eps else 0.0))
    target = conv if in_place else nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                                             stride=conv.stride, padding=conv.padding)
    bias = conv.bias if conv.bias is not None and conv_bias else torch.zeros(conv.out_channels)
    new_bias = ((bias - bn.running_mean) * scale if shift else bias * scale) + bn.bias
    with torch.no_grad():
        weight = conv.weight * scale.view(-1, 1, 1, 1)
        target.weight.copy_(weight)
        if target.bias is None:
            target.bias = nn.Parameter(new_bias.detach().clone())
        else:
            target.bias.copy_(new_bias)
    return target


def _without_padding(folded):
    plain = nn.Conv2d(folded.in_channels, folded.out_channels, folded.kernel_size)
    plain.load_state_dict(folded.state_dict())
    return plain


def test_fold_batchnorm():
    passes(check_fold_batchnorm, fold_right)
    passes(check_fold_batchnorm, fold_right_deepcopy)
    fails(check_fold_batchnorm, lambda conv, bn: fold_variant(conv, bn, eps=False), "differs from bn(conv(x))")
    fails(check_fold_batchnorm, lambda conv, bn: fold_variant(conv, bn, conv_bias=False), "with a bias")
    fails(check_fold_batchnorm, lambda conv, bn: fold_variant(conv, bn, shift=False), "differs")
    fails(check_fold_batchnorm, lambda conv, bn: fold_variant(conv, bn, in_place=True), "changed conv or bn")
    fails(check_fold_batchnorm, lambda conv, bn: nn.Sequential(conv, bn), "new nn.Conv2d")
    fails(check_fold_batchnorm, _without_padding_of_right, "stride and padding")
    passes(check_fold_batchnorm, torch.nn.utils.fusion.fuse_conv_bn_eval)  # torch's own fold, eval mode only
    assert check_fold_batchnorm(not_implemented).status == "not attempted"


def _without_padding_of_right(conv, bn):
    return _without_padding(fold_right(conv, bn))


# ------------------------------------------------------------------ expected classes per batch

def classes_exact(per_class, num_classes, batch_size):
    total = per_class * num_classes
    return num_classes * (1 - math.comb(total - per_class, batch_size) / math.comb(total, batch_size))


def classes_product(per_class, num_classes, batch_size):
    total, missing = per_class * num_classes, 1.0
    for i in range(batch_size):  # the chance that no draw hits a given class, one draw at a time
        missing *= max(0, total - per_class - i) / (total - i)
    return num_classes * (1 - missing)


def classes_with_replacement(per_class, num_classes, batch_size):
    return num_classes * (1 - (1 - 1 / num_classes) ** batch_size)


def classes_simulated(per_class, num_classes, batch_size):
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    draws = [len(labels[torch.randperm(len(labels))[:batch_size]].unique()) for _ in range(2000)]
    return sum(draws) / len(draws)


def classes_lgamma_float32(per_class, num_classes, batch_size):
    """The right formula through torch.lgamma in float32: off by up to 8e-4 (lgamma(2001) is about 13,200)."""
    total, others = per_class * num_classes, per_class * (num_classes - 1)
    if others < batch_size:
        return float(num_classes)
    t, o, b = (torch.tensor(float(v)) for v in (total, others, batch_size))
    missing = torch.exp(torch.lgamma(o + 1) - torch.lgamma(o - b + 1) - torch.lgamma(t + 1) + torch.lgamma(t - b + 1))
    return num_classes * (1 - missing)


def test_expected_classes():
    passes(check_expected_classes, classes_exact)
    passes(check_expected_classes, classes_product)
    fails(check_expected_classes, classes_with_replacement, "without replacement")
    fails(check_expected_classes, lambda per_class, num_classes, batch_size: min(num_classes, batch_size))
    fails(check_expected_classes, lambda per_class, num_classes, batch_size: batch_size / per_class)
    fails(check_expected_classes, classes_simulated)
    fails(check_expected_classes, lambda *args: "ten", "return a number")
    fails(check_expected_classes, classes_lgamma_float32, "close, but not the exact value")
    assert check_expected_classes(not_implemented).status == "not attempted"


# ------------------------------------------------------------------ balancing weights

def weights_inverse_count(labels):
    return 1.0 / torch.bincount(labels)[labels].float()


def weights_counter(labels):
    counts = Counter(labels.tolist())
    return [len(labels) / (len(counts) * counts[label]) for label in labels.tolist()]


def test_balancing_weights():
    passes(check_balancing_weights, weights_inverse_count)
    passes(check_balancing_weights, weights_counter)
    passes(check_balancing_weights, lambda labels: np.array(weights_counter(labels)) * 7)
    fails(check_balancing_weights, lambda labels: torch.bincount(labels)[labels].float(), "not all equal")
    fails(check_balancing_weights, lambda labels: torch.ones(len(labels)), "not all equal")
    fails(check_balancing_weights, lambda labels: 1.0 / torch.bincount(labels).float(), "one weight per example")
    fails(check_balancing_weights, lambda labels: 1.0 / (labels.float() + 1), "not all equal")
    fails(check_balancing_weights, lambda labels: -weights_inverse_count(labels), "non-negative")
    # N x 1 weights balance the classes but WeightedRandomSampler refuses them ("should be a 1d sequence")
    fails(check_balancing_weights, lambda labels: weights_inverse_count(labels).unsqueeze(1), "1-D sequence")
    with pytest.raises(ValueError):
        torch.utils.data.WeightedRandomSampler(weights_inverse_count(torch.tensor([0, 0, 1])).unsqueeze(1), 3)
    passes(check_balancing_weights, lambda labels: [1 / torch.bincount(labels)[y] for y in labels])  # 0-d tensors
    assert check_balancing_weights(not_implemented).status == "not attempted"


# ------------------------------------------------------------------ channel mean and std

def stats_concatenated(loader):
    images = torch.cat([x for x, _ in loader])
    return images.mean(dim=(0, 2, 3)), images.std(dim=(0, 2, 3))


def stats_running_sums(loader):
    total = total_squares = None
    count = 0
    for x, _ in loader:
        x = x.double()
        sums, squares = x.sum(dim=(0, 2, 3)), (x**2).sum(dim=(0, 2, 3))
        total = sums if total is None else total + sums
        total_squares = squares if total_squares is None else total_squares + squares
        count += x.numel() // x.shape[1]
    mean = total / count
    return mean, (total_squares / count - mean**2).sqrt()


def stats_mean_of_batch_means(loader):
    means = [x.mean(dim=(0, 2, 3)) for x, _ in loader]
    stds = [x.std(dim=(0, 2, 3)) for x, _ in loader]
    return torch.stack(means).mean(0), torch.stack(stds).mean(0)


def stats_per_image_std(loader):
    images = torch.cat([x for x, _ in loader])
    return images.mean(dim=(0, 2, 3)), images.std(dim=(2, 3)).mean(0)


def stats_one_number(loader):
    images = torch.cat([x for x, _ in loader])
    return images.mean(), images.std()


def stats_weighted_means_mean_of_stds(loader):
    total, count, stds = 0, 0, []
    for x, _ in loader:
        total = total + x.sum(dim=(0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
        stds.append(x.std(dim=(0, 2, 3)))
    return total / count, torch.stack(stds).mean(0)


def test_channel_mean_std():
    passes(check_channel_mean_std, stats_concatenated)
    passes(check_channel_mean_std, stats_running_sums)
    fails(check_channel_mean_std, stats_mean_of_batch_means, "means are off")
    fails(check_channel_mean_std, stats_per_image_std, "standard deviations are off")
    fails(check_channel_mean_std, stats_weighted_means_mean_of_stds, "standard deviations are off")
    fails(check_channel_mean_std, stats_one_number, "one per channel")
    fails(check_channel_mean_std, lambda loader: stats_concatenated(loader)[0], "pair")
    assert check_channel_mean_std(not_implemented).status == "not attempted"


# ------------------------------------------------------------------ every check

ALL = [(check_conv_output_size, size_floor), (check_batchnorm_by_hand, bn_right), (check_track_shapes, shapes_right),
       (check_fold_batchnorm, fold_right), (check_expected_classes, classes_simulated),
       (check_balancing_weights, weights_inverse_count), (check_channel_mean_std, stats_concatenated)]


@pytest.mark.parametrize("check", [check for check, _ in ALL], ids=lambda check: check.__name__)
def test_placeholder_is_not_attempted(check, capsys):
    assert check(...).status == "not attempted"
    assert capsys.readouterr().out.startswith("Not attempted yet:")


@pytest.mark.parametrize("check,answer", ALL, ids=[check.__name__ for check, _ in ALL])
def test_a_check_leaves_the_random_state_alone(check, answer):
    """Does a check, even with an answer that draws random numbers, leave torch's, NumPy's and Python's state alone?"""
    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    torch_state, numpy_state, python_state = torch.get_rng_state(), np.random.get_state(), random.getstate()
    check(answer)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), numpy_state))
    assert random.getstate() == python_state
