"""Which submissions of one assignment look copied: winnowing fingerprints over the students' own code.

Each submission's code is what the student wrote: its solution cells and the
code cells the student added (a solution split over several cells counts
whole), never the locked set-up and test cells. The code is tokenised and
fingerprinted by copydetect (Python tokens; names, strings and comments
normalised away, so renaming variables or rewording comments hides nothing;
k-grams of ``NOISE`` normalised characters, all kept). Fingerprints of the
released starter code (class skeletons, docstrings, ``raise
NotImplementedError()``) are removed, and so is code that most of a big class
writes the same way (a fingerprint in more than ``COMMON_SHARE`` of the
submissions, with at least ``COMMON_MIN_CLASS`` submissions): the one obvious
way to write ``TanhFunction.forward`` is no evidence of copying.

A pair's similarity is the larger of the two shares of each submission's
remaining code that the other one holds too (copydetect's per-file score): a
copy padded with prints, helpers or extra cells still holds nearly all of the
original, which holds nearly all of the copy's code.

``THRESHOLD`` was chosen on the generated corpus of
``tests/grading/generated_class.py`` (both homeworks; copies with renamed
variables, reordered functions, changed comments and prints, split cells;
independent solutions written in several genuinely different ways per solution
cell): see ``scripts/similarity_rates.py`` for the measured detection and
false-pair rates, which the README quotes.

Nothing here changes a grade or a status: it reads notebooks and returns pairs.
"""
from __future__ import annotations

import ast
import copy
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import nbformat

NOISE = 25  # copydetect's k: matches shorter than this many normalised characters are ignored
GUARANTEE = 25  # matches at least this long are always found (window = GUARANTEE - NOISE + 1)
THRESHOLD = 0.95  # at or above: listed as suspicious (see the module docstring)
COMMON_SHARE = 0.5  # a fingerprint in more than this share of a class is common code, not evidence
COMMON_MIN_CLASS = 10  # below this many submissions nothing is common: too few to tell
SOLUTION_REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION.*?### END SOLUTION[^\n]*", re.M | re.S)
NAME = re.compile(r"\b[A-Za-z_]\w*\b")
HIDDEN_TESTS = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[^\n]*\n?", re.M | re.S)


@dataclass(frozen=True)
class Pair:
    """Two submissions and how alike their code is (in [0, 1])."""

    student_a: str
    student_b: str
    similarity: float


@dataclass(frozen=True)
class Comparison:
    """A class's pairs, most similar first, and what :func:`matching_regions` needs to show them."""

    pairs: list[Pair]
    codes: Mapping[str, str]
    fingerprints: Mapping[str, object]  # copydetect's CodeFingerprint of each code, boilerplate removed


def student_code(notebook: nbformat.NotebookNode) -> str:
    """The code a student wrote (solution cells and cells without nbgrader metadata), canonical."""
    return canonical_code(cell.source for cell in notebook.cells if _written_by_student(cell))


