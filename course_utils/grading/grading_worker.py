"""Long-lived grading processes: nbgrader imported once, warm sandboxed kernels.

An nbgrader process per submission costs ≈2 s of imports, and a fresh kernel
≈3-4 s more (IPython, torch, torchvision) before the first test runs. So
:func:`course_utils.grading.pipeline.autograde` (``make autograde``) keeps one
worker process per thread of its batch (:class:`WarmWorkers`, whose ``grade``
is the batch's ``grade_one``), forked by the batch's worker factory
(``python -m course_utils.grading.grading_worker --forks COURSE``, a
:class:`~course_utils.grading.worker_factory.WorkerFactory` that imported
nbgrader, the checks and torch once for them all). A worker grades one submission at a time
with :func:`course_utils.grading.submission.grade_submission`, unchanged,
except that the nbgrader step runs in the worker itself
(:func:`run_autograde_in_process`: nbgrader's ``AutogradeApp``, the same
command-line arguments, configuration and exit status) and that the course's
``Execute`` preprocessor (the judged one) takes its kernel from the worker's
:class:`~course_utils.grading.warm_kernels.WarmKernelPool`
(:func:`~course_utils.grading.warm_kernels.warm_execute_class`): started
ahead, sandboxed, one per submission, forked by the batch's one kernel zygote
(:class:`~course_utils.grading.kernel_zygote.SharedZygote`, a process of its
own: kernels share nothing with the workers; a worker's line to it is a socket
of its own). Each submission still gets its private
copy of the gradebook (the batch's ``--CourseDirectory.db_url``), merged by
the batch.

Without root (an instructor's account on the hub) warm kernels cannot join
their sandbox's namespaces, so the worker keeps nbgrader in-process and starts
a fresh kernel per submission in a sandbox of its own, exactly as the
one-process-per-submission path does (:func:`.sandbox.sandboxed_options`, its
environment set for that run only). With ``COURSE_SANDBOX=off`` the worker
keeps nbgrader in-process and starts an ordinary kernel per submission
(nbgrader's own ``Execute``).

Protocol (one JSON object a line): the batch sends ``{"assignment",
"student", "options"}`` on the worker's stdin; the worker answers on its
stdout with the :class:`~course_utils.grading.submission.SubmissionResult` as a
dict, or ``{"error": ...}`` if grading itself broke.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import io
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from . import kernel_zygote, nbgrader_run, sandbox, sandbox_command, submission
from .kernel_zygote import SharedZygote, ZygoteConnection
from .layout import points, source_notebooks
from .nbgrader_cli import collection_paused, skip_unused_modules
from .nbgrader_run import GradingError, GradingOptions, NbgraderTimeout, nbgrader_environment
from .submission import SubmissionResult
from .worker_factory import EXTRA_FD, WorkerFactory, last_line, serve_forks

NBGRADER_MODULE = "course_utils.grading.nbgrader_cli"
BACKSTOP_SECONDS = 120.0  # after submission_seconds: the worker itself is stuck
CHECKS = "course_utils.homework_checks"  # what judged test cells call (judged_execute), with torch


# -- the batch's side -----------------------------------------------------------------------


class WarmWorkers:
    """One grading worker process per thread that calls :meth:`grade`; close it to stop them all.

    ``grade(assignment, student, options)`` has the contract of the batch's
    ``grade_one`` (:func:`course_utils.grading.parallel.grade_batch`): it never
    raises for a bad submission. ``options`` are those of the batch, without
    the sandbox's (the worker sandboxes its kernels itself).
    """

    def __init__(self, course):
        self.course = Path(course).resolve()
        self._local = threading.local()
        self._workers: list[_Worker] = []
        self._zygotes: dict[str, SharedZygote] = {}  # by the kernels' environment and preloads
        self._factories: dict[str, WorkerFactory] = {}  # by the workers' environment
        self.zygote_log = tempfile.TemporaryFile()  # what the batch's zygotes say: why one died
        self._lock = threading.Lock()

    def grade(self, assignment: str, student: str, options: GradingOptions) -> SubmissionResult:
        env = nbgrader_environment(options)
        worker = getattr(self._local, "worker", None)
        if worker is None or not worker.usable(env):
            if worker is not None:
                worker.stop()
            worker = _Worker(self.course, env, self._factory_for(env), self._zygote_for(env))
            self._local.worker = worker
            with self._lock:
                self._workers.append(worker)
        return worker.grade(assignment, student, options)

    def _zygote_for(self, env: dict[str, str]) -> SharedZygote | None:
        """The batch's kernel zygote for workers started with ``env`` (started at first need, again if it
        ended), or None where workers keep no warm kernels."""
        if not warm_kernels_possible(env):
            return None
        kernel_env = sandbox_command.kernel_environment(sys.executable, env)
        preloads = kernel_zygote.preloads_for_course(self.course)
        return self._running(self._zygotes, [kernel_env, preloads],
                             lambda: SharedZygote(preloads, kernel_env, stderr=self.zygote_log))

    def _factory_for(self, env: dict[str, str]) -> WorkerFactory:
        """The batch's worker factory for ``env`` (started at first need, again if it ended)."""
        return self._running(self._factories, env, lambda: WorkerFactory(
            [sys.executable, "-m", __name__, "--forks", str(self.course)], cwd=self.course, env=env))

    def _running(self, started: dict, what, start):
        """``started``'s process for ``what`` (a JSON value), started with ``start()`` if it has none that still
        runs (one that ended is stopped and replaced)."""
        key = json.dumps(what, sort_keys=True)
        with self._lock:
            process = started.get(key)
            if process is None or not process.alive():
                if process is not None:
                    process.stop()
                process = started[key] = start()
            return process

    def stop(self) -> None:
        """Stop every worker now (their kernels die with them), then the batch's factories and zygotes; the
        threads waiting on them return."""
        with self._lock:
            workers, others = list(self._workers), [*self._factories.values(), *self._zygotes.values()]
            self._factories.clear()
            self._zygotes.clear()
        for worker in workers:
            worker.stop()
        for other in others:
            other.stop()
        self.zygote_log.close()

    close = stop

    def __enter__(self) -> WarmWorkers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Worker:
    """One worker, with ``env``, forked by ``factory``; with a ``zygote`` (the batch's), its kernels are
    forked by that."""

    def __init__(self, course: Path, env: dict[str, str], factory: WorkerFactory, zygote: SharedZygote | None):
        self.env = env
        self.course = course
        self.zygote = zygote
        self.log = tempfile.TemporaryFile()  # what the worker says besides its answers: why it died
        line = zygote.connect() if zygote is not None else None
        try:
            self.process = factory.start(self.log, {"zygote": zygote.process.pid} if line else {},
                                         line.fileno() if line else None)
        finally:
            if line is not None:
                line.close()  # the worker's now

    def usable(self, env: dict[str, str]) -> bool:
        return (self.process.poll() is None and env == self.env
                and (self.zygote is None or self.zygote.alive()))

    def grade(self, assignment: str, student: str, options: GradingOptions) -> SubmissionResult:
        started = time.monotonic()
        request = {"assignment": assignment, "student": student, "options": _options_to_json(options)}
        try:
            with nbgrader_run.stopped_with_the_batch(self.process):
                self.process.stdin.write(json.dumps(request) + "\n")
                self.process.stdin.flush()
                line = self._read_line(options.submission_seconds + BACKSTOP_SECONDS)
        except (OSError, ValueError) as error:
            line, why = None, f"the grading worker is gone ({error})"
        else:
            why = "the grading worker stopped answering" if line is None else "the grading worker died"
        if not line:
            words = self.last_words()
            self.stop()
            return _result_without_grade(self.course, assignment, student, "failed", f"{why}: {words}"[:300],
                                         started)
        answer = json.loads(line)
        if answer.get("status") == "timeout":
            self.stop()  # it stops after a timeout; the next submission gets a new worker
        if "error" in answer:
            return _result_without_grade(self.course, assignment, student, "failed", answer["error"][-300:], started)
        return SubmissionResult(**answer)

    def _read_line(self, seconds: float) -> str | None:
        import selectors

        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(seconds):
                return None
        return self.process.stdout.readline()

    def last_words(self) -> str:
        return last_line(self.log)

    def stop(self) -> None:
        """Kill the worker (its session), wait for its end, close its socket and log."""
        self.process.kill()
        self.process.wait()
        self.process.close()
        self.log.close()


