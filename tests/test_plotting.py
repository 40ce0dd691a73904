"""plot_activation, plot_losses, show_images, view_classify, plot_softmax_temperature, plot_loss_by_step:
what they draw, and what they leave alone."""
import os
import subprocess
import sys
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_utils import (plot_activation, plot_loss_by_step, plot_losses, plot_softmax_temperature, show_images,
                          view_classify)

pytestmark = pytest.mark.usefixtures("plot_guard")  # no plt.show(), no rcParams changes (conftest.py)


# ---------------------------------------------------------------- plot_activation


def test_activation_lines_hold_the_function_and_its_autograd_derivative():
    x = torch.linspace(-3, 3, 61)
    ax = plot_activation(torch.tanh, x)
    function, derivative = ax.lines[0], ax.lines[1]
    np.testing.assert_allclose(function.get_xdata(), x.numpy(), atol=1e-7)
    np.testing.assert_allclose(function.get_ydata(), np.tanh(x.numpy()), atol=1e-6)
    np.testing.assert_allclose(derivative.get_ydata(), 1 - np.tanh(x.numpy()) ** 2, atol=1e-6)
    assert [line.get_label() for line in ax.lines[:2]] == ["f(x)", "f'(x)"]


def test_activation_accepts_a_module_and_names_the_plot_after_it():
    ax = plot_activation(torch.nn.ReLU())
    assert ax.get_title() == "ReLU"
    x, slope = ax.lines[1].get_xdata(), ax.lines[1].get_ydata()
    assert np.all(slope[x < 0] == 0) and np.all(slope[x > 0] == 1)


def test_activation_without_a_gradient_path_has_derivative_zero():
    ax = plot_activation(lambda x: (x > 0).to(x.dtype), name="threshold")
    assert ax.get_title() == "threshold"
    assert np.all(ax.lines[1].get_ydata() == 0)


def test_activation_draws_into_the_given_axes_and_leaves_x_untouched():
    x = torch.linspace(-2, 2, 11)
    before = x.clone()
    fig, axes = plt.subplots(1, 2)
    figures = plt.get_fignums()
    returned = plot_activation(torch.sigmoid, x, ax=axes[1])
    assert returned is axes[1] and len(axes[1].lines) >= 2 and not axes[0].lines
    assert plt.get_fignums() == figures
    assert torch.equal(x, before) and not x.requires_grad and x.grad is None


def test_activation_rejects_a_function_that_is_not_elementwise():
    with pytest.raises(ValueError, match="elementwise"):
        plot_activation(lambda x: torch.softmax(x, 0).sum(0, keepdim=True))


# ---------------------------------------------------------------- plot_losses


def test_losses_lines_hold_the_history_per_epoch():
    history = {"train_loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.8, 0.7]}
    ax = plot_losses(history)
    assert isinstance(ax, plt.Axes)
    assert [line.get_label() for line in ax.lines] == ["train_loss", "val_loss"]
    for line, key in zip(ax.lines, history):
        np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
        np.testing.assert_array_equal(line.get_ydata(), history[key])
    assert ax.get_xlabel() == "epoch"


def test_losses_with_accuracy_returns_a_figure_with_a_second_axes():
    history = {"train_loss": [1.0, 0.5], "val_loss": [1.2, 0.9], "train_acc": [0.5, 0.8], "val_acc": [0.4, 0.7]}
    fig = plot_losses(history)
    assert isinstance(fig, plt.Figure)
    ax_loss, ax_acc = fig.axes
    assert [line.get_label() for line in ax_loss.lines] == ["train_loss", "val_loss"]
    assert [line.get_label() for line in ax_acc.lines] == ["train_acc", "val_acc"]
    np.testing.assert_array_equal(ax_acc.lines[1].get_ydata(), [0.4, 0.7])


def test_losses_honour_given_axes_and_accept_tensors():
    fig, (a, b) = plt.subplots(1, 2)
    history = {"train_loss": torch.tensor([0.9, 0.3]), "train_accuracy": [0.1, 0.9], "lr": [0.1, 0.1]}
    assert plot_losses(history, ax=(a, b)) is fig
    assert len(a.lines) == 1 and len(b.lines) == 1  # "lr" is not a loss or an accuracy
    _, single = plt.subplots()
    assert plot_losses({"train_loss": [3, 2, 1]}, ax=single) is single


def test_losses_without_a_loss_key_is_an_error_naming_the_keys():
    with pytest.raises(ValueError, match="train_acc"):
        plot_losses({"train_acc": [0.5]})


# ---------------------------------------------------------------- show_images


@pytest.mark.parametrize("shape", [(5, 28, 28), (5, 1, 28, 28)])
def test_show_images_draws_each_grayscale_image_with_its_class_name(shape):
    torch.manual_seed(0)
    images = torch.randn(shape)  # normalised images have negative values
    before = images.clone()
    fig = show_images(images, torch.tensor([0, 1, 2, 3, 4]), ncols=3, classes=list("ABCDE"))
    assert torch.equal(images, before)
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 6 and len(drawn) == 5  # 2 rows of 3, the last one hidden
    assert [ax.get_title() for ax in drawn] == list("ABCDE")
    for ax, image in zip(drawn, images):
        np.testing.assert_allclose(ax.images[0].get_array(), image.reshape(28, 28).numpy(), atol=1e-6)


def test_show_images_takes_string_labels_numpy_colour_images_and_given_axes():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 3, 8, 8))  # channels first, outside [0, 1]
    fig, axes = plt.subplots(1, 3)
    assert show_images(images, ["cat", "dog"], axes=axes) is fig
    shown = axes[0].images[0].get_array()
    assert shown.shape == (8, 8, 3) and shown.min() >= 0 and shown.max() <= 1
    assert axes[1].get_title() == "dog" and not axes[2].axison


