"""The check shared by the homework pipeline tests: a submission graded with exactly the expected points."""
from __future__ import annotations

from collections.abc import Mapping

from course_utils.grading.pipeline import SubmissionResult


def assert_graded_with(result: SubmissionResult, cell_scores: Mapping[str, float]) -> None:
    """``result`` was graded (not failed) and each autograded test cell got exactly ``cell_scores``."""
    assert result.status == "graded", result.detail
    assert result.cell_scores == dict(cell_scores)
    assert result.auto_score == sum(cell_scores.values())
