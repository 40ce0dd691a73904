"""nbgrader's Execute preprocessor with the course's guard around every test cell.

``nbgrader_config.py`` puts :class:`GuardedExecute` where nbgrader's
``Execute`` was. It runs the notebook cell by cell exactly as nbgrader does,
and talks to :mod:`course_utils.grading.kernel_guard` in the kernel through
requests that are not stored in the kernel's history:

* before the first cell, ``install`` (the instructor's imports, read from the
  gradebook, and the names each test cell reads);
* around each autograded test cell, ``enter_test`` and ``exit_test``;
* after the last cell, ``report``, whose findings :class:`RecordGuardReport`
  writes into the graded notebook's metadata (``course_grading``), with the
  run's token, after nbconvert's metadata clean-up.

A later preprocessor that starts a warm kernel per worker (issue 19) can
subclass this one: what it needs from the kernel is only that the guard is
installed before the first cell of the submission runs.
"""
from __future__ import annotations

import ast
import json
import os

from nbgrader import utils
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Integer, Unicode

from .kernel_guard import HIDDEN_BEGIN, MARKER, names_read

METADATA_KEY = "course_grading"
# The grading pipeline gives each nbgrader run a fresh token (--GuardedExecute.run_token=...; this
# variable is the fallback for a caller that cannot pass it on the command line).
TOKEN_ENV = "COURSE_GRADING_TOKEN"
# What Formgrader's own Autograde button (and a bare `nbgrader autograde`) say: they would run the
# submission in an ordinary kernel, outside the sandbox, and write no grades.csv row.
USE_MAKE_AUTOGRADE = ("this course grades only with `make autograde` (python -m course_utils.grading autograde), "
                      "which runs each submission in the grading sandbox with its tests guarded and writes "
                      "grades.csv; Formgrader's Autograde button and a bare `nbgrader autograde` would not. "
                      "Run `make autograde` in a terminal in the repository instead.")
GUARD = "__import__('sys').modules['course_utils.grading.kernel_guard']"
# The first request imports the guard with the submission's folder off sys.path: a submitted
# course_utils/ or torch.py must not stand in for the course's (sys.path is put back afterwards).
GUARD_FIRST = ("(lambda sys, os: (lambda path: (sys.path.__setitem__(slice(None), [p for p in path if p not in "
               "('', '.', os.getcwd())]), __import__('course_utils.grading.kernel_guard', fromlist=['_']), "
               "sys.path.__setitem__(slice(None), path))[1])(list(sys.path)))(__import__('sys'), __import__('os'))")


class GuardError(RuntimeError):
    """The guard could not run in the kernel: the submission cannot be graded."""


def is_autograded_test(cell) -> bool:
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


def visible_part(source: str) -> str:
    """A test cell's source without its hidden regions (what the student's release shows)."""
    lines, hidden = [], False
    for line in source.split("\n"):
        if HIDDEN_BEGIN in line:
            hidden = True
        elif "END HIDDEN TESTS" in line:
            hidden = False
        elif not hidden:
            lines.append(line)
    return "\n".join(lines).rstrip()


