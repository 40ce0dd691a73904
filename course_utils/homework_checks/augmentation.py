"""The checks of homework 2 (image augmentation): one per graded behaviour, each a probe and a judgement.

No check holds a way to compute an augmentation: a rotation is recognised
by what it keeps (the centre, the shape of an elongated blob, a channel of
ones) and by the angle of the blob's principal axis; a shift by reading
back, from an image whose every pixel holds its own index, where each pixel
came from; noise by its statistics. The probes only run the student's
classes on inputs and under seeds the judgement chose, and hand back what
came out. The checks of one class never call another class, and
:func:`check_train_transform` does not run the student's own classes (it
reads their parameters), so a missing ``GaussianNoise`` costs only its own
cells; any other step (a torchvision transform, a function) is judged by
what it does.
"""
from __future__ import annotations

import math
import threading

import torch

from . import DEFAULT_SECONDS, check, expect, no_inputs, plain_string, plain_tensor, student_code

ROTATION_SIZE = 33
_centre = (ROTATION_SIZE - 1) / 2
_rows, _cols = torch.meshgrid(torch.arange(ROTATION_SIZE, dtype=torch.float64) - _centre,
                              torch.arange(ROTATION_SIZE, dtype=torch.float64) - _centre, indexing="ij")
DISC = _rows ** 2 + _cols ** 2 <= (_centre - 2) ** 2  # inside the image under any rotation
CORNERS = (..., [0, 0, -1, -1], [0, -1, 0, -1])
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _arguments(params: dict) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in params.items())


def _stacked(results: list):
    """Results of repeated calls as one tensor when they are plain tensors of one shape (fewer to hand back)."""
    if results and all(type(r) is torch.Tensor and r.shape == results[0].shape and r.dtype == results[0].dtype
                       for r in results):
        return torch.stack([r.detach() for r in results])
    return results


def _letters(generator, dtype: torch.dtype, border: int) -> dict[str, torch.Tensor]:
    """What training sends: one 1×28×28 letter-like image (smooth grey strokes in [0, 1], ``border`` pixels
    of background around them) and a batch of four, so a transform that recognises the probes' other
    shapes gains nothing."""
    coarse = torch.rand((5, 1, 7, 7), generator=generator, dtype=torch.float64)
    size = 28 - 2 * border
    smooth = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    letters = torch.nn.functional.pad(smooth, [border] * 4).to(dtype)
    return {"letter": letters[0], "letters": letters[1:]}


def _letter_results(inputs: dict, results: list, what: str):
    """(input, result) of every letter-like image, each 1×28×28, once the shapes are right."""
    pairs = []
    for source, result in zip(("letter", "letters"), results):
        images = inputs[source]
        result = plain_tensor(result, what)
        expect(result.shape == images.shape,
               f"an input of shape {tuple(images.shape)} (a notMNIST letter's size) came back with shape "
               f"{tuple(result.shape)}; keep the shape")
        pairs += zip(images.reshape(-1, 1, 28, 28).double(), result.reshape(-1, 1, 28, 28).double())
    return pairs


def _random_images(generator, shape=(3, 20, 20), dtype="float32", **ignored):
    return {"images": torch.rand(tuple(shape), generator=generator, dtype=DTYPES[dtype])}


# -- every transform ----------------------------------------------------------------------


def _basics_judge(inputs, results, expected="any", params=(), **ignored):
    images = inputs["images"]
    name = results["name"]
    result = plain_tensor(results["result"], name)
    expect(result.shape == images.shape,
           f"an input of shape {tuple(images.shape)} came back with shape {tuple(result.shape)}; keep the shape")
    expect(result.dtype == images.dtype, f"a {images.dtype} input came back as {result.dtype}; keep the dtype")
    expect(torch.equal(results["images_after_call"], images),
           f"{name} changed its input; compute a new tensor (images + noise, torch.full_like...) instead of "
           "modifying `images` (images.add_(...), images += ...)")
    arguments = _arguments(dict(params))
    if expected == "same":
        expect(torch.allclose(result, images, atol=1e-5),
               f"{name}({arguments}) changed an input of shape {tuple(images.shape)}; it must give it back unchanged")
        expect(torch.equal(results["images_after_write"], images),
               f"the tensor {name} returned shares memory with its input (changing one changed the other); "
               "return a new tensor")
    elif expected == "changed":
        expect(not torch.equal(result, images), f"{name}({arguments}) returned the images unchanged")


