"""course.toml's late policy as nbgrader's ``LateSubmissionPlugin``: one definition of what lateness costs.

``assignments/nbgrader_config.py`` sets ``c.AssignLatePenalties.plugin_class``
to :class:`CourseLatePenalty`, so every ``nbgrader autograde`` (``make
autograde``, Formgrader's button) stores in the gradebook the penalty that
``[late]`` in ``course.toml`` gives: ``percent_per_day`` of the points per
started day after ``grace_minutes``, capped at ``max_percent``, everything
after ``zero_after_days``. nbgrader's default plugin would store none.

:mod:`.export` applies the same :meth:`LatePolicy.penalty
<course_utils.grading.deadlines.LatePolicy.penalty>` once more, to the final
points (``grades.csv``'s ``late_penalty``): nbgrader computes its penalty when
the notebook is autograded, from the automatic points alone, before a grader
has scored the written answers in Formgrader, and never updates it. The rule
is the same; only the points it is applied to are newer. An LMS "late" mark
without a time (Canvas's ``_LATE_``) never reaches nbgrader, which knows only
times: export counts it as ``lms_late_days`` days with the same rule.
"""
from __future__ import annotations

import os
from pathlib import Path

from nbgrader.plugins import LateSubmissionPlugin

from .deadlines import load_settings


class CourseLatePenalty(LateSubmissionPlugin):
    """The penalty of ``<course root>/course.toml``'s ``[late]`` policy (none without the file)."""

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float | None:
        penalty = load_settings(self._course_root()).policy.penalty(score or 0.0, total_seconds_late or 0.0)
        return penalty or None

    def _course_root(self) -> Path:
        # nbgrader runs in the course root and configures it as CourseDirectory.root.
        root = self.config.get("CourseDirectory", {}).get("root")
        return Path(root) if root else Path(os.getcwd())
