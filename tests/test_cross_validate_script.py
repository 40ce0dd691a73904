"""scripts/cross_validate_notmnist.py: its split into development and held-out images, its folds, its settings,
which images each mode gives to a model, and one short run on generated letters."""
from __future__ import annotations

import argparse
import importlib.util
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

# The generated archive holds two deliberately unreadable files; load_notmnist's warning about them is expected.
pytestmark = pytest.mark.filterwarnings("ignore:skipped 2 unreadable notMNIST files")

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "cross_validate_notmnist.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("cross_validate_notmnist", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def numbered_images(counts):
    """Images whose pixels all equal the image's index (so an image can be recognised), and their labels."""
    labels = np.repeat(np.arange(len(counts)), counts)
    images = np.arange(len(labels), dtype=np.float32)[:, None, None] * np.ones((1, 2, 2), np.float32)
    return images, labels


def ids(images) -> set[int]:
    return set(np.asarray(images)[:, 0, 0].astype(int).tolist())


def test_folds_are_disjoint_cover_everything_and_are_stratified(script):
    labels = np.repeat(np.arange(10), [52, 50, 50, 50, 50, 50, 50, 50, 50, 48])
    folds = script.stratified_folds(labels, num_folds=5, seed=0)
    together = np.concatenate(folds)
    assert len(together) == len(labels) and len(np.unique(together)) == len(labels)
    for fold in folds:
        counts = np.bincount(labels[fold], minlength=10)
        assert np.abs(counts - np.bincount(labels, minlength=10) / 5).max() <= 1
    assert [f.tolist() for f in folds] == [f.tolist() for f in script.stratified_folds(labels, num_folds=5, seed=0)]
    assert [f.tolist() for f in folds] != [f.tolist() for f in script.stratified_folds(labels, num_folds=5, seed=1)]


def test_held_out_block_is_the_lectures_test_split_and_development_is_train_then_validation(script):
    from course_utils import train_val_test_split

    images, labels = numbered_images([50] * 10)
    (dev_x, dev_y), (te_x, te_y) = script.development_and_held_out(images, labels)
    (tr_x, _), (va_x, _), (lecture_test_x, _) = train_val_test_split(images, labels, (0.64, 0.16, 0.2), seed=0)
    assert np.array_equal(te_x, lecture_test_x) and np.array_equal(dev_x, np.concatenate([tr_x, va_x]))
    assert (len(dev_y), len(te_y)) == (400, 100) and not ids(dev_x) & ids(te_x)
    assert np.array_equal(labels[dev_x[:, 0, 0].astype(int)], dev_y)


def test_a_fold_of_the_development_images_is_their_validation_part(script):
    images, labels = numbered_images([40] * 10)
    folds = script.stratified_folds(labels)
    (tr_x, tr_y), (va_x, va_y) = script.split_fold(images, labels, folds, 2)
    assert (len(tr_y), len(va_y)) == (320, 80)
    assert ids(va_x) == set(folds[2].tolist()) and ids(tr_x) == set(range(400)) - ids(va_x)


def test_settings_are_recipe_keys_with_python_values(script):
    assert script.parse_setting("num_epochs=2") == ("num_epochs", 2)
    assert script.parse_setting("channels=(8, 16)") == ("channels", (8, 16))
    for wrong in ["epochs=2", "num_epochs", "num_epochs=two"]:
        with pytest.raises(argparse.ArgumentTypeError):
            script.parse_setting(wrong)


def test_every_candidate_is_a_valid_change_of_the_recipe_with_a_name_the_command_line_can_pass(script):
    from course_utils.models import RECIPE

    assert script.CANDIDATES["recipe"] == {}
    for name, overrides in script.CANDIDATES.items():
        assert set(overrides) <= set(RECIPE) and "," not in name


class Recorder:
    """Stands in for train_notmnist_model and predict: records which images each receives."""

    def __init__(self):
        self.trained_on, self.validated_on, self.predicted_on = [], [], []

    def train(self, images, labels, val_images=None, val_labels=None, **settings):
        self.trained_on.append(ids(images))
        self.validated_on.append(ids(val_images) if val_images is not None else set())
        return "model", {"val_acc": [0.5], "seconds": 0.0}

    def predict(self, model, images):
        self.predicted_on.append(ids(images))
        return torch.zeros(len(images), 10)


@pytest.fixture
def recorder(script, monkeypatch):
    images, labels = numbered_images([50] * 10)
    monkeypatch.setattr(script, "load", lambda source: (images, labels, list("ABCDEFGHIJ")))
    recorder = Recorder()
    monkeypatch.setattr(script, "train_notmnist_model", recorder.train)
    monkeypatch.setattr(script, "predict", recorder.predict)
    (dev_x, _), (te_x, _) = script.development_and_held_out(images, labels)
    recorder.development, recorder.held_out = ids(dev_x), ids(te_x)
    return recorder


def test_compare_gives_no_held_out_image_to_any_model(script, recorder, capsys):
    """--compare trains and validates on development images only; every one is validated exactly once."""
    assert script.main(["--compare", "--candidates", "recipe,no augmentation at 20 epochs"]) == 0
    assert len(recorder.trained_on) == 10 and recorder.predicted_on == []
    for trained, validated in zip(recorder.trained_on, recorder.validated_on):
        assert trained | validated == recorder.development and not trained & validated
    assert set().union(*recorder.validated_on[::2]) == recorder.development  # the five folds of one candidate
    assert "mean validation accuracy" in capsys.readouterr().out


def test_final_trains_on_the_development_images_and_tests_on_the_held_out_block(script, recorder, capsys):
    assert script.main(["--seeds", "0,1"]) == 0
    assert recorder.trained_on == [recorder.development] * 2 and recorder.validated_on == [set(), set()]
    assert recorder.predicted_on == [recorder.held_out] * 2
    out = capsys.readouterr().out
    assert "over seeds 0,1: mean" in out and "400 for development, 100 held out" in out


def test_final_on_generated_letters_runs_and_reports(script, notmnist_archive, capsys, tmp_path, monkeypatch):
    """The lecture's final procedure for real, on the generated archive (200 letters), one epoch; the folder
    the archive was extracted into is gone afterwards."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert script.main([str(notmnist_archive), "--set", "num_epochs=1"]) == 0
    assert not list(tmp_path.glob("notmnist-cv-*"))
    out = capsys.readouterr().out
    assert "num_epochs=1" in out
    assert re.search(r"seed 0: trained on 160 development images in \d+ s; "
                     r"held-out test accuracy \d+\.\d\d% ± \d+\.\d\d% \(40 images\)", out), out
