"""What a student sees in JupyterLab (``make lab``): every lecture run in the browser.

Expectations come from each notebook as it is stored in the repository (its
figures and progress bars), so the tests follow the lectures as they change.
The lectures are opened one after another in one JupyterLab window, as a
student works through them (``lab_window``: each gets a kernel of its own).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab_pages import ROOT, cells_on_screen, image_outputs, run_all_cells, stored_cells, widget_outputs

LECTURES = sorted(path.name for path in (ROOT / "lectures").glob("*.ipynb"))
# tqdm's text bar, e.g. " 40%|████      | 2/5 [00:01<00:01, 2.0it/s]"
TEXT_PROGRESS_BAR = re.compile(r"\d+%\|.*\|\s*\d+/\d+")


@pytest.mark.parametrize("lecture", LECTURES)
def test_lecture_runs_in_jupyterlab_as_stored(lecture, lab_window, shots):
    """Does the lecture run top to bottom in JupyterLab without an error, showing every
    figure its stored version has as an image and its progress bars as widgets?"""
    page = lab_window.open(f"lectures/{lecture}")
    shots(page, "opened")
    state = run_all_cells(page, timeout_ms=240_000)
    shots(page, "ran-all")
    on_screen = cells_on_screen(page)
    errors = [(index, output.get("ename"), output.get("evalue"))
              for index, cell in enumerate(on_screen) if cell
              for output in cell["outputs"] if output["output_type"] == "error"]
    assert state == "done" and not errors, f"{lecture}: cells failed in the browser: {errors}"

    stored = stored_cells(ROOT / "lectures" / lecture)
    assert len(stored) == len(on_screen), f"{lecture} changed on disk while the test ran"
    for index, (cell, shown) in enumerate(zip(stored, on_screen)):
        if cell["cell_type"] != "code":
            continue
        figures = image_outputs(cell.get("outputs", []))
        assert shown["imagesLoaded"] == shown["images"] == figures, (
            f"{lecture} cell {index}: stored with {figures} figure(s), "
            f"the page shows {shown['images']} image(s), {shown['imagesLoaded']} loaded")
        bars = widget_outputs(cell.get("outputs", []))
        if bars:
            assert shown["progressWidgets"] >= bars, (
                f"{lecture} cell {index}: stored with {bars} progress bar(s), the page renders "
                f"{shown['progressWidgets']} progress widget(s)")
        raw_bars = TEXT_PROGRESS_BAR.findall(shown["text"])
        assert not raw_bars, f"{lecture} cell {index}: progress bar shown as raw text: {raw_bars[:2]}"
    if any(image_outputs(cell.get("outputs", [])) for cell in stored):
        page.locator(".jp-OutputArea-output img").last.scroll_into_view_if_needed()
        shots(page, "last-figure")
