"""plot_trajectory / plot_trajectories: the path, its markers, and a surface whose minimum is the optimum.

That it draws with no display, on Agg, is checked with the other helpers in one fresh interpreter
(test_plotting.py, test_every_helper_renders_headless_with_agg).
"""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_utils import plot_trajectories, plot_trajectory
from course_utils.trajectory import linear_regression_mse

pytestmark = pytest.mark.usefixtures("plot_guard")  # no plt.show(), no rcParams changes (conftest.py)


@pytest.fixture
def regression():
    """A noisy two-feature regression and a gradient-descent path on its MSE."""
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(200, 2, generator=generator) * torch.tensor([1.0, 2.0])
    w_true = torch.tensor([2.0, -1.0])
    y = X @ w_true + 0.5 * torch.randn(200, generator=generator)
    w = torch.tensor([-1.0, 2.0])
    weights = [w.clone()]
    for _ in range(30):
        w = w - 0.05 * 2 * X.T @ (X @ w - y) / len(X)
        weights.append(w.clone())
    return X, y, w_true, weights


def lines_labelled(ax, label):
    return [line for line in ax.lines if line.get_label() == label]


def marker_position(ax, marker):
    (line,) = [line for line in ax.lines if line.get_marker() == marker]
    return np.array([line.get_xdata()[0], line.get_ydata()[0]])


def test_mse_surface_equals_the_mean_squared_error(regression):
    X, y, w_true, _ = regression
    mse = linear_regression_mse(X, y)
    ws = torch.randn(4, 3, 2, dtype=torch.float64)
    expected = ((ws.reshape(-1, 2) @ X.double().T - y.double()) ** 2).mean(dim=1).reshape(4, 3)
    torch.testing.assert_close(mse(ws), expected)


def test_path_line_holds_the_weights_with_start_and_end_markers(regression):
    X, y, w_true, weights = regression
    ax = plot_trajectory(weights, w_true, X, y, title="GD")
    (path,) = lines_labelled(ax, "path")
    expected = torch.stack(weights).numpy()
    np.testing.assert_allclose(np.column_stack([path.get_xdata(), path.get_ydata()]), expected, atol=1e-6)
    np.testing.assert_allclose(marker_position(ax, "o"), expected[0], atol=1e-6)
    np.testing.assert_allclose(marker_position(ax, "s"), expected[-1], atol=1e-6)
    np.testing.assert_allclose(marker_position(ax, "x"), w_true.numpy(), atol=1e-6)
    assert ax.get_title() == "GD"


def test_star_is_the_least_squares_minimum_and_the_lowest_contour_encloses_it(regression):
    X, y, w_true, weights = regression
    ax = plot_trajectory(weights, w_true, X, y)
    least_squares = torch.linalg.lstsq(X.double(), y.double().unsqueeze(1)).solution.reshape(2).numpy()
    star = marker_position(ax, "*")
    np.testing.assert_allclose(star, least_squares, atol=1e-9)
    (contours,) = [c for c in ax.collections if hasattr(c, "levels")]
    lowest = next(path for path in contours.get_paths() if len(path.vertices))  # lowest level drawn
    assert lowest.contains_point(star)
    assert not lowest.contains_point(torch.stack(weights)[0].numpy())


def test_default_levels_crowd_towards_the_optimum_and_given_levels_are_kept(regression):
    X, y, w_true, weights = regression
    (contours,) = [c for c in plot_trajectory(weights, w_true, X, y).collections if hasattr(c, "levels")]
    gaps = np.diff(contours.levels)
    assert np.all(gaps > 0) and gaps[0] < gaps[-1] / 10  # finer near the minimum, where paths end
    ax = plot_trajectory(weights, w_true, X, y, levels=[1.0, 2.0, 4.0])
    (contours,) = [c for c in ax.collections if hasattr(c, "levels")]
    np.testing.assert_array_equal(contours.levels, [1.0, 2.0, 4.0])


def test_accepts_per_step_weights_shaped_like_an_nn_linear_weight(regression):
    X, y, w_true, weights = regression
    as_linear = [w.reshape(1, 2) for w in weights]
    ax = plot_trajectory(as_linear, w_true, X, y)
    (path,) = lines_labelled(ax, "path")
    assert len(path.get_xdata()) == len(weights)


def test_honours_the_given_axes_and_leaves_the_inputs_unchanged(regression):
    X, y, w_true, weights = regression
    X.requires_grad_(True)
    snapshot = [t.detach().clone() for t in (X, y, w_true, *weights)]
    fig, axes = plt.subplots(1, 2)
    figures = plt.get_fignums()
    assert plot_trajectory(weights, w_true, X, y, ax=axes[1]) is axes[1]
    assert not axes[0].lines and axes[1].lines
    assert plt.get_fignums() == figures
    for before, after in zip(snapshot, (X, y, w_true, *weights)):
        assert torch.equal(before, after.detach())
    assert X.grad is None


def rosenbrock(w):
    return (1 - w[..., 0]) ** 2 + 100 * (w[..., 1] - w[..., 0] ** 2) ** 2


def test_several_paths_get_one_colour_each_and_their_own_markers():
    paths = {"slow": np.array([[-1.5, 2.0], [-1.0, 1.0], [0.0, 0.0]]), "fast": np.array([[1.5, -0.5], [1.0, 1.0]])}
    ax = plot_trajectories(paths, rosenbrock, optimum=(1, 1), levels=np.logspace(-1, 3, 15), title="Rosenbrock")
    for name, path in paths.items():
        (line,) = lines_labelled(ax, name)
        np.testing.assert_array_equal(line.get_xdata(), path[:, 0])
        (start,) = [m for m in lines_labelled(ax, "_start") if m.get_color() == line.get_color()]
        (end,) = [m for m in lines_labelled(ax, "_end") if m.get_color() == line.get_color()]
        assert (start.get_xdata()[0], end.get_xdata()[0]) == (path[0, 0], path[-1, 0])
    slow, fast = (lines_labelled(ax, name)[0].get_color() for name in paths)
    assert slow != fast
    np.testing.assert_array_equal(marker_position(ax, "*"), [1, 1])
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["slow", "fast", "optimum"]


def test_window_covers_every_finite_point_unless_limits_are_given():
    diverging = np.array([[0.0, 0.0], [3.0, -2.0], [np.inf, np.nan]])
    ax = plot_trajectories({"lr too big": diverging}, lambda w: (w**2).sum(-1))
    (left, right), (bottom, top) = ax.get_xlim(), ax.get_ylim()
    assert left < 0 < 3 < right and bottom < -2 < 0 < top
    ax = plot_trajectories({"lr too big": diverging}, lambda w: (w**2).sum(-1), xlim=(-1, 1), ylim=(-2, 2))
    assert ax.get_xlim() == (-1, 1) and ax.get_ylim() == (-2, 2)


def test_bad_inputs_are_errors_that_say_what_was_expected():
    with pytest.raises(ValueError, match="T×2"):
        plot_trajectories({"a": np.zeros((4, 3))}, rosenbrock)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        plot_trajectories({"a": np.zeros((4, 2))}, lambda w: w)
    with pytest.raises(ValueError, match="N×2"):
        linear_regression_mse(torch.zeros(5, 3), torch.zeros(5))
