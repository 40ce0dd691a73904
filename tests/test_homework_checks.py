"""course_utils.homework_checks: how the checks run a student's code and judge it."""
from __future__ import annotations

import math
import sys
import threading
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.homework_checks import ForbiddenCallError, assert_tensor_close, student_code

TANH = ["torch.tanh", "numpy.tanh", "math.tanh"]
x = torch.linspace(-2, 2, 5)


def by_value_import(t):
    from torch import tanh

    return tanh(t)


@pytest.mark.parametrize("call", [
    lambda t: torch.tanh(t),
    lambda t: t.tanh(),
    lambda t: t.clone().tanh_(),
    lambda t: F.tanh(t),
    lambda t: nn.Tanh()(t),
    lambda t: t - F.tanhshrink(t),
    by_value_import,
    lambda t: torch.from_numpy(np.tanh(t.numpy())),
    lambda t: torch.tensor([math.tanh(v) for v in t.tolist()]),
], ids=["torch.tanh", "Tensor.tanh", "Tensor.tanh_", "F.tanh", "nn.Tanh", "F.tanhshrink", "from torch import tanh",
        "numpy.tanh", "math.tanh"])
def test_every_form_of_a_forbidden_function_raises(call):
    """Does each way of reaching tanh fail inside student_code?"""
    with pytest.raises(ForbiddenCallError, match="my_tanh called .*tanh"):
        with student_code("my_tanh", forbid=TANH):
            call(x)


def test_a_swallowed_forbidden_call_still_fails():
    """Does catching the error in the student's code not hide the forbidden call?"""

    def sneaky(t):
        try:
            return torch.tanh(t)
        except Exception:
            return t

    with pytest.raises(ForbiddenCallError, match="sneaky called torch.tanh"):
        with student_code("sneaky", forbid=TANH):
            sneaky(x)


def test_allowed_code_runs_and_everything_is_restored():
    """Does code without tanh run normally, and does tanh work again afterwards?"""
    original_numpy_tanh = np.tanh
    with student_code("sigmoid form", forbid=TANH):
        y = 2 * torch.sigmoid(2 * x) - 1
    torch.testing.assert_close(y, torch.tanh(x))
    assert np.tanh is original_numpy_tanh and math.tanh(0.0) == 0.0
    assert "tanh" not in vars(torch.Tensor) and nn.Tanh()(x).shape == x.shape


def test_an_endless_loop_is_stopped_with_a_clear_message():
    """Does the time limit end a loop that never ends, even one that catches Exception?"""
    if threading.current_thread() is not threading.main_thread() or not hasattr(__import__("signal"), "setitimer"):
        pytest.skip("the time limit needs POSIX signals in the main thread")

    def stubborn():
        deadline = time.monotonic() + 10  # bounded, so that a broken limit fails instead of hanging
        while time.monotonic() < deadline:
            try:
                pass
            except Exception:
                pass

    started = time.monotonic()
    with pytest.raises(TimeoutError, match="stubborn did not finish within 0.2 s: look for a loop"):
        with student_code("stubborn", seconds=0.2):
            stubborn()
    assert time.monotonic() - started < 5


def test_warnings_and_stderr_of_student_code_are_swallowed(capfd):
    """Does a correct solution that warns leave nothing on stderr (which would zero an nbgrader test cell)?"""
    import warnings

    with student_code("noisy"):
        warnings.warn("deprecated thing", DeprecationWarning)
        warnings.warn("user thing")
        print("debug output", file=sys.stderr)
        torch.tensor(torch.ones(2))  # torch's own UserWarning about copy-constructing a tensor
    assert capfd.readouterr().err == ""


def test_unknown_forbidden_name_is_refused():
    with pytest.raises(ValueError, match="cannot forbid 'numpy.no_such_function'"):
        with student_code("f", forbid=["numpy.no_such_function"]):
            pass


