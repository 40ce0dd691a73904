"""Layer 1: run one nbgrader step (a command line of nbgrader's, in the course root).

Every nbgrader step of the course runs as its own nbgrader process (nbgrader's
command line, started by :mod:`.nbgrader_cli`), built by :func:`nbgrader_command`
and run by :func:`run_nbgrader`. Nothing here knows about submissions or
batches: :mod:`.submission` grades one submission with these, :mod:`.parallel`
grades a batch, :mod:`.pipeline` is what the make targets call.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class GradingError(RuntimeError):
    """An nbgrader step failed for the whole course (not for one submission); the message says why."""


@dataclass(frozen=True)
class GradingOptions:
    """What a grading run may change; everything else is in ``nbgrader_config.py``.

    ``timeout`` overrides ``Execute.timeout`` (seconds per cell) of
    nbgrader_config.py, e.g. to keep tests short. ``kernel_name`` is the
    kernelspec that runs submissions (e.g. a sandboxed one); ``nbgrader_args``
    and ``env`` are added to every autograde run's command line and
    environment. ``submission_seconds`` bounds one submission's whole nbgrader
    run, as a last resort behind the per-cell timeout.
    """

    timeout: int | None = None
    kernel_name: str | None = None
    nbgrader_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    submission_seconds: float = 900.0


# -- the one place that builds and runs nbgrader commands ---------------------------------


def nbgrader_command(subcommand: str, *args: str, options: GradingOptions = GradingOptions()) -> list[str]:
    """The command line of one nbgrader step, to be run in the course root.

    nbgrader is run by this interpreter, so it is the course environment's,
    through :mod:`course_utils.grading.nbgrader_cli` (nbgrader's own command
    line, started faster). For ``autograde`` the options' timeout, kernel and
    extra arguments are added; ``Execute`` is nbgrader's ExecutePreprocessor.
    """
    command = [sys.executable, "-m", "course_utils.grading.nbgrader_cli", subcommand, *args]
    if subcommand == "autograde":
        if options.timeout is not None:
            command.append(f"--Execute.timeout={options.timeout}")
        if options.kernel_name:
            command.append(f"--Execute.kernel_name={options.kernel_name}")
        command.extend(options.nbgrader_args)
    return command


def nbgrader_environment(options: GradingOptions = GradingOptions()) -> dict[str, str]:
    """This process's environment, made right for nbgrader and its kernels.

    The interpreter's folder goes first on PATH (nbgrader runs ``alembic`` to
    create the gradebook). Kernels use one CPU thread unless
    ``OMP_NUM_THREADS`` is set: homework models are small, and several
    submissions graded at once would otherwise fight over the cores.
    """
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update(options.env)
    return env


class NbgraderTimeout(Exception):
    pass


def run_nbgrader(course: Path, command: list[str], options: GradingOptions = GradingOptions(),
                 seconds: float | None = None) -> subprocess.CompletedProcess:
    """Run ``command`` in the course root; its output (stdout and stderr) is captured together.

    After ``seconds`` nbgrader is interrupted (it then shuts its kernel down),
    killed 10 s later if still running, and :class:`NbgraderTimeout` raised.
    """
    process = subprocess.Popen(command, cwd=course, env=nbgrader_environment(options), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    with stopped_with_the_batch(process):
        try:
            output, _ = process.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            _stop(process)
            process.communicate()
            raise NbgraderTimeout(f"nbgrader still running after {seconds:g} s") from None
    return subprocess.CompletedProcess(command, process.returncode, output, None)


# nbgrader runs in its own session, so Ctrl-C in the terminal does not reach it:
# whoever stops a batch stops these (course_utils.grading.parallel).
_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()


@contextlib.contextmanager
def stopped_with_the_batch(process: subprocess.Popen):
    """While the block runs, :func:`stop_running_nbgrader` stops ``process`` (in its own session) too."""
    with _running_lock:
        _running.add(process)
    try:
        yield process
    finally:
        with _running_lock:
            _running.discard(process)


def stop_running_nbgrader() -> None:
    """Stop every nbgrader run of this process that is still going (and its kernel)."""
    with _running_lock:
        processes = list(_running)
    threads = [threading.Thread(target=_stop, args=(process,)) for process in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _stop(process: subprocess.Popen) -> None:
    """Interrupt nbgrader (it then shuts its kernel down); kill it if still running 10 s later.

    Only signals and waits: the thread running the process still reads its output.
    """
    _signal_group(process, signal.SIGINT)
    deadline = time.monotonic() + 10
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if process.poll() is None:
        _signal_group(process, getattr(signal, "SIGKILL", signal.SIGTERM))


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
    except ProcessLookupError:
        pass


def output_tail(output: str, lines: int = 20) -> str:
    return "\n".join(output.strip().splitlines()[-lines:])


def error_line(output: str) -> str:
    """The most telling line of a failed nbgrader run, for grades.csv: its last exception, if any."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    exceptions = [line for line in lines if _EXCEPTION_LINE.match(line)]
    logged = [line for line in lines if "| ERROR]" in line]
    line = (exceptions or logged or lines or ["nbgrader failed without output"])[-1]
    return line[:300]


_EXCEPTION_LINE = re.compile(r"^[\w.]*(Error|Exception|Exit|Interrupt)\b.*: ")
