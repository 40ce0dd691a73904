"""make autograde JOBS=N: the same grades for any N, idempotent re-runs, and resuming a stopped batch.

One released course with five submissions (right, half right, blank, a dying
kernel, invalid JSON) is copied; each copy is graded a different way and
compared with the copy graded by one worker. The course is the tiny one of
conftest.py (no torch): what is tested is the batch, not a homework, which
test_pipeline_*.py grade. (The speed-up is measured by
``benchmark_autograde.py``, a script, not here.)
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_utils.grading import sandbox
from course_utils.grading.export import write_grades
from course_utils.grading.parallel import BATCH_ENV, STATE, batch_processes
from course_utils.grading.pipeline import GradingOptions, autograde, release
from conftest import sandbox_unavailable

# Autograde batches with one and two workers.
pytestmark = pytest.mark.slow

ASSIGNMENT = "homework"
RIGHT = 42
CELL_TIMEOUT = 30
OPTIONS = GradingOptions(timeout=CELL_TIMEOUT)
ANSWERS = {  # the answer cell of each student's notebook; blank submits the release
    "a_right": f"def answer():\n    return {RIGHT}\n",
    "b_half_right": "def answer():\n    return 7\n",  # positive, so it passes the visible test only
    "d_kernel_dies": "import os\nos._exit(1)\n",
}


@pytest.fixture(scope="module", autouse=True)
def _sandbox_or_not():
    """Grade in the sandbox where it can run (as make autograde does), else without it."""
    with pytest.MonkeyPatch.context() as patch:
        if sandbox_unavailable():
            patch.setenv(sandbox.SWITCH_ENV, "off")
        yield


@pytest.fixture(scope="module")
def submitted(make_tiny_course, make_submission) -> Path:
    """A released course with five submissions, not graded yet: copy it before grading."""
    course = make_tiny_course(**{ASSIGNMENT: RIGHT})
    release(course)
    for student, answer in ANSWERS.items():
        make_submission(course, student, ASSIGNMENT, {"answer": answer})
    make_submission(course, "c_blank", ASSIGNMENT)
    folder = course / "submitted" / "e_invalid_json" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / f"{ASSIGNMENT}.ipynb").write_text('{"cells": [')
    return course


def copy_course(course: Path, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("copy") / "assignments"
    shutil.copytree(course, target)
    return target


@pytest.fixture(scope="module")
def one_worker(submitted, tmp_path_factory) -> Path:
    course = copy_course(submitted, tmp_path_factory)
    results = autograde(course, jobs=1, options=OPTIONS)
    assert [r.status for r in results] == ["graded", "graded", "graded", "failed", "failed"]
    assert [r.auto_score for r in results] == [2, 1, 0, 0, 0]
    write_grades(course)  # what the command line does after grading
    return course


@pytest.fixture(scope="module")
def two_workers(submitted, tmp_path_factory) -> tuple[Path, str]:
    course = copy_course(submitted, tmp_path_factory)
    output = run_cli(course, "--jobs", "2")
    assert output.returncode == 0, output.stdout
    return course, output.stdout


def run_cli(course: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course_utils.grading", "autograde", "--course", str(course),
                           "--timeout", str(CELL_TIMEOUT), *args],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


def gradebook_rows(course: Path) -> list[tuple]:
    """Every grade and comment of every submission, as comparable tuples."""
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in gradebook.students:
            for submission in student.submissions:
                for notebook in submission.notebooks:
                    rows += [(student.id, notebook.name, grade.name, grade.auto_score, grade.manual_score,
                              grade.needs_manual_grade) for grade in notebook.grades]
                    rows += [(student.id, notebook.name, comment.name, comment.auto_comment)
                             for comment in notebook.comments]
    return sorted(rows, key=repr)


def test_two_workers_give_the_same_grades_csv_and_gradebook_as_one(one_worker, two_workers):
    """Does JOBS=2 write byte for byte the grades.csv of JOBS=1, and the same gradebook, without lock errors?"""
    course, output = two_workers
    assert (course / "grades.csv").read_bytes() == (one_worker / "grades.csv").read_bytes()
    assert gradebook_rows(course) == gradebook_rows(one_worker)
    assert len({row[0] for row in gradebook_rows(course)}) == 5  # no lost rows
    assert "database is locked" not in output


def test_rerun_grades_nothing_and_changes_nothing(two_workers):
    """Is a second run idempotent: nothing graded again, grades.csv, gradebook and graded notebooks untouched?"""
    course, _ = two_workers
    before = {path: path.stat().st_mtime_ns for path in [course / "gradebook.db", course / "grades.csv",
                                                         *(course / "autograded").rglob("*.ipynb")]}
    csv_before = (course / "grades.csv").read_bytes()
    output = run_cli(course, "--jobs", "2")
    assert output.returncode == 0, output.stdout
    assert output.stdout.count("unchanged since last graded") == 5, output.stdout
    assert (course / "grades.csv").read_bytes() == csv_before
    after = {path: path.stat().st_mtime_ns for path in before if path.name != "grades.csv"}
    assert after == {path: mtime for path, mtime in before.items() if path.name != "grades.csv"}


def test_a_changed_submission_is_graded_again(two_workers, make_submission):
    """After the blank submission is replaced by a right one, is that one (and only that one) graded again?"""
    course, _ = two_workers
    make_submission(course, "c_blank", ASSIGNMENT, {"answer": ANSWERS["a_right"]})
    output = run_cli(course, "--jobs", "2")
    assert output.returncode == 0, output.stdout
    assert output.stdout.count("unchanged since last graded") == 4, output.stdout
    assert f"{ASSIGNMENT}/c_blank: graded 2/2 (" in output.stdout
    assert f"c_blank,{ASSIGNMENT},graded,2," in (course / "grades.csv").read_text()


def test_interrupted_batch_resumes_without_regrading_finished_work(submitted, one_worker, tmp_path_factory):
    """After the grading process is killed mid-batch, does the next run grade only what was not finished?"""
    course = copy_course(submitted, tmp_path_factory)
    records = course / STATE / "results" / ASSIGNMENT
    process = subprocess.Popen([sys.executable, "-m", "course_utils.grading", "autograde", "--course", str(course),
                                "--jobs", "2", "--timeout", str(CELL_TIMEOUT)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not list(records.glob("*.json")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # no chance to clean up: its nbgrader runs are left behind
    process.wait()
    finished = {path.stem: path.read_bytes() for path in records.glob("*.json")}
    assert 0 < len(finished) < 5, "the kill should land mid-batch"
    assert not (course / "grades.csv").exists()

    output = run_cli(course, "--jobs", "2")
    assert output.returncode == 0, output.stdout
    reused = {line.split(":")[0].split("/")[1] for line in output.stdout.splitlines()
              if "unchanged since last graded" in line}
    assert reused == set(finished)
    assert {path.stem: path.read_bytes() for path in records.glob("*.json") if path.stem in finished} == finished
    assert (course / "grades.csv").read_bytes() == (one_worker / "grades.csv").read_bytes()
    assert gradebook_rows(course) == gradebook_rows(one_worker)
    assert not batch_processes(course), "the runs of the killed batch were not stopped"


def test_a_second_batch_on_the_same_course_is_refused(two_workers):
    """While one autograde holds the course, does a second one stop at once with a clear message?"""
    import fcntl

    course, _ = two_workers
    with open(course / STATE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        output = run_cli(course)
    assert output.returncode == 1
    assert "another autograde is running" in output.stderr


def test_what_grading_imports_lazily_is_imported_before_any_worker_starts():
    """Workers import nbgrader.utils while the merge imports nbgrader.api; done at once in two threads,
    Python can hand one of them a half-initialised module (it failed a CI run). Imported before the
    workers start, they cannot race. Checked in a fresh interpreter. (Since the grading layers were
    split, importing the batch module imports nbgrader already; this checks that it stays so.)"""
    script = (
        "import sys\n"
        "from course_utils.grading import parallel\n"
        "seen = lambda submission: set(parallel.LAZY_IMPORTS) <= set(sys.modules)\n"
        "print(all(ready for _, ready in parallel._graded_as_completed(seen, [('a', 's1'), ('a', 's2')], 2)))\n"
    )
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert output.returncode == 0, output.stderr
    assert output.stdout.strip() == "True"


def test_batch_processes_finds_what_a_batch_started_and_nothing_else(tmp_path):
    """The check that no run is left behind (here and in the adversarial battery) must see a real one."""
    # Popen returns while the kernel may still be setting up the new program: until then /proc/<pid>/environ
    # reads empty. The children say when they run.
    started = [sys.executable, "-c", "import time; print('running', flush=True); time.sleep(60)"]
    ours = subprocess.Popen(started, stdout=subprocess.PIPE, env={**os.environ, BATCH_ENV: str(tmp_path.resolve())})
    other = subprocess.Popen(started, stdout=subprocess.PIPE,
                             env={**os.environ, BATCH_ENV: str(tmp_path / "elsewhere")})
    try:
        assert ours.stdout.readline() == other.stdout.readline() == b"running\n"
        found = batch_processes(tmp_path)
        assert ours.pid in found and other.pid not in found
    finally:
        for process in (ours, other):
            process.kill()
            process.wait()
            process.stdout.close()
    assert ours.pid not in batch_processes(tmp_path)
