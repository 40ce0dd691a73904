"""What the kernel zygote preloads for a course: torch only for a course whose notebooks use it."""
from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_utils.grading.kernel_zygote import EVERYTHING, PRELOADED, TORCH_PRELOADED, preloads_for_course
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


def test_a_forked_zygote_keeps_only_its_pipes_and_ends_with_them(tmp_path):
    """fork_zygote, in a fresh interpreter started in tmp_path with a pipe as its stdin: the zygote answers
    ready with what was preloaded, holds neither the parent's stdin nor its other files, has left the
    parent's folder, and exits when the parent closes its request pipe."""
    import json
    import subprocess
    import sys

    code = """if True:
        import json, os, sys
        from course_utils.grading.kernel_zygote import fork_zygote
        kept = open("parents-file.txt", "w")
        zygote = fork_zygote(["json"])
        ready = json.loads(zygote.stdout.readline())
        pid = zygote.pid
        fds = sorted(os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd"))
        cwd = os.readlink(f"/proc/{pid}/cwd")
        zygote.stdin.close()
        print(json.dumps({"ready": ready, "fds": fds, "cwd": cwd, "exit": zygote.wait(timeout=10)}))
    """
    output = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, input="a line for the parent\n",
                            capture_output=True, text=True, timeout=60)
    assert output.returncode == 0, output.stderr
    seen = json.loads(output.stdout)
    assert seen["ready"] == {"ok": True, "preloaded": ["json"]}
    assert seen["cwd"] == "/"
    assert seen["exit"] == 0
    # stdin and stdout on /dev/null; stderr (here a pipe) and the two pipes of the zygote; nothing else
    assert seen["fds"][:2] == ["/dev/null", "/dev/null"], seen["fds"]
    assert len(seen["fds"]) == 5 and all(target.startswith("pipe:") for target in seen["fds"][2:]), seen["fds"]