@check("cls", inputs=_random_images, judge=_basics_judge)
def check_basics(cls, inputs, expected="any", params=(), **ignored):
    """``cls(**params)(images)``: a new plain tensor of the same shape and dtype, the input untouched.
    ``expected``: ``"same"`` (zero angle, shift or noise: the images come back unchanged, in new memory),
    ``"changed"`` (they must not come back unchanged) or ``"any"``."""
    name = getattr(cls, "__name__", "the transform")
    images = inputs["images"]
    with student_code(name):
        result = cls(**dict(params))(images)
    results = {"name": name, "result": result, "images_after_call": images.clone()}
    if type(result) is torch.Tensor:
        results["result"] = result.clone()
        with torch.no_grad():
            result.add_(1.0)  # if it is the input's memory, the input changes too
    results["images_after_write"] = images
    return results


def _vary_repr(generator, params):
    """Hidden parameters: every number drawn afresh (same sign and type), so a repr cannot know them."""
    varied = {}
    for key, value in dict(params["params"]).items():
        draw = float(torch.empty(()).uniform_(0.05, 20.0, generator=generator))
        if type(value) is bool:
            varied[key] = bool(torch.randint(0, 2, (), generator=generator))
        elif type(value) is int:
            varied[key] = int(draw) + 1
        elif type(value) is float:
            varied[key] = math.copysign(round(draw, 3), value) if value else round(draw, 3)
        else:
            varied[key] = value
    return {**params, "params": varied}


def _judge_repr(inputs, results, params=(), **ignored):
    name, params = results["name"], dict(params)
    text = plain_string(results["text"], f"repr({name}(...))")
    arguments = ", ".join(f"{key}={value}" for key, value in params.items())
    expect(all(part in text for part in (name, *map(str, params.values()))),
           f"repr({name}({arguments})) is {text[:200]!r}; show the class name and every parameter, "
           f"e.g. '{name}({arguments})'")


@check("cls", inputs=no_inputs, judge=_judge_repr, vary=_vary_repr)
def check_repr(cls, inputs, params=(), **ignored):
    """repr(cls(**params)) shows the class name and every parameter."""
    name = getattr(cls, "__name__", "the transform")
    with student_code(f"{name}(...)"):
        made = cls(**dict(params))
    return {"name": name, "text": _repr_on_a_fresh_stack(made, f"{name}.__repr__")}


def _repr_on_a_fresh_stack(made, what: str):
    """``repr(made)`` in a thread of its own: no frame on its stack holds the parameters ``made`` was built
    with (this probe's, the runner's and the kernel's frames all lie on another thread's stack), so a
    ``__repr__`` can show them only if the object stored them."""
    outcome = {}

    def represent():
        try:
            with student_code(what, seconds=None):  # the time limit is the join's below
                outcome["text"] = repr(made)
        except BaseException as error:  # handed to the probe's thread, which raises it
            outcome["error"] = error

    thread = threading.Thread(target=represent, name="repr", daemon=True)
    thread.start()
    thread.join(DEFAULT_SECONDS)
    if thread.is_alive():
        raise TimeoutError(f"{what} did not finish within {DEFAULT_SECONDS:g} s: look for a loop that never ends")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["text"]


def _judge_randomness(inputs, results, min_distinct=2, **ignored):
    name = results["name"]
    first, again, later, copies = (plain_tensor(results[key], name) for key in ("first", "again", "later", "copies"))
    expect(torch.equal(first, again),
           f"{name} gave different results after the same torch.manual_seed(...); take all randomness from torch "
           "(torch.rand, torch.randint, torch.randn), not from Python's random module or NumPy")
    expect(not torch.equal(later, again), f"two calls of {name} in a row gave the same result; draw new values every "
                                          "call")
    expect(not any(bool(result.isnan().any()) for result in (first, again, later, copies)),
           f"{name} returned nan")
    distinct = len({result.contiguous().numpy().tobytes() for result in copies})
    expect(distinct >= min_distinct,
           f"{name} turned a batch of {len(copies)} identical images into only {distinct} different image(s); "
           "draw the random values separately for every image of the batch")


