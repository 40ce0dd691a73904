"""How fast does the course grade, against plain nbgrader? A script, not a test.

    .venv/bin/python tests/grading/benchmark_autograde.py [--submissions 20] [--jobs 2] [--runs plain,pipeline1,...]

Builds a throwaway copy of the course with homework 1 (tanh) released and
``--submissions`` submissions (three in four right, the rest with one part
wrong), then grades a fresh copy of the same submissions in one run with each of:

``plain``      one ``nbgrader autograde tanh`` process for all, no sandbox (what nbgrader alone does)
``pipeline1``  the course's pipeline without warm workers (``autograde(warm=False)``), JOBS=1: an
               nbgrader process and a fresh sandboxed kernel per submission (make autograde until issue 19)
``pipelineN``  the same with JOBS=N
``warm1``      ``make autograde`` JOBS=1: warm workers (course_utils.grading.grading_worker, forked by the
               batch's factory), nbgrader in-process, kernels forked from the batch's zygote that imported
               torch, each in its own sandbox, started ahead
``warmN``      the same with JOBS=N

It prints seconds (and CPU seconds) per submission and each run's speed-up
over ``plain``, and checks that the course's runs write the same grades.csv
and give every student the points plain nbgrader gives. Ratios are only
meaningful from one run: other load on the machine slows every run alike only
when they run side by side.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import io
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from course_utils.grading.pipeline import (GradingOptions, autograde, nbgrader_command,  # noqa: E402
                                           nbgrader_environment, read_grades, release)

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


def timed_autograde(course: Path, jobs: int, options: GradingOptions, grade=autograde) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of every process it ran) of one make-autograde run."""
    started, cpu_before = time.perf_counter(), _cpu_seconds()
    with contextlib.redirect_stdout(io.StringIO()):  # one line per submission: too much here
        results = grade(course, jobs=jobs, options=options)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_before
    ungraded = [r for r in results if r.status != "graded"]
    if ungraded:
        raise SystemExit(f"{len(ungraded)} benchmark submissions were not graded, e.g. {ungraded[0].student}: "
                         f"{ungraded[0].status}, {ungraded[0].detail[:300]}")
    return seconds, cpu


# Plain nbgrader runs the notebooks with its own Execute: the course's judged tests
# (JudgedExecute and its report) work only under make autograde.
PLAIN_CONFIG = """
# benchmark_autograde.py: plain nbgrader, with nbgrader's own Execute preprocessor
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.Execute" if p.rsplit(".", 1)[-1].endswith("Execute") else p
    for p in c.Autograde.autograde_preprocessors if not p.endswith("RecordGradingReport")]
"""


def timed_plain_nbgrader(course: Path, options: GradingOptions) -> tuple[float, float]:
    """The same for one plain ``nbgrader autograde`` of every submission (no sandbox, one process)."""
    with open(course / "nbgrader_config.py", "a", encoding="utf-8") as config:
        config.write(PLAIN_CONFIG)
    command = nbgrader_command("autograde", ASSIGNMENT, "--force", options=options)
    command[1:3] = ["-m", "nbgrader"]  # nbgrader's own command line, not the course's faster start
    started, cpu_before = time.perf_counter(), _cpu_seconds()
    done = subprocess.run(command, cwd=course, env=nbgrader_environment(options), capture_output=True, text=True)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_before
    if done.returncode != 0:
        raise SystemExit(f"plain nbgrader autograde failed:\n{done.stderr[-2000:]}")
    return seconds, cpu


