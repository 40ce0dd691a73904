"""Keep a graded notebook small whatever the submission prints.

nbgrader's ``LimitOutput`` keeps 1000 lines of a cell's output, but one
``print("x" * 10_000_000)`` is one line: the graded notebook, the gradebook's
view of it and the student's feedback page would each carry 10 MB. The
course's ``nbgrader_config.py`` puts :class:`LimitOutput` in its place.
"""
from __future__ import annotations

from nbgrader.preprocessors import LimitOutput as LimitOutputLines
from traitlets import Integer


class LimitOutput(LimitOutputLines):
    """nbgrader's limits on lines, plus ``max_characters`` per cell (-1: no limit).

    Stream text, text in rich outputs and error messages all count; what is
    over the budget is cut and marked, and other rich outputs (HTML, images)
    that do not fit are replaced by a note. The kind of each output is
    kept, so grading (an error, or text on stderr, fails a test cell) is unchanged.
    """

    max_characters = Integer(100_000, help="maximum number of characters of output per cell (-1: no limit)"
                             ).tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if self.max_characters >= 0 and cell.cell_type == "code":
            budget = [self.max_characters]
            for output in cell.outputs:
                self._limit(output, budget)
        return cell, resources

    def _limit(self, output, budget: list[int]) -> None:
        if output.output_type == "stream":
            output.text = _cut(output.text, budget)
        elif output.output_type == "error":
            output.evalue = _cut(output.evalue, budget)
            output.traceback = [_cut(line, budget) for line in output.traceback]
        elif "data" in output:
            for mime, value in list(output.data.items()):
                text = value if isinstance(value, str) else "".join(value) if isinstance(value, list) else None
                if text is None:
                    continue  # JSON data
                if mime == "text/plain":
                    output.data[mime] = _cut(text, budget)
                elif len(text) > budget[0]:
                    del output.data[mime]
                    output.data.setdefault("text/plain", f"[{mime} output of {len(text)} characters left out]")
                else:
                    budget[0] -= len(text)


def _cut(text: str, budget: list[int]) -> str:
    """``text`` within what is left of ``budget`` (a one-element list, decreased)."""
    if len(text) <= budget[0]:
        budget[0] -= len(text)
        return text
    kept = max(budget[0], 0)
    budget[0] = 0
    return text[:kept] + f"\n... output truncated: {len(text) - kept} more characters ...\n"
