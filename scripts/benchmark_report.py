"""How long ``make report`` takes on a big class: statistics and similarity for generated submissions.

    .venv/bin/python scripts/benchmark_report.py [--students 300] [--assignment augmentation]

A graded batch (tests/grading/generated_class.py: 10 % planted copies, graded
notebooks, grades.csv, grading records) is written to a temporary course, then
the report step runs on it as ``make report`` runs it, in a fresh Python (so
its imports count). Prints the wall time and the machine's load average at the
start and the end: other work on the machine slows it down.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "grading"))

import generated_class  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--assignment", default="augmentation", choices=["tanh", "augmentation"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        course = Path(folder) / "assignments"
        (course / "source").mkdir(parents=True)
        shutil.copytree(ROOT / "assignments" / "source" / args.assignment, course / "source" / args.assignment)
        shutil.copy(ROOT / "assignments" / "nbgrader_config.py", course)
        copies = args.students // 10
        notebooks, planted = generated_class.make_class(args.assignment, args.students - copies, copies, seed=0)
        generated_class.grade_class(course, args.assignment, notebooks, seed=0)
        load_before = os.getloadavg()
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "course_utils.grading", "report", "--course", str(course)],
                              cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        load_after = os.getloadavg()
        print(done.stdout + done.stderr)
        if done.returncode:
            sys.exit(f"make report failed ({done.returncode})")
        found = (course / "reports" / f"{args.assignment}-similarity.csv").read_text().count(",true")
        print(f"{args.students} submissions of {args.assignment} ({copies} planted copies, {found} pairs above the "
              f"threshold): make report took {seconds:.1f} s on {os.cpu_count()} cores; load average "
              f"{load_before[0]:.1f} before, {load_after[0]:.1f} after")


if __name__ == "__main__":
    main()
