"""Warm grading: kernels started ahead, forked from a zygote that imported torch. Is each one as
fresh and as confined as a kernel started for its submission alone?

The pool is tested directly (one kernel per question), then whole batches of
the tiny course of conftest.py go through the warm workers (as ``make
autograde`` grades) and with a fresh nbgrader run and kernel per submission
(``autograde(warm=False)``): the same grades.csv, and nothing one submission
does reaches the next one graded by the same worker. Root and bubblewrap are needed (make autograde's
sandbox); the speed is measured by ``benchmark_autograde.py``, not here.
"""
from __future__ import annotations

import os
import secrets
import shutil
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course_utils.grading import sandbox, sandbox_command
from course_utils.grading.nbgrader_run import stop_running_nbgrader
from course_utils.grading.pipeline import GradingOptions, autograde, read_grades, release
from course_utils.grading.warm_kernels import WarmKernelPool, warm_execute_class
from conftest import sandbox_unavailable

# Warm sandboxed kernels (joining a sandbox's namespaces needs root).
pytestmark = [pytest.mark.slow, pytest.mark.root]

ASSIGNMENT = "homework"
RIGHT = 42
CELL_TIMEOUT = 20  # the fresh kernels of the comparison run import torch in a cell: seconds on a loaded machine

# What the first submission leaves behind in its kernel, and what a later one would see of it.
LEAK = textwrap.dedent("""\
    import builtins, sys, torch
    torch.add = lambda *args, **kwargs: "patched by an earlier student"
    torch.leaked_flag = True
    builtins.leaked_answer = 1
    sys.modules["leaked_module"] = sys
    with open("/tmp/leaked_file", "w") as file:
        file.write("from an earlier student")
    """)
SEES_LEAK = ("import builtins, os, sys, torch\n"
             "seen = [name for name, found in [('torch.add', torch.add(torch.ones(1), 1) is not None and "
             "not isinstance(torch.add(torch.ones(1), 1), torch.Tensor)), ('torch.leaked_flag', hasattr(torch, "
             "'leaked_flag')), ('builtins', hasattr(builtins, 'leaked_answer')), ('sys.modules', 'leaked_module' "
             "in sys.modules), ('/tmp', os.path.exists('/tmp/leaked_file'))] if found]\n")

# A variable of the grader's environment (the batch's options), with a value made for this run: a kernel
# must not find it, in its environment or anywhere in its memory (the kernels' zygote is forked by the worker).
GRADERS_SECRET = ("COURSE_GRADERS_SECRET", f"graders-secret-{secrets.token_hex(16)}")
SEES_THE_GRADERS_SECRET = textwrap.dedent("""\
    import os, re
    pattern = re.compile(rb"graders-secret-[0-9a-f]{32}")
    found = [where for where, seen in [("os.environ", "COURSE_GRADERS_SECRET" in os.environ),
                                       ("/proc/self/environ", bool(pattern.search(open("/proc/self/environ", "rb").read())))]
             if seen]
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as memory:
        for line in maps:
            fields = line.split()
            if fields[1].startswith("r") and (len(fields) < 6 or fields[5].startswith("[")):  # anonymous, heap, stack
                start, end = (int(address, 16) for address in fields[0].split("-"))
                try:
                    memory.seek(start)
                    if pattern.search(memory.read(end - start)):
                        found.append(fields[5] if len(fields) > 5 else "memory")
                except (OSError, ValueError, OverflowError):
                    pass
    """)

ANSWERS = {
    # sorted by student: one worker (JOBS=1) grades them in this order
    "a_leaks": LEAK + f"def answer():\n    return {RIGHT}\n",
    "b_checks_for_leaks": SEES_LEAK + f"def answer():\n    return -1 if seen else {RIGHT}\n",
    "c_half_right": "def answer():\n    return 7\n",
    "d_sleeps": "import time\ntime.sleep(1000)\n",  # interrupted after CELL_TIMEOUT, then the tests fail
    "e_kernel_dies": "import os\nos._exit(1)\n",
    "f_right_after_death": f"def answer():\n    return {RIGHT}\n",
    "g_looks_for_the_graders_secret": SEES_THE_GRADERS_SECRET + f"def answer():\n    return -1 if found else {RIGHT}\n",
}


