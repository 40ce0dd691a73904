"""seed_everything: the same seed gives the same numbers from every generator."""
import random

import numpy as np
import pytest
import torch

from course_utils import seed_everything


def draw_from_every_generator():
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_same_seed_gives_same_numbers_from_random_numpy_and_torch():
    seed_everything(123)
    first = draw_from_every_generator()
    seed_everything(123)
    assert draw_from_every_generator() == first


def test_different_seeds_give_different_numbers():
    seed_everything(1)
    first = draw_from_every_generator()
    seed_everything(2)
    second = draw_from_every_generator()
    assert all(a != b for a, b in zip(first, second))


def test_deterministic_mode_is_switched_on_and_can_be_left_off():
    try:
        seed_everything(0)
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        torch.use_deterministic_algorithms(False)
        seed_everything(0, deterministic=False)
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)


def test_seed_must_be_an_integer():
    with pytest.raises(TypeError, match="seed must be an int"):
        seed_everything(1.5)


def test_large_seeds_are_accepted_by_numpy():
    seed_everything(2**40)  # numpy only takes seeds below 2**32
    assert 0 <= np.random.rand() < 1
