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


def answer_table_tests(right, wrong):
    """The tests of a table of answers: ``right`` and ``wrong`` map each check to the answers it must call
    right, and the plausible wrong ones it must call "not yet" with a reason. Returns four test functions
    for the test module to bind: every right answer, every wrong answer, at least two right and three wrong
    answers per check, and that a check leaves torch's random state as it was."""
    import torch

    def name(value):
        return getattr(value, "__name__", "")

    @pytest.mark.parametrize("check,answer", [(c, a) for c, answers in right.items() for a in answers], ids=name)
    def test_every_right_answer_is_right(check, answer):
        assert check(answer).status == "right"

    @pytest.mark.parametrize("check,answer", [(c, a) for c, answers in wrong.items() for a in answers], ids=name)
    def test_every_plausible_wrong_answer_is_not_yet(check, answer):
        verdict = check(answer)
        assert verdict.status == "wrong" and len(verdict.message) > 20, verdict

    def test_every_check_has_two_right_and_three_wrong_answers():
        assert right.keys() == wrong.keys()
        assert all(len(right[check]) >= 2 and len(wrong[check]) >= 3 for check in right)

    @pytest.mark.parametrize("check", list(right), ids=name)
    def test_a_check_leaves_the_random_state_alone(check):
        """Does running a check (and the student's code it calls) leave the notebook's torch random state as it was?"""
        state = torch.get_rng_state()
        check(right[check][0])
        check(wrong[check][0])
        assert torch.equal(torch.get_rng_state(), state)

    return (test_every_right_answer_is_right, test_every_plausible_wrong_answer_is_not_yet,
            test_every_check_has_two_right_and_three_wrong_answers, test_a_check_leaves_the_random_state_alone)