@pytest.fixture(scope="module", autouse=True)
def _warm_kernels_can_run():
    """A missing bwrap is a failure (make installs it); no user namespaces or no root: nothing to test."""
    reason = sandbox_unavailable()
    if reason:
        pytest.skip(reason)
    if os.geteuid() != 0:
        pytest.skip("warm kernels join their sandbox's namespaces, which needs root")
    if not sandbox.sandbox_enabled():
        pytest.skip("COURSE_SANDBOX=off: warm kernels are sandboxed ones")


# -- the pool, one kernel per question ------------------------------------------------------


@pytest.fixture(scope="module")
def course_folder(tmp_path_factory) -> Path:
    """A course folder with a secret next to ``autograded/`` and one student's folder in it."""
    course = tmp_path_factory.mktemp("warm") / "assignments"
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    (course / "source" / "secret.txt").write_text("the hidden tests")
    # a course built on torch, as both homeworks are: its kernels come with torch preloaded
    nbformat.write(new_notebook(cells=[new_code_cell("import torch")]),
                   course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    for student in ("alice", "bob"):
        folder = course / "autograded" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / "data.txt").write_text(f"{student}'s data")
        (folder / f"{ASSIGNMENT}.ipynb").write_text("{}")  # stands for the notebook with the hidden tests
    return course


@pytest.fixture(scope="module")
def pool(course_folder):
    with WarmKernelPool(course_folder / "autograded") as pool:
        yield pool


def run(kernel, code: str) -> str:
    """Run ``code`` in a pool's kernel; its printed output (or the error, as ``Name: value``)."""
    client = kernel.manager.blocking_client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        said = []

        def collect(message):
            content = message["content"]
            if message["msg_type"] == "stream":
                said.append(content["text"])
            elif message["msg_type"] == "error":
                said.append(f"{content['ename']}: {content['evalue']}")

        client.execute_interactive(code, output_hook=collect, timeout=60)
        return "".join(said).strip()
    finally:
        client.stop_channels()


@pytest.fixture
def kernel_for(pool, course_folder):
    """``kernel_for(student)``: a kernel from the pool moved into that student's folder; discarded after."""
    taken = []

    def take(student: str):
        kernel = pool.take_ready(course_folder / "autograded" / student / ASSIGNMENT, timeout=60)
        taken.append(kernel)
        return kernel

    yield take
    for kernel in taken:
        kernel.discard()


def test_kernel_works_in_its_submission_folder(kernel_for, course_folder):
    """Does the kernel start where a fresh one would: the submission's folder, with its files, on sys.path?"""
    kernel = kernel_for("alice")
    folder = course_folder.resolve() / "autograded" / "alice" / ASSIGNMENT
    assert run(kernel, "import os, sys\nprint(os.getcwd(), sys.path[0], open('data.txt').read())") == (
        f"{folder} {folder} alice's data")


