"""tests/run_order.py: the order make test hands test files to its workers, and the record it reads."""
from __future__ import annotations

import json
from types import SimpleNamespace

from run_order import DurationRecorder, file_of, longest_first, recorded_seconds


def item(nodeid):
    return SimpleNamespace(nodeid=nodeid)


def report(nodeid, seconds, skipped=False):
    return SimpleNamespace(nodeid=nodeid, duration=seconds, skipped=skipped)


def test_files_go_longest_first_whole_and_unrecorded_last_in_collected_order():
    collected = ["a.py::t1", "a.py::t2", "b.ipynb::Cell 0", "b.ipynb::Cell 1", "c.py::t[x]", "d.py::t", "e.py::t"]
    items = [item(nodeid) for nodeid in collected]
    longest_first(items, {"c.py": 90.0, "b.ipynb": 30.5, "a.py": 2.0, "gone.py": 500.0})
    assert [i.nodeid for i in items] == ["c.py::t[x]", "b.ipynb::Cell 0", "b.ipynb::Cell 1", "a.py::t1", "a.py::t2",
                                         "d.py::t", "e.py::t"]


def test_file_of_a_test_a_parametrized_test_a_method_and_a_notebook_cell():
    assert file_of("tests/grading/test_lms.py::test_zip[canvas]") == "tests/grading/test_lms.py"
    assert file_of("tests/x.py::Class::test") == "tests/x.py"
    assert file_of("lectures/01_tensors.ipynb::Cell 3") == "lectures/01_tensors.ipynb"


def test_a_missing_or_unreadable_record_orders_nothing(tmp_path):
    record = tmp_path / "durations.json"
    assert recorded_seconds(record) == {}
    for text in ("{not json", "[1, 2]", '{"a.py": "slow"}', "<<<<<<< HEAD\n"):
        record.write_text(text)
        assert recorded_seconds(record) == {}, text


def recorder_with(tmp_path, old: dict, files=("a.py", "b.py", "old.py", "skips.py")) -> DurationRecorder:
    for name in files:
        (tmp_path / name).write_text("")
    record = tmp_path / "durations.json"
    record.write_text(json.dumps(old))
    return DurationRecorder(record, root=tmp_path)


def test_a_clean_run_records_each_files_phases_and_keeps_files_it_did_not_run(tmp_path):
    recorder = recorder_with(tmp_path, {"old.py": 5.0, "a.py": 1.0, "deleted.py": 9.0, "skips.py": 40.0})
    for nodeid, seconds, skipped in [("a.py::t1", 2.0, False), ("a.py::t1", 10.0, False), ("a.py::t2", 0.25, False),
                                     ("b.py::t", 3.0, False), ("skips.py::t", 0.1, True), ("skips.py::u", 1.0, False)]:
        recorder.pytest_runtest_logreport(report(nodeid, seconds, skipped))
    recorder.pytest_sessionfinish(exitstatus=0)
    written = json.loads(recorder.record.read_text())
    # a.py and b.py as measured; skips.py keeps its full run's 40 s; deleted.py (no such file) is dropped
    assert written == {"skips.py": 40.0, "a.py": 12.2, "old.py": 5.0, "b.py": 3.0}
    assert list(written) == ["skips.py", "a.py", "old.py", "b.py"]  # longest first, for a reader
    assert not list(tmp_path.glob("*.new"))


def test_a_failed_or_partial_run_writes_nothing(tmp_path):
    old = {"a.py": 100.0}
    recorder = recorder_with(tmp_path, old)
    recorder.pytest_runtest_logreport(report("a.py::t1", 1.0))
    recorder.pytest_sessionfinish(exitstatus=1)
    assert json.loads(recorder.record.read_text()) == old
    recorder.pytest_deselected([item("a.py::t2")])
    recorder.pytest_sessionfinish(exitstatus=0)
    assert json.loads(recorder.record.read_text()) == old
