"""Generated letters A-J, made in memory or as image folders, for lectures that need no download.

:func:`make_letters` draws 28 x 28 grayscale letters the way
:func:`course_utils.make_synthetic_notmnist` does (a font that ships with
matplotlib, a random scale, rotation, shift and stroke width) and returns
them as tensors. :func:`write_letter_folders` writes such letters as PNG
files in one folder per letter, the layout ``torchvision.datasets.ImageFolder``
reads. The same arguments give the same letters (for the same installed
Pillow and FreeType).

These letters are cleaner than notMNIST (16 plain fonts, no decorative ones):
good for measuring how training behaves in seconds, not a benchmark.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Union

import numpy as np
import torch

from .synthetic import CLASSES, _font_paths, _GlyphCache, _render

__all__ = ["make_letters", "write_letter_folders", "LETTERS"]

#: The class names, in label order: label ``k`` is ``LETTERS[k]``.
LETTERS = CLASSES
_STROKES = 4  # stroke widths 0..3 render pixels, as in synthetic.py


def _letter_images(per_class: int, seed: int):
    """``(uint8 images N x 28 x 28, labels N)`` in class order A..J, ``per_class`` of each."""
    from PIL import Image

    if int(per_class) != per_class or per_class < 0:
        raise ValueError(f"per_class must be a whole number of images (0 or more), got {per_class!r}")
    fonts = _font_paths()
    glyphs = _GlyphCache(fonts)
    rng = np.random.default_rng(seed)
    images = np.zeros((len(CLASSES) * int(per_class), 28, 28), dtype=np.uint8)
    for label, letter in enumerate(CLASSES):
        for i in range(int(per_class)):
            glyph = glyphs.get(int(rng.integers(len(fonts))), letter, int(rng.integers(_STROKES)))
            images[label * int(per_class) + i] = np.asarray(Image.open(io.BytesIO(_render(glyph, rng))))
    labels = np.repeat(np.arange(len(CLASSES)), int(per_class))
    return images, labels


def make_letters(per_class: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` generated images of each letter A-J: ``(images, labels)``.

    ``images``: float32 ``N x 1 x 28 x 28`` with pixels in [0, 1] (white
    letter on black), ``N = 10 * per_class``; ``labels``: int64 ``N`` in
    0..9. The images are in class order (all A, then all B, ...): shuffle
    before cutting batches. Different seeds give different letters.
    """
    images, labels = _letter_images(per_class, seed)
    return torch.from_numpy(images).float().div_(255).unsqueeze(1), torch.from_numpy(labels)


def write_letter_folders(root: Union[str, os.PathLike], per_class: int, seed: int = 0) -> Path:
    """Write ``per_class`` generated PNG letters into ``root/A``, ..., ``root/J``; return ``root``.

    The images are those of ``make_letters(per_class, seed)``, as 8-bit
    grayscale PNG files named ``00000.png``, ``00001.png``, ... The layout is
    the one ``torchvision.datasets.ImageFolder(root)`` expects. Existing
    files of the same names are overwritten.
    """
    from PIL import Image

    images, labels = _letter_images(per_class, seed)
    root = Path(root)
    for letter in CLASSES:
        (root / letter).mkdir(parents=True, exist_ok=True)
    for index, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image).save(root / CLASSES[label] / f"{index:05d}.png")
    return root
