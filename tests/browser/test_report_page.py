"""The instructor's report of a graded batch, opened from JupyterLab's file browser as ``make lab`` serves it.

A generated graded batch (tests/grading/generated_class.py) is written into
the served course copy and reported; the page is opened in JupyterLab's HTML
viewer, every figure must render, and a link to a graded notebook must open it.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "grading"))

import generated_class  # noqa: E402
from course_utils.grading.report import write_report  # noqa: E402

ASSIGNMENT = "tanh"
FIGURES = """() => {
    const frame = document.querySelector('.jp-HTMLViewer iframe');
    const doc = frame && frame.contentDocument;
    if (!doc || doc.readyState !== 'complete' || doc.images.length === 0) return null;
    const images = [...doc.images];
    if (!images.every(image => image.complete)) return null;
    return images.map(image => ({alt: image.alt, width: image.naturalWidth, height: image.naturalHeight}));
}"""


def test_the_report_opens_in_jupyterlab_with_every_figure(lab_server, lab_window, shots):
    """Opened from the file browser (assignments/reports/), does the page show every figure (naturalWidth > 0),
    and does its link to a graded notebook open that notebook?"""
    course = lab_server.root / "assignments"
    notebooks, planted = generated_class.make_class(ASSIGNMENT, independent=10, copies=2, seed=2)
    generated_class.grade_class(course, ASSIGNMENT, notebooks, seed=2, statuses={"tanh_s001": "timeout"})
    write_report(course, ASSIGNMENT)

    page = lab_window.open(f"assignments/reports/{ASSIGNMENT}.html")
    page.wait_for_function(FIGURES, timeout=60_000)
    figures = page.evaluate(FIGURES)
    shots(page, "report-opened")
    assert len(figures) == 3 and all(figure["width"] > 0 and figure["height"] > 0 for figure in figures), figures

    frame = page.frame_locator(".jp-HTMLViewer iframe")
    frame.locator("#similarity").scroll_into_view_if_needed()
    shots(page, "similar-pairs")
    link = frame.locator("a[href*='nbconvert/html/']").first
    url = link.evaluate("a => a.href")  # resolved as the viewer resolves it (its <base> is the file's URL)
    answer = page.request.get(url)
    assert answer.status == 200 and "tanh_forward" in answer.text(), url
    link.click()  # the viewer's iframe goes to the notebook, rendered by the Jupyter server
    for _ in range(120):
        frames = [frame for frame in page.frames if "nbconvert/html/" in frame.url]
        if frames:
            break
        page.wait_for_timeout(500)
    assert frames, f"the link did not open the notebook: {[frame.url for frame in page.frames]}"
    frames[0].wait_for_selector(".jp-Cell", timeout=60_000)
    shots(page, "graded-notebook-from-the-report")