def _written_by_student(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and (bool(meta.get("solution")) or not meta)


def starter_code(course: Path, assignment: str) -> str:
    """The code every student was given, canonical: the released notebooks' code cells (``release/``), or
    ``source/`` with its solution regions replaced as nbgrader does, when nothing is released yet."""
    released = sorted((course / "release" / assignment).glob("*.ipynb"))
    if released:
        return canonical_code(cell.source for path in released
                              for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
    return canonical_code(
        HIDDEN_TESTS.sub("", SOLUTION_REGION.sub(r"\1raise NotImplementedError()", cell.source))
        for path in sorted((course / "source" / assignment).glob("*.ipynb"))
        for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")


def similar_pairs(codes: Mapping[str, str], starter: str = "", keep_above: float = THRESHOLD / 2) -> Comparison:
    """Every pair of ``{student: canonical code}`` whose similarity is at least ``keep_above`` (and above 0).

    A pair's similarity is the share of the smaller fingerprint set found in the other:
    ``|A & B| / min(|A|, |B|)``, that is the larger of the two containments.
    """
    import numpy as np

    given = _statements(starter)
    codes = {student: without_starter(code, given) for student, code in codes.items()}
    starter_hashes = _fingerprint(starter).hashes if starter.strip() else set()
    raw = {student: _fingerprint(code) for student, code in codes.items()}
    boilerplate = starter_hashes | common_fingerprints([raw[student].hashes - starter_hashes for student in raw])
    prints = {student: _without(fingerprint, boilerplate) for student, fingerprint in raw.items()}
    students = sorted(prints)
    holders = Counter(value for student in students for value in prints[student].hashes)
    # Only fingerprints that two or more students hold can be shared: one column each.
    column = {value: index for index, value in enumerate(v for v, count in holders.items() if count > 1)}
    held = np.zeros((len(students), len(column)), dtype=np.float32)  # one row of 0/1 per student
    for row, student in enumerate(students):
        held[row, [column[value] for value in prints[student].hashes if value in column]] = 1.0
    shared = held @ held.T  # fingerprints in common, every pair at once
    sizes = np.array([len(prints[student].hashes) for student in students], dtype=np.float32)
    smaller = np.minimum.outer(sizes, sizes)
    with np.errstate(divide="ignore", invalid="ignore"):
        similarity = np.where(smaller > 0, shared / np.maximum(smaller, 1), 0.0)
    rows, cols = np.nonzero(np.triu(similarity >= max(keep_above, 1e-9), k=1))
    pairs = [Pair(students[a], students[b], round(float(similarity[a, b]), 3)) for a, b in zip(rows, cols)]
    pairs.sort(key=lambda pair: (-pair.similarity, pair.student_a, pair.student_b))
    return Comparison(pairs, codes, prints)


def without_starter(code: str, starter: set[str]) -> str:
    """Canonical ``code`` without the statements and methods that are, word for word, in the canonical
    starter code (the set-up cell, a class's given ``__init__``, the ungraded experiment cells)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    kept = []
    for node in tree.body:
        text = ast.unparse(node)
        if text in starter:
            continue
        if isinstance(node, ast.ClassDef):
            node.body = [member for member in node.body if ast.unparse(member) not in starter] or [ast.Pass()]
        kept.append(node)
    return ast.unparse(ast.Module(body=kept, type_ignores=[]))


def _statements(code: str) -> set[str]:
    """Every top-level statement and class member of canonical ``code``, as text."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    found = set()
    for node in tree.body:
        found.add(ast.unparse(node))
        if isinstance(node, ast.ClassDef):
            found |= {ast.unparse(member) for member in node.body}
    return found


def matching_regions(comparison: Comparison, pair: Pair) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """``(spans of code_a, spans of code_b)``: the ``(start, end)`` characters of each pair's code that the
    other holds too (copydetect's slices)."""
    from copydetect import compare_files

    _, _, (slices_a, slices_b) = compare_files(comparison.fingerprints[pair.student_a],
                                               comparison.fingerprints[pair.student_b])
    return list(_spans(slices_a)), list(_spans(slices_b))


def common_fingerprints(hash_sets: list[set[int]]) -> set[int]:
    """Fingerprints found in more than ``COMMON_SHARE`` of the submissions (none in a class under
    ``COMMON_MIN_CLASS``)."""
    if len(hash_sets) < COMMON_MIN_CLASS:
        return set()
    counts = Counter(value for hashes in hash_sets for value in hashes)
    return {value for value, count in counts.items() if count > COMMON_SHARE * len(hash_sets)}


def submission_codes(course: Path, assignment: str, students: Iterable[str] | None = None) -> dict[str, str]:
    """``{student: code}`` of every graded notebook ``autograded/<student>/<assignment>/*.ipynb``."""
    found = {}
    root = course / "autograded"
    folders = [root / student / assignment for student in students] if students is not None \
        else sorted(root.glob(f"*/{assignment}"))
    for folder in folders:
        notebooks = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
        if notebooks:
            found[folder.parent.name] = canonical_code(
                cell.source for path in notebooks for cell in read_notebook(path).cells if _written_by_student(cell))
    return found


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """A notebook (format 4) without nbformat's schema validation, which takes longer than the rest here."""
    notebook = nbformat.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    if notebook.get("nbformat") != 4:
        return nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if isinstance(cell.get("source"), list):
            cell.source = "".join(cell.source)
    return notebook


def _fingerprint(code: str):
    """copydetect's fingerprint of ``code`` (a Python file's tokens), before any boilerplate is removed."""
    from copydetect import CodeFingerprint

    return CodeFingerprint("submission.py", NOISE, GUARANTEE - NOISE + 1, language="python", fp=io.StringIO(code))


def _without(fingerprint, boilerplate: set[int]):
    """A copy of ``fingerprint`` without the ``boilerplate`` fingerprints, every occurrence of them
    (copydetect's own ``boilerplate=`` removes one occurrence of a repeated fingerprint only)."""
    from copydetect.utils import get_token_coverage

    kept = copy.copy(fingerprint)
    kept.hashes = fingerprint.hashes - boilerplate
    kept.hash_idx = {value: where for value, where in fingerprint.hash_idx.items() if value in kept.hashes}
    kept.token_coverage = get_token_coverage(kept.hash_idx, fingerprint.k, len(fingerprint.filtered_code))
    return kept


def canonical_code(cells: Iterable[str]) -> str:
    """The code of ``cells`` as Python sees it, in a fixed order: comments, docstrings and ``print(...)``
    statements dropped, layout normalised (``ast.unparse``), the top-level statements of all cells and each
    class's methods sorted by their code with every name blanked out. Reordering functions or methods,
    splitting cells, adding prints or rewording comments then changes nothing. A cell that does not parse
    is kept as it is, at the end."""
    statements, unparsed = [], []
    for source in cells:
        try:
            statements += ast.parse(_python_only(source)).body
        except SyntaxError:
            unparsed.append(source)

    def key(node) -> str:
        return NAME.sub("V", ast.unparse(node))

    def clean(body: list) -> list:
        kept = []
        for node in body:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                continue  # a docstring or a bare string
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
                    and isinstance(node.value.func, ast.Name) and node.value.func.id == "print":
                continue
            for field in ("body", "orelse", "finalbody"):
                if isinstance(getattr(node, field, None), list):
                    setattr(node, field, clean(getattr(node, field)) or [ast.Pass()])
            if isinstance(node, ast.ClassDef):
                node.body = sorted(node.body, key=key)
            kept.append(node)
        return kept

    tree = ast.Module(body=sorted(clean(statements), key=key), type_ignores=[])
    return "\n\n".join([ast.unparse(tree), *unparsed])


def _python_only(source: str) -> str:
    """A cell's code without IPython magics and shell lines (``%time``, ``!pip``), which are no Python."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def _spans(slices) -> tuple[tuple[int, int], ...]:
    if len(slices) == 0 or len(slices[0]) == 0:
        return ()
    return tuple((int(start), int(end)) for start, end in zip(slices[0], slices[1]))
