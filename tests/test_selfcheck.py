"""Does a self-check say right, wrong or not attempted, once, without a traceback?"""
import pytest

from course_utils.selfcheck import Verdict, right, self_check, wrong


@self_check
def check_double(answer):
    """Example check: ``answer`` is a function that doubles a number."""
    if answer(3) != 6:
        return wrong("for 3 your function returned something other than 6.")
    return right()


def test_placeholder_is_not_attempted(capsys):
    verdict = check_double(...)
    assert verdict.status == "not attempted" and not verdict
    assert capsys.readouterr().out.startswith("Not attempted yet:")


def test_not_implemented_is_not_attempted():
    def answer(x):
        raise NotImplementedError
    assert check_double(answer).status == "not attempted"


def test_right_answer(capsys):
    verdict = check_double(lambda x: 2 * x)
    assert verdict.passed
    assert capsys.readouterr().out == "Right: well done.\n"


def test_wrong_answer_says_why(capsys):
    verdict = check_double(lambda x: x + 2)
    assert verdict.status == "wrong"
    assert "for 3" in capsys.readouterr().out


def test_student_exception_is_reported_not_raised():
    verdict = check_double(lambda x: 1 / 0)
    assert verdict.status == "wrong"
    assert "ZeroDivisionError" in verdict.message


@pytest.mark.parametrize("status,prefix", [("right", "Right"), ("wrong", "Not yet"),
                                           ("not attempted", "Not attempted yet")])
def test_str_names_the_outcome(status, prefix):
    assert str(Verdict(status, "x")) == f"{prefix}: x"