@pytest.mark.parametrize("actual, message", [
    ([0.0, 1.0], r"returned a list \(not a tensor\); return a plain torch.Tensor"),
    (torch.nn.Parameter(torch.zeros(2)), r"returned a Parameter \(a subclass of torch.Tensor\)"),
    (torch.zeros(3), r"has shape \(3,\); expected \(2,\)"),
    (torch.tensor([0.0, float("nan")]), r"wrong at x = 1.0: got nan, expected 1.0 .*overflowed"),
    (torch.tensor([0.0, float("inf")]), "got inf, expected 1.0 .*exponential overflowed"),
    (torch.tensor([0.5, 1.0]), r"wrong at x = 0.0: got 0.5, expected 0.0 \(1 of 2 values off"),
])
def test_assert_tensor_close_says_what_is_wrong(actual, message):
    """Does a failed comparison name the first wrong input, the values and a hint?"""
    with pytest.raises(AssertionError, match=message):
        assert_tensor_close(actual, torch.tensor([0.0, 1.0]), what="f(x)", x=torch.tensor([0.0, 1.0]),
                            rtol=1e-6, atol=1e-6)


def test_assert_tensor_close_accepts_close_values_of_another_dtype():
    assert_tensor_close(torch.tensor([0.5, 1.0], dtype=torch.float32), torch.tensor([0.5, 1.0], dtype=torch.float64),
                        what="f(x)", rtol=1e-6, atol=0)


# -- the checks judge behaviour, not spelling (issue 23 item 7) ------------------------------------

