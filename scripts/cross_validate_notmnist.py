"""How lecture 07's final recipe was chosen, and how well it does on letters it never saw.

Usage (from the repository root)::

    .venv/bin/python scripts/cross_validate_notmnist.py [SOURCE] [--compare [--candidates A,B]] [--folds 0,1,...]
                                                        [--seeds 0,1,...] [--set KEY=VALUE ...]

``SOURCE`` is where notMNIST comes from, as for ``load_notmnist``: a
``notMNIST_small.tar.gz`` path or URL (``file://``, ``http(s)://``), or a
folder that holds ``notMNIST_small/``; default ``$NOTMNIST_URL``, else the
official mirrors. An archive is extracted into a temporary folder, removed once
the images are loaded; never into the repository.

The images are cut exactly as lecture 07 cuts them
(``train_val_test_split(images, labels, (0.64, 0.16, 0.2), seed=0)``):

* the **held-out test block** is the lecture's test split (20 %). No run of
  this script's comparison sees it, and none of the choices it makes (the
  number of epochs, keeping augmentation and label smoothing) used it. The
  recipe's other settings did: they come from an earlier version of this
  script that gave 576 of these images to its runs as validation images
  (see the history note under ``CANDIDATES``), and earlier versions of the
  lecture's final procedure were scored on this block before the current
  one, so its test number may be slightly optimistic;
* the **development images** are the lecture's train and validation splits
  together (80 %).

``--compare`` chooses: every candidate recipe (``CANDIDATES``) is scored by
5-fold cross-validation *inside the development images* (trained on four
folds, validated on the fifth, five times). The held-out block is never given
to a model. That is how the recipe's number of epochs was chosen and its
augmentation and label smoothing were checked; its other settings come from
the earlier comparison described under ``CANDIDATES``.

Without ``--compare`` the script runs lecture 07's final procedure: the recipe
(``course_utils.models.RECIPE``) is trained on all development images and
tested once on the held-out block; with seed 0 (and the same number of math
threads) it is the very model the lecture exports. ``--seeds 0,1,2`` repeats
it with other seeds (initial weights, batch order, augmentation) to show how
much one training run varies; nothing is chosen from these numbers. On the
real 5,000-image sample, one thread each: seed 0 95.00 % (as in the
lecture), seed 1 94.50 %, seed 2 95.10 % on the 1,000 held-out images. ``--set num_epochs=2`` (any key of ``RECIPE``,
a Python literal as value) changes the recipe for this run, for example to
try a setting of your own with ``--compare``.
"""
from __future__ import annotations

import argparse
import ast
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from course_utils import load_notmnist, predict, train_val_test_split
from course_utils.models import RECIPE, train_notmnist_model
from course_utils.training import accuracy

#: Lecture 07's split: train, validation, test (the held-out block), and its seed.
LECTURE_FRACTIONS = (0.64, 0.16, 0.2)
LECTURE_SEED = 0
NUM_FOLDS = 5
FOLD_SEED = 0

#: What --compare runs: the recipe and the variants it was chosen over (overrides of RECIPE).
#: Mean validation accuracy over folds of the 4,000 development images of the real 5,000-image
#: sample (each model trained on 3,200 images, validated on 800), measured on 2026-12-06 with one
#: thread per run on a shared, busy machine; only the folds named were run (time). One fold's
#: number moves by about half a point between equally good settings: 25 epochs against 20 is within
#: that noise (it had the higher mean and still fits lecture 07's time, so the recipe uses it);
#: augmentation clearly helps; label smoothing made no measurable difference.
CANDIDATES = {
    "recipe": {},                                           # 25 epochs: 94.38 % (folds 0-3: 94.12, 95.38, 94.12, 93.88)
    "20 epochs": {"num_epochs": 20},                        # 94.22 % (folds 0-3: 93.50, 95.00, 94.38, 94.00)
    "no augmentation at 20 epochs": {"degrees": 0.0, "shift": 0.0, "scale": (1.0, 1.0), "num_epochs": 20},
    #                                                              93.00 % (folds 0-1: 92.12, 93.88; 20 epochs: 94.25)
    "no label smoothing at 20 epochs": {"label_smoothing": 0.0, "num_epochs": 20},
    #                                                              94.25 % (folds 0-1: 94.12, 94.38; 20 epochs: 94.25)
    "batches of 128 at lr 4e-3": {"batch_size": 128, "lr": 4e-3},  # 93.75 % (fold 0 only; recipe: 94.12)
}
# History. An earlier version of this script cut its five folds from all 5,000 images, and its
# --compare split each fold's other four into train and validation: the lecture's test split was
# its fold 4, and 576 of those 1,000 test images served as validation images in the comparison of
# about twenty variants (network width and depth, augmentation strength, dropout, weight decay,
# learning rate, batch size, epochs) that fixed the recipe's other settings. All of those variants
# ended within about a point of each other. That comparison was discarded; the table above is the
# choice made again on the development images only, and the recipe's remaining settings are the
# earlier ones.


def stratified_folds(labels: np.ndarray, num_folds: int = NUM_FOLDS, seed: int = FOLD_SEED) -> list[np.ndarray]:
    """Indices of ``num_folds`` disjoint folds covering all images, each with the same share of every letter."""
    rng = np.random.default_rng(seed)
    folds: list[list[np.ndarray]] = [[] for _ in range(num_folds)]
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        for k, chunk in enumerate(np.array_split(idx[rng.permutation(len(idx))], num_folds)):
            folds[k].append(chunk)
    return [np.sort(np.concatenate(parts)) for parts in folds]


