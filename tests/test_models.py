"""NotMNISTNet, build_notmnist_model, the augmentations, the recipe, export/load: the model's contract."""
import copy
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from course_utils import (
    NotMNISTNet,
    build_notmnist_model,
    default_artifacts_dir,
    export_model,
    load_exported_model,
    notmnist_augmentation,
    random_affine,
    train_notmnist_model,
)
from course_utils.models import RECIPE


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


def test_two_convolutions_per_block():
    """Does convs_per_block=2 stack two conv-BatchNorm-ReLU layers before each pooling?"""
    model = NotMNISTNet(convs_per_block=2)
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 16), (16, 16), (16, 32), (32, 32)]
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in model.features) == 2
    assert model.eval()(torch.rand(3, 28, 28)).shape == (3, 10)
    with pytest.raises(ValueError, match="convs_per_block"):
        NotMNISTNet(convs_per_block=0)


def test_one_count_of_convolutions_per_block():
    """convs_per_block=(1, 2): one convolution before the first pooling, two before the second."""
    model = NotMNISTNet(convs_per_block=(1, 2))
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 16), (16, 32), (32, 32)]
    assert model.eval()(torch.rand(3, 28, 28)).shape == (3, 10)
    for wrong in [(1,), (1, 2, 1), (1, 0)]:
        with pytest.raises(ValueError, match="one such count per entry of channels"):
            NotMNISTNet(convs_per_block=wrong)


def test_convolution_weights_are_channels_last_and_give_the_same_logits(images):
    """The channels-last layout is a speed-up only: the same weights in the default layout give the same logits."""
    torch.manual_seed(0)
    model = NotMNISTNet(convs_per_block=(1, 2)).eval()
    conv = model.features[4]  # 16 -> 32 channels (the first, 1 -> 16, looks the same in both layouts)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
    plain = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
    assert plain.features[4].weight.is_contiguous()
    torch.testing.assert_close(model(images), plain(images), atol=1e-5, rtol=1e-4)


# ------------------------------------------------------------------ random_affine


def test_random_affine_keeps_shape_dtype_range_and_input(images):
    torch.manual_seed(0)
    before = images.clone()
    out = random_affine(images)
    assert out.shape == images.shape and out.dtype == images.dtype
    assert out.min() >= 0 and out.max() <= 1
    torch.testing.assert_close(images, before)  # the input is not modified
    assert random_affine(images.unsqueeze(1)).shape == (6, 1, 28, 28)


def test_random_affine_draws_per_image():
    """Does every image of a batch get its own rotation/shift (unlike a torchvision transform on a batch)?"""
    letter = torch.zeros(1, 28, 28)
    letter[0, 6:22, 12:16] = 1.0  # a bar: any rotation or shift changes it
    out = random_affine(letter.expand(8, 28, 28), generator=torch.Generator().manual_seed(0))
    assert all(not torch.allclose(out[0], out[i], atol=1e-3) for i in range(1, 8))


def test_random_affine_without_motion_is_the_identity(images):
    out = random_affine(images, degrees=0, shift=0, scale=(1.0, 1.0))
    torch.testing.assert_close(out, images, atol=1e-5, rtol=0)


def test_random_affine_is_repeatable_under_a_seed(images):
    torch.manual_seed(5)
    first = random_affine(images)
    torch.manual_seed(5)
    torch.testing.assert_close(random_affine(images), first)


def test_random_affine_shift_moves_the_content():
    """A pure shift by 0.1 of the width moves a dot by up to 2.8 pixels, never more."""
    dot = torch.zeros(64, 28, 28)
    dot[:, 14, 14] = 1.0
    out = random_affine(dot, degrees=0, shift=0.1, scale=(1.0, 1.0), generator=torch.Generator().manual_seed(1))
    rows = torch.arange(28.0)
    centre_y = (out.sum(dim=2) * rows).sum(dim=1) / out.sum(dim=(1, 2))
    centre_x = (out.sum(dim=1) * rows).sum(dim=1) / out.sum(dim=(1, 2))
    moved = torch.maximum((centre_y - 14).abs(), (centre_x - 14).abs())
    assert moved.max() <= 2.8 + 1e-3 and moved.max() > 1.0


def test_random_affine_rejects_other_shapes():
    with pytest.raises(ValueError, match="N x 28 x 28"):
        random_affine(torch.rand(28, 28))


# ---------------------------------------------------------------- the recipe