def plain_scores(course: Path) -> dict[str, float]:
    """Each student's automatic score of the assignment, from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {submission.student_id: float(submission.code_score)
                for submission in gradebook.find_assignment(ASSIGNMENT).submissions}


def _cpu_seconds() -> float:
    """CPU seconds used so far by this process and every process it started.

    From a cpuacct cgroup of its own (cgroup v1, as root: see :func:`_own_cpu_cgroup`),
    which counts the sandboxed kernels too; otherwise from getrusage, which
    misses processes killed before their parent reaped them (sandboxed kernels).
    """
    if CPU_CGROUP is not None:
        return int((CPU_CGROUP / "cpuacct.usage").read_text()) / 1e9
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _own_cpu_cgroup() -> Path | None:
    """Move this process into a new cpuacct cgroup (v1); None where that cannot be done."""
    parent = Path("/sys/fs/cgroup/cpuacct")
    try:
        own = next(line.split(":", 2)[2] for line in Path("/proc/self/cgroup").read_text().splitlines()
                   if "cpuacct" in line.split(":", 2)[1].split(","))
        group = parent / own.strip("/") / f"benchmark-autograde-{os.getpid()}"
        group.mkdir()
        (group / "cgroup.procs").write_text(str(os.getpid()))
        return group
    except (OSError, StopIteration, IndexError):
        return None


def _leave_cpu_cgroup(group: Path) -> None:
    with contextlib.suppress(OSError):
        (group.parent / "cgroup.procs").write_text(str(os.getpid()))
        group.rmdir()


CPU_CGROUP: Path | None = None


RUNS = ("plain", "pipeline1", "pipelineN", "warm1", "warmN")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"which runs, in this order (of {', '.join(RUNS)})")
    args = parser.parse_args()
    runs = args.runs.split(",")
    if set(runs) - set(RUNS):
        parser.error(f"unknown runs {sorted(set(runs) - set(RUNS))}; choose from {', '.join(RUNS)}")
    global CPU_CGROUP
    CPU_CGROUP = _own_cpu_cgroup()
    try:
        return _run(args, runs)
    finally:
        if CPU_CGROUP is not None:
            _leave_cpu_cgroup(CPU_CGROUP)


def _run(args, runs: list[str]) -> int:
    options = GradingOptions(timeout=args.timeout)
    n = args.submissions
    timings: dict[str, tuple[float, float]] = {}
    grades: dict[str, dict[str, float]] = {}
    csvs: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="benchmark-autograde-") as folder:
        base = build_course(Path(folder) / "base", n)
        sandbox_on = os.environ.get("COURSE_SANDBOX", "").lower() not in {"0", "off", "false", "no"}
        print(f"{n} submissions of {ASSIGNMENT}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
              f"sandbox {'on' if sandbox_on else 'off'} (plain nbgrader: never); CPU seconds "
              f"{'of every process (cpuacct)' if CPU_CGROUP else 'from getrusage (sandboxed kernels missed)'}",
              flush=True)
        for run in runs:
            course = Path(folder) / run / "assignments"
            shutil.copytree(base, course)
            jobs = args.jobs if run.endswith("N") else 1
            if run == "plain":
                timings[run] = timed_plain_nbgrader(course, options)
                grades[run] = plain_scores(course)
            else:
                grade = functools.partial(autograde, warm=run.startswith("warm"))
                timings[run] = timed_autograde(course, jobs, options, grade)
                csvs[run] = (course / "grades.csv").read_bytes()
                grades[run] = {row["student_id"]: float(row["automatic"]) for row in read_grades(course)}
            seconds, cpu = timings[run]
            print(f"{_label(run, args.jobs):22s} {seconds:7.1f} s, {seconds / n:5.2f} s per submission "
                  f"({cpu / n:.2f} CPU s per submission), load average {os.getloadavg()[0]:.1f}", flush=True)
    if "plain" in timings:
        for run in runs:
            if run != "plain":
                print(f"{_label(run, args.jobs)}: {timings['plain'][0] / timings[run][0]:.2f}x as fast as plain "
                      f"nbgrader ({timings['plain'][1] / timings[run][1]:.2f}x less CPU)")
    same_csv = len(set(csvs.values())) <= 1
    same_points = all(points == next(iter(grades.values())) for points in grades.values())
    print(f"grades.csv of the course's runs: {'identical' if same_csv else 'DIFFERENT'}; "
          f"points per student in every run: {'identical' if same_points else 'DIFFERENT'}")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0 if same_csv and same_points else 1


def _label(run: str, jobs: int) -> str:
    return {"plain": "plain nbgrader", "pipeline1": "fresh kernels JOBS=1", "pipelineN": f"fresh kernels JOBS={jobs}",
            "warm1": "warm workers JOBS=1", "warmN": f"warm workers JOBS={jobs}"}[run]


if __name__ == "__main__":
    sys.exit(main())
