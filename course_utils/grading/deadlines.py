"""Due dates and the late policy of ``assignments/course.toml``, and what lateness costs.

The file has one ``[late]`` table (the policy) and one ``[assignments.<name>]``
table per assignment (its ``due`` date with a time zone, optionally the
``lms_name`` used as its column header in ``grades_wide.csv``)::

    [late]
    percent_per_day = 10   # of the earned points, per started day late
    max_percent = 50       # cap
    zero_after_days = 7    # optional: later than this scores 0
    grace_minutes = 5
    lms_late_days = 1      # an LMS "late" mark without a time counts as this many days

    [assignments.tanh]
    due = 2027-01-15T23:59:00+01:00
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

SETTINGS_FILE = "course.toml"


class SettingsError(ValueError):
    """course.toml is missing something or holds a value that makes no sense; the message says which."""


@dataclass(frozen=True)
class LatePolicy:
    percent_per_day: float = 0.0
    max_percent: float = 100.0
    zero_after_days: float | None = None
    grace_minutes: float = 0.0
    lms_late_days: int = 1

    def days_late(self, seconds_late: float) -> int:
        """Started days late after ``grace_minutes``, for a submission ``seconds_late`` after its due date."""
        late = seconds_late - 60 * self.grace_minutes
        return math.ceil(late / 86400) if late > 0 else 0

    def penalty(self, earned: float, seconds_late: float) -> float:
        """Points taken off ``earned`` for a submission ``seconds_late`` after its due date (2 decimals)."""
        return round(earned * self.percent(self.days_late(seconds_late)) / 100, 2)

    def percent(self, days_late: int) -> float:
        """Percent of the earned points taken off for ``days_late`` started days (0 when on time)."""
        if days_late <= 0:
            return 0.0
        if self.zero_after_days is not None and days_late > self.zero_after_days:
            return 100.0
        return min(self.max_percent, self.percent_per_day * days_late)


@dataclass(frozen=True)
class CourseSettings:
    policy: LatePolicy = LatePolicy()
    due: dict[str, datetime] = field(default_factory=dict)  # aware datetimes
    lms_names: dict[str, str] = field(default_factory=dict)

    def lms_name(self, assignment: str) -> str:
        return self.lms_names.get(assignment, assignment)

    def days_late(self, assignment: str, submitted: datetime | None) -> int:
        """Started days between the due date (plus grace) and ``submitted``; 0 if on time or unknown.

        A naive ``submitted`` is taken as UTC (nbgrader's timestamps are).
        """
        due = self.due.get(assignment)
        if due is None or submitted is None:
            return 0
        return self.policy.days_late(self.seconds_late(assignment, submitted))

    def seconds_late(self, assignment: str, submitted: datetime | None) -> float:
        """Seconds between the due date and ``submitted`` (0 if on time, unknown or without a due date)."""
        due = self.due.get(assignment)
        if due is None or submitted is None:
            return 0.0
        if submitted.tzinfo is None:
            submitted = submitted.replace(tzinfo=timezone.utc)
        return max(0.0, (submitted - due).total_seconds())


def load_settings(course: Path) -> CourseSettings:
    """Read ``<course>/course.toml``; without the file nothing is ever late."""
    path = Path(course) / SETTINGS_FILE
    if not path.is_file():
        return CourseSettings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: {error}") from None
    late = data.get("late", {})
    known = {"percent_per_day", "max_percent", "zero_after_days", "grace_minutes", "lms_late_days"}
    unknown = sorted(set(late) - known)
    if unknown:
        raise SettingsError(f"{path}: unknown [late] setting(s) {unknown}; valid: {sorted(known)}")
    policy = LatePolicy(**late)
    if policy.percent_per_day < 0 or not 0 <= policy.max_percent <= 100:
        raise SettingsError(f"{path}: [late] percent_per_day must be >= 0 and max_percent within 0-100")
    due, lms_names = {}, {}
    for name, table in data.get("assignments", {}).items():
        if "due" in table:
            value = table["due"]
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise SettingsError(f"{path}: [assignments.{name}] due must be a date and time with its UTC "
                                    f"offset, like 2027-01-15T23:59:00+01:00 (got {value!r})")
            due[name] = value
        if "lms_name" in table:
            lms_names[name] = str(table["lms_name"])
    return CourseSettings(policy, due, lms_names)


def parse_timestamp(text: str) -> datetime | None:
    """An nbgrader ``timestamp.txt`` (``2027-01-15 22:59:00.123456 UTC``) as an aware datetime; None if unreadable."""
    from nbgrader.utils import parse_utc  # nbgrader's own parser: the format is its own

    try:
        parsed = parse_utc(text.strip())
    except (ValueError, OverflowError, TypeError):
        return None
    return parsed.replace(tzinfo=timezone.utc) if parsed is not None else None
