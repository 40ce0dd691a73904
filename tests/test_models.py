"""NotMNISTNet, build_notmnist_model, notmnist_augmentation, export_torchscript: the model's contract."""
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from course_utils import (
    NotMNISTNet,
    build_notmnist_model,
    default_artifacts_dir,
    export_torchscript,
    load_torchscript,
    notmnist_augmentation,
)


@pytest.fixture
def images():
    """A batch shaped and typed like load_notmnist's images: float32 N x 28 x 28 in [0, 1]."""
    return torch.rand(6, 28, 28, generator=torch.Generator().manual_seed(0))


def test_raw_images_in_logits_out(images):
    """Does the model take load_notmnist's N x 28 x 28 images and return N x 10 logits?"""
    torch.manual_seed(0)
    logits = NotMNISTNet().eval()(images)
    assert logits.shape == (6, 10)
    assert logits.dtype == torch.float32
    # logits, not probabilities: rows are not constrained to sum to 1
    assert not torch.allclose(logits.sum(dim=1), torch.ones(6), atol=1e-3)


def test_channel_axis_is_optional(images):
    """Are N x 28 x 28 and N x 1 x 28 x 28 inputs the same thing to the model?"""
    torch.manual_seed(0)
    model = NotMNISTNet().eval()
    torch.testing.assert_close(model(images), model(images.unsqueeze(1)))


def test_normalisation_is_inside_the_model(images):
    """Is (x - mean) / std applied inside, so a shifted input with shifted mean gives the same logits?"""
    torch.manual_seed(0)
    model = NotMNISTNet(mean=0.2, std=0.5).eval()
    torch.manual_seed(0)
    shifted = NotMNISTNet(mean=0.2 + 0.3, std=0.5).eval()
    torch.testing.assert_close(model(images), shifted(images + 0.3))


def test_mean_and_std_are_buffers_not_parameters():
    """Are mean/std saved with the model but never trained?"""
    model = NotMNISTNet(mean=0.4, std=0.45)
    assert set(dict(model.named_buffers())) >= {"mean", "std"}
    assert "mean" not in dict(model.named_parameters())
    assert model.state_dict()["std"].item() == pytest.approx(0.45)


def test_build_uses_the_training_images_statistics():
    """Does build_notmnist_model take mean and std from the images it is given?"""
    train = np.random.default_rng(0).uniform(0, 1, size=(50, 28, 28)).astype(np.float32)
    model = build_notmnist_model(train)
    assert model.mean.item() == pytest.approx(train.mean(), abs=1e-6)
    assert model.std.item() == pytest.approx(train.std(ddof=1), abs=1e-6)


def test_build_without_images_maps_pixels_to_minus_one_one():
    model = build_notmnist_model()
    assert (model.mean.item(), model.std.item()) == (0.5, 0.5)


def test_build_passes_options_on():
    model = build_notmnist_model(channels=(8, 8, 8), hidden=16, dropout=0.0)
    assert model(torch.rand(2, 28, 28)).shape == (2, 10)
    assert model.classifier[-1].in_features == 16


def test_nonpositive_std_is_rejected():
    with pytest.raises(ValueError, match="std must be positive"):
        NotMNISTNet(std=0.0)


def test_model_is_small_enough_for_a_laptop_cpu():
    """Does the default model stay a small CNN (tens of thousands of weights, not millions)?"""
    count = sum(p.numel() for p in NotMNISTNet().parameters())
    assert 10_000 < count < 500_000


def test_augmentation_keeps_shape_dtype_and_range(images):
    torch.manual_seed(0)
    augment = notmnist_augmentation()
    out = augment(images[:1])
    assert out.shape == (1, 28, 28) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert not torch.equal(out, images[:1])


def test_augmentation_is_repeatable_under_a_seed(images):
    augment = notmnist_augmentation()
    torch.manual_seed(3)
    first = augment(images[:1])
    torch.manual_seed(3)
    torch.testing.assert_close(augment(images[:1]), first)


def test_augmentation_without_noise_or_motion_is_the_identity(images):
    augment = notmnist_augmentation(degrees=0, shift=0, noise=0)
    torch.testing.assert_close(augment(images[:1]), images[:1], atol=1e-5, rtol=0)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_export_round_trip_gives_the_same_logits(tmp_path, images):
    """Does the TorchScript file load and give the trained model's logits on raw images?"""
    torch.manual_seed(0)
    model = NotMNISTNet()
    model.train()  # export must not depend on the caller's mode ...
    path = export_torchscript(model, tmp_path / "deep" / "notmnist_model.pt")
    assert path.is_file()
    assert model.training  # ... and must not change it
    loaded = torch.jit.load(str(path))
    assert not loaded.training
    torch.testing.assert_close(loaded(images), model.eval()(images))
    torch.testing.assert_close(loaded(images.unsqueeze(1)), model(images))


def test_export_and_load_do_not_warn(tmp_path, images):
    """Are torch's TorchScript deprecation notices kept out of the notebooks' stderr?"""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = export_torchscript(NotMNISTNet(), tmp_path / "m.pt")
        loaded = load_torchscript(path)
    assert loaded(images).shape == (6, 10)


def test_export_does_not_touch_the_callers_model(tmp_path):
    model = NotMNISTNet()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    export_torchscript(model, tmp_path / "m.pt")
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_artifacts_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_ARTIFACTS_DIR", str(tmp_path / "models"))
    assert default_artifacts_dir() == tmp_path / "models"


def test_artifacts_dir_defaults_to_the_repository(monkeypatch):
    """From a checkout, is the default the git-ignored artifacts/ at the repository root?"""
    import course_utils

    monkeypatch.delenv("COURSE_ARTIFACTS_DIR", raising=False)
    repo = Path(course_utils.__file__).resolve().parent.parent
    assert default_artifacts_dir() == repo / "artifacts"
