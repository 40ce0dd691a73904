"""The similarity check finds planted copies and leaves independent solutions alone.

The class is generated (tests/grading/generated_class.py): independent
students who each wrote every solution cell in one of several ways, and
copiers who took one of them and disguised it. No nbgrader run is needed:
the check reads notebooks.
"""
from __future__ import annotations

import random
from pathlib import Path

import pytest

import generated_class
from course_utils.grading import similarity

COURSE = Path(__file__).resolve().parents[2] / "assignments"


def written(notebook) -> list[str]:
    """The cells a student wrote, as written."""
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"
            and (cell.metadata.get("nbgrader", {}).get("solution") or not cell.metadata.get("nbgrader"))]


def pair_scores(notebooks, assignment: str) -> dict[frozenset, float]:
    starter = similarity.starter_code(COURSE, assignment)
    given = similarity.starter_statements(starter)
    codes = {student: similarity.student_code(notebook, given) for student, notebook in notebooks.items()}
    result = similarity.similar_pairs(codes, starter, keep_above=0.0)
    return {frozenset((pair.student_a, pair.student_b)): pair.similarity for pair in result.pairs}


@pytest.mark.parametrize("assignment", ["tanh", "augmentation"])
def test_planted_copies_are_above_the_threshold_and_independent_pairs_below(assignment):
    """In a class of 24 independent students and 8 copiers, is every planted pair listed above the
    threshold, and no pair of two independent students?"""
    notebooks, planted = generated_class.make_class(assignment, independent=24, copies=8, seed=7)
    scores = pair_scores(notebooks, assignment)
    missed = {tuple(sorted(pair)): scores.get(pair, 0.0) for pair in planted
              if scores.get(pair, 0.0) < similarity.THRESHOLD}
    assert not missed, f"planted copies below the threshold {similarity.THRESHOLD}: {missed}"
    independent = {pair: score for pair, score in scores.items()
                   if all("_s" in student for student in pair) and score >= similarity.THRESHOLD}
    assert not independent, f"independent students above the threshold: {independent}"


@pytest.mark.parametrize("trick", generated_class.TRICKS)
def test_each_disguise_alone_leaves_a_copy_whole(trick):
    """Renaming, reordering, new comments, added prints or split cells: does a copy still match its source
    completely (similarity 1)?"""
    rng = random.Random(3)
    answers = generated_class.independent_answers("augmentation", rng)
    source = generated_class.build_notebook("augmentation", list(answers.items()))
    copy = generated_class.build_notebook("augmentation", generated_class.plant_copy(answers, rng, (trick,)))
    assert written(copy) != written(source), f"the trick {trick!r} changed nothing"
    scores = pair_scores({"source": source, "copy": copy}, "augmentation")
    assert scores[frozenset(("source", "copy"))] == 1.0


def test_the_starter_code_alone_is_no_evidence():
    """Two students who handed in the released notebook untouched share only starter code: no pair."""
    blank = generated_class.build_notebook("augmentation", [])
    scores = pair_scores({"a": blank, "b": blank}, "augmentation")
    assert scores == {}


def test_code_that_most_of_a_big_class_shares_is_left_out():
    """A fingerprint in more than half of a class of at least COMMON_MIN_CLASS is common code."""
    sets = [{1, 2, 3}] * 6 + [{1, 4}] * 4
    assert similarity.common_fingerprints(sets) == {1, 2, 3}
    assert similarity.common_fingerprints(sets[:similarity.COMMON_MIN_CLASS - 1]) == set()


LONG_SHARED = ("def spread(values):\n    total = 0.0\n    for value in values:\n        total = total + value * value\n"
               "    mean = total / len(values)\n    deviations = [abs(value - mean) for value in values]\n"
               "    middle = sorted(deviations)[len(deviations) // 2]\n    low = min(deviations)\n"
               "    high = max(deviations)\n    return middle, mean, (high - low) / 2, total ** 0.5\n")
SHORT_ONE = "def scale(q):\n    return -1.5 * sum(q) + max(q) / len(q)\n"
SHORT_TWO = "def scale(q):\n    return -sum(q) * 1.5 + len(q) and max(q) / len(q)\n"


def test_each_unit_counts_alike_so_one_function_written_differently_lowers_the_pair():
    """Two students alike in a long function who wrote a short one differently: does the short one count as
    much as the long one (the pair's similarity is below both the threshold and their whole-code share)?"""
    codes = {"a": similarity.canonical_code([LONG_SHARED, SHORT_ONE]),
             "b": similarity.canonical_code([LONG_SHARED, SHORT_TWO])}
    comparison = similarity.similar_pairs(codes, keep_above=0.0)
    a, b = (comparison.fingerprints[student].hashes for student in "ab")
    score = comparison.pairs[0].similarity
    assert score < similarity.THRESHOLD and score < len(a & b) / min(len(a), len(b)) - 0.1
    padded = {"a": codes["a"], "b": similarity.canonical_code([LONG_SHARED, SHORT_ONE, SHORT_TWO.replace("scale", "other")])}
    assert similarity.similar_pairs(padded, keep_above=0.0).pairs[0].similarity == 1.0, "a padded copy is whole"


