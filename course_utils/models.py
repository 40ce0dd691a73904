"""The course's notMNIST classifier, its training augmentation, its recipe, and its export.

:class:`NotMNISTNet` takes exactly what :func:`course_utils.load_notmnist`
returns (float32 ``N x 28 x 28`` in [0, 1]) and gives ``N x 10`` logits in
the order A-J. Everything between the raw pixels and the logits (adding the
channel axis, normalising) happens inside the module, so an exported model
needs no preprocessing code next to it.

Lecture 07 trains it with :func:`train_notmnist_model` (the course's final
recipe, also run by ``scripts/cross_validate_notmnist.py``) and exports it
with :func:`export_model` (``torch.export``, a ``.pt2`` file);
:func:`load_exported_model` loads it back. Homework 2 trains the default
model with and without the student's own augmentation transforms;
:func:`notmnist_augmentation` is a torchvision per-image transform of the
same kind, for a ``Dataset``.
"""
from __future__ import annotations

import copy
import math
import os
import time
from pathlib import Path
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "NotMNISTNet",
    "build_notmnist_model",
    "notmnist_augmentation",
    "random_affine",
    "train_notmnist_model",
    "RECIPE",
    "export_model",
    "load_exported_model",
    "default_artifacts_dir",
]

ARTIFACTS_DIR_ENV = "COURSE_ARTIFACTS_DIR"
IMAGE_SIZE = 28
NUM_CLASSES = 10


class NotMNISTNet(nn.Module):
    """A small CNN for 28 x 28 letters with its input normalisation built in.

    Input: float ``N x 28 x 28`` (or ``N x 1 x 28 x 28``) with pixels in [0, 1].
    Output: ``N x num_classes`` logits (no softmax: feed them to
    ``F.cross_entropy``; apply ``softmax`` only to read probabilities).

    ``mean`` and ``std`` are stored as buffers (saved with the weights, moved
    by ``.to(device)``, not trained) and applied as ``(x - mean) / std``.
    Layout: one block per entry of ``channels`` (two by default: 28 -> 14 -> 7
    pixels), each ``convs_per_block`` times ``conv 3x3 -> BatchNorm -> ReLU``
    and then ``max-pool 2``; then dropout, a hidden layer of ``hidden`` ReLU
    units, dropout, and the output layer. ``convs_per_block`` is one count for
    every block or one count per block. The defaults (one convolution per
    block) are lecture 07's first CNN; its final model uses :data:`RECIPE`.
    """

    def __init__(
        self,
        mean: float = 0.5,
        std: float = 0.5,
        *,
        channels: Sequence[int] = (16, 32),
        convs_per_block: Union[int, Sequence[int]] = 1,
        hidden: int = 256,
        dropout: float = 0.2,
        num_classes: int = NUM_CLASSES,
    ) -> None:
        super().__init__()
        if not std > 0:
            raise ValueError(f"std must be positive, got {std}")
        counts = [convs_per_block] * len(channels) if isinstance(convs_per_block, int) else list(convs_per_block)
        if len(counts) != len(channels) or min(counts, default=1) < 1:
            raise ValueError(f"convs_per_block must be at least 1, or one such count per entry of channels "
                             f"{tuple(channels)}; got {convs_per_block}")
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))
        blocks = []
        in_channels = 1
        for out_channels, count in zip(channels, counts):
            for _ in range(count):
                blocks += [
                    nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
                    nn.BatchNorm2d(out_channels),
                    nn.ReLU(),
                ]
                in_channels = out_channels
            blocks.append(nn.MaxPool2d(2))
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
        # Convolution weights stored channels-last (N x H x W x C in memory):
        # the same numbers, but CPU convolutions run about a quarter faster.
        self.features.to(memory_format=torch.channels_last)

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


