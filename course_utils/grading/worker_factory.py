"""A process that forks a batch's grading workers: both sides of its protocol (standard library only).

The batch starts one factory (:class:`WorkerFactory`: a command whose program
imports what its workers need, then calls :func:`serve_forks`, such as
``python -m course_utils.grading.grading_worker --forks``), with its stdin a
Unix socket; what the program imported is then imported once for all its
workers, not once each. For each worker the batch sends a request (a JSON
object, handed to the worker) with two or three file descriptors: a socket
(the worker's stdin and stdout), a file (its stderr) and, optionally, one more
descriptor for the worker (it gets it as fd 3). The factory forks; the child
starts a session of its own, takes them as fds 0-3, closes every other
descriptor and runs the program's worker function with the request; the
factory answers the child's pid (a line) and has it reaped when it ends. The
factory ends when the batch closes its socket.

The factory and its workers hold only the grader's side: no kernel is ever
forked from them (grading kernels come from :mod:`.kernel_zygote`, a process
of its own), so no student code shares their memory or its layout.

A forked worker is not the batch's child: :class:`ForkedWorker` is the batch's
handle on one (what :class:`subprocess.Popen` gives of a started process), its
end seen on a pidfd.
"""
from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from .control_socket import start_with_control_socket, take_control_socket

MAX_REQUEST = 4096  # bytes of a request's JSON
START_SECONDS = 300.0  # for the factory's answer: its imports (nbgrader, torch) on a busy machine come first
EXTRA_FD = 3  # where a worker finds the descriptor passed with its request, if any


# -- the factory's side ---------------------------------------------------------------------


def serve_forks(run_worker: Callable[[dict], None]) -> None:
    """Fork ``run_worker(request)`` for each request on stdin (a Unix socket; see the module's docstring)
    until the batch closes it. The child's exit status: 0 when ``run_worker`` returns, its code for
    ``SystemExit``, 1 for anything else (its traceback on its stderr)."""
    control = take_control_socket()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # ended workers vanish: no zombies, nothing to wait for
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, MAX_REQUEST, 3)
        except (OSError, ValueError):
            break
        if not message:
            for fd in fds:
                os.close(fd)
            break  # the batch closed its end
        try:
            request = json.loads(message)
        except ValueError:
            request = None
        if not isinstance(request, dict) or len(fds) < 2:
            for fd in fds:
                os.close(fd)
            control.sendall(b"0\n")
            continue
        try:
            pid = os.fork()
        except OSError as error:  # no fork now (a process limit): this request is refused, the factory serves on
            print(f"no worker forked: {error}", file=sys.stderr, flush=True)
            pid = 0
        else:
            if pid == 0:
                _become_worker(control, fds, request, run_worker)
        for fd in fds:
            os.close(fd)
        control.sendall(f"{pid}\n".encode())


def _become_worker(control: socket.socket, fds: list[int], request: dict, run_worker: Callable[[dict], None]) -> None:
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        control.close()
        targets = [0, 1, 2, EXTRA_FD][:len(fds) + 1]
        for fd, target in zip([fds[0], *fds], targets):
            os.dup2(fd, target)
        for name in os.listdir("/proc/self/fd"):
            if int(name) not in targets:
                with contextlib.suppress(OSError):
                    os.close(int(name))
        run_worker(request)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:  # noqa: B036 (never return into the factory's loop)
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)


# -- the batch's side -----------------------------------------------------------------------


class WorkerFactory:
    """A started factory: ``command`` (whose program calls :func:`serve_forks`) run in ``cwd`` with ``env``,
    in a session of its own; :meth:`start` forks a worker from it. Its own output goes to a file that
    :meth:`start`'s errors quote."""

    def __init__(self, command: list[str], cwd, env: dict[str, str]):
        import tempfile

        self.log = tempfile.TemporaryFile()
        self.process, self.control = start_with_control_socket(command, cwd=cwd, env=env, stdout=self.log,
                                                               stderr=self.log, start_new_session=True)
        self._lock = threading.Lock()

    def alive(self) -> bool:
        return self.process.poll() is None

    def start(self, log, request: dict | None = None, extra_fd: int | None = None) -> ForkedWorker:
        """A new worker, given ``request`` (a JSON object) and ``extra_fd`` (as its fd 3); ``log``, a file,
        becomes its stderr. :class:`OSError` if the factory is gone or refused the request."""
        ours, theirs = socket.socketpair()
        fds = [theirs.fileno(), log.fileno(), *([extra_fd] if extra_fd is not None else [])]
        try:
            with self._lock:
                socket.send_fds(self.control, [json.dumps(request or {}).encode()], fds)
                answer, deadline = b"", time.monotonic() + START_SECONDS
                while not answer.endswith(b"\n"):
                    left = deadline - time.monotonic()
                    if left <= 0 or not select.select([self.control], [], [], left)[0]:
                        self.stop_now()  # stuck (importing?): the next worker gets a new factory
                        raise OSError(f"the grading worker factory did not answer in {START_SECONDS:g} s: "
                                      f"{last_line(self.log)}")
                    chunk = self.control.recv(32)
                    if not chunk:
                        raise OSError(f"the grading worker factory ended: {last_line(self.log)}")
                    answer += chunk
            if int(answer) <= 0:
                raise OSError(f"the grading worker factory refused the request: {last_line(self.log)}")
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return ForkedWorker(int(answer), ours)

    def stop_now(self) -> None:
        """Kill the factory (not its workers: each is in a session of its own)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def stop(self) -> None:
        """End the factory (its workers go on until stopped themselves)."""
        with contextlib.suppress(OSError):
            self.control.close()
        try:
            self.process.wait(timeout=5)  # it ends when its socket closes
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


class ForkedWorker:
    """The batch's handle on a forked worker: ``pid``, ``stdin`` and ``stdout`` (text, on its socket), ``poll``
    and ``wait`` as :class:`subprocess.Popen` has them, except that the exit status is unknown (-1)."""

    def __init__(self, pid: int, channel: socket.socket):
        self.pid = pid
        self._channel = channel
        self.stdin = channel.makefile("w", encoding="utf-8")
        self.stdout = channel.makefile("r", encoding="utf-8")
        self.returncode: int | None = None
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:  # it ended (and was reaped) already: its socket says so too
            self._pidfd, self.returncode = None, -1

    def poll(self) -> int | None:
        if self.returncode is None and self._pidfd is not None and select.select([self._pidfd], [], [], 0)[0]:
            self.returncode = -1
            os.close(self._pidfd)
            self._pidfd = None
        return self.returncode

    def kill(self) -> None:
        """SIGKILL to the worker itself (through its pidfd: never to a process that took its pid) and to its
        session's process group (its children), if it still runs."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
                os.killpg(self.pid, signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"grading worker {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def close(self) -> None:
        """Close the batch's end of the worker's socket (the worker ends when it reads that)."""
        for stream in (self.stdin, self.stdout, self._channel):
            with contextlib.suppress(OSError):
                stream.close()
        if self._pidfd is not None and self.returncode is not None:
            os.close(self._pidfd)
            self._pidfd = None


def last_line(log) -> str:
    """The last line written to ``log`` (a binary file), or "no message"."""
    with contextlib.suppress(OSError, ValueError):
        log.seek(0)
        lines = log.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else "no message"
    return "no message"
