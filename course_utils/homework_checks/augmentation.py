"""The checks of homework 2 (image augmentation): one per graded behaviour.

No check holds a way to compute an augmentation: a rotation is recognised
by what it keeps (the centre, the shape of an elongated blob, a channel of
ones) and by the angle of the blob's principal axis; a shift by reading
back, from an image whose every pixel holds its own index, where each pixel
came from. The checks of one class never call another class, and
:func:`check_train_transform` only looks at what ``build_train_transform``
builds, so a missing ``GaussianNoise`` costs only its own cells.
"""
from __future__ import annotations

import math

import torch

from . import plain_string, plain_tensor, student_code

ROTATION_SIZE = 33
_centre = (ROTATION_SIZE - 1) / 2
_rows, _cols = torch.meshgrid(torch.arange(ROTATION_SIZE, dtype=torch.float64) - _centre,
                              torch.arange(ROTATION_SIZE, dtype=torch.float64) - _centre, indexing="ij")
DISC = _rows ** 2 + _cols ** 2 <= (_centre - 2) ** 2  # inside the image under any rotation
CORNERS = (..., [0, 0, -1, -1], [0, -1, 0, -1])


# -- every transform ----------------------------------------------------------------------


def check_basics(cls, images: torch.Tensor, expect: str, **params) -> None:
    """``cls(**params)(images)``: a new plain tensor of the same shape and dtype, the input untouched.
    ``expect``: ``"same"`` (zero angle, shift or noise: the images come back unchanged, in new memory),
    ``"changed"`` (they must not come back unchanged) or ``"any"``."""
    name = cls.__name__
    original = images.clone()
    with student_code(name):
        result = cls(**params)(images)
    result = plain_tensor(result, name)
    assert result.shape == images.shape, (
        f"an input of shape {tuple(images.shape)} came back with shape {tuple(result.shape)}; keep the shape")
    assert result.dtype == images.dtype, f"a {images.dtype} input came back as {result.dtype}; keep the dtype"
    assert torch.equal(images, original), (
        f"{name} changed its input; compute a new tensor (images + noise, torch.full_like...) instead of "
        "modifying `images` (images.add_(...), images += ...)")
    arguments = ", ".join(f"{key}={value}" for key, value in params.items())
    if expect == "same":
        assert torch.allclose(result, images, atol=1e-5), (
            f"{name}({arguments}) changed an input of shape {tuple(images.shape)}; it must give it back unchanged")
        result += 1.0
        assert torch.equal(images, original), (
            f"the tensor {name} returned shares memory with its input (changing one changed the other); "
            "return a new tensor")
    elif expect == "changed":
        assert not torch.equal(result, original), f"{name}({arguments}) returned the images unchanged"


def check_repr(cls, **params) -> None:
    """repr(cls(**params)) shows the class name and every parameter."""
    name = cls.__name__
    with student_code(f"{name}.__repr__"):
        text = repr(cls(**params))
    text = plain_string(text, f"repr({name}(...))")
    arguments = ", ".join(f"{key}={value}" for key, value in params.items())
    assert all(part in text for part in (name, *map(str, params.values()))), (
        f"repr({name}({arguments})) is {text!r}; show the class name and every parameter, "
        f"e.g. '{name}({arguments})'")


def check_randomness(cls, images: torch.Tensor, min_distinct: int, **params) -> None:
    """``cls(**params)``: same seed, same result; a new call, a new result; a batch of copies of one image,
    different results."""
    name = cls.__name__
    with student_code(name):
        transform = cls(**params)
        torch.manual_seed(123)
        first = transform(images.clone())
        torch.manual_seed(123)
        again = transform(images.clone())
        later = transform(images.clone())
        copies = transform(images[:1].repeat(len(images), *[1] * (images.dim() - 1)))
    first, again, later, copies = (plain_tensor(value, name) for value in (first, again, later, copies))
    assert torch.equal(first, again), (
        f"{name} gave different results after the same torch.manual_seed(123); take all randomness from torch "
        "(torch.rand, torch.randint, torch.randn), not from Python's random module or NumPy")
    assert not torch.equal(later, again), f"two calls of {name} in a row gave the same result; draw new values every call"
    distinct = len({tuple(result.flatten().tolist()) for result in copies})
    assert distinct >= min_distinct, (
        f"{name} turned a batch of {len(images)} identical images into only {distinct} different image(s); "
        "draw the random values separately for every image of the batch")


# -- rotation -----------------------------------------------------------------------------


def rotation_test_image(dtype=torch.float32) -> torch.Tensor:
    """3×33×33: an elongated blob (its axis gives the angle), a binary square (interpolation), ones (fill)."""
    blob = torch.exp(-(_cols / 6) ** 2 - (_rows / 2) ** 2)
    square = (((_rows + 3).abs() <= 4) & ((_cols - 3).abs() <= 4)).double()
    return torch.stack([blob, square, torch.ones_like(blob)]).to(dtype)


