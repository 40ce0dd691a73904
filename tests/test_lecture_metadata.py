"""Does a lecture open in JupyterLab without being marked modified before any edit?

On connecting a kernel, JupyterLab writes the kernel's own ``kernelspec`` and
``language_info`` into the notebook's metadata; if the stored values differ,
the notebook is "modified" the moment it opens. Checked in a browser
(JupyterLab 4.6, chromium): lectures 01-03 stored with a short
``language_info`` were marked modified, stored as below they are not.
"""
import json
from pathlib import Path

import pytest
from ipykernel.ipkernel import IPythonKernel

LECTURES = sorted((Path(__file__).resolve().parents[1] / "lectures").glob("*.ipynb"))


@pytest.mark.parametrize("path", LECTURES, ids=lambda path: path.name)
def test_metadata_is_what_the_course_kernel_reports(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    metadata = notebook["metadata"]
    assert metadata["kernelspec"] == {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    # The Python version is the one that last ran the notebook: a contributor's may differ in its last digits.
    stored = {key: value for key, value in metadata["language_info"].items() if key != "version"}
    assert stored == {key: value for key, value in IPythonKernel.language_info.items() if key != "version"}
    assert tuple(map(int, metadata["language_info"]["version"].split(".")[:2])) >= (3, 11)


@pytest.mark.parametrize("path", LECTURES, ids=lambda path: path.name)
def test_cells_have_ids(path):
    """nbformat 4.5 notebooks need cell ids; without them JupyterLab adds some (another modification)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert (notebook["nbformat"], notebook["nbformat_minor"]) >= (4, 5)
    assert all(cell.get("id") for cell in notebook["cells"])
