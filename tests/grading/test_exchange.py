"""The exchange's one setting (COURSE_EXCHANGE) and feedback that did not come through it.

The whole class through the exchange, with real Unix users, is
``test_exchange_e2e.py``; these are the parts that need no users.
"""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from course_utils.grading import exchange

COURSE = Path(__file__).resolve().parents[2] / "assignments"


def test_course_exchange_sets_the_root_in_one_place(monkeypatch, tmp_path):
    """Does COURSE_EXCHANGE decide the root, for this module and for nbgrader_config.py alike?"""
    monkeypatch.setenv("COURSE_EXCHANGE", str(tmp_path / "exchange"))
    assert exchange.exchange_root() == tmp_path / "exchange" and exchange.exchange_configured()
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(COURSE)).load_config()  # as nbgrader loads it
    assert config.Exchange.root == str(tmp_path / "exchange")
    assert config.CourseDirectory.course_id == "deep-learning-course"
    monkeypatch.delenv("COURSE_EXCHANGE")
    assert str(exchange.exchange_root()) == exchange.DEFAULT_ROOT


def test_a_missing_exchange_is_created_world_writable_and_sticky(monkeypatch, tmp_path):
    """Is a new exchange folder 1777, so students can submit but not remove the course?"""
    monkeypatch.setenv("COURSE_EXCHANGE", str(tmp_path / "exchange"))
    root = exchange.ensure_root()
    assert stat.S_IMODE(root.stat().st_mode) == 0o1777


@pytest.mark.slow  # runs nbgrader's release_feedback
def test_feedback_of_lms_submissions_stays_home(monkeypatch, tmp_path, make_tiny_course, capsys):
    """Exchange and LMS submissions mixed: is the exchange one's feedback released and the LMS one's kept?"""
    course = make_tiny_course(first=1)
    monkeypatch.setenv("COURSE_EXCHANGE", str(tmp_path / "exchange"))
    for student, through_exchange in (("viahub", True), ("vialms", False)):
        folder = course / "feedback" / student / "first"
        folder.mkdir(parents=True)
        (folder / "first.html").write_text(f"<p>{student}</p>")
        if through_exchange:
            (folder / "timestamp.txt").write_text("2027-01-15 10:00:00.000000 UTC")
            (folder / "submission_secret.txt").write_text("0" * 128)
    assert exchange.release_feedback(course, ["first"]) == ["first"]
    released = list((tmp_path / "exchange" / "deep-learning-course" / "feedback").glob("*.html"))
    assert [page.read_text() for page in released] == ["<p>viahub</p>"]
    assert "feedback of vialms (not submitted through the exchange) stays in" in capsys.readouterr().out
