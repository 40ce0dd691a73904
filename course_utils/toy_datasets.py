"""Small in-memory datasets the lectures use to show how ``Dataset`` and ``DataLoader`` work.

They live in a module, not in a notebook, because ``DataLoader`` worker
processes started with the ``spawn`` method (the default on macOS and
Windows) import the dataset's class by its module name; a class defined in a
notebook belongs to ``__main__``, which a fresh worker cannot import.
"""
from __future__ import annotations

import torch
from torch.utils.data import Dataset


class SquaresDataset(Dataset):
    """Example ``i`` is ``(tensor([i]), tensor([i**2]))`` as float32, for ``i = 0, ..., n - 1``."""

    def __init__(self, n: int):
        if n < 0:
            raise ValueError(f"n must be a count of examples (0 or more), got {n}")
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int):
        if not 0 <= index < self.n:
            raise IndexError(f"index {index} out of range for {self.n} examples")
        x = torch.tensor([float(index)])
        return x, x**2
