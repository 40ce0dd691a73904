"""Checking gradients against finite differences: ``numerical_gradient``."""
from __future__ import annotations

from typing import Callable

import torch


def numerical_gradient(f: Callable[[torch.Tensor], object], x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Central-difference estimate of the gradient of a scalar function ``f`` at ``x``.

    ``f`` takes a tensor shaped like ``x`` and returns a scalar (a Python
    number or a one-element tensor). Entry ``i`` of the result is
    ``(f(x + eps·e_i) - f(x - eps·e_i)) / (2·eps)``, so the cost is
    ``2 * x.numel()`` calls of ``f``: use it on small inputs. The work is done
    in float64 on a copy, without recording autograd history; ``x`` itself is
    never modified. Returns a float64 tensor shaped like ``x``.
    """
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}; convert it with x.double()")
    point = x.detach().to(torch.float64).clone()  # clone: never write into the caller's tensor
    gradient = torch.empty_like(point)
    flat_point, flat_gradient = point.view(-1), gradient.view(-1)
    with torch.no_grad():
        for i in range(flat_point.numel()):
            original = flat_point[i].item()
            flat_point[i] = original + eps
            above = _scalar(f(point))
            flat_point[i] = original - eps
            below = _scalar(f(point))
            flat_point[i] = original
            flat_gradient[i] = (above - below) / (2 * eps)
    return gradient


def _scalar(value) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(
                f"f must return a scalar, got a tensor of shape {tuple(value.shape)}; reduce it first, e.g. with .sum()"
            )
        return value.item()
    return float(value)
