"""The course's notMNIST classifier, its training augmentation, and TorchScript export.

:class:`NotMNISTNet` takes exactly what :func:`course_utils.load_notmnist`
returns (float32 ``N x 28 x 28`` in [0, 1]) and gives ``N x 10`` logits in
the order A-J. Everything between the raw pixels and the logits (adding the
channel axis, normalising) happens inside the module, so an exported model
needs no preprocessing code next to it.

Lecture 07 trains it; the augmentation homework trains it with and without
:func:`notmnist_augmentation`.
"""
from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path
from typing import Sequence, Union

import torch
from torch import nn

__all__ = [
    "NotMNISTNet",
    "build_notmnist_model",
    "notmnist_augmentation",
    "export_torchscript",
    "load_torchscript",
    "default_artifacts_dir",
]

ARTIFACTS_DIR_ENV = "COURSE_ARTIFACTS_DIR"
IMAGE_SIZE = 28
NUM_CLASSES = 10

# torch marks the whole TorchScript API (script, save, load) deprecated in
# favour of torch.export. The course's contract is a TorchScript file, so the
# two helpers below silence exactly that notice and nothing else.
_JIT_DEPRECATION = r"`torch\.jit\.\w+` is deprecated"


class NotMNISTNet(nn.Module):
    """A small CNN for 28 x 28 letters with its input normalisation built in.

    Input: float ``N x 28 x 28`` (or ``N x 1 x 28 x 28``) with pixels in [0, 1].
    Output: ``N x num_classes`` logits (no softmax: feed them to
    ``F.cross_entropy``; apply ``softmax`` only to read probabilities).

    ``mean`` and ``std`` are stored as buffers (saved with the weights, moved
    by ``.to(device)``, not trained) and applied as ``(x - mean) / std``.
    Layout: one block of ``conv 3x3 -> BatchNorm -> ReLU -> max-pool 2`` per
    entry of ``channels`` (two by default: 28 -> 14 -> 7 pixels), then
    dropout, a hidden layer of ``hidden`` ReLU units, dropout, and the output
    layer. The defaults were chosen on real notMNIST letters: trained for 10
    epochs on 3,200 of them with augmentation, Adam and a one-cycle schedule
    (lecture 07), it classifies about 94 % of unseen letters correctly and
    trains in seconds per epoch on a laptop CPU.
    """

    def __init__(
        self,
        mean: float = 0.5,
        std: float = 0.5,
        *,
        channels: Sequence[int] = (16, 32),
        hidden: int = 256,
        dropout: float = 0.2,
        num_classes: int = NUM_CLASSES,
    ) -> None:
        super().__init__()
        if not std > 0:
            raise ValueError(f"std must be positive, got {std}")
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))
        blocks = []
        in_channels = 1
        for out_channels in channels:
            blocks += [
                nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            in_channels = out_channels
        self.features = nn.Sequential(*blocks)
        side = IMAGE_SIZE // 2 ** len(channels)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(in_channels * side * side, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:  # N x 28 x 28, as load_notmnist returns: add the channel axis
            x = x.unsqueeze(1)
        x = (x - self.mean) / self.std
        return self.classifier(self.features(x))


def build_notmnist_model(train_images=None, **options) -> NotMNISTNet:
    """The course's notMNIST model, normalised with the statistics of ``train_images``.

    ``train_images``: the training split's images (tensor or array, pixels in
    [0, 1]); their mean and standard deviation become the model's ``mean`` and
    ``std``. Pass only training images, never validation or test ones. With
    ``None`` the model uses 0.5 and 0.5 (which maps [0, 1] to [-1, 1]).
    ``options`` go to :class:`NotMNISTNet` (``channels``, ``hidden``,
    ``dropout``). Seed torch first for repeatable initial weights.
    """
    if train_images is None:
        return NotMNISTNet(**options)
    pixels = torch.as_tensor(train_images, dtype=torch.float64)
    if pixels.numel() < 2:
        raise ValueError("train_images must hold at least two pixels to have a standard deviation")
    return NotMNISTNet(mean=pixels.mean().item(), std=pixels.std().item(), **options)


def notmnist_augmentation(degrees: float = 15.0, shift: float = 0.1, noise: float = 0.05):
    """Random changes that keep a letter the same letter, for training images only.

    A torchvision transform for one image tensor ``1 x 28 x 28`` in [0, 1]
    (use it as a Dataset's ``transform``): a rotation by up to ``degrees``
    either way, a shift by up to ``shift`` of the width and height (0.1 is up
    to 3 pixels), bilinear resampling with black (0) filling the uncovered
    corners, then Gaussian pixel noise of standard deviation ``noise``,
    clipped back to [0, 1]. It runs before the model's normalisation, so the
    fill is the notMNIST background.

    Each call draws new random parameters from torch's generator: seed torch
    for a repeatable run. Applied to a batch ``N x 1 x 28 x 28`` it would use
    one rotation and shift for the whole batch, so apply it per image.
    """
    from torchvision.transforms import v2

    return v2.Compose([
        v2.RandomAffine(degrees=degrees, translate=(shift, shift), interpolation=v2.InterpolationMode.BILINEAR),
        v2.GaussianNoise(mean=0.0, sigma=noise, clip=True),
    ])


def default_artifacts_dir() -> Path:
    """Where notebooks save trained models: ``$COURSE_ARTIFACTS_DIR``, else ``artifacts/``.

    ``artifacts/`` is at the repository root (git-ignored) when ``course_utils``
    is used from a checkout, else in the current folder. Nothing is created.
    """
    env = os.environ.get(ARTIFACTS_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parent.parent
    if (repo / "pyproject.toml").is_file():
        return repo / "artifacts"
    return Path.cwd() / "artifacts"


def export_torchscript(model: nn.Module, path: Union[str, os.PathLike]) -> Path:
    """Save ``model`` as a TorchScript file at ``path`` (parent folders are created).

    What is saved is a copy of the model, on the CPU and in eval mode (dropout
    off, BatchNorm using its running statistics), so the file loads on any
    machine; ``model`` itself is left as it was. Returns the path written.
    Load it back with :func:`load_torchscript` or ``torch.jit.load``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frozen = copy.deepcopy(model).cpu().eval()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_JIT_DEPRECATION, category=FutureWarning)
        scripted = torch.jit.script(frozen)
        torch.jit.save(scripted, str(path))
    return path


def load_torchscript(path: Union[str, os.PathLike], map_location: Union[str, torch.device] = "cpu"):
    """Load a TorchScript file written by :func:`export_torchscript` (in eval mode)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_JIT_DEPRECATION, category=FutureWarning)
        loaded = torch.jit.load(str(path), map_location=map_location)
    return loaded.eval()