def test_show_images_rejects_mismatched_labels_and_shapes():
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        show_images(torch.zeros(3, 4, 4), [0, 1])
    with pytest.raises(ValueError, match="not understood"):
        show_images(torch.zeros(2, 5, 4, 4))


# ---------------------------------------------------------------- view_classify


def test_view_classify_bars_are_the_probabilities_in_class_order():
    probs = torch.tensor([[0.1, 0.7, 0.2]])
    image = torch.rand(1, 28, 28)
    before = image.clone()
    fig = view_classify(image, probs, ["A", "B", "C"])
    ax_image, ax_bars = fig.axes
    assert len(ax_image.images) == 1
    np.testing.assert_allclose([bar.get_width() for bar in ax_bars.patches], [0.1, 0.7, 0.2], atol=1e-6)
    assert [tick.get_text() for tick in ax_bars.get_yticklabels()] == ["A", "B", "C"]
    assert "B" in ax_bars.get_title()
    assert torch.equal(image, before)


def test_view_classify_refuses_logits_with_a_hint():
    with pytest.raises(ValueError, match="softmax"):
        view_classify(torch.zeros(28, 28), torch.tensor([2.0, -1.0, 0.5]))


def test_view_classify_draws_into_a_given_pair_of_axes():
    fig, axes = plt.subplots(1, 2)
    assert view_classify(np.zeros((8, 8)), np.array([0.5, 0.5]), ax=axes) is fig
    assert axes[0].images and len(axes[1].patches) == 2


# ---------------------------------------------------------------- plot_softmax_temperature


def test_softmax_temperature_lines_are_the_class_probabilities_at_each_temperature():
    logits = torch.tensor([2.0, 1.0, 0.1])
    temperatures = np.array([0.1, 0.5, 1.0, 2.0, 10.0])
    ax = plot_softmax_temperature(logits, temperatures, class_names=["A", "B", "C"])
    classes = ax.lines[:3]
    assert [line.get_label() for line in classes] == ["A", "B", "C"]
    expected = torch.softmax(logits[None, :] / torch.tensor(temperatures)[:, None].float(), dim=1).numpy()
    for k, line in enumerate(classes):
        np.testing.assert_allclose(line.get_xdata(), temperatures)
        np.testing.assert_allclose(line.get_ydata(), expected[:, k], atol=1e-6)
    np.testing.assert_allclose(sum(line.get_ydata() for line in classes), 1.0, atol=1e-9)
    assert ax.get_xscale() == "log"


