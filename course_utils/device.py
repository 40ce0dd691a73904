"""Choosing where tensors live: the best accelerator present, else the CPU."""
from __future__ import annotations

import torch


def get_device() -> torch.device:
    """Return ``cuda`` if a CUDA GPU is usable, else ``mps`` (Apple), else ``cpu``.

    Every notebook works on the CPU; a GPU only makes it faster.
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
