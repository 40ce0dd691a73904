"""Helpers that the course's lecture and homework notebooks import.

Everything a notebook needs is importable from the package itself, e.g.
``from course_utils import seed_everything, get_device, plot_trajectory``.
Sub-modules are imported on first use, so ``import course_utils`` stays fast
(a grading kernel that needs one function does not pay for matplotlib).

=================  =========================================================
module             job
=================  =========================================================
reproducibility    ``seed_everything``
device             ``get_device``
budget             ``budget``, ``is_quick_run`` (the ``COURSE_QUICK_RUN`` switch)
notebook           ``configure_plots`` (stable, headless-safe matplotlib)
gradients          ``numerical_gradient`` (finite-difference gradient checks)
plotting           ``plot_activation``, ``plot_losses``, ``show_images``, ``view_classify``,
                   ``plot_softmax_temperature``, ``plot_loss_by_step``
trajectory         ``plot_trajectory``, ``plot_trajectories``
tensor_pictures    ``draw_strides``, ``draw_broadcast`` (lecture 1's pictures of memory)
graph_drawing      ``draw_grad_fn_graph``, ``draw_two_layer_pass`` (computation graphs, lectures 2-3)
data               notMNIST: ``download_notmnist``, ``load_notmnist``, ``NotMNIST``, ...
synthetic          ``make_synthetic_notmnist`` (generated data for tests and offline CI)
toy_datasets       ``SquaresDataset`` (a ``Dataset`` that DataLoader workers can import)
models             ``NotMNISTNet``, ``build_notmnist_model``, ``notmnist_augmentation``, ``random_affine``,
                   ``train_notmnist_model`` (lecture 07's recipe), ``export_model``, ``load_exported_model``
training           ``fit``, ``evaluate``, ``predict``, ``accuracy``, ``confusion_matrix``, ``most_confused``
selfcheck          ``Verdict``, ``self_check`` (the exercises' self-checks, in ``course_utils.exercises``)
letters            ``make_letters``, ``write_letter_folders`` (generated letters A-J, lecture 08)
diagnostics        ``layer_table``, ``lr_range_test`` (reading a model, the learning-rate range test)
=================  =========================================================
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "seed_everything": "reproducibility",
    "get_device": "device",
    "budget": "budget",
    "is_quick_run": "budget",
    "configure_plots": "notebook",
    "numerical_gradient": "gradients",
    "plot_activation": "plotting",
    "plot_losses": "plotting",
    "show_images": "plotting",
    "view_classify": "plotting",
    "plot_softmax_temperature": "plotting",
    "plot_loss_by_step": "plotting",
    "plot_trajectory": "trajectory",
    "plot_trajectories": "trajectory",
    "draw_strides": "tensor_pictures",
    "draw_broadcast": "tensor_pictures",
    "draw_grad_fn_graph": "graph_drawing",
    "draw_two_layer_pass": "graph_drawing",
    "download_notmnist": "data",
    "load_notmnist": "data",
    "train_val_test_split": "data",
    "NotMNIST": "data",
    "make_synthetic_notmnist": "synthetic",
    "SquaresDataset": "toy_datasets",
    "NotMNISTNet": "models",
    "build_notmnist_model": "models",
    "notmnist_augmentation": "models",
    "random_affine": "models",
    "train_notmnist_model": "models",
    "export_model": "models",
    "load_exported_model": "models",
    "default_artifacts_dir": "models",
    "fit": "training",
    "evaluate": "training",
    "predict": "training",
    "accuracy": "training",
    "confusion_matrix": "training",
    "most_confused": "training",
    "make_letters": "letters",
    "write_letter_folders": "letters",
    "layer_table": "diagnostics",
    "lr_range_test": "diagnostics",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'course_utils' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(__all__)
