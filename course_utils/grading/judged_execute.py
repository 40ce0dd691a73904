"""nbgrader's Execute preprocessor, with every autograded test cell judged by the grader, not by the kernel.

``nbgrader_config.py`` puts :class:`JudgedExecute` where nbgrader's ``Execute``
was. Solution cells and every other cell run in the kernel as nbgrader runs
them. An autograded test cell made of check calls
(``check_tanh_backward(tanh_backward, kind="random")``, the course's
homework; see :mod:`course_utils.homework_checks`) is not run: its source is
the instructor's (nbgrader restores locked cells from the gradebook before
this runs), read with :mod:`ast`. For each call this process

1. makes the check's inputs: visible calls from the fixed seed the student's
   kernel uses, hidden calls from a seed drawn for this run with
   :mod:`secrets` (hidden parameters such as ``seed`` are drawn from it too),
   which never leaves this process;
2. sends the kernel one silent user expression holding the probes to run and
   their inputs (safetensors, base64), which calls
   :func:`course_utils.homework_checks.runner.run` (the runner and the checks loaded afresh from their files);
3. reads back the raw results with limits (:func:`course_utils.homework_checks.unpack`:
   size, dtypes, shapes; safetensors and JSON only, nothing unpickled),
   judges them with the check's judgement, and writes the verdict as the
   cell's output: none when every check passed, an error output with the
   message otherwise. nbgrader's ``SaveAutoGrades`` scores that unchanged.

So nothing the kernel does can decide points, only the raw results it hands
back. Test cells that are not check calls (a course's own plain ``assert``
cells) run in the kernel as nbgrader runs them, and the run notes it.

After the last cell, a static look (:mod:`.forbidden_calls`) flags each
passing check whose code under test reaches a forbidden function, and a
notebook with passing checks whose own cells reach for the grading machinery
(the checks' modules, ``sys.modules``, frames, trace hooks, torch's mode
stacks, ``exec``): what the probes observe in the kernel (an input left
unchanged, a call of the student's backward) could be forged by such code.
:class:`RecordGradingReport` writes the flags with the run's token into the
graded notebook's metadata (``course_grading``).
"""
from __future__ import annotations

import ast
import hashlib
import hmac
import importlib
import os
import pkgutil
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Integer, Unicode

from .forbidden_calls import definitions, forbidden_names, reached, tampering
from .markers import Markers

METADATA_KEY = "course_grading"
# The grading pipeline gives each nbgrader run a fresh token (--JudgedExecute.run_token=...; this
# variable is the fallback for a caller that cannot pass it on the command line).
TOKEN_ENV = "COURSE_GRADING_TOKEN"
# What Formgrader's own Autograde button (and a bare `nbgrader autograde`) say: they would run the
# submission in an ordinary kernel, outside the sandbox, and write no grades.csv row.
USE_MAKE_AUTOGRADE = ("this course grades only with `make autograde` (python -m course_utils.grading autograde), "
                      "which runs each submission in the grading sandbox with its tests judged outside the "
                      "kernel and writes grades.csv; Formgrader's Autograde button and a bare `nbgrader "
                      "autograde` would not. Run `make autograde` in a terminal in the repository instead.")
# The runner is loaded afresh from its file for each request (not looked up in sys.modules, which the
# submission can change); it loads the checks afresh in turn (see course_utils.homework_checks.runner).
RUNNER = ("(lambda util: (lambda spec: (spec.loader.exec_module(runner := util.module_from_spec(spec)), "
          "runner.run({request!r}, globals()))[1])(util.spec_from_file_location('_course_runner', {path!r})))"
          "(__import__('importlib.util').util)")
# nbgrader sets NBGRADER_EXECUTION in its own process; a warm kernel was forked before that.
SET_UP = "__import__('os').environ.__setitem__('NBGRADER_EXECUTION', 'autograde')"
_BASE64 = re.compile(r"'[A-Za-z0-9+/=]*'")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,79}")


class GradingRunError(RuntimeError):
    """The grader cannot grade this notebook at all (no token, an unreadable test cell of the course)."""


@dataclass(frozen=True)
class CheckCall:
    """One call of a check in a test cell: the check, the notebook names it is given, its parameters."""

    check: object  # a course_utils.homework_checks.Check
    subjects: tuple[str, ...]
    params: dict
    hidden: bool


def all_checks() -> dict:
    """Every check of :mod:`course_utils.homework_checks`, by the name test cells call."""
    import course_utils.homework_checks as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    return dict(package.REGISTRY)


