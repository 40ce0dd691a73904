"""Lecture 1's self-checks: does each say right for every right answer (written in several ways), not yet (with a
reason) for the wrong answers a student would plausibly write, and not attempted for the untouched placeholder,
without printing the answer or moving the notebook's random state?"""
import pytest
import torch

from course_utils.exercises import tensors as checks
from selfcheck_contract import answer_table_tests, contract_tests

f16, f32, f64, u8 = torch.float16, torch.float32, torch.float64, torch.uint8


def _fill_mask(x):
    x[x % 3 == 0] = -1


def _fill_masked_fill(x):
    return x.masked_fill_(torch.remainder(x, 3) == 0, -1)


def _fill_copy(x):
    return torch.where(x % 3 == 0, torch.tensor(-1), x)


def _fill_new_memory(x):
    x.data = torch.where(x % 3 == 0, -1, x)


def _fill_skips_zero(x):
    x[(x % 3 == 0) & (x != 0)] = -1


def _fill_only_positive(x):
    x[(x % 3 == 0) & (x > 0)] = -1


def _rows_loop(M):
    return torch.stack([row / row.sum() for row in M])


def _distances_loop(X):
    return torch.stack([((X - x) ** 2).sum(dim=1) for x in X])


def _rows_loop_over_columns(M):
    return torch.stack([M[:, j] / M.sum(dim=1) for j in range(M.shape[1])], dim=1)


def _distances_loop_over_features(X):
    return sum((X[:, d, None] - X[None, :, d]) ** 2 for d in range(X.shape[1]))


def _distances_expanded(X):
    squared_norms = (X**2).sum(dim=1)
    return squared_norms[:, None] + squared_norms[None, :] - 2 * X @ X.T


RIGHT = {  # check -> answers written in different ways, each must be "Right"
    checks.check_result_dtypes: [(f32, u8, f16, f16), [f32, u8, f16, f16]],
    checks.check_rows_to_probabilities: [lambda M: M / M.sum(dim=1, keepdim=True), lambda M: M / M.sum(1)[:, None],
                                         lambda M: (M.T / M.sum(dim=1)).T,
                                         lambda M: M.double() / M.double().sum(dim=1, keepdim=True)],
    checks.check_permuted_strides: [((6, 4, 5), (1, 30, 6)), [torch.Size([6, 4, 5]), [1, 30, 6]]],
    checks.check_view_or_reshape: [{"view", "reshape"}, ["reshape", "view"]],
    checks.check_fill_multiples_of_three: [_fill_mask, _fill_masked_fill,
                                          lambda x: x.copy_(torch.where(x % 3 == 0, -1, x))],
    checks.check_pairwise_squared_distances: [lambda X: ((X[:, None] - X[None]) ** 2).sum(-1),
                                              _distances_expanded,
                                              lambda X: (X.unsqueeze(1) - X.unsqueeze(0)).pow(2).sum(dim=2)],
    checks.check_matmul_shapes: [((7, 5, 2, 4), None, (4,)), [torch.Size([7, 5, 2, 4]), None, [4]]],
    checks.check_matmul_growth: [3, 3.0],
}
WRONG = {  # check -> plausible wrong answers, each must be "Not yet"
    checks.check_result_dtypes: [(f64, u8, f16, f16),           # a Python float taken as float64
                                 (f32, torch.int64, f16, f16),  # bool + uint8 taken as the default integer
                                 (f32, u8, f64, f16),           # "the wider type"
                                 (f32, u8, f16, f32),           # a 0-d tensor taken to lift the category only
                                 (f32, u8, f16)],               # one missing
    checks.check_rows_to_probabilities: [lambda M: M / M.sum(dim=1), lambda M: M / M.sum(),
                                         lambda M: M / M.sum(dim=0, keepdim=True), _rows_loop,
                                         lambda M: M.div_(M.sum(dim=1, keepdim=True)), _rows_loop_over_columns],
    checks.check_permuted_strides: [((6, 4, 5), (30, 6, 1)), ((6, 4, 5), (1, 6, 30)), ((4, 5, 6), (30, 6, 1)),
                                    (6, 4, 5)],
    checks.check_view_or_reshape: [{"reshape"}, {"view"}, set(), {"reshape", "flatten"}],
    checks.check_fill_multiples_of_three: [_fill_copy, _fill_new_memory, _fill_skips_zero, _fill_only_positive,
                                          lambda x: x.masked_fill(x % 3 == 0, -1)],
    checks.check_pairwise_squared_distances: [lambda X: torch.cdist(X, X), lambda X: torch.cdist(X, X) ** 2,
                                              _distances_loop, lambda X: (X[:, None] - X[None]).sum(-1) ** 2,
                                              lambda X: X @ X.T,
                                              lambda X: ((X[:, None] - X[None]) ** 2).sum(1),
                                              _distances_loop_over_features],
    checks.check_matmul_shapes: [((7, 5, 2, 4), (7, 2, 4), (4,)), ((7, 1, 2, 4), None, (4,)),
                                 ((7, 5, 2, 4), None, (1, 4)), ((5, 7, 2, 4), None, (4,)), ((7, 5, 2, 4), (4,)),
                                 ((7, 5, 2, 4), "error", (4,))],
    checks.check_matmul_growth: [2, 2.81, 1, "3"],
}
CASES = [(check, RIGHT[check][0], WRONG[check][0]) for check in RIGHT]
test_right_answer_is_right, test_wrong_answer_is_not_yet_with_a_reason, test_placeholder_is_not_attempted = (
    contract_tests(CASES))


