"""Lecture 1's self-checks: does each say right for a right answer, not yet (with a reason) for a wrong one,
and not attempted for the untouched placeholder, without printing the answer?"""
import pytest
import torch

from course_utils.exercises import tensors as checks


def _fill_right(x):
    x[x % 3 == 0] = -1


def _fill_copy(x):
    return torch.where(x % 3 == 0, torch.tensor(-1), x)


RIGHT_AND_WRONG = [
    (checks.check_result_dtypes, (torch.float32, torch.uint8, torch.float16), (torch.float64, torch.uint8, torch.float16)),
    (checks.check_rows_to_probabilities, lambda M: M / M.sum(dim=1, keepdim=True), lambda M: M / M.sum(dim=1)),
    (checks.check_permuted_strides, ((6, 4, 5), (1, 30, 6)), ((6, 4, 5), (30, 6, 1))),
    (checks.check_view_or_reshape, {"view", "reshape"}, {"reshape"}),
    (checks.check_fill_multiples_of_three, _fill_right, _fill_copy),
    (checks.check_pairwise_squared_distances, lambda X: ((X[:, None] - X[None]) ** 2).sum(-1),
     lambda X: torch.cdist(X, X)),
    (checks.check_matmul_shapes, ((7, 5, 2), (4,)), ((7, 1, 2), (4,))),
    (checks.check_matmul_growth, 3, 2),
]
IDS = [check.__name__ for check, _, _ in RIGHT_AND_WRONG]


@pytest.mark.parametrize("check,right_answer,wrong_answer", RIGHT_AND_WRONG, ids=IDS)
def test_right_answer_is_right(check, right_answer, wrong_answer, capsys):
    assert check(right_answer).status == "right"
    assert capsys.readouterr().out.startswith("Right:")


@pytest.mark.parametrize("check,right_answer,wrong_answer", RIGHT_AND_WRONG, ids=IDS)
def test_wrong_answer_is_not_yet_with_a_reason(check, right_answer, wrong_answer, capsys):
    verdict = check(wrong_answer)
    assert verdict.status == "wrong" and len(verdict.message) > 20
    assert capsys.readouterr().out.startswith("Not yet:")


@pytest.mark.parametrize("check", [c for c, _, _ in RIGHT_AND_WRONG], ids=IDS)
def test_placeholder_is_not_attempted(check):
    assert check(...).status == "not attempted"


def test_messages_do_not_give_the_answer_away():
    """Does no message of a wrong answer contain the expected strides or shapes?"""
    verdict = checks.check_permuted_strides(((6, 4, 5), (30, 6, 1)))
    assert "(1, 30, 6)" not in verdict.message
    assert "(7, 5, 2)" not in checks.check_matmul_shapes(((7, 1, 2), (4,))).message
    message = checks.check_result_dtypes((torch.float32, torch.uint8, torch.float64)).message
    assert "float16" not in message.split("`")[-1]   # only the expression itself names it


def test_dtype_check_names_the_first_wrong_expression():
    verdict = checks.check_result_dtypes((torch.float32, torch.int64, torch.float16))
    assert "uint8" in verdict.message and "True" in verdict.message


def test_square_matrix_mistake_gets_the_keepdim_hint():
    verdict = checks.check_rows_to_probabilities(lambda M: M / M.sum(dim=1))
    assert "keepdim" in verdict.message


def test_returning_a_new_tensor_is_not_in_place():
    assert "x itself is unchanged" in checks.check_fill_multiples_of_three(_fill_copy).message


def test_distances_not_squared_are_named():
    assert "not the squared" in checks.check_pairwise_squared_distances(lambda X: torch.cdist(X, X)).message
