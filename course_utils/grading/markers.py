"""nbgrader's region markers (solution, hidden tests, mark scheme), read from nbgrader's configuration.

The one parser of those markers in the course: the grader's Execute (which
lines of a test cell are hidden), the feedback (what to remove), the student
edition's leak check, the similarity report's starter code, and the tests.
The delimiters are nbgrader's configured ones
(``ClearSolutions.begin_solution_delimeter``, ``ClearHiddenTests.begin_test_delimeter``,
``ClearMarkScheme.begin_mark_scheme_delimeter`` and their ends), so a course
that changes them in ``nbgrader_config.py`` changes them here too
(:meth:`Markers.for_course`). A line holding a delimiter anywhere is a marker
line, as nbgrader reads it.
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PUBLIC, SOLUTION, HIDDEN, MARK_SCHEME, MARKER = "public", "solution", "hidden", "mark scheme", "marker"


@dataclass(frozen=True)
class Markers:
    """The six delimiters, and the stubs nbgrader's release puts in place of a solution (nbgrader's defaults
    unless read with :meth:`from_config` or :meth:`for_course`)."""

    begin_solution: str = "BEGIN SOLUTION"
    end_solution: str = "END SOLUTION"
    begin_hidden: str = "BEGIN HIDDEN TESTS"
    end_hidden: str = "END HIDDEN TESTS"
    begin_mark_scheme: str = "BEGIN MARK SCHEME"
    end_mark_scheme: str = "END MARK SCHEME"
    code_stub: str = "# YOUR CODE HERE\nraise NotImplementedError()"  # ClearSolutions.code_stub["python"]
    text_stub: str = "YOUR ANSWER HERE"  # ClearSolutions.text_stub

    @classmethod
    def from_config(cls, config=None) -> Markers:
        """The markers of nbgrader's preprocessors as ``config`` (a traitlets Config, e.g. an app's) sets them."""
        from nbgrader.preprocessors import ClearHiddenTests, ClearMarkScheme, ClearSolutions

        solutions, hidden, scheme = (kind(config=config) if config is not None else kind()
                                     for kind in (ClearSolutions, ClearHiddenTests, ClearMarkScheme))
        return cls(solutions.begin_solution_delimeter, solutions.end_solution_delimeter,
                   hidden.begin_test_delimeter, hidden.end_test_delimeter,
                   scheme.begin_mark_scheme_delimeter, scheme.end_mark_scheme_delimeter,
                   solutions.code_stub.get("python", cls.code_stub), solutions.text_stub)

    @classmethod
    def for_course(cls, course: Path) -> Markers:
        """The markers of the nbgrader course rooted at ``course``: its ``nbgrader_config.py``, loaded as nbgrader
        loads it (nbgrader's defaults without the file)."""
        from traitlets.config import Config
        from traitlets.config.loader import PyFileConfigLoader

        config_file = Path(course) / "nbgrader_config.py"
        if not config_file.is_file():
            return cls.from_config(Config())
        return cls.from_config(PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config())

    def all(self) -> tuple[str, ...]:
        """Every delimiter: none of them may reach a student."""
        return (self.begin_solution, self.end_solution, self.begin_hidden, self.end_hidden,
                self.begin_mark_scheme, self.end_mark_scheme)

    def regions(self, source: str) -> list[tuple[str, str]]:
        """``(region, line)`` for every line of ``source``: ``public``, ``solution``, ``hidden``,
        ``mark scheme``, or ``marker`` (a line holding a delimiter)."""
        begins = {self.begin_solution: SOLUTION, self.begin_hidden: HIDDEN, self.begin_mark_scheme: MARK_SCHEME}
        ends = (self.end_solution, self.end_hidden, self.end_mark_scheme)
        found, region = [], PUBLIC
        for line in source.split("\n"):
            begin = next((kind for marker, kind in begins.items() if marker in line), None)
            if begin is not None:
                region = begin
                found.append((MARKER, line))
            elif any(marker in line for marker in ends):
                region = PUBLIC
                found.append((MARKER, line))
            else:
                found.append((region, line))
        return found

    def hidden_line_numbers(self, source: str) -> set[int]:
        """1-based numbers of the lines inside hidden test regions (as ``ast`` numbers them)."""
        return {number for number, (region, _) in enumerate(self.regions(source), 1) if region == HIDDEN}

    def lines_in(self, source: str, *regions: str) -> list[str]:
        """The lines of ``source`` inside ``regions`` (``SOLUTION``, ``HIDDEN``, ``MARK_SCHEME``), in order."""
        return [line for region, line in self.regions(source) if region in regions]

    def without(self, source: str, *regions: str) -> str:
        """``source`` without the lines of ``regions`` and without marker lines."""
        kept = [line for region, line in self.regions(source) if region not in (*regions, MARKER)]
        return "\n".join(kept).rstrip()

    def visible_part(self, source: str) -> str:
        """A test cell's source without its hidden regions (what the student's release shows)."""
        return self.without(source, HIDDEN)

    def solutions_replaced(self, source: str, bodies: Iterable[str]) -> str:
        """``source`` with each solution region, its markers included, replaced by the next of ``bodies``,
        indented like the region's begin line (blank lines stay blank); the other lines as they are.
        ``ValueError`` when ``bodies`` runs out first."""
        bodies = iter(bodies)
        lines = []
        for region, line in self.regions(source):
            if region == MARKER and self.begin_solution in line:
                body = next(bodies, None)
                if body is None:
                    raise ValueError(f"fewer bodies than solution regions in:\n{source}")
                indent = re.match(r"\s*", line).group(0)
                lines += [indent + body_line if body_line else body_line for body_line in body.split("\n")]
            elif region != SOLUTION and not (region == MARKER and self.end_solution in line):
                lines.append(line)
        return "\n".join(lines)

    def released(self, cell) -> str:
        """The source of ``cell`` (a notebook cell: ``cell_type``, ``source``, ``metadata``) as nbgrader's
        release writes it (``ClearSolutions``, ``ClearHiddenTests``, ``ClearMarkScheme``): each solution region
        replaced by the stub, indented like its begin line; hidden-test and mark-scheme regions removed with
        their markers; a solution cell without a region replaced whole by the stub."""
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        stub = self.code_stub if cell["cell_type"] == "code" else self.text_stub
        has_region = any(region == MARKER and self.begin_solution in line for region, line in self.regions(source))
        if not has_region and cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            return stub
        with_stubs = self.solutions_replaced(source, itertools.repeat(stub))
        return "\n".join(line for region, line in self.regions(with_stubs) if region == PUBLIC)