def _options_to_json(options: GradingOptions) -> dict:
    return {"timeout": options.timeout, "kernel_name": options.kernel_name,
            "nbgrader_args": list(options.nbgrader_args), "env": dict(options.env),
            "submission_seconds": options.submission_seconds}


def _result_without_grade(course: Path, assignment: str, student: str, status: str, detail: str,
                          started: float) -> SubmissionResult:
    auto_max, manual_max = 0.0, 0.0
    import nbformat

    for path in source_notebooks(course, assignment):
        auto, manual = points(nbformat.read(path, as_version=4))
        auto_max += sum(auto.values())
        manual_max += manual
    return SubmissionResult(student, assignment, status, auto_max=auto_max, manual_max=manual_max,
                            detail=detail, seconds=time.monotonic() - started)


def warm_workers_unavailable(options: GradingOptions = GradingOptions()) -> str | None:
    """Why warm workers cannot grade here (then each submission gets its own nbgrader run), or None.

    A kernel named in the options is started by nbgrader as named, which a
    worker does not do. Otherwise workers always run nbgrader in-process; their
    kernels are warm (root: they join their sandbox's namespaces), fresh in a
    sandbox each (without root), or fresh and ordinary (sandbox off).
    :func:`course_utils.grading.pipeline.autograde` asks this before it uses them.
    """
    if options.kernel_name:
        return f"the options name a kernel ({options.kernel_name}), which nbgrader starts itself"
    return None