def letters(n_per_class=12, seed=0):
    """Ten trivially separable 'letters': class k is a bright square at position k."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(10).repeat(n_per_class)
    images = 0.1 * torch.rand(len(labels), 28, 28, generator=g)
    for k in range(10):
        r, c = 2 + 12 * (k // 5), 2 + 5 * (k % 5)
        images[labels == k, r:r + 10, c:c + 4] = 1.0
    return images, labels


def test_recipe_trains_and_reports():
    """Does train_notmnist_model learn easy data with its validation curve and time?"""
    images, labels = letters()
    model, history = train_notmnist_model(images, labels, images[:40], labels[:40], progress=False,
                                          num_epochs=3, degrees=0, shift=0.0, scale=(1.0, 1.0), batch_size=32)
    assert isinstance(model, NotMNISTNet) and not model.training
    assert len(history["train_loss"]) == len(history["val_acc"]) == 3
    assert history["val_acc"][-1] > 0.5
    assert history["seconds"] > 0
    assert model.mean.item() == pytest.approx(images.mean().item(), rel=1e-5)


def test_recipe_without_validation_and_repeatable():
    """Without validation data only the training curves are kept; the same seed gives the same model."""
    images, labels = letters(4)
    runs = [train_notmnist_model(images, labels, progress=False, num_epochs=1, seed=3) for _ in range(2)]
    assert runs[0][1]["val_acc"] == [] and len(runs[0][1]["train_loss"]) == 1
    torch.testing.assert_close(runs[0][0](images[:5]), runs[1][0](images[:5]))


def test_recipe_rejects_unknown_settings():
    with pytest.raises(TypeError, match="unknown recipe setting"):
        train_notmnist_model(*letters(1), epochs=3)


def test_recipe_is_the_documented_one():
    assert set(RECIPE) >= {"convs_per_block", "label_smoothing", "degrees", "shift", "scale", "lr", "num_epochs"}
    assert 0 < RECIPE["label_smoothing"] < 0.5 and RECIPE["scale"][0] < 1 < RECIPE["scale"][1]


# ------------------------------------------------------------------ torch.export


# Exporting takes about a second, so each exported model is built once for the tests that read it;
# none of them changes the model or the file.


@pytest.fixture(scope="module")
def trained_export(tmp_path_factory):
    """``(model, state_before, path)``: a model with non-trivial BatchNorm statistics, in training mode (as fit
    leaves it before eval), its state dict before the export, and the .pt2 file exported from it."""
    torch.manual_seed(0)
    model = NotMNISTNet(mean=0.4, std=0.45, convs_per_block=2)
    with torch.no_grad():
        model.train()(torch.rand(16, 28, 28))  # moves BatchNorm's running statistics
    before = {k: v.clone() for k, v in model.state_dict().items()}
    path = export_model(model, tmp_path_factory.mktemp("export") / "deep" / "notmnist_model.pt2")
    return model, before, path


@pytest.fixture(scope="module")
def fresh_export(tmp_path_factory):
    """``(model, loaded, caught)``: a new NotMNISTNet, its export loaded back, and every warning that exporting
    and loading raised."""
    model = NotMNISTNet()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_exported_model(export_model(model, tmp_path_factory.mktemp("export") / "m.pt2"))
    return model, loaded, caught


def test_export_round_trip_gives_the_same_logits(images, trained_export):
    """Does the .pt2 file load with torch.export.load and give the eval-mode model's logits?"""
    model, _, path = trained_export
    assert path.is_file() and path.suffix == ".pt2"
    assert model.training  # export must not change the caller's mode
    evaluated = copy.deepcopy(model).eval()
    loaded = torch.export.load(path).module()
    torch.testing.assert_close(loaded(images), evaluated(images))
    torch.testing.assert_close(load_exported_model(path)(images), evaluated(images))


@pytest.mark.parametrize("batch", [1, 2, 5, 257])
def test_exported_model_takes_any_batch_size(fresh_export, batch):
    model, loaded, _ = fresh_export
    x = torch.rand(batch, 28, 28, generator=torch.Generator().manual_seed(batch))
    torch.testing.assert_close(loaded(x), copy.deepcopy(model).eval()(x))


def test_export_and_load_do_not_warn(images, fresh_export):
    """No deprecation notice (or any other warning) from exporting and loading."""
    _, loaded, caught = fresh_export
    assert [str(warning.message) for warning in caught] == []
    assert loaded(images).shape == (6, 10)


def test_export_does_not_touch_the_callers_model(trained_export):
    model, before, _ = trained_export
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_no_torchscript_left():
    """TorchScript (deprecated by torch) is gone from the package's surface."""
    import course_utils

    assert not any("torchscript" in name for name in course_utils.__all__)


def test_artifacts_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_ARTIFACTS_DIR", str(tmp_path / "models"))
    assert default_artifacts_dir() == tmp_path / "models"


def test_artifacts_dir_defaults_to_the_repository(monkeypatch):
    """From a checkout, is the default the git-ignored artifacts/ at the repository root?"""
    import course_utils

    monkeypatch.delenv("COURSE_ARTIFACTS_DIR", raising=False)
    repo = Path(course_utils.__file__).resolve().parent.parent
    assert default_artifacts_dir() == repo / "artifacts"
