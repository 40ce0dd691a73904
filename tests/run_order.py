"""The order in which `make test` hands test files to its two workers: the longest first.

``pytest -n 2 --dist loadscope`` (and ``loadfile``) gives each worker whole
files. By default pytest-xdist orders them by their number of tests, which put
files of one or two long tests at the end (the exchange end to end: one test,
a minute), where they ran with the other core idle. ``make test`` passes
``--no-loadscope-reorder``, so the workers take files in collection order, and
this plugin sorts that order, when tests are distributed, by each file's
seconds in the last recorded run, ``tests/durations.json`` (files not in it go
last, in the order collected; the tests inside a file keep theirs). A stale,
missing or unreadable record costs time, never a result. (xdist hands a worker
its next file when two tests of its current one are left: longest first is
the order of starting, not a schedule.)

Refresh the record after adding or changing slow tests; each command updates
the files it ran, drops files that no longer exist, and writes nothing unless
every selected test ran and none failed::

    .venv/bin/python -m pytest -n 2 --dist loadscope --ignore=tests/browser --record-durations
    .venv/bin/python -m pytest -n 2 --dist loadfile tests/browser --record-durations

A file in which a test was skipped keeps the seconds it had (its run was
shorter than a full one). Loaded by the root ``conftest.py`` (``pytest_plugins``),
so it applies however pytest is started.
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

RECORD = Path(__file__).resolve().parent / "durations.json"


def file_of(nodeid: str) -> str:
    """``tests/grading/test_lms.py::test_x[a]`` -> ``tests/grading/test_lms.py`` (a notebook's path likewise)."""
    return nodeid.split("::", 1)[0]


def recorded_seconds(record: Path = RECORD) -> dict[str, float]:
    """``{test file: seconds}`` from the record; empty if there is none or it cannot be read."""
    try:
        return {str(name): float(seconds) for name, seconds in json.loads(record.read_text()).items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def longest_first(items: list, seconds: dict[str, float]) -> None:
    """Sort ``items`` in place, whole files by recorded seconds, longest first; a stable sort."""
    items.sort(key=lambda item: -seconds.get(file_of(item.nodeid), 0.0))


class DurationRecorder:
    """Adds up each file's seconds (set-up, call and tear-down of its tests); writes them at a clean end."""

    def __init__(self, record: Path = RECORD, root: Path | None = None):
        self.record = record
        self.root = root if root is not None else record.parents[1]  # what the record's names are relative to
        self.seconds: dict[str, float] = defaultdict(float)
        self.skipped: set[str] = set()
        self.deselected = False

    def pytest_deselected(self, items):
        self.deselected = self.deselected or bool(items)

    def pytest_runtest_logreport(self, report):
        self.seconds[file_of(report.nodeid)] += report.duration
        if report.skipped:
            self.skipped.add(file_of(report.nodeid))

    def pytest_sessionfinish(self, exitstatus):
        if exitstatus != 0 or self.deselected:
            return
        old = recorded_seconds(self.record)
        new = {name: round(value, 1) for name, value in self.seconds.items()
               if name not in self.skipped or name not in old}
        merged = {name: seconds for name, seconds in {**old, **new}.items() if (self.root / name).is_file()}
        text = json.dumps(dict(sorted(merged.items(), key=lambda entry: -entry[1])), indent=1) + "\n"
        partial = self.record.with_name(self.record.name + ".new")
        partial.write_text(text)
        os.replace(partial, self.record)


def pytest_addoption(parser):
    parser.addoption("--record-durations", action="store_true",
                     help=f"write each test file's seconds in this run into tests/{RECORD.name}, the order "
                          "make test runs files in (tests/run_order.py)")


def pytest_configure(config):
    # under pytest-xdist the controller sees every worker's reports and writes; the workers do not
    if config.getoption("record_durations") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(DurationRecorder(), "course-durations")


def distributed(config) -> bool:
    """Is this an xdist worker, or a run that hands tests to workers? (xdist sets a worker's ``dist`` to "no".)"""
    return hasattr(config, "workerinput") or config.getoption("dist", "no") != "no"


def pytest_collection_modifyitems(config, items):
    if distributed(config):  # make test; a plain run keeps pytest's order
        longest_first(items, recorded_seconds())