class ChecksWhenAsked(Mapping):
    """:func:`all_checks`, imported at the first lookup. The checks import torch (seconds of CPU in each
    grading process that has not preloaded it); a notebook whose test cells call no check (a course's
    plain ``assert`` cells) never looks one up, so its grader never imports them."""

    def __init__(self):
        self._checks: dict | None = None

    def _all(self) -> dict:
        if self._checks is None:
            self._checks = all_checks()
        return self._checks

    def __getitem__(self, name: str):
        return self._all()[name]

    def __iter__(self):
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def plan_test_cell(source: str, markers: Markers, checks: Mapping) -> list[CheckCall] | None:
    """The check calls of a test cell, or None if it is anything else (then it runs in the kernel).

    A test cell of checks is a docstring (or other string constants) and
    calls ``check_name(NotebookName, ..., keyword=literal, ...)``; a call on a
    line inside a hidden region is hidden.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    hidden_lines = markers.hidden_line_numbers(source)
    calls = []
    for statement in tree.body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue
        call = statement.value if isinstance(statement, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in checks):
            return None
        check = checks[call.func.id]
        if len(call.args) != len(check.subjects) or not all(isinstance(arg, ast.Name) for arg in call.args):
            return None
        try:
            params = {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}
        except ValueError:
            return None
        if None in params:  # **kwargs
            return None
        calls.append(CheckCall(check, tuple(arg.id for arg in call.args), params, statement.lineno in hidden_lines))
    return calls or None


def verdict(call: CheckCall, params: dict, inputs: dict, answer) -> tuple[str, str] | None:
    """``None`` if the check passed on ``answer`` (what the kernel returned), else ``(error name, message)``."""
    from course_utils.homework_checks import CheckFailure

    what = call.subjects[0]
    if not isinstance(answer, dict):
        return "AssertionError", f"the grading kernel returned nothing readable for the check of {what}"
    if "skipped" in answer:
        return "AssertionError", f"the check of {what} did not run"
    if "missing" in answer:
        return "NameError", f"name {str(answer['missing'])[:80]!r} is not defined: run the cell that defines it"
    if "raised" in answer:
        raised = answer["raised"] if isinstance(answer["raised"], list) and len(answer["raised"]) == 2 else ["", ""]
        name = raised[0] if isinstance(raised[0], str) and _NAME.fullmatch(raised[0]) else "Exception"
        message = raised[1] if isinstance(raised[1], str) else ""
        return name, message or f"{what} raised {name} (without a message)"
    try:
        call.check.judge(inputs, answer.get("results"), **params)
    except CheckFailure as failure:
        return "AssertionError", failure.hidden_message if call.hidden else str(failure)
    except Exception as error:  # the results have another form than the check expects
        return "AssertionError", (f"what {what} returned could not be checked ({type(error).__name__}: "
                                  f"{str(error)[:200]}); return what the exercise asks for")
    return None


class JudgedExecute(Execute):
    """nbgrader's Execute; autograded test cells of check calls are judged here (see the module's docstring)."""

    run_token = Unicode(help="This run's token (else $COURSE_GRADING_TOKEN), written with the run's findings; "
                             "without one, nothing is graded").tag(config=True)

    request_timeout = Integer(120, help="Seconds the set-up request may take").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._token = self.run_token or os.environ.get(TOKEN_ENV, "")
        if not self._token:
            raise GradingRunError(USE_MAKE_AUTOGRADE)
        self._secret = secrets.token_bytes(32)
        self._markers = Markers.from_config(self.config)
        self._checks = ChecksWhenAsked()
        self._passed: list[CheckCall] = []
        self._subjects: set[str] = set()  # every name a check is given
        self._notes: list[str] = []
        self._set_up = False
        nb, resources = super().preprocess(nb, resources, km=km)
        resources[METADATA_KEY] = {"token": self._token, "flags": self._static_flags(nb), "notes": self._notes}
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        if not self._set_up:
            self._set_up = True
            self._ask(SET_UP, None)
        if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
            calls = plan_test_cell(cell.source, self._markers, self._checks)
            if calls is not None:
                self._subjects.update(name for call in calls for name in call.subjects)
                cell.outputs = self._judge(cell.metadata.nbgrader["grade_id"], calls, cell)
                cell.execution_count = None
                return cell, resources
            self._notes.append(f"test cell {cell.metadata.nbgrader['grade_id']} is not made of check calls: it ran "
                               "in the kernel")
        return super().preprocess_cell(cell, resources, index)

    def _seed(self, grade_id: str, index: int) -> int:
        digest = hmac.new(self._secret, f"{grade_id}/{index}".encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "little") >> 1

    def _judge(self, grade_id: str, calls: list[CheckCall], cell) -> list:
        import torch

        from course_utils.homework_checks import VISIBLE_SEED, encode_text, pack, runner

        prepared = []
        for index, call in enumerate(calls):
            params = dict(call.params)
            generator = torch.Generator().manual_seed(self._seed(grade_id, index) if call.hidden else VISIBLE_SEED)
            if call.hidden:
                if "seed" in params:
                    params["seed"] = int(torch.randint(0, 2 ** 31 - 1, (), generator=generator))
                if call.check.vary is not None:
                    params = call.check.vary(generator, params)
            prepared.append((params, call.check.make_inputs(generator, params)))
        request = encode_text(pack({
            "probes": [{"module": call.check.probe.__module__, "check": call.check.name,
                        "subjects": list(call.subjects), "params": params}
                       for call, (params, _) in zip(calls, prepared)],
            "inputs": [inputs for _, inputs in prepared]}))
        answers = self._answers(self._ask(RUNNER.format(request=request, path=runner.__file__), cell), len(calls))
        if isinstance(answers, str):
            return [_error("AssertionError", answers)]
        for call, (params, inputs), answer in zip(calls, prepared, answers):
            failed = verdict(call, params, inputs, answer)
            if failed is not None:
                return [_error(*failed)]
            self._passed.append(call)
        return []

    def _ask(self, expression: str, cell):
        """Evaluate ``expression`` in the kernel as the user expression of an empty, silent request that
        stores no history; its ``text/plain`` value, or None (no reply in time, or an error)."""
        msg_id = self.kc.execute("", silent=True, store_history=False, allow_stdin=False,
                                 user_expressions={"value": expression})
        if cell is None:
            timeout, self.timeout = self.timeout, max(self.timeout or 0, self.request_timeout)
            try:
                reply = self.wait_for_reply(msg_id)
            finally:
                self.timeout = timeout
        else:
            reply = self.wait_for_reply(msg_id, cell)
        content = (reply or {}).get("content", {})
        value = content.get("user_expressions", {}).get("value") if isinstance(content, dict) else None
        if not isinstance(value, dict) or value.get("status") != "ok":
            return None
        text = value.get("data", {}).get("text/plain") if isinstance(value.get("data"), dict) else None
        return text if isinstance(text, str) else None

    def _answers(self, text: str | None, count: int):
        """The kernel's answers (a list of ``count``), or why there are none (a message for the student)."""
        from course_utils.homework_checks import MAX_RESULT_BYTES, UnreadableResult, decode_text, unpack

        if text is None:
            return (f"the checks of this cell got no answer from your code within {self.timeout} s (or the "
                    "kernel failed to run them): look for a loop that never ends")
        if len(text) > MAX_RESULT_BYTES * 4 // 3 + 8 or not _BASE64.fullmatch(text):
            return "your code's results could not be read back (too large, or not what the checks return)"
        try:
            answers = unpack(decode_text(text[1:-1]))
        except (UnreadableResult, ValueError) as error:
            return f"your code's results could not be read back: {error}"
        if not isinstance(answers, list) or len(answers) != count:
            return "your code's results could not be read back (not one per check)"
        return answers

    def _static_flags(self, nb) -> list[str]:
        code_cells = [cell for cell in nb.cells
                      if cell.cell_type == "code" and not (utils.is_grade(cell) and not utils.is_solution(cell))]
        sources = [(cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {nb.cells.index(cell)}", cell.source)
                   for cell in code_cells]
        defined = definitions(sources)
        subjects = self._subjects
        flags = []
        for call in self._passed:
            if not call.check.forbid:
                continue
            start = call.subjects[0]
            evidence = reached(start, subjects - {start}, defined, forbidden_names(call.check.forbid))
            if evidence:
                flags.append(f"{call.check.name}({start}) passed, but {start} reaches a forbidden function: "
                             + "; ".join(evidence[:3]))
        students = [(name, source) for (name, source), cell in zip(sources, code_cells) if not utils.is_locked(cell)]
        evidence = tampering(students, self._checks) if self._passed else []  # no check passed: none was looked up
        if evidence:
            flags.append("tests passed in a notebook that reaches for the grading machinery in its kernel "
                         "(observations its probes report could be forged): " + "; ".join(evidence[:5]))
        return sorted(set(flags))


def _error(name: str, message: str):
    return new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])


class RecordGradingReport(NbGraderPreprocessor):
    """Write the run's findings (left in the resources by JudgedExecute) into the notebook's metadata."""

    def preprocess(self, nb, resources):
        nb.metadata.pop(METADATA_KEY, None)
        if METADATA_KEY in resources:
            nb.metadata[METADATA_KEY] = resources[METADATA_KEY]
        return nb, resources