def test_kernel_sees_nothing_outside_its_submission(kernel_for, course_folder):
    """Can student code read the course's sources, another student's files, or its own notebook? No."""
    kernel = kernel_for("alice")
    autograded = course_folder.resolve() / "autograded"
    for path in (course_folder.resolve() / "source" / "secret.txt", autograded / "bob" / ASSIGNMENT / "data.txt",
                 autograded / "alice" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", Path.home() / ".bashrc"):
        assert run(kernel, f"print(open({str(path)!r}).read())").startswith("FileNotFoundError"), path
    assert run(kernel, f"import os\nprint(os.listdir({str(autograded)!r}))") == "['alice']"


def test_kernel_has_no_privileges(kernel_for):
    """Is the kernel an unprivileged user: no capabilities, none to gain, no way out through a new namespace?"""
    kernel = kernel_for("alice")
    status = run(kernel, "print(open('/proc/self/status').read())")
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    for field in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(fields[field], 16) == 0, field
    assert fields["NoNewPrivs"].strip() == "1"
    uid = sandbox_command.SANDBOX_UID
    assert run(kernel, "import os\nprint(os.getuid(), os.getgid())") == f"{uid} {uid}"
    assert run(kernel, "import ctypes\nprint(ctypes.CDLL(None).unshare(0x10000000))") == "-1"  # CLONE_NEWUSER


def test_kernel_holds_nothing_of_the_grader_open(kernel_for):
    """Does any file of the zygote or the grader stay open or mapped in the kernel? Only what it could open itself."""
    kernel = kernel_for("alice")
    targets = run(kernel, "import os\nfor fd in os.listdir('/proc/self/fd'):\n"
                          "    try:\n        print(os.readlink(f'/proc/self/fd/{fd}'))\n"
                          "    except OSError:\n        pass").splitlines()
    files = [target for target in targets if target.startswith("/")]
    assert targets and set(files) <= {"/dev/null"}, targets
    unseen = run(kernel, "import os\nfor line in open('/proc/self/maps'):\n    path = line.split()[-1]\n"
                         "    if path.startswith('/') and not os.path.exists(path):\n        print(path)")
    assert unseen == "", f"the kernel has files mapped that its sandbox does not show: {unseen}"


# Student code listing every descriptor of every process it can see: "<is it me> <fd> <target>" a line.
EVERY_DESCRIPTOR = ("import os\nme = os.getpid()\nfor pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
    "    try:\n        fds = os.listdir(f'/proc/{pid}/fd')\n    except OSError:\n        continue\n"
    "    for fd in fds:\n        try:\n            target = os.readlink(f'/proc/{pid}/fd/{fd}')\n"
    "        except OSError:\n            continue\n        print(int(pid) == me, fd, target)\n")


def test_no_process_in_the_sandbox_holds_the_graders_descriptors(kernel_for):
    """Do bubblewrap and the placeholder (the sandbox's other processes) hold only /dev/null where the kernel can
    reach them, and the kernel itself no file but /dev/null? (A helper's review: they held the
    worker's log, and a kernel could reach it through them.)"""
    kernel = kernel_for("alice")
    seen = [line.split(" ", 2) for line in run(kernel, EVERY_DESCRIPTOR).splitlines()]
    others = {target for mine, _, target in seen if mine == "False" and not target.startswith("anon_inode:")}
    assert others <= {"/dev/null"}, others  # (anon_inode: bubblewrap's own eventfd)
    # the kernel's own: no file but /dev/null (its stdout and stderr are ipykernel's own pipes)
    assert {target for mine, _, target in seen if mine == "True" and target.startswith("/")} <= {"/dev/null"}, seen


def test_writes_stay_in_the_kernels_copy(kernel_for, course_folder):
    """Does a kernel's write reach the submission folder or the next kernel? Neither."""
    first = kernel_for("alice")
    assert run(first, "open('data.txt', 'w').write('overwritten')\nopen('new.txt', 'w').write('x')\n"
                      "open('/tmp/note', 'w').write('x')") == ""
    folder = course_folder / "autograded" / "alice" / ASSIGNMENT
    assert (folder / "data.txt").read_text() == "alice's data"
    assert not (folder / "new.txt").exists()
    second = kernel_for("alice")
    assert run(second, "import os\nprint(open('data.txt').read(), os.path.exists('new.txt'), "
                       "os.path.exists('/tmp/note'))") == "alice's data False False"


def test_state_of_one_kernel_never_reaches_the_next(kernel_for):
    """A kernel that patches torch and builtins leaves the next one from the same pool clean.

    The check would see the leak in the same kernel (the control)."""
    first = kernel_for("alice")
    run(first, LEAK)
    assert run(first, SEES_LEAK + "print(seen)") == "['torch.add', 'torch.leaked_flag', 'builtins', 'sys.modules', '/tmp']"
    second = kernel_for("alice")
    assert run(second, SEES_LEAK + "print(seen)") == "[]"


def test_kernel_is_used_once(pool, course_folder):
    """Is a kernel refused a second submission, gone once discarded, and a new one given each time?"""
    kernel = pool.take()
    try:
        kernel.receive(course_folder / "autograded" / "alice" / ASSIGNMENT)
        with pytest.raises(RuntimeError, match="never reused"):
            kernel.receive(course_folder / "autograded" / "bob" / ASSIGNMENT)
        other = pool.take()
        assert other is not kernel and other.folder != kernel.folder
        other.discard()
    finally:
        kernel.discard()
    assert not kernel.manager.has_kernel
    assert not kernel.folder.exists()


def test_a_kernel_that_dies_before_answering_is_replaced(pool, course_folder, monkeypatch):
    """Is a kernel that died before the submission's first cell ("Kernel died before replying to
    kernel_info") replaced by the next one, instead of failing the submission? (WarmExecute, which
    grades, takes its kernels with take_ready.)"""
    from jupyter_core.utils import run_sync
    from nbgrader.preprocessors import Execute

    dead = pool.take()
    run_sync(dead.manager.shutdown_kernel)(now=True)
    given, take = [], pool.take
    monkeypatch.setattr(pool, "take", lambda: given.append(take() if given else dead) or given[-1])
    execute = warm_execute_class(Execute, pool)()
    kernel = execute._ready_kernel(str(course_folder / "autograded" / "alice" / ASSIGNMENT))
    try:
        assert given == [dead, kernel]
        assert run(kernel, "print(open('data.txt').read())") == "alice's data"
    finally:
        kernel.discard()
    assert not dead.folder.exists()


def test_take_ready_gives_up_after_its_attempts(pool, course_folder, monkeypatch):
    """Kernel after kernel dying: take_ready stops after READY_ATTEMPTS and says why."""
    from jupyter_core.utils import run_sync

    from course_utils.grading.warm_kernels import READY_ATTEMPTS

    given, take = [], pool.take

    def dead_kernel():
        kernel = take()
        run_sync(kernel.manager.shutdown_kernel)(now=True)
        given.append(kernel)
        return kernel

    monkeypatch.setattr(pool, "take", dead_kernel)
    with pytest.raises(RuntimeError, match="[Kk]ernel"):
        pool.take_ready(course_folder / "autograded" / "alice" / ASSIGNMENT, timeout=30)
    assert len(given) == READY_ATTEMPTS and not any(kernel.folder.exists() for kernel in given)


def test_kernel_only_takes_a_folder_below_autograded(pool, course_folder):
    kernel = pool.take()
    try:
        with pytest.raises(sandbox.SandboxUnavailable, match="submission folder below"):
            kernel.receive(course_folder / "source")
    finally:
        kernel.discard()


def test_torch_is_imported_before_the_kernel_is_handed_out(kernel_for):
    """Do torch, torchvision and torch._dynamo come preloaded (no seconds of imports per submission)?"""
    kernel = kernel_for("alice")
    assert run(kernel, "import sys\nprint(all(name in sys.modules for name in "
                       "('torch', 'torchvision', 'torch._dynamo', 'course_utils')))") == "True"


def test_what_was_preloaded_is_out_of_the_collectors_reach(kernel_for):
    """Are the preloaded objects frozen (gc.freeze), so that no collection in a kernel walks torch's objects?"""
    kernel = kernel_for("alice")
    assert run(kernel, "import gc\nprint(gc.get_freeze_count() > 100_000, gc.isenabled())") == "True True"


# -- whole batches: warm workers against today's pipeline ------------------------------------


@pytest.fixture(scope="module")
def released(make_tiny_course, make_submission):
    """The tiny course made a course built on torch, as both homeworks are (an instructor cell imports it), so
    warm kernels come with torch preloaded and what a_leaks does to torch is what the next kernel must not see."""
    course = make_tiny_course(**{ASSIGNMENT: RIGHT})
    source = course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    notebook = nbformat.read(source, as_version=4)
    notebook.cells.insert(0, new_code_cell("import torch"))
    nbformat.write(notebook, source)
    release(course)
    for student, answer in ANSWERS.items():
        make_submission(course, student, ASSIGNMENT, {"answer": answer})
    return course


@pytest.fixture(scope="module")
def graded(released, tmp_path_factory):
    """The same submissions graded by one warm worker (make autograde, JOBS=1: b_checks_for_leaks comes
    right after a_leaks in the same worker) and with a fresh nbgrader run and kernel each (``warm=False``,
    JOBS=2: each submission on its own, so the order cannot matter; the others are graded while d_sleeps
    sleeps). The two runs, on copies of the course, go side by side."""

    def graded_copy(name: str, warm: bool):
        course = tmp_path_factory.mktemp(name) / "assignments"
        shutil.copytree(released, course)
        results = autograde(course, jobs=1 if warm else 2,
                            options=GradingOptions(timeout=CELL_TIMEOUT, env=dict([GRADERS_SECRET])), warm=warm)
        return course, {result.student: result for result in results}

    with ThreadPoolExecutor(max_workers=1) as beside:
        warm = beside.submit(graded_copy, "warm", True)
        try:  # the fresh run on the main thread, where Ctrl-C and SIGTERM stop a batch as in make autograde
            fresh = graded_copy("pipeline", False)
        except BaseException:
            stop_running_nbgrader()  # the warm run's too
            raise
        return {"warm": warm.result(), "pipeline": fresh}


def test_warm_workers_grade_as_the_pipeline_does(graded):
    """Same grades.csv rows as a fresh nbgrader run and kernel per submission give."""
    (warm, _), (fresh, _) = graded["warm"], graded["pipeline"]
    rows = [read_grades(course) for course in (warm, fresh)]
    assert rows[0] == rows[1]
    assert len(rows[0]) == len(ANSWERS)


def test_a_submission_never_sees_the_one_graded_before_it(graded):
    """b_checks_for_leaks, graded right after a_leaks by the same worker, finds nothing of it: full points."""
    _, results = graded["warm"]
    assert results["a_leaks"].status in ("graded", "flagged")  # it ran (the static look may flag the patching)
    assert results["b_checks_for_leaks"].status == "graded"
    assert results["b_checks_for_leaks"].auto_score == 2


def test_timeouts_and_dead_kernels_do_not_stop_the_worker(graded):
    """A cell timeout is interrupted, a kernel that dies fails its submission only; the next is graded."""
    _, results = graded["warm"]
    assert (results["c_half_right"].status, results["c_half_right"].auto_score) == ("graded", 1)
    assert (results["d_sleeps"].status, results["d_sleeps"].auto_score) == ("graded", 0)
    assert results["e_kernel_dies"].status == "failed"
    assert (results["f_right_after_death"].status, results["f_right_after_death"].auto_score) == ("graded", 2)


def test_no_kernel_finds_the_graders_environment(graded):
    """A submission that searches its environment and its memory for a variable of the grader's environment
    finds nothing, with warm workers and with a fresh kernel each: full points."""
    for run in ("warm", "pipeline"):
        _, results = graded[run]
        result = results["g_looks_for_the_graders_secret"]
        assert (result.status, result.auto_score) == ("graded", 2), (run, result)


def test_graded_notebooks_match_the_pipelines(graded):
    """The graded notebooks hold the same outputs and execution counts as the pipeline's."""
    (warm, _), (fresh, _) = graded["warm"], graded["pipeline"]
    for student in ("c_half_right", "f_right_after_death"):
        notebooks = [nbformat.read(course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
                     for course in (warm, fresh)]
        cells = [[(cell.get("execution_count"), [{k: v for k, v in output.items() if k != "traceback"}
                                                 for output in cell.get("outputs", [])])
                  for cell in notebook.cells] for notebook in notebooks]
        assert cells[0] == cells[1], student
