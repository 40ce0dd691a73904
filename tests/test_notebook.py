"""configure_plots: stable settings, and never a window without a display."""
import matplotlib
import matplotlib.pyplot as plt

from course_utils import configure_plots
from course_utils.notebook import STABLE_RCPARAMS


def test_applies_the_stable_settings():
    with matplotlib.rc_context():
        configure_plots()
        for key, value in STABLE_RCPARAMS.items():
            expected = list(value) if isinstance(value, (list, tuple)) else value
            got = matplotlib.rcParams[key]
            assert (list(got) if isinstance(got, (list, tuple)) else got) == expected, key


def test_selects_agg_without_a_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with matplotlib.rc_context():
        configure_plots()
        assert matplotlib.get_backend().lower() == "agg"
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        fig.canvas.draw()  # renders off-screen without error
        plt.close(fig)


def test_same_figure_renders_to_identical_svg_twice(tmp_path):
    with matplotlib.rc_context():
        configure_plots()
        outputs = []
        for name in ("a.svg", "b.svg"):
            fig, ax = plt.subplots()
            ax.plot([0, 1, 2], [2, 0, 1], label="line")
            ax.legend()
            fig.savefig(tmp_path / name, metadata={"Date": None})
            plt.close(fig)
            outputs.append((tmp_path / name).read_bytes())
        assert outputs[0] == outputs[1]
