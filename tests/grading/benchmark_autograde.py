"""How fast does make autograde grade, with one worker and with N? A script, not a test.

    .venv/bin/python tests/grading/benchmark_autograde.py [--submissions 40] [--jobs 2]

Builds a throwaway copy of the course with homework 1 (tanh) released and
``--submissions`` submissions (three in four right, the rest with one part
wrong), grades one copy with JOBS=1 and another with JOBS=N exactly as ``make
autograde`` does (sandbox included, unless COURSE_SANDBOX=off), checks that
both write the same grades.csv, and prints seconds per submission and the
speed-up. Run it on an otherwise idle machine: other load skews the ratio.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from course_utils.grading.pipeline import GradingOptions, autograde, release  # noqa: E402

ASSIGNMENT = "tanh"
WRONG = {  # one part wrong: a realistic mix of scores and run times
    "tanh_backward": "def tanh_backward(grad_output, output):\n    return grad_output * (1 - output)\n",
    "tanh_forward": "def tanh_forward(x):\n    return (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))\n",
}


def build_course(folder: Path, submissions: int) -> Path:
    course = folder / "assignments"
    (course / "source").mkdir(parents=True)
    shutil.copy(ROOT / "assignments" / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "assignments" / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT)
    release(course)
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    answers = {cell.metadata["nbgrader"]["grade_id"]: "\n".join(
        line for line in cell.source.splitlines() if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
        for cell in source.cells if cell.metadata.get("nbgrader", {}).get("solution")}
    released = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    wrong = list(WRONG.items())
    for index in range(submissions):
        notebook = nbformat.from_dict(released)
        mine = dict(answers)
        if index % 4 == 3:
            cell_id, code = wrong[(index // 4) % len(wrong)]
            mine[cell_id] = code
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") in mine:
                cell.source = mine[cell.metadata["nbgrader"]["grade_id"]]
        folder = course / "submitted" / f"student{index:03d}" / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / f"{ASSIGNMENT}.ipynb")
    return course


def timed_autograde(course: Path, jobs: int, options: GradingOptions) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of every process it ran) of one make-autograde run."""
    started, cpu_before = time.perf_counter(), _cpu_seconds()
    with contextlib.redirect_stdout(io.StringIO()):  # one line per submission: too much here
        results = autograde(course, jobs=jobs, options=options)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_before
    ungraded = [r for r in results if r.status != "graded"]
    if ungraded:
        raise SystemExit(f"benchmark submissions failed to grade: {ungraded[:3]}")
    return seconds, cpu


def _cpu_seconds() -> float:
    """User and system time of this process and of its finished children (nbgrader, kernels)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    args = parser.parse_args()
    options = GradingOptions(timeout=args.timeout)
    with tempfile.TemporaryDirectory(prefix="benchmark-autograde-") as folder:
        base = build_course(Path(folder) / "base", args.submissions)
        sequential = Path(folder) / "one" / "assignments"
        parallel = Path(folder) / "many" / "assignments"
        shutil.copytree(base, sequential)
        shutil.copytree(base, parallel)
        print(f"{args.submissions} submissions of {ASSIGNMENT}, {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.1f}, "
              f"sandbox {'off' if os.environ.get('COURSE_SANDBOX', '').lower() in {'0', 'off', 'false', 'no'} else 'on'}",
              flush=True)
        (one, cpu_one), (many, cpu_many) = [timed_autograde(course, jobs, options) for course, jobs
                                            in [(sequential, 1), (parallel, args.jobs)]]
        same = (sequential / "grades.csv").read_bytes() == (parallel / "grades.csv").read_bytes()
    n = args.submissions
    print(f"JOBS=1: {one:7.1f} s, {one / n:5.2f} s per submission ({cpu_one / n:.2f} CPU s per submission)")
    print(f"JOBS={args.jobs}: {many:7.1f} s, {many / n:5.2f} s per submission ({cpu_many / n:.2f} CPU s per submission)")
    print(f"speed-up {one / many:.2f}x; grades.csv {'identical' if same else 'DIFFERENT'}")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
