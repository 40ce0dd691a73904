"""Lecture 1's self-checks: does each say right for a right answer, not yet (with a reason) for a wrong one,
and not attempted for the untouched placeholder, without printing the answer?"""
import torch

from course_utils.exercises import tensors as checks
from selfcheck_contract import contract_tests


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
test_right_answer_is_right, test_wrong_answer_is_not_yet_with_a_reason, test_placeholder_is_not_attempted = (
    contract_tests(RIGHT_AND_WRONG))


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
