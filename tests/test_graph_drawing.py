"""grad_fn_graph, draw_grad_fn_graph, draw_two_layer_pass: what they read and draw, and what they leave alone."""
import matplotlib.pyplot as plt
import pytest
import torch

from course_utils.graph_drawing import (
    TWO_LAYER_STEPS, draw_grad_fn_graph, draw_two_layer_pass, grad_fn_graph, two_layer_shapes,
)

pytestmark = pytest.mark.usefixtures("plot_guard")  # no plt.show(), no rcParams changes


def _boxes(ax):
    """The node boxes (arrows are annotations with no box)."""
    return [t for t in ax.texts if t.get_bbox_patch() is not None]


def _expression():
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, -1.0], requires_grad=True)
    return a, b, (a * b + a.sin()).sum()


def test_graph_lists_each_node_once_with_named_leaves():
    a, b, loss = _expression()
    labels, edges = grad_fn_graph(loss, {"a": a, "b": b})
    assert labels == ["SumBackward0", "AddBackward0", "MulBackward0", "AccumulateGrad: a (2,)",
                      "AccumulateGrad: b (2,)", "SinBackward0"]
    assert sorted(edges) == [(0, 1), (1, 2), (1, 5), (2, 3), (2, 4), (5, 3)]  # a's leaf reached twice


def test_graph_leaves_out_constants_and_names_unnamed_leaves_leaf():
    x = torch.ones(3, requires_grad=True)
    labels, edges = grad_fn_graph((x * torch.full((3,), 2.0)).sum())
    assert labels == ["SumBackward0", "MulBackward0", "AccumulateGrad: leaf (3,)"]
    assert sorted(edges) == [(0, 1), (1, 2)]


def test_graph_of_a_tensor_without_grad_fn_is_an_error_that_says_why():
    with pytest.raises(ValueError, match="requires_grad=True"):
        grad_fn_graph(torch.ones(2, requires_grad=True))


def test_drawing_has_one_box_per_node_one_arrow_per_edge_and_the_output_on_top():
    a, b, loss = _expression()
    ax = draw_grad_fn_graph(loss, {"a": a, "b": b})
    boxes = _boxes(ax)
    arrows = [child for child in ax.get_children() if type(child).__name__ == "Annotation" and child not in boxes]
    assert sorted(t.get_text() for t in boxes) == sorted(grad_fn_graph(loss, {"a": a, "b": b})[0])
    assert len(arrows) == 6
    heights = {t.get_text(): t.get_position()[1] for t in boxes}
    assert heights["SumBackward0"] == max(heights.values())
    assert heights["AccumulateGrad: a (2,)"] < heights["SinBackward0"] < heights["AddBackward0"]


def test_drawing_uses_the_given_axes_and_leaves_the_graph_usable():
    a, b, loss = _expression()
    fig, (left, right) = plt.subplots(1, 2)
    figures = plt.get_fignums()
    assert draw_grad_fn_graph(loss, ax=right) is right and not left.texts
    assert plt.get_fignums() == figures
    loss.backward()  # drawing did not free or change the graph
    assert torch.allclose(a.grad, b.detach() + a.detach().cos())


def test_shapes_of_the_two_layer_net_and_its_gradients():
    shapes = two_layer_shapes(N=6, D=5, H=4, K=3)
    assert shapes["T"] == shapes["A"] == shapes["dT"] == (6, 4)
    assert shapes["dW1"] == shapes["W1"] == (5, 4) and shapes["dW2"] == (4, 3) and shapes["L"] == ()


@pytest.mark.parametrize("step", range(len(TWO_LAYER_STEPS)))
def test_each_step_is_titled_with_its_formula_and_marks_what_it_computes(step):
    ax = draw_two_layer_pass(step)
    name, formula, _ = TWO_LAYER_STEPS[step]
    assert ax.get_title() == formula
    red = [t for t in _boxes(ax) if t.get_bbox_patch().get_linewidth() > 2]
    assert len(red) == 1
    expected = f"dL/d{name[1:]}" if step >= 4 else name
    assert red[0].get_text().split("\n")[0] == expected
    gradients = [t for t in ax.texts if t.get_text().startswith("dL/d")]
    assert len(gradients) == max(0, step - 3)


def test_forward_steps_fill_the_computed_tensors_in_order():
    filled = []
    for step in range(4):
        ax = draw_two_layer_pass(step)
        filled.append({t.get_text().split("\n")[0] for t in _boxes(ax)
                       if t.get_bbox_patch().get_facecolor()[:3] != (1.0, 1.0, 1.0)})
    assert filled[0] == {"X", "W1", "W2", "Y", "T"} and filled[3] == filled[2] | {"L"}


def test_boxes_carry_the_shapes_given():
    ax = draw_two_layer_pass(0, N=64, D=784, H=100, K=10)
    assert "X\n(64, 784)" in [t.get_text() for t in ax.texts]


def test_a_step_out_of_range_is_an_error_naming_the_range():
    with pytest.raises(ValueError, match="0 to 8"):
        draw_two_layer_pass(9)
