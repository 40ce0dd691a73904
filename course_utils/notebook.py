"""Making matplotlib output stable and headless-safe for stored notebook outputs."""
from __future__ import annotations

import os
import sys

import matplotlib

# Settings that make a figure render the same way on every machine: a fixed
# size and resolution, the DejaVu fonts that ship with matplotlib, and SVG
# output without random ids.
STABLE_RCPARAMS = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "font.family": ["DejaVu Sans"],
    "font.size": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.hashsalt": "course",
    "svg.fonttype": "path",
    "figure.max_open_warning": 0,
}


def _has_display() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def configure_plots() -> None:
    """Call once at the top of a notebook or script before plotting.

    * Inside Jupyter the inline backend is kept and emits PNG only, so a
      stored output never depends on the machine's SVG or font details.
    * Outside Jupyter with no display (CI, ssh), the non-interactive ``Agg``
      backend is selected so plotting never tries to open a window.
    * ``STABLE_RCPARAMS`` are applied (fixed size, dpi and fonts).
    """
    backend = matplotlib.get_backend().lower()
    inline = "inline" in backend
    if not inline and not _has_display():
        matplotlib.use("Agg", force=True)
    matplotlib.rcParams.update(STABLE_RCPARAMS)
    if inline:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