def _shape_of(channel: torch.Tensor):
    """(axis angle in degrees, centroid (x, y), spreads along the two axes) of an image on the disc."""
    weights = channel.double() * DISC
    total = weights.sum()
    mx, my = (weights * _cols).sum() / total, (weights * _rows).sum() / total
    dx, dy = _cols - mx, _rows - my
    mu20, mu02, mu11 = [(weights * term).sum() / total for term in (dx * dx, dy * dy, dx * dy)]
    angle = 0.5 * math.degrees(math.atan2(2 * float(mu11), float(mu20 - mu02)))
    spread = float(((mu20 - mu02) ** 2 + 4 * mu11 ** 2).sqrt())
    return angle, (float(mx), float(my)), (float(mu20 + mu02 + spread) / 2, float(mu20 + mu02 - spread) / 2)


_, _, REFERENCE_SPREADS = _shape_of(rotation_test_image()[0])


def _judge_rotation(image: torch.Tensor, index: int, degrees: float, fill: float) -> float:
    """The angle by which ``image`` (3×33×33) was rotated; fails unless it is a bilinear rotation about the
    centre within [-degrees, degrees] with ``fill`` in the uncovered corners."""
    angle, (x, y), spreads = _shape_of(image[0])
    ones = image[2].double()
    assert torch.allclose(ones[DISC], torch.ones((), dtype=torch.float64), atol=1e-4), (
        f"image {index}: a channel of ones changed near the image centre; rotate the image as it is "
        "(no scaling, no change of values)")
    assert abs(x) < 0.3 and abs(y) < 0.3, (
        f"image {index} was not rotated about its centre (the centre of its pattern moved by ({x:.1f}, {y:.1f}) "
        "pixels); rotate about the centre of the image")
    # bilinear sampling blurs by up to about 1/6 px² along each axis
    assert all(abs(s - r) < 0.05 * r + 0.35 for s, r in zip(spreads, REFERENCE_SPREADS)), (
        f"image {index} is not a rotation of its input: the pattern was stretched or squeezed")
    assert abs(angle) <= degrees + 0.5, (
        f"with degrees={degrees}, image {index} was rotated by {abs(angle):.1f}°, outside [-{degrees}, {degrees}]; "
        "draw the angle uniformly from [-degrees, degrees]")
    if abs(angle) >= 3:
        square = image[1].double()[DISC]
        blended = int(((square > 0.02) & (square < 0.98)).sum())
        assert blended >= 5, (
            f"image {index}, rotated by {abs(angle):.1f}°: a black-and-white square stayed black and white, "
            "which is nearest-neighbour interpolation; use bilinear (TF.rotate's default is nearest)")
    if abs(angle) >= 8:  # then all four corners lie outside the rotated image
        corners = image[CORNERS].double()
        assert torch.allclose(corners, torch.tensor(float(fill), dtype=torch.float64), atol=1e-4), (
            f"image {index}, rotated by {abs(angle):.1f}°: the uncovered corners hold "
            f"{[round(v, 3) for v in corners.flatten().tolist()]}, not fill={fill}")
    return angle


def check_rotation_angles(RandomRotation, copies: int, degrees: float, fill: float, calls: int = 1,
                          seed: int = 0, dtype=torch.float32) -> list[float]:
    """Rotate ``copies`` copies of the test image (a batch, or one image when ``copies`` is 0) ``calls``
    times: every result a bilinear rotation about the centre, in range, with ``fill``; returns the angles."""
    image = rotation_test_image(dtype)
    images = image.repeat(copies, 1, 1, 1) if copies else image
    torch.manual_seed(seed)
    with student_code("RandomRotation"):
        transform = RandomRotation(degrees=degrees, fill=fill)
        results = [transform(images) for _ in range(calls)]
    angles = []
    for result in results:
        result = plain_tensor(result, "RandomRotation")
        assert result.shape == images.shape, (
            f"an input of shape {tuple(images.shape)} came back with shape {tuple(result.shape)}; keep the shape")
        for image in result.reshape(-1, *image.shape):
            angles.append(_judge_rotation(image, len(angles), degrees, fill))
    if copies >= 4:
        distinct = len({round(angle, 1) for angle in angles})
        assert distinct >= 0.75 * len(angles), (
            f"RandomRotation rotated a batch of {copies} images by only {distinct} different angles; "
            "draw an angle for every image of the batch")
    return angles


