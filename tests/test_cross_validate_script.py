"""scripts/cross_validate_notmnist.py: its folds, its settings, and one short run on generated letters."""
from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

# The generated archive holds two deliberately unreadable files; load_notmnist's warning about them is expected.
pytestmark = pytest.mark.filterwarnings("ignore:skipped 2 unreadable notMNIST files")

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "cross_validate_notmnist.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("cross_validate_notmnist", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def test_a_fold_splits_the_rest_80_20_and_keeps_its_test_images_apart(script):
    labels = np.repeat(np.arange(10), 50)
    images = np.arange(len(labels), dtype=np.float32)[:, None, None] * np.ones((1, 2, 2), np.float32)
    folds = script.stratified_folds(labels)
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = script.split_fold(images, labels, folds, 2)
    assert (len(tr_y), len(va_y), len(te_y)) == (320, 80, 100)
    ids = [set(x[:, 0, 0].astype(int).tolist()) for x in (tr_x, va_x, te_x)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert ids[2] == set(folds[2].tolist())


def test_settings_are_recipe_keys_with_python_values(script):
    assert script.parse_setting("num_epochs=2") == ("num_epochs", 2)
    assert script.parse_setting("channels=(8, 16)") == ("channels", (8, 16))
    for wrong in ["epochs=2", "num_epochs", "num_epochs=two"]:
        with pytest.raises(argparse.ArgumentTypeError):
            script.parse_setting(wrong)


def test_every_candidate_is_a_valid_change_of_the_recipe(script):
    from course_utils.models import RECIPE

    assert script.CANDIDATES["recipe"] == {}
    for overrides in script.CANDIDATES.values():
        assert set(overrides) <= set(RECIPE)


def test_one_fold_of_one_epoch_runs_and_reports(script, notmnist_archive, capsys):
    """The lecture's procedure on the generated archive (200 letters): train, validate, test once, summary."""
    assert script.main([str(notmnist_archive), "--folds", "0", "--set", "num_epochs=1"]) == 0
    out = capsys.readouterr().out
    assert "num_epochs=1" in out and "retrained" not in out
    line = re.search(r"fold 0: validation \d+\.\d\d% \((\d+) images, trained on (\d+) in \d+ s\); "
                     r"test \d+\.\d\d% \(40 images\)", out)
    assert line, out
    validation, train = int(line[1]), int(line[2])
    assert validation + train == 160 and 0.15 < validation / 160 < 0.25
    assert re.search(r"pooled over 40 test images: \d+\.\d\d% ± \d+\.\d\d%", out), out


def record_calls(monkeypatch, script, name: str) -> list[int]:
    """Replace the script's ``name`` by a wrapper that records the length of its second argument."""
    lengths, real = [], getattr(script, name)

    def wrapper(first, second, *args, **kwargs):
        lengths.append(len(second))
        return real(first, second, *args, **kwargs)

    monkeypatch.setattr(script, name, wrapper)
    return lengths


def test_retrain_tests_a_model_trained_on_train_and_validation(script, notmnist_archive, capsys, monkeypatch):
    label_counts = record_calls(monkeypatch, script, "train_notmnist_model")  # (images, labels, ...)
    assert script.main([str(notmnist_archive), "--folds", "3", "--retrain", "--set", "num_epochs=1"]) == 0
    out = capsys.readouterr().out
    assert len(label_counts) == 2 and label_counts[1] == 160 and label_counts[0] < 160
    assert re.search(r"retrained on 160 in \d+ s: test \d+\.\d\d% \(40 images\)", out), out


def test_compare_touches_no_test_fold(script, notmnist_archive, capsys, monkeypatch):
    """--compare trains on train and scores on validation only: the test fold never reaches the model."""
    predictions = record_calls(monkeypatch, script, "predict")  # (model, images, ...)
    assert script.main([str(notmnist_archive), "--compare", "--candidates", "recipe",
                        "--folds", "1", "--set", "num_epochs=1"]) == 0
    out = capsys.readouterr().out
    assert "recipe" in out and "mean validation accuracy" in out and "test" not in out.split("recipe:")[1]
    assert predictions == []