def test_softmax_temperature_default_range_goes_from_almost_one_hot_to_almost_uniform():
    ax = plot_softmax_temperature([3.0, 0.0, -1.0, 0.5])
    top = ax.lines[0].get_ydata()
    assert top[0] > 0.99 and abs(top[-1] - 1 / 4) < 0.02
    (uniform,) = [line for line in ax.lines if line.get_label() == "uniform 1/4"]
    np.testing.assert_allclose(uniform.get_ydata(), 0.25)


def test_softmax_temperature_draws_into_the_given_axes_and_leaves_the_logits_alone():
    logits = torch.tensor([1.0, -1.0], requires_grad=True)
    before = logits.detach().clone()
    fig, axes = plt.subplots(1, 2)
    figures = plt.get_fignums()
    assert plot_softmax_temperature(logits, ax=axes[0]) is axes[0]
    assert axes[0].lines and not axes[1].lines and plt.get_fignums() == figures
    assert torch.equal(logits.detach(), before) and logits.grad is None


def test_softmax_temperature_rejects_bad_inputs_with_what_was_expected():
    with pytest.raises(ValueError, match="1-D"):
        plot_softmax_temperature(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="positive values in increasing order"):
        plot_softmax_temperature([1.0, 2.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="class names"):
        plot_softmax_temperature([1.0, 2.0], class_names=["only one"])


# ---------------------------------------------------------------- plot_loss_by_step


def test_loss_by_step_draws_one_line_per_run_from_step_zero():
    runs = {"GD": [4.0, 2.0, 1.0, 0.5], "Adam": torch.tensor([4.0, 1.0, 0.1])}
    ax = plot_loss_by_step(runs, title="Rosenbrock")
    assert [line.get_label() for line in ax.lines] == ["GD", "Adam"]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [0, 1, 2, 3])
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [4.0, 1.0, 0.1], rtol=1e-6)
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "step" and ax.get_title() == "Rosenbrock"


def test_loss_by_step_leaves_out_values_a_log_axis_cannot_show():
    ax = plot_loss_by_step({"diverged": [1.0, 10.0, float("inf"), float("nan")], "exact": [1.0, 0.0]})
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [0, 1])
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), [0])
    linear = plot_loss_by_step({"exact": [1.0, 0.0]}, log_scale=False)
    assert linear.get_yscale() == "linear" and len(linear.lines[0].get_xdata()) == 2


def test_loss_by_step_honours_ax_and_refuses_nothing_to_draw():
    fig, axes = plt.subplots(1, 2)
    assert plot_loss_by_step({"a": [1.0, 0.5]}, ax=axes[1]) is axes[1]
    assert not axes[0].lines
    with pytest.raises(ValueError, match="empty"):
        plot_loss_by_step({})


# ---------------------------------------------------------------- headless


def test_every_helper_renders_headless_with_agg(tmp_path):
    """Do the helpers (these and plot_trajectory) draw and save with no display at all, on the Agg backend?

    One fresh interpreter for all of them: starting one (torch, matplotlib) is most of the test's time.
    """
    script = textwrap.dedent(
        f"""
        import matplotlib, torch
        from course_utils import (plot_activation, plot_loss_by_step, plot_losses, plot_softmax_temperature,
                                  plot_trajectory, show_images, view_classify)
        assert matplotlib.get_backend().lower() == "agg"
        plot_activation(torch.nn.functional.gelu).figure.savefig({str(tmp_path / "a.png")!r})
        plot_losses({{"train_loss": [1, 0.5], "val_acc": [0.2, 0.4]}}).savefig({str(tmp_path / "b.png")!r})
        show_images(torch.rand(3, 1, 8, 8), [0, 1, 2]).savefig({str(tmp_path / "c.png")!r})
        view_classify(torch.rand(8, 8), torch.tensor([0.25, 0.75])).savefig({str(tmp_path / "d.png")!r})
        plot_softmax_temperature([2.0, 1.0, 0.1]).figure.savefig({str(tmp_path / "e.png")!r})
        plot_loss_by_step({{"GD": [1.0, 0.5, 0.2]}}).figure.savefig({str(tmp_path / "f.png")!r})
        X = torch.randn(50, 2); w = torch.tensor([1.0, -1.0]); y = X @ w
        plot_trajectory([torch.zeros(2), w / 2, w], w, X, y).figure.savefig({str(tmp_path / "g.png")!r})
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for name in "abcdefg":
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