def _tanh_parts():
    def tanh_forward(x):
        m = torch.expm1(-2 * x.abs())
        return torch.sign(x) * (-m / (2 + m))

    class TanhFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = tanh_forward(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * (1 - y * y)

    return tanh_forward, TanhFunction


def test_a_tanh_module_through_an_alias_or_a_bound_apply_passes():
    """Does Tanh pass whether forward returns alias.apply(x) or an .apply bound in __init__?"""
    from course_utils.homework_checks.tanh import check_tanh_module

    _, TanhFunction = _tanh_parts()
    cus_tanh = TanhFunction

    class ThroughAlias(nn.Module):
        def forward(self, x):
            return cus_tanh.apply(x)

    class BoundInInit(nn.Module):
        def __init__(self):
            super().__init__()
            self.fn = TanhFunction.apply

        def forward(self, x):
            return self.fn(x)

    for Tanh in (ThroughAlias, BoundInInit):
        check_tanh_module(Tanh, TanhFunction)
        check_tanh_module(Tanh, TanhFunction, kind="mlp")


def test_a_tanh_module_that_skips_the_function_is_told_so():
    """Is a Tanh that computes its output without TanhFunction told that autograd does not use its backward?"""
    from course_utils.homework_checks.tanh import check_tanh_module

    tanh_forward, TanhFunction = _tanh_parts()

    class Direct(nn.Module):
        def forward(self, x):
            return tanh_forward(x)

    with pytest.raises(AssertionError, match="TanhFunction.apply"):
        check_tanh_module(Direct, TanhFunction)


def _transforms():
    from torchvision.transforms import v2

    class RandomRotation:
        def __init__(self, degrees=15.0, fill=0.0):
            self.degrees, self.fill = float(degrees), float(fill)

        def __call__(self, images):
            raise NotImplementedError  # the pipeline check never runs the student's own classes

    class RandomShift(RandomRotation):
        def __init__(self, max_shift=3, fill=0.0):
            self.max_shift, self.fill = int(max_shift), float(fill)

    class GaussianNoise(RandomRotation):
        def __init__(self, mean=0.0, std=0.1, clip=False):
            self.mean, self.std, self.clip = float(mean), float(std), bool(clip)

    return v2, RandomRotation, RandomShift, GaussianNoise


def test_a_v2_compose_of_the_three_classes_is_accepted():
    """Is a torchvision.transforms.v2.Compose accepted, the classes' parameters read, none of them run?"""
    from course_utils.homework_checks.augmentation import check_train_transform

    v2, RandomRotation, RandomShift, GaussianNoise = _transforms()
    check_train_transform(lambda: v2.Compose([RandomRotation(10.0), RandomShift(2), GaussianNoise(std=0.05, clip=True)]),
                          RandomRotation, RandomShift, GaussianNoise)


@pytest.mark.parametrize("build, message", [
    (lambda R, S, N: __import__("torchvision").transforms.Compose([S(2), R(10.0), N(std=0.05, clip=True)]), "order"),
    (lambda R, S, N: __import__("torchvision").transforms.Compose([R(90.0), S(2), N(std=0.05, clip=True)]), "degrees"),
    (lambda R, S, N: None, "returned a NoneType"),
    (lambda R, S, N: [R(10.0), S(2), N(std=0.05, clip=True)], "returned a list"),
])
def test_a_wrong_pipeline_is_told_what_is_wrong(build, message):
    """Is a pipeline in the wrong order, with too wide a rotation, or of the wrong type failed with a message?"""
    from course_utils.homework_checks.augmentation import check_train_transform

    _, RandomRotation, RandomShift, GaussianNoise = _transforms()
    with pytest.raises(AssertionError, match=message):
        check_train_transform(lambda: build(RandomRotation, RandomShift, GaussianNoise),
                              RandomRotation, RandomShift, GaussianNoise)


def test_a_transform_that_returns_nothing_gets_a_message():
    """Does a transform that returns None fail with a message that says so, never an empty one?"""
    from course_utils.homework_checks.augmentation import check_basics

    class Nothing:
        def __init__(self, max_shift=0, fill=0.0):
            pass

        def __call__(self, images):
            return None

    with pytest.raises(AssertionError) as failure:
        check_basics(Nothing, shape=[1, 12, 12], expected="same", params={"max_shift": 0, "fill": 0.0})
    assert "NoneType" in str(failure.value)


class _Rotation:
    """Bilinear rotation by its own angle per image; ``letters`` sampling for what a notMNIST letter is."""

    letters = "bilinear"

    def __init__(self, degrees=10.0, fill=0.0):
        self.degrees, self.fill = float(degrees), float(fill)

    def __call__(self, images):
        import torchvision.transforms.functional as TF
        from torchvision.transforms import InterpolationMode

        batch = images if images.dim() == 4 else images.unsqueeze(0)
        letter = tuple(images.shape) == (1, 28, 28)
        mode = InterpolationMode(self.letters if letter else "bilinear")
        angles = torch.empty(len(batch)).uniform_(-self.degrees, self.degrees)
        rotated = torch.stack([TF.rotate(image, float(angle), interpolation=mode, fill=[self.fill])
                               for image, angle in zip(batch, angles)])
        return rotated if images.dim() == 4 else rotated[0]


class _Shift:
    """A whole-pixel shift with fill per image; wraps around (torch.roll) where ``wrap_letters`` and 28×28."""

    wrap_letters = False

    def __init__(self, max_shift=2, fill=0.0):
        self.max_shift, self.fill = max_shift, float(fill)

    def __call__(self, images):
        batch = images if images.dim() == 4 else images.unsqueeze(0)
        out = torch.full_like(batch, self.fill)
        height, width = batch.shape[-2:]
        for image, target in zip(batch, out):
            dx, dy = torch.randint(-self.max_shift, self.max_shift + 1, (2,)).tolist()
            if self.wrap_letters and (height, width) == (28, 28):
                target.copy_(torch.roll(image, (dy, dx), dims=(-2, -1)))
            elif abs(dx) < width and abs(dy) < height:
                target[:, max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
                    image[:, max(-dy, 0):height - max(dy, 0), max(-dx, 0):width - max(dx, 0)]
        return out if images.dim() == 4 else out[0]


class _Noise:
    """Gaussian noise; ``letters_std`` instead of std for 28×28 images."""

    letters_std = None

    def __init__(self, mean=0.0, std=0.1, clip=False):
        self.mean, self.std, self.clip = mean, std, clip

    def __call__(self, images):
        std = self.letters_std if self.letters_std is not None and images.shape[-2:] == (28, 28) else self.std
        noisy = images + self.mean + std * torch.randn_like(images)
        return noisy.clamp(0, 1) if self.clip else noisy


def test_the_transform_checks_send_letter_sized_images_too():
    """Do rotation, shift and noise pass when right, and fail when only a 1×28×28 letter gets the wrong treatment?"""
    from course_utils.homework_checks.augmentation import check_noise, check_rotation_angles, check_shifts

    check_rotation_angles(_Rotation, copies=4, degrees=30.0, fill=0.5, seed=1)
    check_shifts(_Shift, copies=12, channels=2, height=10, width=10, max_shift=2, fill=-1.0, seed=2)
    check_noise(_Noise, shape=[2, 1, 100, 100], mean=0.1, std=0.2, seed=3)
    nearest = type("Nearest", (_Rotation,), {"letters": "nearest"})
    with pytest.raises(AssertionError, match="letter-sized image 0 .*nearest-neighbour"):
        check_rotation_angles(nearest, copies=4, degrees=30.0, fill=0.5, seed=1)
    wraps = type("Wraps", (_Shift,), {"wrap_letters": True})
    with pytest.raises(AssertionError, match="letter-sized image .*wrap-around"):
        check_shifts(wraps, copies=12, channels=2, height=10, width=10, max_shift=2, fill=-1.0, seed=2)
    wrong_std = type("WrongStd", (_Noise,), {"letters_std": 0.04})
    with pytest.raises(AssertionError, match="letter-sized image 0"):
        check_noise(wrong_std, shape=[2, 1, 100, 100], mean=0.1, std=0.2, seed=3)


def test_repeated_calls_are_judged_together_and_the_first_wrong_call_is_named():
    """With ``calls`` (every call's result stacked into one tensor, judged in one pass), are all the shifts of a
    right transform read (every_shift), and is a wrong call named by its number, as call by call?"""
    from course_utils.homework_checks.augmentation import check_shifts

    check_shifts(_Shift, channels=1, height=7, width=5, max_shift=3, fill=-1.0, calls=1500, seed=14, every_shift=True)

    class SeventhCallWraps(_Shift):
        calls = 0

        def __call__(self, images):
            if tuple(images.shape[-2:]) == (6, 6):
                SeventhCallWraps.calls += 1
                if SeventhCallWraps.calls == 7:
                    return torch.roll(images, 1, dims=-1)
            return super().__call__(images)

    with pytest.raises(AssertionError, match=r"image 6 is not a whole-pixel translation"):
        check_shifts(SeventhCallWraps, channels=1, height=6, width=6, max_shift=1, fill=0.5, calls=20, seed=2)


def test_shifts_are_read_for_a_whole_batch_at_once_with_each_image_judged_alone():
    """Does the batched reader give every image's (dx, dy), and name the first image that is no whole-pixel
    shift within bounds with fill in the vacated pixels, as judging the images one by one would?"""
    from course_utils.homework_checks.augmentation import _read_shift, _read_shifts, _shifted, indexed_image

    image = indexed_image(2, 6, 5)
    moves = [(0, 0), (1, -2), (-2, 2), (2, 0), (0, 1)]
    batch = torch.stack([_shifted(image, dx, dy, -1.0) for dx, dy in moves])
    assert _read_shifts(batch, 0, -1.0, 2) == moves
    assert [_read_shift(one, index, -1.0, 2) for index, one in enumerate(batch)] == moves

    wrapped, unfilled, holed = batch.clone(), batch.clone(), batch.clone()
    wrapped[3] = torch.roll(image, (0, 2), (1, 2))
    unfilled[2][unfilled[2] == -1.0] = 0.0
    holed[4][0, 0, 0] = float("nan")
    for broken, index, message in [(wrapped, 3, "not a whole-pixel translation"),
                                   (unfilled, 2, "vacated pixels are not fill=-1.0"),
                                   (holed, 4, "vacated pixels are not fill=-1.0")]:
        with pytest.raises(AssertionError, match=f"image {10 + index}\\b.*{message}"):
            _read_shifts(broken, 10, -1.0, 2)
    with pytest.raises(AssertionError, match=r"image 11 was shifted by \(dx, dy\) = \(1, -2\), beyond max_shift=1"):
        _read_shifts(batch, 10, -1.0, 1)
    # an infinite fill is close to itself only, as torch.allclose has it
    infinite = _shifted(image, 1, 0, -math.inf)
    assert _read_shifts(infinite[None], 0, -math.inf, 1) == [(1, 0)]
    infinite[infinite == -math.inf] = 0.0
    with pytest.raises(AssertionError, match="vacated pixels are not fill=-inf"):
        _read_shifts(infinite[None], 0, -math.inf, 1)


def test_a_letter_rotated_by_an_angle_near_zero_once_is_not_called_nearest_neighbour():
    """Does a correct rotation pass when one of a letter's rotations drew an angle too near zero to blend
    (it happened in a grading), while a transform that never rotates letters still fails?"""
    from course_utils.homework_checks.augmentation import check_rotation_angles

    class FirstLetterNearZero(_Rotation):
        drawn = 0

        def __call__(self, images):
            if tuple(images.shape) == (1, 28, 28) and not FirstLetterNearZero.drawn:
                FirstLetterNearZero.drawn = 1  # the first single letter: an angle of 0.00001°
                import torchvision.transforms.functional as TF
                from torchvision.transforms import InterpolationMode

                return TF.rotate(images, 1e-5, interpolation=InterpolationMode.BILINEAR, fill=[self.fill])
            return super().__call__(images)

    check_rotation_angles(FirstLetterNearZero, copies=0, degrees=5.0, fill=0.0, calls=4, seed=13)
    assert FirstLetterNearZero.drawn
    never = type("NeverLetters", (_Rotation,), {"__call__": lambda self, images: (
        images.clone() if tuple(images.shape[-3:]) == (1, 28, 28) else _Rotation.__call__(self, images))})
    with pytest.raises(AssertionError, match="letter-sized image 0 .*rotated twice.*no rotation"):
        check_rotation_angles(never, copies=0, degrees=5.0, fill=0.0, calls=4, seed=13)

    class FirstBatchOfLettersUnrotated(_Rotation):
        seen = 0

        def __call__(self, images):
            if tuple(images.shape) == (4, 1, 28, 28) and not FirstBatchOfLettersUnrotated.seen:
                FirstBatchOfLettersUnrotated.seen = 1
                return images.clone()
            return super().__call__(images)

    with pytest.raises(AssertionError, match=r"letter-sized images \[1, 2, 3, 4\] .* in 4 of their 10 rotations"):
        check_rotation_angles(FirstBatchOfLettersUnrotated, copies=0, degrees=5.0, fill=0.0, calls=4, seed=13)


def test_the_rotation_judge_wants_both_rotations_of_every_letter():
    """Does an answer without the letters' four results (a forged one: the judge reads what the kernel sent)
    fail, instead of leaving the letters unjudged?"""
    from course_utils.homework_checks.augmentation import _judge_rotated_letters, _rotation_inputs

    inputs = _rotation_inputs(torch.Generator().manual_seed(0))
    rotation = _Rotation()
    for letters in ([], [rotation(inputs["letter"]), rotation(inputs["letters"])]):
        with pytest.raises(AssertionError, match="did not come back"):
            _judge_rotated_letters(inputs, letters, 0.0)
    _judge_rotated_letters(inputs, [rotation(inputs[name]) for name in ("letter", "letters") * 2], 0.0)


def test_a_repr_cannot_read_the_tests_parameters_from_the_callers_frames():
    """Does a __repr__ that walks its callers' frames for the test's parameters find none of them?"""
    import traceback

    from course_utils.homework_checks.augmentation import check_repr

    class Walks:
        def __init__(self, degrees=10.0, fill=0.0):
            pass  # stores nothing: whatever its repr shows must come from elsewhere

        def __repr__(self):
            for frame, _ in traceback.walk_stack(None):
                for value in frame.f_locals.values():
                    if isinstance(value, dict) and "degrees" in value:
                        return f"Walks(degrees={value['degrees']}, fill={value.get('fill', 0.0)})"
            return "Walks(degrees=?, fill=?)"

    class Stores(Walks):
        def __init__(self, degrees=10.0, fill=0.0):
            self.degrees, self.fill = degrees, fill

        def __repr__(self):
            return f"Stores(degrees={self.degrees}, fill={self.fill})"

    check_repr(Stores, params={"degrees": 12.5, "fill": 0.25})
    with pytest.raises(AssertionError, match=r"repr\(Walks\(degrees=12.5, fill=0.25\)\) is 'Walks\(degrees=\?"):
        check_repr(Walks, params={"degrees": 12.5, "fill": 0.25})