@check("cls", inputs=_random_images, judge=_judge_randomness)
def check_randomness(cls, inputs, params=(), seed=123, **ignored):
    """``cls(**params)``: same seed, same result; a new call, a new result; a batch of copies of one image,
    different results."""
    name = getattr(cls, "__name__", "the transform")
    images = inputs["images"]
    with student_code(name):
        transform = cls(**dict(params))
        torch.manual_seed(seed)
        first = transform(images.clone())
        torch.manual_seed(seed)
        again = transform(images.clone())
        later = transform(images.clone())
        copies = transform(images[:1].repeat(len(images), *[1] * (images.dim() - 1)))
    return {"name": name, "first": first, "again": again, "later": later, "copies": copies}


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


def _rotation_inputs(generator, copies=0, dtype="float32", **ignored):
    image = rotation_test_image(DTYPES[dtype])
    return {"images": image.repeat(copies, 1, 1, 1) if copies else image, **_letters(generator, DTYPES[dtype], 4)}


def _blended_values(image: torch.Tensor, rotated: torch.Tensor, fill: float) -> int:
    """How many pixels of ``rotated`` hold a value that is neither one of ``image``'s nor ``fill``."""
    known = torch.cat([image.flatten().double(), torch.tensor([float(fill)], dtype=torch.float64)]).unique()
    values = rotated.flatten().double()
    above = torch.searchsorted(known, values).clamp(max=len(known) - 1)  # the nearest known value is here
    below = (above - 1).clamp(min=0)                                     # or just below it
    distance = torch.minimum((values - known[above]).abs(), (values - known[below]).abs())
    return int((distance > 1e-5).sum())


def _judge_rotated_letters(inputs, letters, fill):
    """Nearest-neighbour sampling (or no rotation) only copies the input's values; bilinear blends new ones.

    ``letters`` holds two rotations of every letter (:func:`check_rotation_angles`). A bilinear rotation by an
    angle drawn within about 0.0001° of zero blends nothing either: with the hidden calls' seeds drawn afresh
    for each grading, that happens to some letter of a correct RandomRotation about once in 6,000 gradings.
    So one rotation without new values is allowed per call: a correct rotation then fails about once in 50
    million gradings, while nearest-neighbour sampling, or leaving a letter unrotated on both of its rotations or
    more than once in a call, fails every time.
    """
    expect(isinstance(letters, list) and len(letters) == 4,
           "the letter-sized images did not come back from RandomRotation; return every image it is given")
    half = len(letters) // 2
    first = _letter_results(inputs, letters[:half], "RandomRotation")
    second = _letter_results(inputs, letters[half:], "RandomRotation")
    unblended = []
    for index, ((image, once), (_, twice)) in enumerate(zip(first, second)):
        counts = [_blended_values(image, once, fill), _blended_values(image, twice, fill)]
        expect(max(counts) >= 10,
               f"letter-sized image {index} (1×28×28, what training sends), rotated twice, came back holding only "
               f"{max(counts)} values that are not among its input's values or fill: that is nearest-neighbour "
               "interpolation, or no rotation; rotate every image bilinearly")
        unblended += [index for count in counts if count < 10]
    expect(len(unblended) <= 1,
           f"letter-sized images {sorted(set(unblended))} (1×28×28, what training sends) came back without new "
           f"values in {len(unblended)} of their {2 * len(first)} rotations: that is nearest-neighbour interpolation, "
           "or no rotation, some of the time; rotate every image bilinearly, every time")


def _judge_rotations(inputs, results, degrees=15.0, fill=0.0, copies=0, cover_the_range=False, **ignored):
    images = inputs["images"]
    _judge_rotated_letters(inputs, results["letters"], fill)
    angles = []
    for result in results["results"]:
        result = plain_tensor(result, "RandomRotation")
        expect(result.shape == images.shape,
               f"an input of shape {tuple(images.shape)} came back with shape {tuple(result.shape)}; keep the shape")
        for image in result.reshape(-1, *images.shape[-3:]):
            angles.append(_judge_rotation(image, len(angles), degrees, fill))
    if copies >= 4:
        distinct = len({round(angle, 1) for angle in angles})
        expect(distinct >= 0.75 * len(angles),
               f"RandomRotation rotated a batch of {copies} images by only {distinct} different angles; "
               "draw an angle for every image of the batch")
    if cover_the_range:
        expect(min(angles) < 0 < max(angles),
               f"{len(angles)} angles drawn with degrees={degrees} all had the same sign "
               f"({min(angles):.1f}° to {max(angles):.1f}°); draw from [-degrees, degrees], not [0, degrees]")
        expect(max(abs(angle) for angle in angles) >= degrees / 2,
               f"{len(angles)} angles drawn with degrees={degrees} all lay within ±{degrees / 2}°; "
               "draw uniformly from the whole range [-degrees, degrees]")


