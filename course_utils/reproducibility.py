"""Seeding every random number generator a notebook touches, in one call."""
from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python's ``random``, NumPy, torch (CPU and every CUDA device).

    With ``deterministic=True`` (the default) torch is also asked to use
    deterministic algorithms where it has them (``warn_only=True``: an op
    without a deterministic version warns instead of failing), cuDNN
    autotuning is switched off, and ``CUBLAS_WORKSPACE_CONFIG`` is set so that
    CUDA matrix products are repeatable. Nothing is seeded at import time:
    call this explicitly at the top of a notebook.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
