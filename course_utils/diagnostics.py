"""Looking inside a model before and while training it: ``layer_table`` and ``lr_range_test``.

:func:`layer_table` runs one dummy batch through a model and reports, layer
by layer, the shape that comes out and the number of parameters the layer
holds (how one reads an architecture). :func:`lr_range_test` trains for a
few steps with a learning rate that grows exponentially and records the
loss at each, then puts the model and optimizer back as they were (Leslie
Smith's "LR range test", the idea behind fastai's ``lr_find``).
"""
from __future__ import annotations

import copy
import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["layer_table", "lr_range_test"]


def layer_table(model: nn.Module, input_shape) -> list[tuple[str, str, tuple[int, ...], int]]:
    """``(name, layer, output shape, parameters)`` for every leaf module, in the order the forward pass runs them.

    ``input_shape`` is the shape of one input batch, e.g. ``(1, 1, 28, 28)``; a
    batch of zeros of that shape goes through the model in eval mode without
    gradients (the model's mode is restored). ``layer`` is the module's class
    name; ``parameters`` counts the module's own learnable numbers. A leaf
    module called twice appears twice.
    """
    rows, handles = [], []
    names = {module: name for name, module in model.named_modules()}

    def record(module, inputs, output):
        own = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append((names[module], type(module).__name__, tuple(output.shape), own))

    for module in model.modules():
        if next(module.children(), None) is None:  # a leaf: no sub-modules
            handles.append(module.register_forward_hook(record))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(input_shape))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return rows


def lr_range_test(
    model: nn.Module,
    loader,
    optimizer: torch.optim.Optimizer,
    lr_min: float = 1e-5,
    lr_max: float = 1.0,
    num_steps: int = 100,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
    stop_factor: float = 4.0,
) -> dict[str, list[float]]:
    """Train with a learning rate that grows from ``lr_min`` to ``lr_max`` in ``num_steps`` steps; record the loss.

    Step ``i`` (0-based) uses ``lr_min * (lr_max / lr_min) ** (i / (num_steps - 1))``
    for every parameter group, on the next batch of ``loader`` (started again
    when it runs out), in train mode. The test stops early once the loss is
    not finite or exceeds ``stop_factor`` times the lowest loss so far.
    Afterwards the model's weights and mode and the optimizer's state are
    restored: the test leaves no trace but the random numbers it drew.

    Returns ``{"lr": [...], "loss": [...]}``, one entry per step taken.
    """
    if not 0 < lr_min < lr_max or num_steps < 2:
        raise ValueError("need 0 < lr_min < lr_max and num_steps >= 2")
    saved_model, saved_optimizer = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
    was_training = model.training
    history: dict[str, list[float]] = {"lr": [], "loss": []}
    batches = iter(loader)
    model.train()
    try:
        for step in range(num_steps):
            lr = lr_min * (lr_max / lr_min) ** (step / (num_steps - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            try:
                inputs, labels = next(batches)
            except StopIteration:
                batches = iter(loader)
                inputs, labels = next(batches)
            loss = loss_fn(model(inputs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history["lr"].append(lr)
            history["loss"].append(loss.item())
            if not math.isfinite(loss.item()) or loss.item() > stop_factor * min(history["loss"]):
                break
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        model.train(was_training)
    return history