@check("RandomRotation", inputs=_rotation_inputs, judge=_judge_rotations)
def check_rotation_angles(RandomRotation, inputs, degrees=15.0, fill=0.0, calls=1, seed=0, **ignored):
    """Rotate ``copies`` copies of the test image (a batch, or one image when ``copies`` is 0) ``calls``
    times: every result a bilinear rotation about the centre, in range, with ``fill``; with
    ``cover_the_range``, the angles cover [-degrees, degrees]."""
    torch.manual_seed(seed)
    with student_code("RandomRotation", seconds=5 + 0.05 * calls):
        transform = RandomRotation(degrees=degrees, fill=fill)
        results = [transform(inputs["images"]) for _ in range(calls)]
        # every letter twice, each time with its own angle (see _judge_rotated_letters)
        letters = [transform(inputs[name]) for name in ("letter", "letters", "letter", "letters")]
    return {"results": _stacked(results), "letters": letters}


# -- shift --------------------------------------------------------------------------------


def indexed_image(channels: int, height: int, width: int, dtype=torch.float32) -> torch.Tensor:
    """Every pixel holds 10 + its own index: a shifted copy tells where each pixel came from."""
    return (10 + torch.arange(channels * height * width, dtype=torch.float64)).reshape(
        channels, height, width).to(dtype)