def check_angles_cover_the_range(angles: list[float], degrees: float) -> None:
    assert min(angles) < 0 < max(angles), (
        f"{len(angles)} angles drawn with degrees={degrees} all had the same sign "
        f"({min(angles):.1f}° to {max(angles):.1f}°); draw from [-degrees, degrees], not [0, degrees]")
    assert max(abs(angle) for angle in angles) >= degrees / 2, (
        f"{len(angles)} angles drawn with degrees={degrees} all lay within ±{degrees / 2}°; "
        "draw uniformly from the whole range [-degrees, degrees]")


# -- shift --------------------------------------------------------------------------------


def indexed_image(channels: int, height: int, width: int, dtype=torch.float32) -> torch.Tensor:
    """Every pixel holds 10 + its own index: a shifted copy tells where each pixel came from."""
    return (10 + torch.arange(channels * height * width, dtype=torch.float64)).reshape(
        channels, height, width).to(dtype)


def _read_shift(result: torch.Tensor, index: int, fill: float, max_shift: int):
    """The (dx, dy) that moved ``indexed_image`` onto ``result`` (C×H×W); fails unless it is a whole-pixel
    translation within max_shift with ``fill`` in the vacated pixels."""
    channels, height, width = result.shape
    values = result.double()
    moved = values >= 9.5
    consistent = bool(moved.any())
    if consistent:
        source = (values - 10).round()
        consistent = float((values - 10 - source)[moved].abs().max()) < 1e-3
        source = source.long().clamp(min=0)
        channel = torch.arange(channels).view(-1, 1, 1)
        rows, cols = torch.arange(height).view(1, -1, 1), torch.arange(width).view(1, 1, -1)
        same_channel = (source // (height * width) == channel)[moved]
        dys = (rows - (source % (height * width)) // width)[moved]
        dxs = (cols - source % width)[moved]
        consistent = (consistent and bool(same_channel.all()) and bool((dys == dys[0]).all())
                      and bool((dxs == dxs[0]).all()))
    if consistent:
        dx, dy = int(dxs[0]), int(dys[0])
        consistent = int(moved.sum()) == channels * (height - abs(dy)) * (width - abs(dx))
    assert consistent, (
        f"image {index} is not a whole-pixel translation of its input with the vacated pixels set to fill={fill}; "
        "move the content without wrap-around (torch.roll wraps) and fill the rest")
    assert torch.allclose(values[~moved], torch.tensor(float(fill), dtype=torch.float64)), (
        f"image {index}: the vacated pixels are not fill={fill}")
    assert max(abs(dx), abs(dy)) <= max_shift, (
        f"image {index} was shifted by (dx, dy) = {(dx, dy)}, beyond max_shift={max_shift}")
    return dx, dy


def check_shifts(RandomShift, copies: int, channels: int, height: int, width: int, max_shift: int, fill: float,
                 seed: int = 0, dtype=torch.float32) -> list[tuple[int, int]]:
    """Shift a batch of ``copies`` indexed images once: each a translation of its own in range."""
    images = indexed_image(channels, height, width, dtype).repeat(copies, 1, 1, 1)
    torch.manual_seed(seed)
    with student_code("RandomShift"):
        shifted = RandomShift(max_shift=max_shift, fill=fill)(images)
    shifted = plain_tensor(shifted, "RandomShift")
    assert shifted.shape == images.shape, (
        f"an input of shape {tuple(images.shape)} came back with shape {tuple(shifted.shape)}; keep the shape")
    shifts = [_read_shift(result, index, fill, max_shift) for index, result in enumerate(shifted)]
    if copies >= 12 and max_shift >= 1:
        assert len(set(shifts)) >= 3, (
            f"RandomShift moved a batch of {copies} images by only {len(set(shifts))} different shifts; "
            "draw a shift for every image of the batch")
    return shifts


def check_every_shift_occurs(RandomShift, channels: int, height: int, width: int, max_shift: int, fill: float,
                             draws: int, seed: int = 0) -> None:
    """Shift one image ``draws`` times: each result a translation in range, and every (dx, dy) in range occurs."""
    image = indexed_image(channels, height, width)
    torch.manual_seed(seed)
    with student_code("RandomShift"):
        transform = RandomShift(max_shift=max_shift, fill=fill)
        results = [transform(image) for _ in range(draws)]
    found = {_read_shift(plain_tensor(result, "RandomShift"), index, fill, max_shift)
             for index, result in enumerate(results)}
    span = range(-max_shift, max_shift + 1)
    missing = sorted({(dx, dy) for dx in span for dy in span} - found)
    assert not missing, (
        f"over {draws} calls of RandomShift(max_shift={max_shift}) the shifts (dx, dy) = {missing} never occurred; "
        "draw dx and dy uniformly from -max_shift, ..., max_shift with both ends included "
        "(torch.randint's upper bound is exclusive)")


# -- noise --------------------------------------------------------------------------------


def check_noise(GaussianNoise, images: torch.Tensor, mean: float, std: float, seed: int = 0) -> torch.Tensor:
    """Add GaussianNoise(mean, std) to ``images`` (N×C×H×W); each image's noise must be N(mean, std²)."""
    torch.manual_seed(seed)
    with student_code("GaussianNoise"):
        noisy = GaussianNoise(mean=mean, std=std)(images.clone())
    noise = plain_tensor(noisy, "GaussianNoise") - images
    for i, sample in enumerate(noise.flatten(1)):
        assert abs(float(sample.mean()) - mean) < 0.1 * std, (
            f"GaussianNoise(mean={mean}, std={std}) added noise with mean {float(sample.mean()):.4f} "
            f"to image {i}; expected {mean}")
        assert abs(float(sample.std()) - std) < 0.05 * std, (
            f"GaussianNoise(mean={mean}, std={std}) added noise with standard deviation {float(sample.std()):.4f} "
            f"to image {i}; expected {std}: scale standard normal noise (torch.randn) by std, not by std**2")
    return noise


def check_gaussian_shape(noise: torch.Tensor, mean: float, std: float) -> None:
    """68.3 % of Gaussian noise lies within one standard deviation of its mean (uniform noise: 57.7 %)."""
    within = float(((noise - mean).abs() <= std).double().mean())
    assert 0.67 < within < 0.695, (
        f"{within:.1%} of the noise lies within one standard deviation of its mean; Gaussian noise has 68.3% "
        "there: draw it with torch.randn, not torch.rand")


def check_clip(GaussianNoise, images: torch.Tensor, mean: float, std: float, seed: int = 0) -> float:
    """With clip=True the result lies in [0, 1]; with clip=False it is not clamped. Returns the share of
    pixels clamped to 0 or 1."""
    torch.manual_seed(seed)
    with student_code("GaussianNoise"):
        clipped = GaussianNoise(mean=mean, std=std, clip=True)(images.clone())
        unclipped = GaussianNoise(mean=mean, std=std, clip=False)(images.clone())
    clipped, unclipped = plain_tensor(clipped, "GaussianNoise"), plain_tensor(unclipped, "GaussianNoise")
    assert float(clipped.min()) >= 0.0 and float(clipped.max()) <= 1.0, (
        f"with clip=True the result ranges from {float(clipped.min()):.3f} to {float(clipped.max()):.3f}; "
        "clamp it to [0, 1]")
    outside = (unclipped < 0) | (unclipped > 1)
    assert outside.any(), f"GaussianNoise(mean={mean}, std={std}, clip=False) clamped the result; clamp only when clip=True"
    return float(((clipped == 0) | (clipped == 1)).double().mean())


def check_clamped_share(share: float, low: float, high: float, what: str) -> None:
    assert low < share < high, f"with clip=True, {what} came out exactly 0 or 1 in {share:.0%} of the pixels; clamp to [0, 1]"


# -- the pipeline -------------------------------------------------------------------------


def check_train_transform(build_train_transform, RandomRotation, RandomShift, GaussianNoise) -> None:
    """build_train_transform() is a Compose of a RandomRotation, a RandomShift and a GaussianNoise, in that
    order, with parameters that keep a notMNIST letter recognisable (the classes themselves are not run)."""
    from torchvision.transforms import Compose

    with student_code("build_train_transform"):
        transform = build_train_transform()
    assert type(transform) is Compose, (
        f"build_train_transform() returned a {type(transform).__name__}; return a torchvision.transforms.Compose")
    steps = list(transform.transforms)
    kinds = [type(step).__name__ for step in steps]
    assert [type(step) for step in steps] == [RandomRotation, RandomShift, GaussianNoise], (
        f"the Compose holds {kinds}; it should hold your RandomRotation, RandomShift and GaussianNoise, in that order")
    rotation, shift, noise = steps
    wanted = [(rotation, "degrees", lambda v: 0 < v <= 15, "a tilt of up to about 10°"),
              (rotation, "fill", lambda v: v == 0, "fill=0.0, the background"),
              (shift, "max_shift", lambda v: 1 <= v <= 3, "a shift of up to 2 pixels"),
              (shift, "fill", lambda v: v == 0, "fill=0.0, the background"),
              (noise, "std", lambda v: 0 < v <= 0.2, "a little noise"),
              (noise, "clip", lambda v: v is True, "noise clamped back to [0, 1] (clip=True)")]
    for step, name, good, advice in wanted:
        value = getattr(step, name, None)
        if value is not None and not isinstance(value, torch.Tensor):
            assert good(value), f"{type(step).__name__}({name}={value!r}) in build_train_transform(): choose {advice}"
