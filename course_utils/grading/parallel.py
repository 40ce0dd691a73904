"""Grade a batch of submissions with N workers, resumably and idempotently.

nbgrader's gradebook is one SQLite file that does not take concurrent
writers (``database is locked``). So no worker writes it: each submission is
graded by its own nbgrader run against a private copy of the gradebook (taken
once per batch), and this process alone copies the grades into the course's
gradebook, one submission at a time as each is done, while the workers go on
grading. ``grades.csv`` is written from the results, sorted, so it is the same
for any number of workers.

Every finished submission leaves a record
``.grading/results/<assignment>/<student>.json`` with its result and a
fingerprint of what was graded (:func:`fingerprint`: the submitted files, the
assignment as the gradebook holds it, ``nbgrader_config.py``, the grading
code and options). A later batch reuses a record whose fingerprint still
matches instead of grading again, so re-running is idempotent, and a batch
stopped half-way (Ctrl-C, a closed terminal, a killed process) resumes where
it stopped. A changed submission, or a changed test, is graded again. Only
one batch runs on a course at a time (a lock file), and a batch first stops
whatever nbgrader runs a killed batch left behind.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import json
import os
import shutil
import signal
import sqlite3
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from .layout import points, source_notebooks, submission_digest
from .nbgrader_run import GradingError, GradingOptions, stop_running_nbgrader
from .submission import SubmissionResult

STATE = ".grading"  # below the course root; git-ignored
RECORD_VERSION = 1
# Set in the environment of every nbgrader run of a batch, so that a later batch
# can find and stop the runs that a killed batch left behind.
BATCH_ENV = "COURSE_GRADING_BATCH"

# The code whose change can change a grade, below course_utils/: every module of
# the grading layer and of the checks (hashed whole, not a hand-kept list, so a new
# module counts too), and the sandbox's limits (part of grading/sandbox.py).
GRADING_CODE = ("grading", "homework_checks")

GradeOne = Callable[[str, str, GradingOptions], SubmissionResult]


class Interrupted(GradingError):
    """The batch was stopped (Ctrl-C, SIGTERM, SIGHUP); finished submissions are kept."""


def grade_batch(course: Path, submissions: Sequence[tuple[str, str]], grade_one: GradeOne, *,
                jobs: int = 1, options: GradingOptions = GradingOptions(),
                report: Callable[[SubmissionResult, bool], None] | None = None) -> list[SubmissionResult]:
    """Grade every ``(assignment, student)`` with ``jobs`` workers; return the results in that order.

    ``grade_one(assignment, student, options)`` grades one submission and must
    not raise for a bad one (:func:`.submission.grade_submission` wrapped in
    the sandbox). Submissions whose record is up to date (and that the gradebook
    still holds) are not graded again. ``report(result, reused)`` is called for
    each: first the reused ones, then the others as they are done.
    """
    course = Path(course).resolve()
    state = course / STATE
    with _batch_lock(state):
        _stop_leftover_runs(course)
        _remove_leftover_scratch(state)
        scratch = Path(tempfile.mkdtemp(prefix=f"batch-{os.getpid()}-", dir=state))
        results: dict[tuple[str, str], SubmissionResult] = {}
        try:
            template = scratch / "gradebook.db"
            _snapshot(course / "gradebook.db", template)
            fingerprints = {submission: fingerprint(course, *submission, options, template)
                            for submission in submissions}
            recorded = _gradebook_submissions(template)
            for submission in submissions:
                reused = _reusable_record(course, submission, fingerprints[submission])
                if reused is not None and submission in recorded:
                    results[submission] = reused
            todo = [submission for submission in submissions if submission not in results]
            batch_options = dataclasses.replace(options, env={**options.env, BATCH_ENV: str(course)})

            def work(submission: tuple[str, str]) -> SubmissionResult:
                private = scratch / "{}--{}.db".format(*submission)
                shutil.copyfile(template, private)
                run_options = dataclasses.replace(batch_options, nbgrader_args=(
                    *batch_options.nbgrader_args, f"--CourseDirectory.db_url=sqlite:///{private}"))
                return grade_one(*submission, run_options)

            if report:
                for submission in submissions:
                    if submission in results:
                        report(results[submission], True)
            finished = _graded_as_completed(work, todo, jobs)
            try:
                for submission, result in finished:
                    merge_into_gradebook(course, scratch / "{}--{}.db".format(*submission), result)
                    _write_record(course, submission, fingerprints[submission], result)
                    results[submission] = result
                    if report:
                        report(result, False)
            finally:
                finished.close()  # on an error or interrupt: stops the runs still going
        except KeyboardInterrupt:
            done = sum(1 for submission in submissions if submission in results)
            raise Interrupted(f"grading interrupted after {done} of {len(submissions)} submissions; "
                              "the finished ones are kept: run autograde again to grade the rest") from None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return [results[submission] for submission in submissions]


def _graded_as_completed(work: Callable[[tuple[str, str]], SubmissionResult], todo: Sequence[tuple[str, str]],
                         jobs: int) -> Iterator[tuple[tuple[str, str], SubmissionResult]]:
    """Yield ``(submission, work(submission))`` as each is done, running ``jobs`` at a time.

    Closing the generator early (an error, Ctrl-C, SIGTERM or SIGHUP in the
    caller) cancels what has not started and stops the running nbgrader
    processes, which run in their own sessions and would not see the signal.

    The modules that grading imports lazily are imported here, before any
    worker starts: when a worker's first import of ``nbgrader.utils`` met the
    caller's first import of ``nbgrader.api`` (they import each other), Python
    handed one thread a half-initialised module and the batch failed with an
    ImportError.
    """
    _import_before_workers()
    with _signals_interrupt(), ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(work, submission): submission for submission in todo}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            stop_running_nbgrader()
            raise


# Imported lazily (slow, and needed only when grading) by the workers (scoring,
# the tampering check) and by the gradebook merge in the calling thread.
LAZY_IMPORTS = ("nbgrader.api", "nbgrader.utils", "IPython.core.inputtransformer2")


def _import_before_workers() -> None:
    for name in LAZY_IMPORTS:
        importlib.import_module(name)


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt, like Ctrl-C (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    names = [name for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {name: signal.signal(getattr(signal, name), interrupt) for name in names}
    try:
        yield
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)


# -- what was graded ----------------------------------------------------------------------


def fingerprint(course: Path, assignment: str, student: str, options: GradingOptions, gradebook: Path) -> str:
    """A hash of everything a submission's grade depends on (not of the per-run scratch paths).

    That is: the submitted files; the assignment as the gradebook holds it
    (every cell's source and checksum: a hidden test changed and released
    again counts) and its source folder; nbgrader_config.py; the code that
    decides a grade (every ``.py`` of :data:`GRADING_CODE`); the grading options.
    """
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"\0{label}\0{len(data)}\0".encode())
        digest.update(data)

    def add_tree(label: str, root: Path, pattern: str = "*") -> None:
        for path in sorted(root.rglob(pattern)) if root.is_dir() else []:
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts):
                add(f"{label}/{path.relative_to(root).as_posix()}", path.read_bytes())

    add("options", json.dumps([RECORD_VERSION, assignment, student, options.timeout, options.kernel_name,
                               list(options.nbgrader_args), options.submission_seconds,
                               os.environ.get("COURSE_SANDBOX", "")]).encode())
    add_tree("submission", course / "submitted" / student / assignment)
    add_tree("source", course / "source" / assignment)
    config = course / "nbgrader_config.py"
    add("config", config.read_bytes() if config.is_file() else b"")
    package = Path(__file__).resolve().parents[1]
    for folder in GRADING_CODE:
        add_tree(f"grader/{folder}", package / folder, "*.py")
    with contextlib.closing(sqlite3.connect(f"{gradebook.as_uri()}?mode=ro", uri=True)) as connection:
        cells = connection.execute(
            "SELECT notebook.name, source_cell.name, source_cell.cell_type, source_cell.locked, source_cell.source, "
            "source_cell.checksum FROM source_cell JOIN notebook ON source_cell.notebook_id = notebook.id "
            "JOIN assignment ON notebook.assignment_id = assignment.id WHERE assignment.name = ? "
            "ORDER BY notebook.name, source_cell.name", (assignment,)).fetchall()
    add("gradebook", json.dumps(cells).encode())
    return digest.hexdigest()


def _record_path(course: Path, submission: tuple[str, str]) -> Path:
    assignment, student = submission
    return course / STATE / "results" / assignment / f"{student}.json"


def _reusable_record(course: Path, submission: tuple[str, str], expected: str) -> SubmissionResult | None:
    """The recorded result if it was graded from exactly this input (and its graded copy is there)."""
    path = _record_path(course, submission)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        result = SubmissionResult(**record["result"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if record.get("fingerprint") != expected:
        return None
    assignment, student = submission
    if result.status in ("graded", "flagged") and not (course / "autograded" / student / assignment).is_dir():
        return None
    return result


def _write_record(course: Path, submission: tuple[str, str], fingerprint: str, result: SubmissionResult) -> None:
    path = _record_path(course, submission)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The content graded, so that export tells a later collect from a chmod or a restart (never by file times).
    folder = course / "submitted" / submission[1] / submission[0]
    data = {"fingerprint": fingerprint, "submission_digest": submission_digest(folder) if folder.is_dir() else "",
            "result": dataclasses.asdict(result)}
    data["result"]["cell_scores"] = dict(result.cell_scores)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


# -- the gradebook ------------------------------------------------------------------------


def _snapshot(database: Path, copy: Path) -> None:
    """A consistent copy of the gradebook (SQLite's backup, safe even if someone is writing)."""
    if not database.exists():
        raise GradingError(f"no gradebook at {database}: release the assignments first (make release)")
    with contextlib.closing(sqlite3.connect(database)) as source, contextlib.closing(sqlite3.connect(copy)) as target:
        source.backup(target)


def _gradebook_submissions(gradebook: Path) -> set[tuple[str, str]]:
    """Every ``(assignment, student)`` with a submission in the gradebook (a new gradebook has none)."""
    with contextlib.closing(sqlite3.connect(f"{gradebook.as_uri()}?mode=ro", uri=True)) as connection:
        return set(connection.execute(
            "SELECT assignment.name, submitted_assignment.student_id FROM submitted_assignment "
            "JOIN assignment ON submitted_assignment.assignment_id = assignment.id").fetchall())


def merge_into_gradebook(course: Path, private_database: Path, result: SubmissionResult) -> None:
    """Copy one submission's grades from the private gradebook of its run into the course's gradebook.

    A graded or flagged submission's automatic scores, comments, timestamp and
    late penalty are copied (a cell that a grader already scored by hand is
    marked for review again, as nbgrader does); a flagged submission's test
    cells keep the tests' scores and are marked ``needs_manual_grade``: they
    wait for a grader's decision in Formgrader, which grades.csv then shows.
    Without a grade (missing, failed, timeout) every test cell gets 0, as
    nbgrader gives a missing notebook. So the gradebook and grades.csv agree.
    """
    from nbgrader.api import Gradebook, MissingEntry  # slow to import: only when grading

    main_url = f"sqlite:///{course / 'gradebook.db'}"
    # nbgrader's own add_submission makes SQLAlchemy warn about autoflush; harmless, and noise here.
    with warnings.catch_warnings(), Gradebook(main_url) as main:
        warnings.filterwarnings("ignore", message=".*not in session.*")
        try:
            main.find_assignment(result.assignment)
        except MissingEntry:
            return  # an assignment the course does not have: nothing to record
        main.update_or_create_student(result.student)
        copied = False
        if result.status in ("graded", "flagged") and private_database.exists():
            with Gradebook(f"sqlite:///{private_database}") as private:
                try:
                    graded = private.find_submission(result.assignment, result.student)
                except MissingEntry:
                    pass
                else:
                    main.update_or_create_submission(result.assignment, result.student, timestamp=graded.timestamp)
                    _copy_grades(graded, main, result)
                    copied = True
        if result.status != "graded" or not copied:
            tests = _autograded_cells(course, result.assignment)
            submission = main.update_or_create_submission(result.assignment, result.student)
            for notebook in submission.notebooks:
                if not copied:
                    notebook.late_submission_penalty = None
                for grade in notebook.grades:
                    if grade.name not in tests:
                        continue
                    if result.status == "flagged" and copied:
                        grade.needs_manual_grade = True  # the tests' score stays, for a grader to decide
                    else:
                        grade.auto_score = 0
                        grade.needs_manual_grade = result.status == "flagged" or grade.manual_score is not None
        main.db.commit()


def _copy_grades(graded, main, result: SubmissionResult) -> None:
    for notebook in graded.notebooks:
        target_notebook = main.find_submission_notebook(notebook.name, result.assignment, result.student)
        target_notebook.late_submission_penalty = notebook.late_submission_penalty
        for grade in notebook.grades:
            target = main.find_grade(grade.name, notebook.name, result.assignment, result.student)
            target.auto_score = grade.auto_score
            target.needs_manual_grade = grade.needs_manual_grade or target.manual_score is not None
        for comment in notebook.comments:
            target = main.find_comment(comment.name, notebook.name, result.assignment, result.student)
            target.auto_comment = comment.auto_comment


def _autograded_cells(course: Path, assignment: str) -> set[str]:
    """Grade ids of the assignment's test cells (not the answers graded by hand)."""
    import nbformat

    cells: set[str] = set()
    for path in source_notebooks(course, assignment):
        cells |= points(nbformat.read(path, as_version=4))[0].keys()
    return cells


# -- one batch at a time, and what a killed batch left behind -----------------------------


@contextlib.contextmanager
def _batch_lock(state: Path) -> Iterator[None]:
    """Refuse a second batch on the same course while one runs (the lock dies with its process)."""
    state.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no second-batch guard
        yield
        return
    with open(state / "lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise GradingError(f"another autograde is running on {state.parent}; wait for it to finish") from None
        yield


def batch_processes(course: Path) -> list[int]:
    """The processes (nbgrader runs, their kernels) started by a grading batch of ``course``.

    They carry ``COURSE_GRADING_BATCH=<course>`` in their environment. Linux
    only (``/proc``); elsewhere the list is empty.
    """
    marker = f"{BATCH_ENV}={Path(course).resolve()}".encode()
    proc = Path("/proc")
    found = []
    for entry in proc.iterdir() if proc.is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in environ:
            found.append(int(entry.name))
    return found


def _stop_leftover_runs(course: Path) -> None:
    """Kill nbgrader runs (and their kernels) left running by a batch of this course that was killed.

    Holding the batch lock proves that their batch is gone.
    """
    for pid in batch_processes(course):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _remove_leftover_scratch(state: Path) -> None:
    for folder in state.glob("batch-*"):
        shutil.rmtree(folder, ignore_errors=True)