def _read_shifts(results: torch.Tensor, first_index: int, fill: float, max_shift: int) -> list[tuple[int, int]]:
    """The (dx, dy) that moved ``indexed_image`` onto each of ``results`` (N×C×H×W), judged all at once.

    Fails, naming the first image (numbered from ``first_index``) that is not a whole-pixel translation
    within max_shift with ``fill`` in the vacated pixels.
    """
    _, channels, height, width = results.shape
    values = results.double()
    moved = values >= 9.5
    source = (values - 10).round()
    off_grid = torch.where(moved, (values - 10 - source).abs(), torch.zeros_like(values)).flatten(1).amax(1)
    source = source.long().clamp(min=0)
    channel = torch.arange(channels).view(1, -1, 1, 1)
    rows, cols = torch.arange(height).view(1, 1, -1, 1), torch.arange(width).view(1, 1, 1, -1)
    dys = (rows - (source % (height * width)) // width).flatten(1)
    dxs = (cols - source % width).flatten(1)
    moved, stay = moved.flatten(1), ~moved.flatten(1)
    first_moved = moved.to(torch.uint8).argmax(1, keepdim=True)
    dy, dx = dys.gather(1, first_moved), dxs.gather(1, first_moved)
    kept = channels * (height - dy.squeeze(1).abs()) * (width - dx.squeeze(1).abs())
    consistent = (moved.any(1) & (off_grid < 1e-3)
                  & ((source // (height * width) == channel).flatten(1) | stay).all(1)
                  & ((dys == dy) | stay).all(1) & ((dxs == dx) | stay).all(1) & (moved.sum(1) == kept))
    # torch.allclose(vacated, fill) for each image (NaN is never close; an infinite fill only to itself)
    close_to_fill = torch.isclose(values, torch.tensor(float(fill), dtype=torch.float64))
    vacated_at_fill = (close_to_fill.flatten(1) | moved).all(1)
    shifts = list(zip(dx.squeeze(1).tolist(), dy.squeeze(1).tolist()))
    for offset, (ok, at_fill, shift) in enumerate(zip(consistent.tolist(), vacated_at_fill.tolist(), shifts)):
        index = first_index + offset
        assert ok, (
            f"image {index} is not a whole-pixel translation of its input with the vacated pixels set to "
            f"fill={fill}; move the content without wrap-around (torch.roll wraps) and fill the rest")
        assert at_fill, f"image {index}: the vacated pixels are not fill={fill}"
        assert max(abs(shift[0]), abs(shift[1])) <= max_shift, (
            f"image {index} was shifted by (dx, dy) = {shift}, beyond max_shift={max_shift}")
    return shifts


def _read_shift(result: torch.Tensor, index: int, fill: float, max_shift: int) -> tuple[int, int]:
    """The (dx, dy) that moved ``indexed_image`` onto ``result`` (C×H×W): :func:`_read_shifts` of one image."""
    return _read_shifts(result.unsqueeze(0), index, fill, max_shift)[0]


def _shift_inputs(generator, copies=0, channels=1, height=8, width=8, dtype="float32", **ignored):
    image = indexed_image(channels, height, width, DTYPES[dtype])
    return {"images": image.repeat(copies, 1, 1, 1) if copies else image, **_letters(generator, DTYPES[dtype], 0)}


def _shifted(image: torch.Tensor, dx: int, dy: int, fill: float) -> torch.Tensor:
    """``image`` (C x H x W) moved ``dx`` pixels right and ``dy`` down, ``fill`` where nothing moved in.

    Written by gathering each output pixel from its source (not as the homework's slicing, which students
    write themselves: the checks ship with the release).
    """
    height, width = image.shape[-2:]
    source_rows = torch.arange(height).view(-1, 1) - dy
    source_cols = torch.arange(width).view(1, -1) - dx
    inside = (source_rows >= 0) & (source_rows < height) & (source_cols >= 0) & (source_cols < width)
    gathered = image[..., source_rows.clamp(0, height - 1), source_cols.clamp(0, width - 1)]
    return torch.where(inside, gathered, torch.full_like(gathered, float(fill)))


def _judge_shifted_letters(inputs, letters, max_shift, fill):
    span = range(-max_shift, max_shift + 1)
    for index, (image, moved) in enumerate(_letter_results(inputs, letters, "RandomShift")):
        expect(any(torch.allclose(moved, _shifted(image, dx, dy, fill), atol=1e-6) for dx in span for dy in span),
               f"letter-sized image {index} (1×28×28, what training sends) is not a whole-pixel translation of its "
               f"input by at most max_shift={max_shift} with fill={fill} in the vacated pixels; move the content "
               "without wrap-around (torch.roll wraps) and fill the rest")


def _judge_shifts(inputs, results, copies=0, max_shift=1, fill=0.0, every_shift=False, **ignored):
    _judge_shifted_letters(inputs, results["letters"], max_shift, fill)
    images = inputs["images"]
    shifts = []
    # Every call's result in one tensor (_stacked) is judged in one pass: the same images in the same order,
    # so the same first failure (1,800 passes of a few dozen small torch operations each took ~0.7 s).
    stacked = type(results["results"]) is torch.Tensor
    for result in [results["results"]] if stacked else results["results"]:
        result = plain_tensor(result, "RandomShift")
        shape = result.shape[1:] if stacked else result.shape
        expect(shape == images.shape,
               f"an input of shape {tuple(images.shape)} came back with shape {tuple(shape)}; keep the shape")
        shifts += _read_shifts(result.reshape(-1, *images.shape[-3:]), len(shifts), fill, max_shift)
    if copies >= 12 and max_shift >= 1:
        expect(len(set(shifts)) >= 3,
               f"RandomShift moved a batch of {copies} images by only {len(set(shifts))} different shifts; "
               "draw a shift for every image of the batch")
    if every_shift:
        span = range(-max_shift, max_shift + 1)
        missing = sorted({(dx, dy) for dx in span for dy in span} - set(shifts))
        expect(not missing,
               f"over {len(shifts)} shifts drawn by RandomShift(max_shift={max_shift}) the shifts (dx, dy) = "
               f"{missing[:10]} never occurred; draw dx and dy uniformly from -max_shift, ..., max_shift with both "
               "ends included (torch.randint's upper bound is exclusive)")


@check("RandomShift", inputs=_shift_inputs, judge=_judge_shifts)
def check_shifts(RandomShift, inputs, max_shift=1, fill=0.0, calls=1, seed=0, **ignored):
    """Shift the indexed images (a batch of ``copies``, or one image) ``calls`` times: each a whole-pixel
    translation of its own within ``max_shift`` with ``fill`` in the vacated pixels; with ``every_shift``,
    every (dx, dy) in range occurs."""
    torch.manual_seed(seed)
    with student_code("RandomShift", seconds=5 + 0.02 * calls):  # a correct shift takes ~2 ms a call
        transform = RandomShift(max_shift=max_shift, fill=fill)
        results = [transform(inputs["images"]) for _ in range(calls)]
        letters = [transform(inputs["letter"]), transform(inputs["letters"])]
    return {"results": _stacked(results), "letters": letters}


# -- noise --------------------------------------------------------------------------------


def _noise_inputs(generator, shape=(1, 1, 100, 100), images="random", dtype="float32", **ignored):
    dtype, shape = DTYPES[dtype], tuple(shape)
    if images == "random":
        made = torch.rand(shape, generator=generator, dtype=dtype)
    else:
        made = torch.full(shape, {"zeros": 0.0, "half": 0.5, "ones": 1.0}[images], dtype=dtype)
    return {"images": made, **_letters(generator, dtype, 4)}


def _judge_noisy_letters(inputs, letters, mean, std):
    """784 pixels a letter: looser bounds than the large images' (about 6 standard errors)."""
    noises = []
    for index, (image, noisy) in enumerate(_letter_results(inputs, letters, "GaussianNoise")):
        noise = (noisy - image).flatten()
        noises.append(noise)
        expect(abs(float(noise.mean()) - mean) < 0.25 * std and abs(float(noise.std()) - std) < 0.2 * std,
               f"GaussianNoise(mean={mean}, std={std}, clip=False) added noise with mean {float(noise.mean()):.4f} "
               f"and standard deviation {float(noise.std()):.4f} to letter-sized image {index} (1×28×28, what "
               f"training sends); expected {mean} and {std}")
    if std > 0:
        expect(not any(torch.equal(noises[i], noises[j]) for i in range(1, 5) for j in range(i + 1, 5)),
               "GaussianNoise added the same noise to two images of a batch of letters; draw it for every image")


def _judge_noise(inputs, results, mean=0.0, std=0.1, gaussian_shape=False, **ignored):
    _judge_noisy_letters(inputs, results["letters"], mean, std)
    noise = plain_tensor(results["noisy"], "GaussianNoise").double() - inputs["images"].double()
    for i, sample in enumerate(noise.flatten(1)):
        expect(abs(float(sample.mean()) - mean) < 0.1 * std,
               f"GaussianNoise(mean={mean}, std={std}) added noise with mean {float(sample.mean()):.4f} "
               f"to image {i}; expected {mean}")
        expect(abs(float(sample.std()) - std) < 0.05 * std,
               f"GaussianNoise(mean={mean}, std={std}) added noise with standard deviation {float(sample.std()):.4f} "
               f"to image {i}; expected {std}: scale standard normal noise (torch.randn) by std, not by std**2")
    if gaussian_shape:
        within = float(((noise - mean).abs() <= std).double().mean())
        expect(0.67 < within < 0.695,
               f"{within:.1%} of the noise lies within one standard deviation of its mean; Gaussian noise has 68.3% "
               "there: draw it with torch.randn, not torch.rand")


@check("GaussianNoise", inputs=_noise_inputs, judge=_judge_noise)
def check_noise(GaussianNoise, inputs, mean=0.0, std=0.1, seed=0, **ignored):
    """Add GaussianNoise(mean, std) to the images (N×C×H×W); each image's noise must be N(mean, std²); with
    ``gaussian_shape``, its share within one standard deviation must be that of a normal distribution."""
    torch.manual_seed(seed)
    with student_code("GaussianNoise"):
        noisy = GaussianNoise(mean=mean, std=std)(inputs["images"].clone())
        unclipped = GaussianNoise(mean=mean, std=std, clip=False)
        letters = [unclipped(inputs["letter"].clone()), unclipped(inputs["letters"].clone())]
    return {"noisy": noisy, "letters": letters}


def _judge_clip(inputs, results, mean=0.0, std=0.1, clamped_share=(0.0, 1.01), **ignored):
    clipped = plain_tensor(results["clipped"], "GaussianNoise")
    unclipped = plain_tensor(results["unclipped"], "GaussianNoise")
    expect(clipped.numel() > 0 and float(clipped.min()) >= 0.0 and float(clipped.max()) <= 1.0,
           f"with clip=True the result ranges from {float(clipped.min()):.3f} to {float(clipped.max()):.3f}; "
           "clamp it to [0, 1]" if clipped.numel() else "GaussianNoise returned an empty tensor")
    expect(bool(((unclipped < 0) | (unclipped > 1)).any()),
           f"GaussianNoise(mean={mean}, std={std}, clip=False) clamped the result; clamp only when clip=True")
    share = float(((clipped == 0) | (clipped == 1)).double().mean())
    low, high = clamped_share
    expect(low < share < high, f"with clip=True, {share:.0%} of the pixels came out exactly 0 or 1, expected "
                               f"between {low:.0%} and {high:.0%}: clamp to [0, 1], nothing more")


@check("GaussianNoise", inputs=_noise_inputs, judge=_judge_clip)
def check_clip(GaussianNoise, inputs, mean=0.0, std=0.1, seed=0, **ignored):
    """With clip=True the result lies in [0, 1] (and the share of pixels clamped to 0 or 1 lies within
    ``clamped_share``); with clip=False it is not clamped."""
    torch.manual_seed(seed)
    with student_code("GaussianNoise"):
        clipped = GaussianNoise(mean=mean, std=std, clip=True)(inputs["images"].clone())
        unclipped = GaussianNoise(mean=mean, std=std, clip=False)(inputs["images"].clone())
    return {"clipped": clipped, "unclipped": unclipped}


# -- the pipeline -------------------------------------------------------------------------

PIPELINE_SEEDS = 6


def _describe(value):
    """A parameter as plain data (numbers, bools, short lists of numbers), else its type's name."""
    if isinstance(value, torch.Tensor) and value.numel() <= 4:
        return [float(v) for v in value.flatten().tolist()]
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if isinstance(value, (list, tuple)) and len(value) <= 4 and all(isinstance(v, (int, float)) for v in value):
        return [float(v) for v in value]
    if hasattr(value, "value") and isinstance(getattr(value, "value"), str):  # an enum, e.g. InterpolationMode
        return value.value
    return type(value).__name__


def _pipeline_inputs(generator, **ignored):
    return {"rotation": rotation_test_image(), "shift": indexed_image(1, 12, 12),
            "half": torch.full((1, 32, 32), 0.5), "ones": torch.ones(1, 32, 32), "letter": torch.rand(1, 28, 28)}


def _try(step, image, seed):
    torch.manual_seed(seed)
    try:
        with student_code("a step of build_train_transform()"):
            return step(image.clone())
    except Exception as error:
        return f"{type(error).__name__}: {error}"


@check("build_train_transform RandomRotation RandomShift GaussianNoise", inputs=_pipeline_inputs,
       judge=lambda inputs, results, **params: _judge_pipeline(inputs, results))
def check_train_transform(build_train_transform, RandomRotation, RandomShift, GaussianNoise, inputs, seed=0,
                          **ignored):
    """build_train_transform() holds a rotation, a shift and a noise step, in that order, with parameters that
    keep a notMNIST letter recognisable. Your own three classes are not run here (their parameters are
    read); any other step (a torchvision transform, a function) is judged by what it does."""
    with student_code("build_train_transform"):
        pipeline = build_train_transform()
    steps = getattr(pipeline, "transforms", None)
    if steps is None and isinstance(pipeline, torch.nn.Sequential):
        steps = list(pipeline)
    results = {"type": type(pipeline).__name__, "callable": callable(pipeline)}
    if not isinstance(steps, (list, tuple)) or not all(callable(step) for step in steps):
        return results
    own = {"rotation": RandomRotation, "shift": RandomShift, "noise": GaussianNoise}
    described = []
    for step in steps[:8]:
        # exactly one of the student's classes (a subclass made for the pipeline is judged by what it does)
        kind = next((kind for kind, cls in own.items() if isinstance(cls, type) and type(step) is cls), None)
        entry = {"type": type(step).__name__, "own": kind,
                 "params": {key: _describe(value) for key, value in vars(step).items()
                            if not key.startswith("_") and key != "training"} if hasattr(step, "__dict__") else {}}
        if kind is None:  # not one of the student's classes: what does it do?
            seeds = range(seed, seed + PIPELINE_SEEDS)
            entry["behaviour"] = {"rotation": [_try(step, inputs["rotation"], s) for s in seeds],
                                  "shift": [_try(step, inputs["shift"], s) for s in seeds],
                                  "half": _try(step, inputs["half"], seed), "ones": _try(step, inputs["ones"], seed)}
        described.append(entry)
    results["steps"] = described
    results["order"] = _applied_order(pipeline, own, inputs["letter"])
    return results


def _applied_order(pipeline, own: dict, image):
    """The kinds of the student's own classes that ``pipeline(image)`` calls, in order: their ``__call__``
    is replaced by a recorder that hands its input on, so none of them runs. An error: its message."""
    order, saved = [], []
    for kind, cls in own.items():
        if isinstance(cls, type):
            def record(self, images, *args, _kind=kind, **kwargs):
                order.append(_kind)
                return images

            saved.append((cls, "__call__" in vars(cls), vars(cls).get("__call__")))
            cls.__call__ = record
    try:
        with student_code("build_train_transform()"):
            pipeline(image.clone())
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    finally:
        for cls, had, value in reversed(saved):
            if had:
                cls.__call__ = value
            else:
                del cls.__call__
    return order


def _number(value):
    """A parameter read back: a number, the largest magnitude of a [low, high] pair, or None."""
    if type(value) in (int, float):
        return float(value)
    if isinstance(value, list) and value and all(type(v) in (int, float) for v in value):
        return max(abs(float(v)) for v in value)
    return None


def _kind_by_behaviour(behaviour) -> str | None:
    """"rotation", "shift" or "noise" if a step does that on the probe images (within the pipeline's bounds)."""
    def all_pass(judge, outputs):
        try:
            return [judge(plain_tensor(output, "a step"), index) for index, output in enumerate(outputs)]
        except AssertionError:
            return None

    angles = all_pass(lambda image, i: _judge_rotation(image, i, 15.0, 0.0), behaviour["rotation"])
    if angles and max(abs(angle) for angle in angles) > 1:
        return "rotation"
    shifts = all_pass(lambda image, i: _read_shift(image, i, 0.0, 3), behaviour["shift"])
    if shifts and any(shift != (0, 0) for shift in shifts):
        return "shift"
    half, ones = behaviour["half"], behaviour["ones"]
    if type(half) is torch.Tensor and type(ones) is torch.Tensor and half.shape == ones.shape == (1, 32, 32):
        if 0.005 < float((half.double() - 0.5).std()) <= 0.2 and float(ones.max()) <= 1.0:
            return "noise"
    return None


RULES = {  # (parameter names, rule, advice) of each kind of step
    "rotation": [(("degrees",), lambda v: 0 < v <= 15, "a tilt of up to about 10°"),
                 (("fill",), lambda v: v == 0, "fill=0.0, the background")],
    "shift": [(("max_shift",), lambda v: 1 <= v <= 3, "a shift of up to 2 pixels"),
              (("fill",), lambda v: v == 0, "fill=0.0, the background")],
    "noise": [(("std", "sigma"), lambda v: 0 < v <= 0.2, "a little noise"),
              (("clip",), lambda v: v == 1, "noise clamped back to [0, 1] (clip=True)")],
}


def _judge_pipeline(inputs, results):
    wanted = ["rotation", "shift", "noise"]
    expect(results["callable"] and "steps" in results,
           f"build_train_transform() returned a {results['type']}; return a Compose (torchvision.transforms or "
           "torchvision.transforms.v2) of a rotation, a shift and a noise step")
    steps = results["steps"]
    kinds = []
    for step in steps:
        kind = step["own"] or _kind_by_behaviour(step.get("behaviour") or {})
        kinds.append(kind)
    names = [f"{step['type']} ({kind or 'not recognised as a rotation, a shift or noise'})"
             for step, kind in zip(steps, kinds)]
    expect(kinds == wanted, f"the pipeline holds {names}; it should hold a rotation (your RandomRotation), a shift "
                            "(your RandomShift) and noise (your GaussianNoise), in that order")
    order, own = results["order"], [kind for step, kind in zip(steps, kinds) if step["own"]]
    expect(not isinstance(order, str), f"applying build_train_transform() to an image raised {order}")
    expect(order == own, f"applied to an image, build_train_transform() called your classes in the order {order}; "
                         f"its steps say {own}: apply the steps in the order they are listed")
    for step, kind in zip(steps, kinds):
        for names_, good, advice in RULES[kind]:
            key = next((name for name in names_ if name in step["params"]), None)
            value = _number(step["params"].get(key)) if key else None
            if key == "clip" and type(step["params"].get(key)) is bool:
                value = float(step["params"][key])
            if value is not None:
                expect(good(value), f"{step['type']}({key}={step['params'][key]!r}) in build_train_transform(): "
                                    f"choose {advice}")

