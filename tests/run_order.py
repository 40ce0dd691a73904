"""The order in which `make test` hands test files to its two workers: the longest first.

``pytest -n 2 --dist loadscope`` (and ``loadfile``) gives each worker whole
files. By default pytest-xdist orders them by their number of tests, which put
files of one or two long tests at the end (the exchange end to end: one test,
a minute), where they ran with the other core idle. ``make test`` passes
``--no-loadscope-reorder``, so the workers take files in collection order, and
this plugin sorts that order by each file's seconds in the last recorded run,
``tests/durations.json`` (files not in it go last, in the order collected; the
tests inside a file keep theirs). A stale record costs time, never a result.

Refresh the record after adding or changing slow tests (each command updates
the files it ran)::

    .venv/bin/python -m pytest -n 2 --dist loadscope --ignore=tests/browser --store-durations
    .venv/bin/python -m pytest -n 2 --dist loadfile tests/browser --store-durations

Its hooks are imported by ``tests/conftest.py``.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

RECORD = Path(__file__).resolve().parent / "durations.json"


def file_of(nodeid: str) -> str:
    """``tests/grading/test_lms.py::test_x[a]`` -> ``tests/grading/test_lms.py`` (a notebook's path likewise)."""
    return nodeid.split("::", 1)[0]


def recorded_seconds(record: Path = RECORD) -> dict[str, float]:
    """``{test file: seconds}`` from the record; empty if there is none."""
    try:
        return {str(name): float(seconds) for name, seconds in json.loads(record.read_text()).items()}
    except FileNotFoundError:
        return {}


def longest_first(items: list, seconds: dict[str, float]) -> None:
    """Sort ``items`` in place, whole files by recorded seconds, longest first; a stable sort."""
    items.sort(key=lambda item: -seconds.get(file_of(item.nodeid), 0.0))


class DurationRecorder:
    """Adds up each file's seconds (set-up, call and tear-down of its tests); writes them at the end."""

    def __init__(self, record: Path = RECORD):
        self.record = record
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report):
        self.seconds[file_of(report.nodeid)] += report.duration

    def pytest_sessionfinish(self):
        merged = {**recorded_seconds(self.record), **{name: round(value, 1) for name, value in self.seconds.items()}}
        self.record.write_text(json.dumps(dict(sorted(merged.items(), key=lambda entry: -entry[1])), indent=1) + "\n")


def pytest_addoption(parser):
    parser.addoption("--store-durations", action="store_true",
                     help=f"write each test file's seconds in this run into tests/{RECORD.name} (the order "
                          "make test runs files in: tests/run_order.py)")


def pytest_configure(config):
    # under pytest-xdist the controller sees every worker's reports and writes; the workers do not
    if config.getoption("store_durations", default=False) and not hasattr(config, "workerinput"):
        config.pluginmanager.register(DurationRecorder(), "course-durations")


def pytest_collection_modifyitems(items):
    longest_first(items, recorded_seconds())
