"""A grading worker's program: its kernel zygote forked first, then the worker itself.

    python -m course_utils.grading.worker_start COURSE [MODULE ...]

:class:`course_utils.grading.grading_worker.WarmWorkers` starts each worker so.
The process starts with the environment that grading kernels get
(:func:`.sandbox_command.kernel_environment`) and nothing of the grader's but
the course's path. With ``MODULE``\\ s (the worker will keep warm kernels), it
imports them and forks its :mod:`~course_utils.grading.kernel_zygote` before
anything else happens (:func:`~.kernel_zygote.fork_zygote`), so the worker and
its zygote pay one import of torch and the rest, not two, and the zygote, and
every kernel forked from it, holds only those imports. Only then does it read
the worker's environment, the first line on stdin (a JSON object: the
grader's environment, made right for nbgrader), take it as its own, and serve
as :func:`course_utils.grading.grading_worker.serve` (the rest of stdin).

Nothing here may import nbgrader or read the grader's files before the fork:
``tests/grading/test_layers.py`` checks the imports.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path


def take_environment(environment: dict[str, str]) -> None:
    """Make ``environment`` this process's whole environment, as if it had started with it (``tempfile``'s
    folder found anew, ``PYTHONPATH``'s folders put on ``sys.path`` where the interpreter would put them)."""
    os.environ.clear()
    os.environ.update(environment)
    tempfile.tempdir = None
    extra = [folder for folder in environment.get("PYTHONPATH", "").split(os.pathsep) if folder]
    sys.path[1:1] = [folder for folder in extra if folder not in sys.path]


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit(f"usage: python -m {__spec__.name} COURSE [MODULE ...] (the worker's environment on stdin)")
    course, preloads = Path(argv[0]).resolve(), argv[1:]
    zygote = None
    if preloads:
        from .kernel_zygote import fork_zygote

        zygote = fork_zygote(preloads)
    line = sys.stdin.readline()
    if not line:
        sys.exit("no environment on stdin: the batch that started this worker is gone")
    take_environment(json.loads(line))
    from .grading_worker import serve

    serve(course, zygote=zygote)


if __name__ == "__main__":
    main(sys.argv[1:])
