"""Which submissions of one assignment look copied: winnowing fingerprints over the students' own code.

Each submission's code is what the student wrote: its solution cells and the
code cells the student added (a solution split over several cells counts
whole), never the locked set-up and test cells. It is first rewritten in a
canonical form (:func:`canonical_code`: comments, docstrings and ``print``
statements dropped, layout normalised by ``ast.unparse``, top-level
statements and each class's methods sorted), so reordering functions, adding
prints or splitting cells hides nothing; statements and methods given in the
starter code are dropped (``given`` to :func:`canonical_code`). The rest is tokenised and
fingerprinted by copydetect (Python tokens; names and strings normalised, so
renaming variables hides nothing; k-grams of ``NOISE`` normalised characters,
all kept). Fingerprints of the released starter code are removed, and so is
code that most of a big class writes the same way (a fingerprint in more than
``COMMON_SHARE`` of the submissions, with at least ``COMMON_MIN_CLASS``
submissions): the one obvious way to write ``TanhFunction.forward`` is no
evidence of copying.

A pair's similarity is counted unit by unit (:func:`code_units`: each
top-level function, class or statement of the canonical code; a k-gram that
runs from one unit into the next belongs to neither; a unit too short for a
whole k-gram, such as a one-line function, is one fingerprint of its own):
the mean, over one student's units, of the share of the unit's fingerprints
the other holds, the larger of the two ways round. Every unit counts alike,
so two students alike in a long function but who wrote a short one another
way score below a copy, whose every unit is whole, and a copy padded with
helpers or extra cells still holds all of the original. Fewer than
``MIN_SHARED`` fingerprints in common is no evidence at all.

Why copydetect (0.5.0): it implements winnowing (Schleimer, Wilkerson and
Aiken 2003, the algorithm behind MOSS) in pure Python and returns the matching
regions. Dolos (npm ``@dodona/dolos-lib``) is better kept but would bring
Node.js and native tree-sitter parsers into a course installed with pip
alone; pycode-similar (2020) compares syntax trees without regions; MOSS is a
web service.

``THRESHOLD`` was chosen on the generated class of
``tests/grading/generated_class.py`` (independent solutions written in
several genuinely different ways per solution cell, with their own small
choices; copies disguised by renamed variables, reordered functions and
methods, changed and added comments, added prints, split cells).
``scripts/similarity_rates.py`` on classes of 30, 100 and 300 per homework
(10 % copies; 5, 5 and 3 seeds): every planted pair scores 1.0; at 0.95 no
pair of independent students of homework 2 is listed (the most alike: 0.949)
and 4 of 108,945 of homework 1 in the classes of 300 (6 with one share of
the whole fingerprint sets), 1 of 20,025 in those of 100: independent
students whose few-line solutions are the same code up to names (no detector
can tell them from a renamed copy) or up to an operand's order. Copies edited
beyond those disguises fall below 1; a lower threshold would catch more of
them at the cost of more independent pairs (homework 1 at 300: 8 at 0.90,
140 at 0.80).

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

from .markers import Markers

NOISE = 25  # copydetect's k: matches shorter than this many normalised characters are ignored
GUARANTEE = 25  # matches at least this long are always found (window = GUARANTEE - NOISE + 1)
THRESHOLD = 0.95  # at or above: listed as suspicious (see the module docstring)
COMMON_SHARE = 0.5  # a fingerprint in more than this share of a class is common code, not evidence
MIN_SHARED = 10  # fewer shared fingerprints (k-grams: about 35 normalised characters, a short line or two) is no evidence
COMMON_MIN_CLASS = 10  # below this many submissions nothing is common: too few to tell
NAME = re.compile(r"\b[A-Za-z_]\w*\b")


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


def student_code(notebook: nbformat.NotebookNode, given: frozenset[str] = frozenset()) -> str:
    """The code a student wrote (solution cells and cells without nbgrader metadata), canonical, without
    the statements ``given`` in the starter code (:func:`starter_statements`)."""
    return canonical_code((cell.source for cell in notebook.cells if _written_by_student(cell)), given)


def _written_by_student(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and (bool(meta.get("solution")) or not meta)


def starter_code(course: Path, assignment: str) -> str:
    """The code every student was given, canonical: the released notebooks' code cells (``release/``), or
    ``source/`` as nbgrader's release writes it (the course's markers, :meth:`Markers.released`), when nothing
    is released yet."""
    released = sorted((course / "release" / assignment).glob("*.ipynb"))
    if released:
        return canonical_code(cell.source for path in released
                              for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
    markers = Markers.for_course(course)
    return canonical_code(markers.released(cell) for path in sorted((course / "source" / assignment).glob("*.ipynb"))
                          for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")


def similar_pairs(codes: Mapping[str, str], starter: str = "", keep_above: float = THRESHOLD / 2) -> Comparison:
    """Every pair of ``{student: canonical code}`` (:func:`student_code`, :func:`submission_codes`) whose
    similarity is at least ``keep_above`` (and above 0); ``starter`` is the canonical starter code, whose
    fingerprints are no evidence.

    A pair's similarity is the share of the smaller fingerprint set found in the other:
    ``|A & B| / min(|A|, |B|)``, that is the larger of the two containments.
    """
    import numpy as np

    starter_hashes = _fingerprint(starter).hashes if starter.strip() else set()
    raw = {student: _fingerprint(code) for student, code in codes.items()}
    # A unit too short for a whole k-gram (a one-line function) is one fingerprint of its own: its code.
    raw_units = {student: [hashes or ({hash(_order(text))} if text.strip() else set())
                           for hashes, text in zip(code_units(raw[student], code), code.split("\n\n"))]
                 for student, code in codes.items()}
    boilerplate = starter_hashes | common_fingerprints(
        [(raw[student].hashes | set().union(*raw_units[student])) - starter_hashes for student in raw])
    prints = {student: _without(fingerprint, boilerplate) for student, fingerprint in raw.items()}
    students = sorted(prints)
    kept = {student: [units - boilerplate for units in raw_units[student] if units - boilerplate]
            for student in students}
    every = {student: prints[student].hashes.union(*kept[student]) for student in students}
    holders = Counter(value for student in students for value in every[student])
    # Only fingerprints that two or more students hold can be shared: one column each.
    column = {value: index for index, value in enumerate(v for v, count in holders.items() if count > 1)}
    held = np.zeros((len(students), len(column)), dtype=np.float32)  # one row of 0/1 per student
    for row, student in enumerate(students):
        held[row, [column[value] for value in every[student] if value in column]] = 1.0
    shared = held @ held.T  # fingerprints in common, every pair at once
    # Each unit (top-level function, class, statement) of a student: which share of it each other student holds.
    by_column = np.ascontiguousarray(held.T)  # fingerprint x student
    found, owner = [], []
    for row, student in enumerate(students):
        for hashes in kept[student]:
            columns = [column[value] for value in hashes if value in column]
            found.append(by_column[columns].sum(axis=0) / len(hashes))
            owner.append(row)
    found = np.array(found, dtype=np.float32).reshape(len(owner), len(students))  # unit x student
    counts = np.bincount(owner, minlength=len(students)).astype(np.float32)
    covered = np.zeros((len(students), len(students)), dtype=np.float32)
    np.add.at(covered, np.array(owner, dtype=int), found)
    covered /= np.maximum(counts, 1)[:, None]  # covered[a, b]: mean over a's units of the share b holds
    similarity = np.maximum(covered, covered.T)
    similarity[shared < MIN_SHARED] = 0.0
    rows, cols = np.nonzero(np.triu(similarity >= max(keep_above, 1e-9), k=1))
    pairs = [Pair(students[a], students[b], round(float(similarity[a, b]), 3)) for a, b in zip(rows, cols)]
    pairs.sort(key=lambda pair: (-pair.similarity, pair.student_a, pair.student_b))
    return Comparison(pairs, codes, prints)


def matching_regions(comparison: Comparison, pair: Pair) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """``(spans of code_a, spans of code_b)``: the ``(start, end)`` characters of each pair's code that the
    other holds too (copydetect's slices)."""
    from copydetect import compare_files

    _, _, (slices_a, slices_b) = compare_files(comparison.fingerprints[pair.student_a],
                                               comparison.fingerprints[pair.student_b])
    return list(_spans(slices_a)), list(_spans(slices_b))


def code_units(fingerprint, code: str) -> list[set[int]]:
    """The fingerprints of each unit of canonical ``code`` (its top-level statements, functions and classes,
    separated by blank lines; see :func:`canonical_code`), in order, an empty set for a unit too short for a
    whole k-gram. A fingerprint whose k-gram runs
    from one unit into the next belongs to neither: it would change with whatever a student puts beside."""
    import numpy as np

    starts = np.cumsum([0, *(len(chunk) + 2 for chunk in code.split("\n\n"))])[:-1]
    offsets = np.asarray(fingerprint.offsets).reshape(-1, 2)

    def unit_of(filtered: np.ndarray) -> np.ndarray:  # copydetect's offsets: characters dropped before each
        dropped = offsets[np.searchsorted(offsets[:, 0], filtered, side="right") - 1, 1] if len(offsets) else 0
        return np.searchsorted(starts, filtered + dropped, side="right") - 1

    units: list[set[int]] = [set() for _ in starts]
    values = [value for value, where in fingerprint.hash_idx.items() for _ in where]
    where = np.array([index for indices in fingerprint.hash_idx.values() for index in indices], dtype=np.int64)
    if not values:
        return units
    first, last = unit_of(where), unit_of(where + fingerprint.k - 1)
    for value, unit, inside in zip(values, first.tolist(), (first == last).tolist()):
        if inside:
            units[unit].add(value)
    return units


def common_fingerprints(hash_sets: list[set[int]]) -> set[int]:
    """Fingerprints found in more than ``COMMON_SHARE`` of the submissions (none in a class under
    ``COMMON_MIN_CLASS``)."""
    if len(hash_sets) < COMMON_MIN_CLASS:
        return set()
    counts = Counter(value for hashes in hash_sets for value in hashes)
    return {value for value, count in counts.items() if count > COMMON_SHARE * len(hash_sets)}


def submission_codes(course: Path, assignment: str, students: Iterable[str] | None = None) -> dict[str, str]:
    """``{student: code}`` of every graded notebook ``autograded/<student>/<assignment>/*.ipynb`` (canonical,
    without the starter code's statements)."""
    given = starter_statements(starter_code(course, assignment))
    found = {}
    root = course / "autograded"
    folders = [root / student / assignment for student in students] if students is not None \
        else sorted(root.glob(f"*/{assignment}"))
    for folder in folders:
        notebooks = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
        if notebooks:
            found[folder.parent.name] = canonical_code(
                (cell.source for path in notebooks for cell in read_notebook(path).cells if _written_by_student(cell)),
                given)
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


def canonical_code(cells: Iterable[str], given: frozenset[str] = frozenset()) -> str:
    """The code of ``cells`` as Python sees it, in a fixed order: comments, docstrings and ``print(...)``
    statements dropped, layout normalised (``ast.unparse``), the top-level statements of all cells and each
    class's members sorted by their code with every name blanked out, and the statements and class members
    that are word for word in ``given`` (:func:`starter_statements`) left out. Reordering functions or
    methods, splitting cells, adding prints or rewording comments then changes nothing. A cell that does not
    parse is kept as it is, at the end."""
    statements, unparsed, sources = [], [], {}
    for source in cells:
        try:
            body = ast.parse(_python_only(source)).body
        except (SyntaxError, RecursionError, MemoryError):
            unparsed.append(source)
            continue
        statements += body
        sources.update({id(node): _python_only(source) for node in body})
    texts = []
    for node in _cleaned(statements):
        if isinstance(node, ast.ClassDef):  # its members one by one: each is unparsed once
            source = sources.get(id(node), "")
            members = sorted((text for text in (_unparsed(member, source) for member in node.body)
                              if text not in given), key=_order)
            if not members and node.body:
                continue  # nothing of the student's in it: the starter's class as given
            node.body = [ast.Pass()]
            header = _unparsed(node, source).rsplit("\n", 1)[0]
            text = "\n".join([header, *("\n".join("    " + line if line else line for line in member.split("\n"))
                                         for member in members)])
        else:
            text = _unparsed(node, sources.get(id(node), ""))
        if text not in given:
            texts.append(text)
    return "\n\n".join([*sorted(texts, key=_order), *unparsed])


def _unparsed(node, source: str) -> str:
    """``ast.unparse(node)``, or the node's own text when it nests too deep for it (a 500-term sum)."""
    try:
        return ast.unparse(node)
    except RecursionError:
        return ast.get_source_segment(source, node) or ""


def starter_statements(starter: str) -> frozenset[str]:
    """Every top-level statement and class member of the canonical ``starter`` code, as text."""
    try:
        tree = ast.parse(starter)
    except SyntaxError:
        return frozenset()
    found = set()
    for node in tree.body:
        found.add(ast.unparse(node))
        if isinstance(node, ast.ClassDef):
            found |= {ast.unparse(member) for member in node.body}
    return frozenset(found)


def _order(text: str) -> str:
    return NAME.sub("V", text)


def _cleaned(body: list) -> list:
    """``body`` without docstrings, bare strings and ``print(...)`` statements, at every depth."""
    kept = []
    for node in body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
                and isinstance(node.value.func, ast.Name) and node.value.func.id == "print":
            continue
        for field in ("body", "orelse", "finalbody"):
            if getattr(node, field, None):  # an empty ``else`` stays empty, a body emptied becomes ``pass``
                setattr(node, field, _cleaned(getattr(node, field)) or [ast.Pass()])
        kept.append(node)
    return kept


def _python_only(source: str) -> str:
    """A cell's code without IPython magics and shell lines (``%time``, ``!pip``), which are no Python."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def _spans(slices) -> tuple[tuple[int, int], ...]:
    if len(slices) == 0 or len(slices[0]) == 0:
        return ()
    return tuple((int(start), int(end)) for start, end in zip(slices[0], slices[1]))
