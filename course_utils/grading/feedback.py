"""The nbgrader preprocessor that keeps hidden tests out of students' feedback.

nbgrader 0.9's ``generate_feedback`` renders the autograded notebook, whose
test cells hold the hidden tests again, and their tracebacks quote the
failing hidden lines (jupyter/nbgrader#917, #1156). The course's
``nbgrader_config.py`` adds :class:`HideHiddenTests` to
``GenerateFeedback.preprocessors``.
"""
from __future__ import annotations

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests

from .markers import HIDDEN, MARK_SCHEME, MARKER, Markers

REMOVED = "[a line of a hidden test was removed here]"
MIN_LINE = 8  # shorter hidden lines (")", "else:") give nothing away


class HideHiddenTests(ClearHiddenTests):
    """Remove hidden test regions and mark schemes; cut the errors of test cells to one line.

    A failing test cell then shows its visible source and ``ErrorName:
    message`` (the grader's verdict, written for the student: a hidden
    check's message never holds what it expected). The kernel never sees the
    hidden tests' source, but any output line, in any cell, that quotes a
    hidden line or a marker is still replaced by a note. Markers typed into a
    student's own cell are defused, not taken as hidden tests.
    """

    def preprocess(self, nb, resources):
        self._markers = Markers.from_config(self.config)
        self._hidden_lines = [self._markers.begin_hidden, self._markers.end_hidden,
                              *_hidden_lines(nb, self._markers)]
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        markers = self._markers
        if utils.is_locked(cell) and markers.begin_mark_scheme in cell.source:
            cell.source = markers.without(cell.source, MARK_SCHEME)
        if utils.is_grade(cell) and cell.cell_type == "code":
            had_hidden_tests = markers.begin_hidden in cell.source
            cell, resources = super().preprocess_cell(cell, resources, cell_index)
            if had_hidden_tests:
                for output in cell.get("outputs", []):
                    if output.output_type == "error":
                        output.traceback = [f"{output.ename}: {output.evalue}"]
        elif not utils.is_locked(cell):  # the student's text: markers in it mean nothing, and must not look like a leak
            for marker in markers.all():
                cell.source = cell.source.replace(marker, "[marker]")
        for output in cell.get("outputs", []):
            self._redact(output)
        return cell, resources

    def _redact(self, output) -> None:
        if output.output_type == "stream":
            output.text = self._clean(output.text)
        elif output.output_type == "error":
            output.evalue = self._clean(output.evalue)
            output.traceback = [self._clean(line) for line in output.traceback]
        for mime, value in output.get("data", {}).items():  # every type: JavaScript, JSON, SVG ... are shown too
            output.data[mime] = self._clean_value(value)

    def _clean_value(self, value):
        if isinstance(value, str):
            return self._clean(value)
        if isinstance(value, list):
            return [self._clean_value(item) for item in value]
        if isinstance(value, dict):
            return {key: self._clean_value(item) for key, item in value.items()}
        return value

    def _clean(self, text: str) -> str:
        lines = text.split("\n")
        cleaned = [REMOVED if any(hidden in line for hidden in self._hidden_lines) else line for line in lines]
        return "\n".join(cleaned) if cleaned != lines else text


def _hidden_lines(nb, markers: Markers) -> list[str]:
    """The lines of the test cells' hidden regions that appear nowhere visible in the notebook."""
    hidden, visible = set(), set()
    for cell in nb.cells:
        for region, line in markers.regions(cell.source):
            if region == MARKER or not line.strip():
                continue
            (hidden if region == HIDDEN and utils.is_grade(cell) else visible).add(line.strip())
    return sorted(line for line in hidden - visible if len(line) >= MIN_LINE)