def random_affine(
    images: torch.Tensor,
    degrees: float = 12.0,
    shift: float = 0.1,
    scale: tuple[float, float] = (0.9, 1.1),
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """A new random rotation, shift and zoom for *every* image of a batch, in one call.

    ``images``: float ``N x 28 x 28`` or ``N x 1 x 28 x 28`` in [0, 1] (any
    device); the result has the same shape, dtype and device, and the input is
    not modified. Each image gets its own angle in ``[-degrees, degrees]``,
    shift of up to ``shift`` of the width and height in each direction (0.1:
    2.8 pixels, then scaled by the zoom and turned by the rotation), and zoom
    factor in ``scale``; bilinear resampling, and
    black (0, the notMNIST background) fills what moves into view. Random
    numbers come from ``generator`` (default: torch's global one, so
    ``torch.manual_seed`` makes a run repeatable).

    Unlike a torchvision transform applied to a batch, which draws one set of
    parameters for all images, this is per image, and it costs one
    ``grid_sample`` call per batch instead of one transform per image.
    """
    if images.dim() not in (3, 4):
        raise ValueError(f"expected N x 28 x 28 or N x 1 x 28 x 28 images, got shape {tuple(images.shape)}")
    batch = images.unsqueeze(1) if images.dim() == 3 else images
    n, device = batch.shape[0], batch.device

    def uniform(low, high):
        return low + (high - low) * torch.rand(n, generator=generator).to(device)

    angle = uniform(-math.radians(degrees), math.radians(degrees))
    zoom = uniform(*scale)
    # affine_grid maps each output pixel to where it is read from in the input
    # (coordinates in [-1, 1]): rotating by -angle and shrinking by 1/zoom
    # there rotates by angle and enlarges by zoom what we see.
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([
        torch.stack([cos, -sin, uniform(-2 * shift, 2 * shift)], dim=1),
        torch.stack([sin, cos, uniform(-2 * shift, 2 * shift)], dim=1),
    ], dim=1).to(batch.dtype)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    out = F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.squeeze(1) if images.dim() == 3 else out


#: Lecture 07's final recipe, chosen by cross-validation inside its development images
#: (``scripts/cross_validate_notmnist.py --compare``; see train_notmnist_model).
RECIPE = dict(
    channels=(16, 32), convs_per_block=(1, 2), hidden=256, dropout=0.2,  # the network
    degrees=12.0, shift=0.1, scale=(0.9, 1.1),  # augmentation (random_affine)
    label_smoothing=0.1, lr=3e-3, weight_decay=0.0, batch_size=64, num_epochs=25,  # training
)


def train_notmnist_model(
    train_images,
    train_labels,
    val_images=None,
    val_labels=None,
    *,
    seed: int = 0,
    device=None,
    progress: bool = True,
    desc: str = "final recipe",
    **overrides,
):
    """Train a fresh course model with lecture 07's final recipe; return ``(model, history)``.

    The recipe (:data:`RECIPE`; ``overrides`` replace any entry): the network
    ``build_notmnist_model(train_images, channels, convs_per_block, hidden,
    dropout)``, normalised with ``train_images``' statistics; every training
    batch augmented by :func:`random_affine`; cross-entropy with label
    smoothing; Adam (``AdamW``: ``weight_decay`` shrinks every weight a little
    at each step, apart from the gradient) with a one-cycle schedule peaking
    at ``lr``; shuffled
    batches of ``batch_size`` for ``num_epochs`` epochs. ``seed`` fixes the
    initial weights, the batch order and the augmentation.

    With ``val_images``/``val_labels`` the model is evaluated on them after
    every epoch (plain cross-entropy, no smoothing), as :func:`course_utils.fit`
    does; without, ``history`` holds only the training curves, for the final
    run on train + validation. ``history["seconds"]`` is the training time.
    """
    from torch.utils.data import DataLoader, TensorDataset

    from .reproducibility import seed_everything
    from .training import fit

    unknown = set(overrides) - set(RECIPE)
    if unknown:
        raise TypeError(f"unknown recipe setting(s) {sorted(unknown)}; valid ones are {sorted(RECIPE)}")
    recipe = {**RECIPE, **overrides}
    images = torch.as_tensor(train_images, dtype=torch.float32)
    labels = torch.as_tensor(train_labels, dtype=torch.int64)
    seed_everything(seed)
    model = build_notmnist_model(images, **{k: recipe[k] for k in ("channels", "convs_per_block", "hidden", "dropout")})
    train_loader = DataLoader(TensorDataset(images, labels), batch_size=recipe["batch_size"], shuffle=True,
                              generator=torch.Generator().manual_seed(seed))
    val_loader = None
    if val_images is not None:
        val_set = TensorDataset(torch.as_tensor(val_images, dtype=torch.float32),
                                torch.as_tensor(val_labels, dtype=torch.int64))
        val_loader = DataLoader(val_set, batch_size=1000)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe["lr"], weight_decay=recipe["weight_decay"])
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=recipe["lr"], total_steps=max(1, recipe["num_epochs"] * len(train_loader)))

    def augment(batch):
        return random_affine(batch, recipe["degrees"], recipe["shift"], recipe["scale"])

    def smoothed_cross_entropy(logits, targets):
        return F.cross_entropy(logits, targets, label_smoothing=recipe["label_smoothing"])

    start = time.perf_counter()
    history = fit(model, train_loader, val_loader, optimizer, recipe["num_epochs"], device,
                  loss_fn=smoothed_cross_entropy, val_loss_fn=F.cross_entropy, augment=augment,
                  scheduler=scheduler, progress=progress, desc=desc)
    history["seconds"] = time.perf_counter() - start
    return model, history


def export_model(model: nn.Module, path: Union[str, os.PathLike]) -> Path:
    """Export ``model`` with ``torch.export`` to a ``.pt2`` file at ``path`` (parent folders are created).

    What is exported is a copy of the model, on the CPU and in eval mode
    (dropout off, BatchNorm using its running statistics): the whole forward
    pass, normalisation included, for float32 ``N x 28 x 28`` inputs in
    [0, 1] with any batch size ``N``. ``model`` itself is left as it was.
    Returns the path written; :func:`load_exported_model` (or
    ``torch.export.load(path).module()``) loads it without ``course_utils``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Weights in the default memory layout: a .pt2 file stores each weight as
    # one plain block, and torch.export warns about channels-last ones.
    frozen = copy.deepcopy(model).cpu().eval().to(memory_format=torch.contiguous_format)
    example = torch.rand(2, IMAGE_SIZE, IMAGE_SIZE)
    batch = torch.export.Dim("batch")
    program = torch.export.export(frozen, (example,), dynamic_shapes=({0: batch},))
    torch.export.save(program, path)
    return path


def load_exported_model(path: Union[str, os.PathLike]) -> nn.Module:
    """Load a file written by :func:`export_model`: a module that maps ``N x 28 x 28`` images to logits.

    It is ``torch.export.load(path).module()``: a graph module that runs in
    inference mode already (it has no ``train()`` / ``eval()`` switch) on the CPU.
    """
    return torch.export.load(Path(path)).module()
