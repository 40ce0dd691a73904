"""Scripting JupyterLab's pages: open, run, read what a student sees.

The server runs with ``expose_app_in_browser`` so ``window.jupyterapp`` (the
JupyterLab application) can be driven with the same commands the menus run.
"""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Per code cell of the notebook on screen: its outputs as the notebook stores
# them, and what is rendered of them (loaded images, progress-bar widgets,
# plain-text progress bars).
CELLS_ON_SCREEN = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  return panel.content.widgets.map((cell) => {
    if (cell.model.type !== 'code') return null;
    const node = cell.outputArea.node;
    const images = [...node.querySelectorAll('.jp-OutputArea-output img')];
    return {
      executionCount: cell.model.executionCount,
      outputs: cell.model.outputs.toJSON(),
      images: images.length,
      imagesLoaded: images.filter((img) => img.complete && img.naturalWidth > 0).length,
      progressWidgets: node.querySelectorAll('.widget-progress, .jupyter-widget-progress, progress').length,
      text: node.innerText,
    };
  });
}"""

# 'done' when every code cell has run and the kernel is idle, 'error' as soon as
# a cell shows an error (Run All stops there), else false. JupyterLab renders a
# long notebook's cells a few at a time: a cell not rendered yet (no prompt) is
# not done.
RUN_STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = panel.content.widgets.filter((cell) => cell.model.type === 'code');
  for (const cell of cells) {
    if (cell.model.outputs.toJSON().some((o) => o.output_type === 'error')) return 'error';
  }
  const ran = cells.every((cell) => cell.model.executionCount !== null && cell.promptNode !== null
                                    && !cell.promptNode.textContent.includes('*'));
  return ran && kernel && kernel.status === 'idle' ? 'done' : false;
}"""


def wait_for_kernel(page, timeout_ms: int = 120_000) -> None:
    page.wait_for_function(
        """() => { const p = window.jupyterapp.shell.currentWidget;
                   return p && p.sessionContext && p.sessionContext.session
                          && p.sessionContext.session.kernel
                          && p.sessionContext.session.kernel.status === 'idle'; }""",
        timeout=timeout_ms)


def run_all_cells(page, timeout_ms: int) -> str:
    """Run All Cells as a student would, and wait until it finished or a cell failed."""
    wait_for_kernel(page)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    return page.wait_for_function(RUN_STATE, timeout=timeout_ms, polling=500).json_value()


def cells_on_screen(page) -> list[dict | None]:
    return page.evaluate(CELLS_ON_SCREEN)


def stored_cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def image_outputs(outputs: list[dict]) -> int:
    return sum(1 for output in outputs for mime in output.get("data", {}) if mime.startswith("image/"))


def widget_outputs(outputs: list[dict]) -> int:
    return sum(1 for output in outputs if "application/vnd.jupyter.widget-view+json" in output.get("data", {}))


def set_cell_source(page, index: int, source: str) -> None:
    """Replace the text of cell ``index`` of the notebook on screen (what typing it would do)."""
    page.evaluate("([index, source]) => window.jupyterapp.shell.currentWidget.content.widgets[index]"
                  ".model.sharedModel.setSource(source)", [index, source])


def save(page) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