def development_and_held_out(images, labels):
    """``((dev_images, dev_labels), (test_images, test_labels))`` as lecture 07 cuts them.

    The development images are the lecture's training split followed by its
    validation split (the order the lecture's final model is trained in); the
    held-out block is its test split.
    """
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = train_val_test_split(
        images, labels, fractions=LECTURE_FRACTIONS, seed=LECTURE_SEED)
    return (np.concatenate([tr_x, va_x]), np.concatenate([tr_y, va_y])), (te_x, te_y)


def split_fold(images, labels, folds, k):
    """``(train, validation)`` arrays for fold ``k`` of the development images: validation is fold ``k``."""
    rest = np.sort(np.concatenate([f for j, f in enumerate(folds) if j != k]))
    return (images[rest], labels[rest]), (images[folds[k]], labels[folds[k]])


def load(source: str | None):
    if source is None:
        return load_notmnist()
    path = Path(source).expanduser()
    if path.is_dir():
        return load_notmnist(root=path)
    with tempfile.TemporaryDirectory(prefix="notmnist-cv-") as root:  # the images are in memory once loaded
        return load_notmnist(root=root, url=source)


def parse_setting(text: str) -> tuple[str, object]:
    """``"num_epochs=2"`` -> ``("num_epochs", 2)``: a key of RECIPE and a Python literal."""
    key, sep, value = text.partition("=")
    if not sep or key not in RECIPE:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY one of {', '.join(RECIPE)}; got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise argparse.ArgumentTypeError(f"{value!r} is not a Python literal (e.g. 2, 0.1, (16, 32))") from None


def compare(dev, names, folds_to_run, settings):
    """Cross-validate each candidate inside the development images; print and return mean validation accuracy."""
    dev_x, dev_y = dev
    folds = stratified_folds(dev_y)
    scores = {name: [] for name in names}
    for k in folds_to_run:
        (tr_x, tr_y), (va_x, va_y) = split_fold(dev_x, dev_y, folds, k)
        for name in names:
            overrides = {**settings, **CANDIDATES[name]}
            _, history = train_notmnist_model(tr_x, tr_y, va_x, va_y, seed=k, progress=False, **overrides)
            scores[name].append(history["val_acc"][-1])
            print(f"fold {k}: {name:36} validation accuracy {history['val_acc'][-1]:.2%} "
                  f"({len(va_y)} images, trained on {len(tr_y)} in {history['seconds']:.0f} s)", flush=True)
    for name, values in scores.items():
        print(f"{name:36} mean validation accuracy {statistics.mean(values):.2%} "
              f"over folds {','.join(map(str, folds_to_run))}")
    return {name: statistics.mean(values) for name, values in scores.items()}


def final(dev, held_out, seeds, settings):
    """Train the recipe on all development images and test it once on the held-out block, for each seed."""
    (dev_x, dev_y), (te_x, te_y) = dev, held_out
    results = []
    for seed in seeds:
        model, history = train_notmnist_model(dev_x, dev_y, seed=seed, progress=False, **settings)
        test_acc = accuracy(predict(model, te_x), torch.from_numpy(te_y))
        results.append(test_acc)
        se = math.sqrt(test_acc * (1 - test_acc) / len(te_y))
        print(f"seed {seed}: trained on {len(dev_y):,} development images in {history['seconds']:.0f} s; "
              f"held-out test accuracy {test_acc:.2%} ± {se:.2%} ({len(te_y):,} images)", flush=True)
    if len(results) > 1:
        print(f"over seeds {','.join(map(str, seeds))}: mean {statistics.mean(results):.2%}, "
              f"spread (std) {statistics.stdev(results):.2%}, min {min(results):.2%}, max {max(results):.2%}")
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="?", help="archive path or URL, or a folder holding notMNIST_small/")
    parser.add_argument("--compare", action="store_true",
                        help="compare the candidate recipes by cross-validation inside the development images")
    parser.add_argument("--candidates", default=",".join(CANDIDATES),
                        help=f"with --compare: which candidates, comma-separated, of: {', '.join(CANDIDATES)}")
    parser.add_argument("--folds", default=",".join(map(str, range(NUM_FOLDS))),
                        help="with --compare: which folds to run, e.g. 0,1")
    parser.add_argument("--seeds", default="0", help="without --compare: training seeds, e.g. 0,1,2")
    parser.add_argument("--set", type=parse_setting, action="append", default=[], metavar="KEY=VALUE",
                        help="change one recipe setting for this run (repeatable), e.g. --set num_epochs=2")
    args = parser.parse_args(argv)
    settings = dict(args.set)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))

    images, labels, classes = load(args.source)
    dev, held_out = development_and_held_out(images, labels)
    print(f"{len(images):,} images: {len(dev[1]):,} for development, {len(held_out[1]):,} held out "
          f"(lecture 07's test split); torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("recipe:", ", ".join(f"{k}={v}" for k, v in {**RECIPE, **settings}.items()))
    start = time.perf_counter()
    if args.compare:
        names = args.candidates.split(",")
        unknown = set(names) - set(CANDIDATES)
        if unknown:
            parser.error(f"unknown candidate(s) {sorted(unknown)}; choose from {', '.join(CANDIDATES)}")
        compare(dev, names, [int(k) for k in args.folds.split(",")], settings)
    else:
        final(dev, held_out, [int(s) for s in args.seeds.split(",")], settings)
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