def _name(value):
    return getattr(value, "__name__", "")


(test_every_right_answer_is_right, test_every_plausible_wrong_answer_is_not_yet,
 test_every_check_has_two_right_and_three_wrong_answers, test_a_check_leaves_the_random_state_alone) = (
    answer_table_tests(RIGHT, WRONG))


def test_messages_do_not_give_the_answer_away():
    """Does no message of a wrong answer contain the expected strides or shapes?"""
    for wrong in WRONG[checks.check_permuted_strides]:
        assert "(1, 30, 6)" not in checks.check_permuted_strides(wrong).message
    for wrong in WRONG[checks.check_matmul_shapes]:
        message = checks.check_matmul_shapes(wrong).message
        assert "(7, 5, 2, 4)" not in message and "(4,)" not in message
    message = checks.check_result_dtypes((f32, u8, f64, f16)).message
    assert "float16" not in message.split("`")[-1]   # only the expression itself names it


def test_dtype_expressions_are_what_the_lecture_asks():
    """Do the four expressions give the dtypes the right answer names (0-d float16 decides the size in the last)?"""
    assert [compute().dtype for _, compute in checks.DTYPE_EXPRESSIONS] == [f32, u8, f16, f16]


def test_dtype_check_names_the_first_wrong_expression():
    verdict = checks.check_result_dtypes((f32, torch.int64, f16, f16))
    assert "uint8" in verdict.message and "True" in verdict.message


def test_square_matrix_mistake_gets_the_keepdim_hint():
    verdict = checks.check_rows_to_probabilities(lambda M: M / M.sum(dim=1))
    assert "keep the summed dimension" in verdict.message


def test_a_loop_over_rows_is_named():
    assert "loop" in checks.check_rows_to_probabilities(_rows_loop).message
    assert "loop" in checks.check_pairwise_squared_distances(_distances_loop).message


def test_cdist_is_refused_by_name():
    assert "cdist" in checks.check_pairwise_squared_distances(lambda X: torch.cdist(X, X) ** 2).message


def test_returning_a_new_tensor_is_not_in_place():
    assert "x itself is unchanged" in checks.check_fill_multiples_of_three(_fill_copy).message
    assert "new memory" in checks.check_fill_multiples_of_three(_fill_new_memory).message


def test_distances_not_squared_are_named():
    distances = checks.check_pairwise_squared_distances(lambda X: ((X[:, None] - X[None]) ** 2).sum(-1).sqrt())
    assert "not the squared" in distances.message


def test_matmul_expressions_broadcast_raise_and_drop_a_dimension():
    """The exercise's promises: batch dims (7, 1) and (5,) broadcast; (7,) and (5,) raise; a 1-D row is dropped."""
    assert [checks._matmul_result(compute) for _, compute in checks.MATMUL_EXPRESSIONS] == [(7, 5, 2, 4), None, (4,)]


def test_an_answer_that_is_not_a_shape_is_told_the_format():
    assert "None for an error" in checks.check_matmul_shapes(((7, 5, 2, 4), "error", (4,))).message


ANSWER_FRAGMENTS = {  # what the answer's line would contain; no "Not yet" message may show it
    checks.check_rows_to_probabilities: ["keepdim=True", "sum(dim=1, keep", "[:, None]"],
    checks.check_pairwise_squared_distances: ["[:, None", "None, :", "unsqueeze"],
    checks.check_fill_multiples_of_three: ["% 3 == 0]", "masked_fill"],
}


@pytest.mark.parametrize("check", list(ANSWER_FRAGMENTS), ids=lambda check: check.__name__)
def test_no_hint_contains_the_answers_line(check):
    for answer in WRONG[check]:
        message = check(answer).message
        assert not any(fragment in message for fragment in ANSWER_FRAGMENTS[check]), message


def test_a_loop_over_columns_or_features_is_named():
    """Does "no loop" hold for a loop over the other axis too (the columns, the features), not only the rows?"""
    assert "loop" in checks.check_rows_to_probabilities(_rows_loop_over_columns).message
    assert "loop" in checks.check_pairwise_squared_distances(_distances_loop_over_features).message


def test_vectorised_answers_stay_under_the_loop_threshold():
    """Is a vectorised answer, however it is spelled, far from the call count that marks a loop?"""
    for answer in [lambda X: torch.vmap(lambda x: ((X - x) ** 2).sum(1))(X),
                   lambda X: (_distances_expanded(X)).clamp(min=0).fill_diagonal_(0)]:
        assert checks.check_pairwise_squared_distances(answer).status == "right"


def test_a_bare_number_for_a_shape_is_told_the_format():
    """Is `4` for `(4,)` told the format, not reported as an error of the student's code?"""
    message = checks.check_matmul_shapes(((7, 5, 2, 4), None, 4)).message
    assert "should be a shape" in message and "raised" not in message