def instructor_imports(resources, nb) -> str:
    """The import statements of the instructor's locked cells (from the gradebook when there is one)."""
    import ast

    sources = []
    info = (resources or {}).get("nbgrader", {})
    if info.get("db_url"):
        from nbgrader.api import Gradebook

        with Gradebook(info["db_url"]) as gradebook:
            notebook = gradebook.find_notebook(info["notebook"], info["assignment"])
            grade_ids = {cell.name for cell in notebook.grade_cells}
            sources = [cell.source for cell in notebook.source_cells
                       if cell.locked and cell.cell_type == "code" and cell.name not in grade_ids]
    else:
        sources = [cell.source for cell in nb.cells
                   if cell.cell_type == "code" and utils.is_locked(cell) and not utils.is_grade(cell)]
    statements = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        statements += [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    return "\n".join(dict.fromkeys(statements))


class GuardedExecute(Execute):
    """nbgrader's Execute; every autograded test cell runs against the originals of what it relies on."""

    run_token = Unicode(help="This run's token (else $COURSE_GRADING_TOKEN), returned with the guard's "
                             "report; without one, nothing is graded").tag(config=True)

    guard_timeout = Integer(300, help="Seconds the guard's own requests may take (installing it imports "
                                      "torch and what it imports lazily)").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._token = self.run_token or os.environ.get(TOKEN_ENV, "")
        if not self._token:
            raise GuardError(USE_MAKE_AUTOGRADE)
        self._guard_plan = None
        self._guard_report = None
        nb, resources = super().preprocess(nb, resources, km=km)
        if self._guard_report is None:
            raise GuardError("the grading guard did not report: the notebook ran no cell")
        resources[METADATA_KEY] = {"token": self._token, **self._guard_report}
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        if self._guard_plan is None:
            tests = {cell.metadata.nbgrader["grade_id"]: cell for cell in self.nb.cells if is_autograded_test(cell)}
            self._guard_plan = {grade_id: names_read_or_none(test.source) for grade_id, test in tests.items()}
            self._guard(f"{GUARD_FIRST}.install({instructor_imports(resources, self.nb)!r}, "
                        f"{ {k: v for k, v in self._guard_plan.items() if v is not None}!r})", index)
        test = is_autograded_test(cell)
        if test:
            grade_id = cell.metadata.nbgrader["grade_id"]
            self._guard(f"{GUARD}.enter_test({grade_id!r})", index)
        cell, resources = super().preprocess_cell(cell, resources, index)
        if test:
            self._guard(f"{GUARD}.exit_test({grade_id!r}, {visible_part(cell.source)!r})", index)
        if index == len(self.nb.cells) - 1:
            self._guard_report = self._read_report(self._guard(f"{GUARD}.report({self._token!r})", index))
        return cell, resources

    def _guard(self, expression: str, index: int):
        """Evaluate ``expression`` in the kernel, as a user expression of an empty request.

        An empty cell runs no input or AST transformer and triggers no event
        callback, and a user expression is a plain ``eval``: whatever the
        notebook hooked into IPython's handling of cells cannot rewrite or see
        the guard's requests. Returns the expression's value (a literal).
        """
        timeout = self.timeout
        self.timeout = max(timeout or 0, self.guard_timeout)
        try:
            msg_id = self.kc.execute("", silent=False, store_history=False, allow_stdin=False,
                                     user_expressions={"guard": expression})
            reply = self.wait_for_reply(msg_id)
        finally:
            self.timeout = timeout
        content = (reply or {}).get("content", {})
        value = content.get("user_expressions", {}).get("guard")
        if content.get("status") != "ok" or not value or value.get("status") != "ok":
            error = value or content
            raise GuardError(f"the grading guard failed in the kernel: {error.get('ename', 'no reply')}: "
                             f"{error.get('evalue', '')}")
        try:
            return ast.literal_eval(value["data"]["text/plain"])
        except (KeyError, ValueError, SyntaxError) as failure:
            raise GuardError(f"the grading guard's reply could not be read: {failure}") from None

    def _read_report(self, report) -> dict:
        prefix = f"{MARKER} {self._token} "
        if not (isinstance(report, str) and report.startswith(prefix)):
            raise GuardError("the grading guard did not report")
        report = json.loads(report[len(prefix):])
        return {"flags": list(report.get("flags", [])), "notes": list(report.get("notes", []))}


def names_read_or_none(source: str):
    try:
        return names_read(source)
    except SyntaxError:
        return None


class RecordGuardReport(NbGraderPreprocessor):
    """Write the guard's findings (left in the resources by GuardedExecute) into the notebook's metadata."""

    def preprocess(self, nb, resources):
        nb.metadata.pop(METADATA_KEY, None)
        if METADATA_KEY in resources:
            nb.metadata[METADATA_KEY] = resources[METADATA_KEY]
        return nb, resources
