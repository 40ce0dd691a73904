"""nbgrader's region markers (solution, hidden tests, mark scheme), read from nbgrader's configuration.

The one parser of those markers in the grading code: the grader's Execute
(which lines of a test cell are hidden), the feedback (what to remove), and
the tests. The delimiters are nbgrader's configured ones
(``ClearSolutions.begin_solution_delimeter``, ``ClearHiddenTests.begin_test_delimeter``,
``ClearMarkScheme.begin_mark_scheme_delimeter`` and their ends), so a course
that changes them in ``nbgrader_config.py`` changes them here too.
"""
from __future__ import annotations

from dataclasses import dataclass

PUBLIC, SOLUTION, HIDDEN, MARK_SCHEME, MARKER = "public", "solution", "hidden", "mark scheme", "marker"


@dataclass(frozen=True)
class Markers:
    begin_solution: str = "BEGIN SOLUTION"
    end_solution: str = "END SOLUTION"
    begin_hidden: str = "BEGIN HIDDEN TESTS"
    end_hidden: str = "END HIDDEN TESTS"
    begin_mark_scheme: str = "BEGIN MARK SCHEME"
    end_mark_scheme: str = "END MARK SCHEME"

    @classmethod
    def from_config(cls, config=None) -> Markers:
        """The markers of nbgrader's preprocessors as ``config`` (a traitlets Config, e.g. an app's) sets them."""
        from nbgrader.preprocessors import ClearHiddenTests, ClearMarkScheme, ClearSolutions

        solutions, hidden, scheme = (kind(config=config) if config is not None else kind()
                                     for kind in (ClearSolutions, ClearHiddenTests, ClearMarkScheme))
        return cls(solutions.begin_solution_delimeter, solutions.end_solution_delimeter,
                   hidden.begin_test_delimeter, hidden.end_test_delimeter,
                   scheme.begin_mark_scheme_delimeter, scheme.end_mark_scheme_delimeter)

    def all(self) -> tuple[str, ...]:
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

    def without(self, source: str, *regions: str) -> str:
        """``source`` without the lines of ``regions`` and without marker lines."""
        kept = [line for region, line in self.regions(source) if region not in (*regions, MARKER)]
        return "\n".join(kept).rstrip()

    def visible_part(self, source: str) -> str:
        """A test cell's source without its hidden regions (what the student's release shows)."""
        return self.without(source, HIDDEN)
