"""course.toml: due dates with time zones, the late policy, and the days late it gives."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from course_utils.grading.deadlines import LatePolicy, SettingsError, load_settings, parse_timestamp

COURSE = Path(__file__).resolve().parents[2] / "assignments"


def settings_from(tmp_path: Path, text: str):
    (tmp_path / "course.toml").write_text(text)
    return load_settings(tmp_path)


def test_the_course_file_is_valid_and_dates_every_assignment():
    """Does assignments/course.toml load, with a due date (and time zone) for every homework in source/?"""
    settings = load_settings(COURSE)
    homework = {path.name for path in (COURSE / "source").iterdir() if path.is_dir()}
    assert homework <= set(settings.due)
    assert all(due.tzinfo is not None for due in settings.due.values())


def test_days_late_count_started_days_after_the_due_date_in_its_time_zone(tmp_path):
    """23:59 Berlin (UTC+1) is 22:59 UTC: is 23:00 UTC one day late, 22:58 UTC on time, +25 h two days?"""
    settings = settings_from(tmp_path, "[assignments.hw]\ndue = 2027-01-15T23:59:00+01:00\n")
    due_utc = datetime(2027, 1, 15, 22, 59, tzinfo=timezone.utc)
    assert settings.days_late("hw", due_utc - timedelta(minutes=1)) == 0
    assert settings.days_late("hw", due_utc + timedelta(minutes=1)) == 1
    assert settings.days_late("hw", due_utc + timedelta(hours=25)) == 2
    assert settings.days_late("other", due_utc + timedelta(days=9)) == 0  # no due date: never late


def test_grace_minutes(tmp_path):
    """Within the grace period, is a submission on time?"""
    settings = settings_from(tmp_path, "[late]\ngrace_minutes = 5\n[assignments.hw]\ndue = 2027-01-15T12:00:00Z\n")
    assert settings.days_late("hw", datetime(2027, 1, 15, 12, 4, tzinfo=timezone.utc)) == 0
    assert settings.days_late("hw", datetime(2027, 1, 15, 12, 6, tzinfo=timezone.utc)) == 1


@pytest.mark.parametrize("days, percent", [(0, 0), (1, 10), (2, 20), (5, 30), (7, 30), (8, 100)])
def test_percent_per_day_capped_and_zero_after_a_cutoff(days, percent):
    """10 % a day, at most 30 %, and 0 points after 7 days: is each day's penalty right?"""
    assert LatePolicy(percent_per_day=10, max_percent=30, zero_after_days=7).percent(days) == percent


def test_a_due_date_without_time_zone_is_refused(tmp_path):
    """Is a due date that could mean any time zone refused, with an example of the right form?"""
    with pytest.raises(SettingsError, match=r"UTC offset, like 2027-01-15T23:59:00\+01:00"):
        settings_from(tmp_path, "[assignments.hw]\ndue = 2027-01-15T23:59:00\n")


def test_a_misspelt_policy_setting_is_refused(tmp_path):
    """Is a typo in [late] an error naming the valid settings, rather than silently no penalty?"""
    with pytest.raises(SettingsError, match="percent_per_day"):
        settings_from(tmp_path, "[late]\npercent_a_day = 10\n")


def test_nbgrader_timestamps_are_read_as_utc():
    """Is nbgrader's timestamp.txt format read as an aware UTC time, and garbage as unknown?"""
    assert parse_timestamp("2027-01-15 22:59:00.123456 UTC") == datetime(2027, 1, 15, 22, 59, 0, 123456,
                                                                          tzinfo=timezone.utc)
    assert parse_timestamp("not a time") is None


def test_nbgraders_late_plugin_gives_the_course_policys_penalty(tmp_path):
    """Does nbgrader's AssignLatePenalties, through the course's plugin, take what course.toml's policy takes?"""
    from traitlets.config import Config

    from course_utils.grading.late_penalty import CourseLatePenalty

    (tmp_path / "course.toml").write_text("[late]\npercent_per_day = 10\nmax_percent = 30\ngrace_minutes = 5\n")
    config = Config()
    config.CourseDirectory.root = str(tmp_path)
    plugin = CourseLatePenalty(config=config)
    day = 86400
    assert plugin.late_submission_penalty("s", 8.0, 4 * 60) is None  # within the grace period
    assert plugin.late_submission_penalty("s", 8.0, 6 * 60) == 0.8  # one started day: 10 %
    assert plugin.late_submission_penalty("s", 8.0, 2 * day) == 1.6  # two days (the grace is subtracted first)
    assert plugin.late_submission_penalty("s", 8.0, 9 * day) == 2.4  # capped at 30 %
    assert plugin.late_submission_penalty("s", 8.0, 9 * day) == load_settings(tmp_path).policy.penalty(8.0, 9 * day)


def test_the_course_configures_nbgrader_with_its_late_plugin():
    """Does every nbgrader run of the course (make autograde, Formgrader) use the course's late policy?"""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(COURSE)).load_config()
    assert config.AssignLatePenalties.plugin_class == "course_utils.grading.late_penalty.CourseLatePenalty"
    assert "nbgrader.preprocessors.AssignLatePenalties" in config.Autograde.autograde_preprocessors
    assert config.ExportApp.plugin_class == "course_utils.grading.export.CourseExport"  # nbgrader export too
