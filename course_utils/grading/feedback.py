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

REMOVED = "[a line of a hidden test was removed here]"
MIN_LINE = 8  # shorter hidden lines (")", "else:") give nothing away
MARK_SCHEME = ("BEGIN MARK SCHEME", "END MARK SCHEME")


class HideHiddenTests(ClearHiddenTests):
    """Remove hidden test regions and cut the errors of those cells to one line.

    A failing test cell then shows its visible source and ``ErrorName:
    message`` (the message is written for the student), never the hidden code.
    Submitted code can read the hidden tests while they run (IPython's ``In``,
    frames) and print them: any output line, in any cell, that quotes a
    hidden line or a marker is replaced by a note. (Encoded, the text would
    pass: the grading status ``flagged`` is the guard against that.) Markers
    typed into a student's own cell are defused, not taken as hidden tests.
    """

    def preprocess(self, nb, resources):
        self._hidden_lines = [self.begin_test_delimeter, self.end_test_delimeter,
                              *_hidden_lines(nb, self.begin_test_delimeter, self.end_test_delimeter)]
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if utils.is_locked(cell) and MARK_SCHEME[0] in cell.source:
            cell.source = _without_mark_scheme(cell.source)
        if utils.is_grade(cell) and cell.cell_type == "code":
            had_hidden_tests = self.begin_test_delimeter in cell.source
            cell, resources = super().preprocess_cell(cell, resources, cell_index)
            if had_hidden_tests:
                for output in cell.get("outputs", []):
                    if output.output_type == "error":
                        output.traceback = [f"{output.ename}: {output.evalue}"]
        elif not utils.is_locked(cell):  # the student's text: markers in it mean nothing, and must not look like a leak
            for marker in (self.begin_test_delimeter, self.end_test_delimeter, *MARK_SCHEME):
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
        for mime, value in output.get("data", {}).items():
            if isinstance(value, str) and mime.startswith("text/"):
                output.data[mime] = self._clean(value)

    def _clean(self, text: str) -> str:
        lines = text.split("\n")
        cleaned = [REMOVED if any(hidden in line for hidden in self._hidden_lines) else line for line in lines]
        return "\n".join(cleaned) if cleaned != lines else text


def _without_mark_scheme(source: str) -> str:
    """``source`` without its mark scheme regions (the graders' notes in a question cell)."""
    kept, inside = [], False
    for line in source.split("\n"):
        if MARK_SCHEME[0] in line:
            inside = True
        elif MARK_SCHEME[1] in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept).rstrip()


def _hidden_lines(nb, begin: str, end: str) -> list[str]:
    """The lines of the test cells' hidden regions that appear nowhere visible in the notebook."""
    hidden, visible = set(), set()
    for cell in nb.cells:
        inside = False
        for line in cell.source.split("\n"):
            if begin in line:
                inside = utils.is_grade(cell)
            elif end in line:
                inside = False
            elif line.strip():
                (hidden if inside else visible).add(line.strip())
    return sorted(line for line in hidden - visible if len(line) >= MIN_LINE)
