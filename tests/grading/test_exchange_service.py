"""The instructor's client of the exchange service (course_utils.grading.exchange_service), against a fake service.

The real service under the real hub, attacked by real Unix users, is
test_class_attacks.py (root only); here, the client's decisions: which
submission is collected, what time it gets, what is quarantined and why.
"""
from __future__ import annotations

import base64

import pytest

from course_utils.grading import exchange_service
from course_utils.grading.exchange_service import ExchangeService, ServiceError


class FakeService(ExchangeService):
    """Answers ngshare's API from ``submissions``: ``{student: [(timestamp, {path: bytes})]}``."""

    def __init__(self, submissions):
        super().__init__(url="http://exchange.invalid/services/ngshare", token="t")
        self.submissions, self.downloads = submissions, []

    def request(self, method, path, data=None, params=None):
        parts = path.strip("/").split("/")
        if parts[0] == "submissions":
            return {"success": True, "submissions": [{"student_id": student, "timestamp": stamp}
                                                     for student, found in self.submissions.items()
                                                     for stamp, _ in found]}
        if parts[0] == "submission" and method == "GET":
            self.downloads.append((parts[3], params["timestamp"]))
            files = dict(self.submissions[parts[3]])[params["timestamp"]]
            return {"success": True, "timestamp": params["timestamp"], "files": [
                {"path": name, "content": base64.b64encode(data).decode()} for name, data in files.items()]}
        raise AssertionError(f"unexpected {method} {path}")


def test_the_latest_submission_is_collected_with_the_services_time(tmp_path):
    """Of two submissions, is the later one collected, with the service's time as timestamp.txt and the
    student's own timestamp.txt dropped?"""
    service = FakeService({"ann": [("2027-01-15 10:00:00.000001", {"hw.ipynb": b"old"}),
                                   ("2027-01-15 11:00:00.000002", {"hw.ipynb": b"new",
                                                                   "timestamp.txt": b"2020-01-01 00:00:00 UTC"})]})
    report = service.collect(tmp_path, "hw")
    folder = tmp_path / "submitted" / "ann" / "hw"
    assert report.collected == ["ann"] and (folder / "hw.ipynb").read_bytes() == b"new"
    assert (folder / "timestamp.txt").read_text() == "2027-01-15 11:00:00.000002 UTC"
    assert service.collect(tmp_path, "hw").unchanged == ["ann"]  # nothing downloaded again
    assert len(service.downloads) == 1


@pytest.mark.parametrize("files, reason", [
    ({"hw.ipynb": b"{}", "big.bin": b"\0" * (21 << 20)}, "over the limit"),
    ({"notes.txt": b"hi"}, "holds no notebook"),
    ({"../escape.ipynb": b"{}"}, "leaves the submission folder"),
    ({"hw.ipynb": b"{}", "timestamp.txt/x": b"x"}, "folder named like collect's own timestamp.txt"),
    ({"hw.ipynb": b"{}", ".exchange-source/x": b"x"}, "folder named like collect's own .exchange-source"),
    ({"hw.ipynb": b"{}", "notes/a.txt": b"x", "notes": b"x"}, "also the name of a folder"),
])
def test_a_broken_submission_is_quarantined_and_the_class_collected(tmp_path, files, reason):
    service = FakeService({"ann": [("2027-01-15 10:00:00.000001", files)],
                           "ben": [("2027-01-15 10:00:00.000003", {"hw.ipynb": b"{}"})]})
    report = service.collect(tmp_path, "hw")
    assert report.collected == ["ben"] and reason in report.quarantined["ann"]
    assert not (tmp_path / "submitted" / "ann").exists()
    assert reason in (tmp_path / "quarantine" / "hw" / "ann.txt").read_text()
    assert "QUARANTINED" in "\n".join(report.lines())
    service.collect(tmp_path, "hw")  # the same refused submission is not downloaded again
    assert [student for student, _ in service.downloads] == ["ann", "ben"]


def test_an_unsafe_student_id_from_the_service_reaches_no_path(tmp_path):
    service = FakeService({"../x": [("2027-01-15 10:00:00.000001", {"hw.ipynb": b"{}"})]})
    report = service.collect(tmp_path, "hw")
    assert "not a valid student id" in report.quarantined["'../x'"]
    assert not (tmp_path / "submitted").exists() and not service.downloads


def test_without_the_hubs_settings_the_message_says_where_to_run(monkeypatch):
    monkeypatch.delenv(exchange_service.URL_ENV, raising=False)
    with pytest.raises(ServiceError, match="run the course's commands in a terminal of your JupyterLab"):
        ExchangeService()
