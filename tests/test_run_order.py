"""tests/run_order.py: the order make test hands test files to its workers, and the record it reads."""
from __future__ import annotations

import json
from types import SimpleNamespace

from run_order import DurationRecorder, file_of, longest_first, recorded_seconds


def item(nodeid):
    return SimpleNamespace(nodeid=nodeid)


def test_files_go_longest_first_whole_and_unrecorded_last_in_collected_order():
    collected = ["a.py::t1", "a.py::t2", "b.ipynb::Cell 0", "b.ipynb::Cell 1", "c.py::t[x]", "d.py::t", "e.py::t"]
    items = [item(nodeid) for nodeid in collected]
    longest_first(items, {"c.py": 90.0, "b.ipynb": 30.5, "a.py": 2.0})
    assert [i.nodeid for i in items] == ["c.py::t[x]", "b.ipynb::Cell 0", "b.ipynb::Cell 1", "a.py::t1", "a.py::t2",
                                         "d.py::t", "e.py::t"]


def test_file_of_a_test_a_parametrized_test_a_method_and_a_notebook_cell():
    assert file_of("tests/grading/test_lms.py::test_zip[canvas]") == "tests/grading/test_lms.py"
    assert file_of("tests/x.py::Class::test") == "tests/x.py"
    assert file_of("lectures/01_tensors.ipynb::Cell 3") == "lectures/01_tensors.ipynb"


def test_recorder_adds_each_files_phases_and_keeps_what_this_run_did_not_touch(tmp_path):
    record = tmp_path / "durations.json"
    assert recorded_seconds(record) == {}
    record.write_text(json.dumps({"old.py": 5.0, "a.py": 1.0}))
    recorder = DurationRecorder(record)
    for nodeid, seconds in [("a.py::t1", 2.0), ("a.py::t1", 10.0), ("a.py::t2", 0.25), ("b.py::t", 3.0)]:
        recorder.pytest_runtest_logreport(SimpleNamespace(nodeid=nodeid, duration=seconds))
    recorder.pytest_sessionfinish()
    assert json.loads(record.read_text()) == {"a.py": 12.2, "old.py": 5.0, "b.py": 3.0}
    assert list(json.loads(record.read_text())) == ["a.py", "old.py", "b.py"]  # longest first, for a reader


def test_the_record_names_only_files_that_exist():
    from run_order import RECORD

    root = RECORD.parents[1]
    missing = [name for name in recorded_seconds() if not (root / name).is_file()]
    assert not missing, f"tests/durations.json names files that are gone (refresh it: tests/run_order.py): {missing}"
