"""Does a batch's worker factory fork workers that are on their own, and does the batch see their end?

The factory here runs a small worker function (standard library only), not a
grading worker; grading through it is tested by every autograde test.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time

import pytest

from course_utils.grading.worker_factory import WorkerFactory

# The worker: answers each line with what it is (pid, parent, session, group, open descriptors, the line).
WORKER = """if True:
    import json, os, sys
    from course_utils.grading.worker_factory import serve_forks

    def run(request):
        print("started", file=sys.stderr, flush=True)
        for line in sys.stdin:
            if line.strip() == "exit 3":
                sys.exit(3)
            fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
            print(json.dumps({"pid": os.getpid(), "parent": os.getppid(), "session": os.getsid(0),
                              "group": os.getpgid(0), "fds": fds, "line": line.strip(), "request": request,
                              "fd3": os.read(3, 100).decode() if request else None}), flush=True)

    serve_forks(run)
"""


@pytest.fixture
def factory(tmp_path):
    started = WorkerFactory([sys.executable, "-c", WORKER], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    yield started
    started.stop()


def ask(worker, line: str) -> dict:
    worker.stdin.write(line + "\n")
    worker.stdin.flush()
    return json.loads(worker.stdout.readline())


def test_each_worker_is_forked_by_the_factory_into_a_session_of_its_own(factory):
    logs = [tempfile.TemporaryFile() for _ in range(2)]
    workers = [factory.start(log) for log in logs]
    answers = [ask(worker, f"hello {index}") for index, worker in enumerate(workers)]
    for worker, answer, index in zip(workers, answers, range(2)):
        assert answer["pid"] == worker.pid
        assert answer["parent"] == factory.process.pid
        assert answer["session"] == answer["group"] == worker.pid
        assert answer["fds"][:3] == [0, 1, 2] and len(answer["fds"]) <= 4, answer  # (+ the listing's own)
        assert answer["line"] == f"hello {index}"
    for worker in workers:
        worker.close()  # the batch's end of its socket: the worker reads the end of its input
        assert worker.wait(timeout=10) == -1
    for log in logs:  # each worker's stderr is its own file
        log.seek(0)
        assert log.read() == b"started\n"
        log.close()


def test_the_batch_sees_a_worker_end_and_the_factory_reaps_it(factory):
    with tempfile.TemporaryFile() as log:
        worker = factory.start(log)
        assert worker.poll() is None
        worker.stdin.write("exit 3\n")
        worker.stdin.flush()
        assert worker.wait(timeout=10) == -1
        assert worker.stdout.readline() == ""  # its socket closed with it
        worker.close()
        time.sleep(0.2)
        with open(f"/proc/{factory.process.pid}/task/{factory.process.pid}/children") as children:
            assert children.read().split() == []  # no zombie left


def test_a_request_and_one_more_descriptor_reach_the_worker(factory):
    import os

    read, write = os.pipe()
    os.write(write, b"for the worker")
    os.close(write)
    with tempfile.TemporaryFile() as log:
        worker = factory.start(log, {"zygote": 12345}, read)
        os.close(read)
        answer = ask(worker, "hello")
        assert answer["request"] == {"zygote": 12345}
        assert answer["fd3"] == "for the worker"
        assert answer["fds"][:4] == [0, 1, 2, 3] and len(answer["fds"]) <= 5, answer
        worker.close()
        assert worker.wait(timeout=10) == -1


def test_a_factory_that_ended_says_so(factory):
    factory.stop()
    assert not factory.alive()
    with tempfile.TemporaryFile() as log, pytest.raises(OSError):
        factory.start(log)
