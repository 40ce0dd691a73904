"""The contract every lecture self-check keeps, as tests a test module takes in one line.

``cases`` is a list of ``(check, right_answer, wrong_answer)``. In a test module::

    test_right_answer_is_right, test_wrong_answer_is_not_yet_with_a_reason, test_placeholder_is_not_attempted = (
        contract_tests(RIGHT_AND_WRONG))

Each check says "Right:" for the right answer, "Not yet:" with a reason for the
wrong one, and "not attempted" for the placeholder ``...``.
"""
from __future__ import annotations

import pytest


def contract_tests(cases):
    ids = [check.__name__ for check, _, _ in cases]

    @pytest.mark.parametrize("check,right_answer,wrong_answer", cases, ids=ids)
    def test_right_answer_is_right(check, right_answer, wrong_answer, capsys):
        assert check(right_answer).status == "right"
        assert capsys.readouterr().out.startswith("Right:")

    @pytest.mark.parametrize("check,right_answer,wrong_answer", cases, ids=ids)
    def test_wrong_answer_is_not_yet_with_a_reason(check, right_answer, wrong_answer, capsys):
        verdict = check(wrong_answer)
        assert verdict.status == "wrong" and len(verdict.message) > 20
        assert capsys.readouterr().out.startswith("Not yet:")

    @pytest.mark.parametrize("check", [c for c, _, _ in cases], ids=ids)
    def test_placeholder_is_not_attempted(check):
        assert check(...).status == "not attempted"

    return test_right_answer_is_right, test_wrong_answer_is_not_yet_with_a_reason, test_placeholder_is_not_attempted