def warm_kernels_possible(environ: dict[str, str] | None = None) -> bool:
    """Whether a worker can keep a :class:`~.warm_kernels.WarmKernelPool`: the sandbox is on (in ``environ``,
    by default this process's environment) and we are root (a forked kernel joins its sandbox's namespaces)."""
    return sandbox.sandbox_enabled(environ) and os.geteuid() == 0


@contextlib.contextmanager
def _environment_added(extra: dict[str, str]):
    """``os.environ`` with ``extra`` set while the block runs (what an nbgrader process would have got), then
    as it was: the kernels nbgrader starts inherit it. A sandbox's ``TMPDIR`` (where jupyter_client writes
    the kernel's connection file, which the launcher reads) also becomes ``tempfile``'s folder for the block
    (its documented ``tempfile.tempdir``, which otherwise keeps the folder it found first)."""
    saved = {name: os.environ.get(name) for name in extra}
    saved_tempdir = tempfile.tempdir
    os.environ.update(extra)
    if "TMPDIR" in extra:
        tempfile.tempdir = extra["TMPDIR"]
    try:
        yield
    finally:
        tempfile.tempdir = saved_tempdir
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# -- the worker's side ----------------------------------------------------------------------


class _Timeout(BaseException):
    pass


def run_autograde_in_process(course: Path, command: list[str], options: GradingOptions = GradingOptions(),
                             seconds: float | None = None, *, pool=None) -> subprocess.CompletedProcess:
    """Run ``nbgrader autograde ...`` (an :func:`.nbgrader_run.nbgrader_command`) in this process.

    Same arguments and configuration as the command line (``nbgrader_config.py``
    of ``course``), same exit status (1 when nbgrader fails); the log is the
    output. With a ``pool``, notebooks run in its warm kernels. After
    ``seconds`` the run is stopped and :class:`.nbgrader_run.NbgraderTimeout`
    raised. Main thread only (the time limit is an alarm signal).
    """
    if command[1:4] != ["-m", NBGRADER_MODULE, "autograde"]:
        raise ValueError(f"not an nbgrader autograde command: {command[:4]}")
    from nbgrader.apps.autogradeapp import AutogradeApp
    from traitlets.config import Config


    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("[%(name)s | %(levelname)s] %(message)s"))
    saved_path, saved_cwd = list(sys.path), os.getcwd()
    previous_alarm = None
    app = AutogradeApp()
    returncode = 0
    try:
        os.chdir(course)
        if seconds is not None:
            def out_of_time(signum, frame):
                raise _Timeout

            previous_alarm = signal.signal(signal.SIGALRM, out_of_time)
            signal.setitimer(signal.ITIMER_REAL, seconds)
        app.initialize(command[4:])  # (options.env is set by the caller: see serve)
        app.log.handlers[:] = [handler]
        if pool is not None:
            app.update_config(Config({"Autograde": {"autograde_preprocessors": warm_preprocessors(
                app.config.Autograde.autograde_preprocessors, pool)}}))
        app.start()
    except SystemExit as exit_:
        returncode = exit_.code if isinstance(exit_.code, int) else 1
    except _Timeout:
        raise NbgraderTimeout(f"nbgrader still running after {seconds:g} s") from None
    except Exception:  # nbgrader's command line would die with a traceback: so does this run
        log.write(traceback.format_exc())
        returncode = 1
    finally:
        if seconds is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous_alarm)
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        handler.close()
    return subprocess.CompletedProcess(command, returncode, log.getvalue(), None)