def test_code_units_are_the_top_level_statements_of_the_canonical_code():
    """Does every fingerprint land in the unit (function) whose code it is, as if fingerprinted alone?"""
    code = similarity.canonical_code([LONG_SHARED, SHORT_ONE])
    fingerprint = similarity._fingerprint(code)
    units = similarity.code_units(fingerprint, code)
    short, long = (similarity._fingerprint(similarity.canonical_code([text])).hashes for text in (SHORT_ONE, LONG_SHARED))
    assert len(units) == 2 and set.union(*units) < fingerprint.hashes  # less the k-grams across the two
    # scale sorts first; copydetect's offsets lag after a name, so a k-gram at a boundary may land one unit off
    assert len(units[0] ^ short) <= 2 and len(units[1] ^ long) <= 2 and len(units[1]) > 5 * len(units[0])


def test_a_few_shared_lines_are_no_evidence(monkeypatch):
    """Two students whose only non-starter code is the same short line: no pair (under MIN_SHARED)."""
    line = "def f(v):\n    return (v * v + 1) / 2 + v ** 3\n"
    codes = {"a": similarity.canonical_code([line]), "b": similarity.canonical_code([line])}
    assert 0 < len(similarity._fingerprint(codes["a"]).hashes) < similarity.MIN_SHARED
    assert similarity.similar_pairs(codes, keep_above=0.0).pairs == []
    monkeypatch.setattr(similarity, "MIN_SHARED", 1)
    assert similarity.similar_pairs(codes, keep_above=0.0).pairs[0].similarity == 1.0


def test_canonical_code_ignores_order_prints_comments_and_docstrings():
    """Is the canonical form the same whatever the order of functions, their prints and comments?"""
    first = 'def f(a):\n    """Doc."""\n    return a + 1\n\n\ndef g(b):\n    print(b)  # look\n    return b * 2\n'
    second = "def g(b):\n    return b * 2\n"
    third = "def f(a):\n    # add one\n    return a + 1\n"
    assert similarity.canonical_code([first]) == similarity.canonical_code([second, third])


def test_code_too_deep_for_ast_unparse_is_kept_as_written():
    """A 500-term sum (ast.unparse recurses too deep on it): is the statement kept as written, the rest canonical?"""
    deep = "noise = " + "+".join(["1"] * 500)
    code = similarity.canonical_code(["def f(a):\n    # one more\n    return a + 1\n", deep + "\nclass C:\n    y = " + "+".join(["2"] * 500)])
    assert deep in code and "y = 2+2+" in code and "def f(a):\n    return a + 1" in code


def test_a_cell_that_does_not_parse_is_kept_as_it_is():
    assert "def broken(:" in similarity.canonical_code(["x = 1", "def broken(:\n    pass"])


def test_matching_regions_point_at_the_shared_code():
    """Are the regions shown side by side the code that both hold?"""
    shared = ("def helper(values):\n    total = 0\n    for value in values:\n        total = total + value * value\n"
              "    return total / len(values)\n")
    codes = {"a": similarity.canonical_code([shared]),
             "b": similarity.canonical_code([shared + "\n\ndef other(q):\n    return [q, q, q, q, q][::-1]\n"])}
    comparison = similarity.similar_pairs(codes, keep_above=0.0)
    pair = comparison.pairs[0]
    assert pair.similarity == 1.0
    spans_a, spans_b = similarity.matching_regions(comparison, pair)
    covered = "".join(codes["b"][start:end] for start, end in spans_b)
    assert "total + value * value" in covered and "[::-1]" not in covered
    assert spans_a


@pytest.mark.slow  # torch and every check of the homework, hidden ones included: about 10 s per homework
@pytest.mark.parametrize("assignment", ["tanh", "augmentation"])
def test_every_generated_solution_passes_the_homework_checks(assignment):
    """Independent solutions and disguised copies are right: every test cell, hidden tests included, passes."""
    rng = random.Random(21)
    for index in range(4):
        answers = generated_class.independent_answers(assignment, rng)
        cells = generated_class.plant_copy(answers, rng) if index % 2 else list(answers.items())
        notebook = generated_class.build_notebook(assignment, cells)
        assert generated_class.failing_checks(assignment, notebook) == [], f"student {index}"
