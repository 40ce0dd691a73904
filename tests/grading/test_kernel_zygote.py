"""What the kernel zygote preloads for a course: torch only for a course whose notebooks use it."""
from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_utils.grading.kernel_zygote import (EVERYTHING, PRELOADED, TORCH_PRELOADED, SharedZygote,
                                                ZygoteConnection, preloads_for_course)
from conftest import COURSE


def course_with(tmp_path, *sources: str, markdown: str = ""):
    """A course of one assignment whose notebook has these code cells (and a markdown cell)."""
    folder = tmp_path / "source" / "one"
    folder.mkdir(parents=True)
    cells = [new_markdown_cell(markdown)] + [new_code_cell(source) for source in sources]
    nbformat.write(new_notebook(cells=cells), folder / "one.ipynb")
    return tmp_path


def test_the_course_of_this_repository_gets_torch_and_its_checks():
    assert preloads_for_course(COURSE) == EVERYTHING
    assert set(TORCH_PRELOADED) <= set(EVERYTHING) and "course_utils.homework_checks" in EVERYTHING


def test_a_course_that_never_names_torch_gets_the_kernel_only(tmp_path):
    course = course_with(tmp_path, "def answer():\n    return 42", "assert answer() > 0",
                         markdown="We will meet torch next week.")
    assert preloads_for_course(course) == PRELOADED


def test_any_code_cell_naming_torch_or_the_course_helpers_gets_torch(tmp_path):
    for source in ("import numpy as np, torch", "from torchvision import transforms",
                   "from course_utils.homework_checks.tanh import check_tanh_backward"):
        course = course_with(tmp_path / source.split()[1].strip(","), "x = 1", source)
        assert preloads_for_course(course) == EVERYTHING, source


def test_an_unreadable_notebook_gets_everything(tmp_path):
    course = course_with(tmp_path, "x = 1")
    (course / "source" / "two").mkdir()
    (course / "source" / "two" / "two.ipynb").write_text("{not json")
    assert preloads_for_course(course) == EVERYTHING


def test_a_course_without_notebooks_gets_the_kernel_only(tmp_path):
    assert preloads_for_course(tmp_path) == PRELOADED


def test_a_notebook_in_a_subfolder_of_an_assignment_counts(tmp_path):
    course = course_with(tmp_path, "x = 1")
    (course / "source" / "one" / "part2").mkdir()
    nbformat.write(new_notebook(cells=[new_code_cell("import torch")]), course / "source" / "one" / "part2" / "b.ipynb")
    assert preloads_for_course(course) == EVERYTHING


def test_a_batchs_zygote_serves_each_worker_on_its_own_line_and_ends_with_the_batch():
    """SharedZygote (preloading a small module): each connected worker gets the ready line, then one reply
    per request on its own line, with the request's id (here a request for a sandbox that does not exist, and
    a line that is no request: errors, not forks); a worker's line closed, even before its ready line, leaves
    the others served; the zygote ends when the batch stops it."""
    import json

    zygote = SharedZygote(["json"], {"PATH": "/usr/bin:/bin"})
    try:
        lines = [ZygoteConnection(zygote.connect().detach(), zygote.process.pid) for _ in range(2)]
        for line in lines:
            assert json.loads(line.stdout.readline()) == {"ok": True, "preloaded": ["json"]}
            assert line.poll() is None
        no_sandbox = {"placeholder": 2**22 + 1, "connection_file": "/nonexistent", "cgroups": [], "limits": {},
                      "cwd": "/"}
        lines[0].close()
        zygote.connect().close()  # a worker gone before its ready line: its line only ends
        lines[1].stdin.write(b"no request\n" + (json.dumps({**no_sandbox, "id": 7}) + "\n").encode())
        lines[1].stdin.flush()
        garbage, reply = (json.loads(lines[1].stdout.readline()) for _ in range(2))
        assert garbage["ok"] is False and "JSONDecodeError" in garbage["error"], garbage
        assert reply["ok"] is False and "Error" in reply["error"] and reply["id"] == 7, reply
        assert zygote.alive()
        with open(f"/proc/{zygote.process.pid}/environ", "rb") as environ:
            assert environ.read() == b"PATH=/usr/bin:/bin\0"  # the kernels' environment, nothing of ours
    finally:
        zygote.stop()
    assert not zygote.alive()
    assert lines[1].poll() == -1
    assert lines[1].stdout.readline() == b""  # its line closed with it
    lines[1].close()