def warm_preprocessors(preprocessors, pool) -> list:
    """The autograde preprocessors with the one that runs the notebook (nbgrader's ``Execute`` or a
    subclass, named or given) replaced by its warm version; an error if there is none."""
    from traitlets.utils.importstring import import_item

    from .warm_kernels import Execute, warm_execute_class

    replaced, found = [], False
    for preprocessor in preprocessors:
        kind = import_item(preprocessor) if isinstance(preprocessor, str) else preprocessor
        if isinstance(kind, type) and issubclass(kind, Execute):
            replaced.append(warm_execute_class(kind, pool))
            found = True
        else:
            replaced.append(preprocessor)
    if not found:
        raise GradingError(f"no Execute preprocessor among Autograde.autograde_preprocessors: {preprocessors}")
    return replaced


def serve(course: Path, zygote: ZygoteConnection | None = None) -> None:
    """Grade the requests on stdin, one at a time, answering on stdout (see the module's docstring).

    ``zygote``: this worker's line to its batch's kernel zygote, for its warm kernels; without one, the pool
    starts a zygote of its own where warm kernels are possible.
    """
    skip_unused_modules()
    requests = sys.stdin
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints must not break the replies
    import nbgrader.apps.autogradeapp  # noqa: F401 (once, here: that is the point of a worker)

    gc.freeze()  # nbgrader's modules: no later collection walks them again

    from .warm_kernels import WarmKernelPool

    with contextlib.ExitStack() as stack:
        pool = None
        if warm_kernels_possible():
            pool = stack.enter_context(WarmKernelPool(course / "autograded", zygote=zygote))
        elif zygote is not None:
            zygote.close()

        def run_nbgrader(course, command, options=GradingOptions(), seconds=None):
            with _environment_added(options.env):
                return run_autograde_in_process(course, command, options, seconds, pool=pool)

        for line in requests:
            request = json.loads(line)
            try:
                options = GradingOptions(**{**request["options"], "nbgrader_args": tuple(request["options"]["nbgrader_args"])})
                with contextlib.ExitStack() as own:
                    if pool is None:  # a fresh kernel, in its own sandbox unless COURSE_SANDBOX=off
                        options = own.enter_context(sandbox.sandboxed_options(course, options))
                    result = submission.grade_submission(course, request["assignment"], request["student"], options,
                                                         run=run_nbgrader)  # in this process
                answer = dataclasses.asdict(result)
                answer["cell_scores"] = dict(result.cell_scores)
            except Exception:
                answer = {"error": traceback.format_exc()}
            replies.write(json.dumps(answer) + "\n")
            if answer.get("status") == "timeout":
                return  # stopped half-way, nbgrader may be in any state: the batch starts a new worker


def main(argv: list[str]) -> None:
    """``--forks COURSE``: a batch's worker factory (:mod:`.worker_factory`), after importing what a worker
    imports (nbgrader, the judged preprocessor, the warm kernels' pool; for a course built on torch, the
    checks and torch); each worker forked from it serves (:func:`serve`), with its batch's zygote on fd 3
    if its request names the zygote's pid. Started by :class:`WarmWorkers`."""
    if argv[:1] != ["--forks"] or len(argv) != 2:
        sys.exit(f"usage: python -m {__spec__.name} --forks COURSE (started by the batch: WarmWorkers)")
    course = Path(argv[1]).resolve()
    with collection_paused():
        skip_unused_modules()
        import nbgrader.apps.autogradeapp  # noqa: F401 (what every worker needs, imported once)

        from . import judged_execute, warm_kernels  # noqa: F401

        if CHECKS in kernel_zygote.preloads_for_course(course):
            kernel_zygote.preload((CHECKS,))  # every module of the checks, which import torch
        gc.freeze()

    def run_worker(request: dict) -> None:
        zygote = ZygoteConnection(EXTRA_FD, int(request["zygote"])) if request.get("zygote") else None
        serve(course, zygote)

    serve_forks(run_worker)


if __name__ == "__main__":
    main(sys.argv[1:])
