"""draw_strides, draw_broadcast, memory_positions: what they draw, and what they leave alone."""
import matplotlib.pyplot as plt
import pytest
import torch

from course_utils.tensor_pictures import REPEATED_ALPHA, draw_broadcast, draw_strides, memory_positions

pytestmark = pytest.mark.usefixtures("plot_guard")


def _boxes(ax):
    return [t for t in ax.texts if t.get_bbox_patch() is not None]


@pytest.mark.parametrize("make", [lambda: torch.arange(6).reshape(2, 3),
                                  lambda: torch.arange(6).reshape(2, 3).t(),
                                  lambda: torch.arange(24).reshape(2, 3, 4).permute(2, 0, 1),
                                  lambda: torch.arange(10)[2::3]])
def test_memory_positions_are_where_the_values_live(make):
    t = make()
    flat = t.as_strided((t.untyped_storage().nbytes() // t.element_size(),), (1,), 0)
    assert torch.equal(flat[memory_positions(t)], t)


def test_strides_picture_labels_each_cell_with_its_memory_position():
    x = torch.arange(6).reshape(2, 3)
    ax = draw_strides(x.t())
    boxes = _boxes(ax)
    assert len(boxes) == 6 + 6                      # the 3x2 grid, then the 6 elements of memory
    grid = [b.get_text() for b in boxes[:6]]
    assert grid == ["0\n@0", "3\n@3", "1\n@1", "4\n@4", "2\n@2", "5\n@5"]   # row by row
    assert [b.get_text() for b in boxes[6:]] == [f"{k}\n@{k}" for k in range(6)]
    assert "stride (1, 3)" in ax.get_title()


def test_strides_picture_shares_colours_between_a_cell_and_its_memory():
    ax = draw_strides(torch.arange(6.0).reshape(2, 3).t())
    boxes = _boxes(ax)
    colour_of_memory = {b.get_text().split("@")[1]: b.get_bbox_patch().get_facecolor() for b in boxes[6:]}
    for b in boxes[:6]:
        assert b.get_bbox_patch().get_facecolor() == colour_of_memory[b.get_text().split("@")[1]]


def test_strides_picture_shows_the_offset_of_a_slice_and_leaves_the_tensor_alone():
    base = torch.arange(8)
    view = base[3:6]
    fig, (unused, ax) = plt.subplots(1, 2)
    assert draw_strides(view, ax=ax) is ax and not unused.texts
    assert [b.get_text() for b in _boxes(ax)[:3]] == ["3\n@3", "4\n@4", "5\n@5"]
    assert "offset 3" in ax.get_title() and torch.equal(base, torch.arange(8))


def test_strides_picture_refuses_three_dimensions_with_a_hint():
    with pytest.raises(ValueError, match="slice"):
        draw_strides(torch.zeros(2, 2, 2))


def test_broadcast_picture_fades_exactly_the_repeated_cells():
    a = torch.arange(3).reshape(3, 1)
    b = torch.arange(4) * 10
    ax = draw_broadcast(a, b)
    boxes = _boxes(ax)[:36]                          # a, b, a + b, each drawn at 3 x 4
    faded = [box.get_bbox_patch().get_alpha() == REPEATED_ALPHA for box in boxes]
    assert sum(faded[:12]) == 9 and sum(faded[12:24]) == 8 and sum(faded[24:]) == 0
    assert [box.get_text() for box in boxes[24:28]] == ["0", "10", "20", "30"]
    assert [box.get_text() for box in boxes[28:32]] == ["1", "11", "21", "31"]
    captions = [t.get_text() for t in ax.texts[36:]]
    assert captions == ["a\nshape (3, 1)", "b\nshape (4,)", "a + b\nshape (3, 4)"]


def test_broadcast_picture_of_shapes_that_do_not_broadcast_is_an_error():
    with pytest.raises(ValueError, match="do not broadcast"):
        draw_broadcast(torch.zeros(2, 3), torch.zeros(2))


def test_broadcast_picture_draws_into_the_given_axes_without_new_figures():
    fig, ax = plt.subplots()
    figures = plt.get_fignums()
    assert draw_broadcast(torch.ones(2, 1), torch.ones(1, 2), ax=ax) is ax
    assert plt.get_fignums() == figures
