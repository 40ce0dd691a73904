"""Can Formgrader's own Autograde button grade around the sandbox and the guard? It must not.

Formgrader's button calls nbgrader's API (``NbGraderAPI.autograde``) with the
course's configuration, which runs ``GuardedExecute``; without the token that
only ``make autograde`` passes, it refuses with a message that says to run
``make autograde``, and nothing is graded.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from traitlets.config import Config

from course_utils.grading.pipeline import release

# nbgrader's own add_submission makes SQLAlchemy warn about autoflush; harmless, and noise here.
pytestmark = [pytest.mark.filterwarnings("ignore:.*not in session"), pytest.mark.slow]


def course_config(course: Path) -> Config:
    """The course's nbgrader_config.py, loaded as nbgrader loads it."""
    config = Config()
    path = course / "nbgrader_config.py"
    exec(compile(path.read_text(), str(path), "exec"), {"get_config": lambda: config, "__file__": str(path)})  # noqa: S102
    return config


@pytest.fixture(scope="module")
def submitted(make_tiny_course, make_submission) -> Path:
    course = make_tiny_course(homework=42)
    release(course)
    make_submission(course, "alice", "homework", {"answer": "def answer():\n    return 42\n"})
    return course


def test_formgraders_autograde_button_refuses_and_says_to_run_make_autograde(submitted, monkeypatch):
    """Does nbgrader's API (what the button calls) fail with our message, leaving no graded notebook?"""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    monkeypatch.chdir(submitted)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # alembic
    config = course_config(submitted)
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    outcome = api.autograde("homework", "alice")
    assert not outcome["success"]
    assert "make autograde" in outcome.get("log", "") + outcome.get("error", "")
    graded = submitted / "autograded" / "alice" / "homework" / "homework.ipynb"
    assert not graded.exists() or "course_grading" not in graded.read_text()
