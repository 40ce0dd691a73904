"""How much does the grading sandbox cost per submission? A script, not a test.

    .venv/bin/python tests/grading/bench_sandbox.py [repetitions]

Grades the same correct homework-1 (tanh) submission with the sandbox and
without it (COURSE_SANDBOX=off), alternating so that load on the machine hits
both alike, and prints medians of the wall-clock time of a bare kernel start
(start to kernel_info reply, then shut down), of one submission's nbgrader
run, and of the sandbox's own set-up and clean-up around that run (which
does not depend on how busy the machine is).
"""
from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from jupyter_client import KernelManager

from course_utils.grading import sandbox
from course_utils.grading.pipeline import GradingOptions, grade_submission, release

sys.path.insert(0, str(Path(__file__).parent))
from conftest import COURSE, solution_answers  # noqa: E402


def correct_submission(course: Path) -> None:
    import nbformat

    answers = solution_answers(course / "source" / "tanh" / "tanh.ipynb")
    notebook = nbformat.read(course / "release" / "tanh" / "tanh.ipynb", as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    (course / "submitted" / "bench" / "tanh").mkdir(parents=True)
    nbformat.write(notebook, course / "submitted" / "bench" / "tanh" / "tanh.ipynb")


def grade_once(course: Path, sandboxed: bool) -> tuple[float, float]:
    """(seconds of the whole submission, seconds of it outside nbgrader: the sandbox's set-up and clean-up)."""
    os.environ[sandbox.SWITCH_ENV] = "on" if sandboxed else "off"
    started = time.perf_counter()
    with sandbox.sandboxed_options(course, GradingOptions()) as options:
        nbgrader_started = time.perf_counter()
        result = grade_submission(course, "tanh", "bench", options=options)
        nbgrader_seconds = time.perf_counter() - nbgrader_started
    seconds = time.perf_counter() - started
    assert result.status == "graded" and result.auto_score == result.auto_max, result
    return seconds, seconds - nbgrader_seconds


def kernel_start_once(course: Path, sandboxed: bool) -> tuple[float]:
    workdir = course / "autograded" / "bench" / "tanh"
    started = time.perf_counter()
    if sandboxed:
        with sandbox.sandbox_runtime(course / "autograded") as runtime:
            os.environ["JUPYTER_PATH"] = runtime.env["JUPYTER_PATH"]
            km = KernelManager(kernel_name=runtime.kernel_name, transport="ipc",
                               ip=str(runtime.folder / "ipc" / "kernel"),
                               connection_file=str(runtime.folder / "tmp" / f"{uuid.uuid4().hex}.json"))
            _start_and_stop(km, workdir)
    else:
        _start_and_stop(KernelManager(kernel_name="python3"), workdir)
    return (time.perf_counter() - started,)


def _start_and_stop(km: KernelManager, workdir: Path) -> None:
    km.start_kernel(cwd=str(workdir))
    client = km.client()
    client.start_channels()
    client.wait_for_ready(timeout=120)
    client.stop_channels()
    km.shutdown_kernel(now=True)


def main(repetitions: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    try:
        course = root / "assignments"
        (course / "source").mkdir(parents=True)
        shutil.copy(COURSE / "nbgrader_config.py", course)
        shutil.copytree(COURSE / "source" / "tanh", course / "source" / "tanh")
        release(course)
        correct_submission(course)
        grade_once(course, sandboxed=False)  # warm the caches once
        print(f"medians of {repetitions} runs each, seconds (load average now {os.getloadavg()[0]:.1f})")
        for name, measure in (("kernel start", kernel_start_once), ("one submission", grade_once)):
            runs = {True: [], False: []}
            for _ in range(repetitions):
                for sandboxed in (False, True):
                    runs[sandboxed].append(measure(course, sandboxed))
            plain = statistics.median(run[0] for run in runs[False])
            boxed = statistics.median(run[0] for run in runs[True])
            print(f"{name:15s} without sandbox {plain:6.2f}   with sandbox {boxed:6.2f}   "
                  f"overhead {boxed - plain:+.2f} ({100 * (boxed - plain) / plain:+.1f} %)", flush=True)
        own = statistics.median(run[1] for run in runs[True])
        print(f"{'':15s} of which the sandbox's set-up and clean-up: {own:.3f} "
              f"({100 * own / plain:.1f} % of a submission)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
