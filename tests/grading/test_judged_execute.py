"""Test cells judged outside the kernel: plain data in and out, plans of test cells, verdicts, flags.

Most tests here need no kernel (the grader's side is called directly, the
kernel's side through ``runner.run`` in this process). One test grades a
submission with nbgrader in this process while pickle and torch.load refuse
to run: the grader must never unpickle what the kernel sends.
"""
from __future__ import annotations

import pickle
import struct

import pytest
import torch

from course_utils.grading import judged_execute
from course_utils.grading.forbidden_calls import definitions, forbidden_names, reached, tampering
from course_utils.grading.judged_execute import all_checks, plan_test_cell, verdict
from course_utils.grading.markers import Markers
from course_utils.homework_checks import (MAX_TENSOR_BYTES, CheckFailure, UnreadableResult, assert_tensor_close,
                                          decode_text, encode_text, pack, plain_data, unpack)
from course_utils.homework_checks import runner

CHECKS = all_checks()


def test_plain_data_round_trips_through_safetensors():
    """Do tensors (dtype, shape, values), numbers, strings, lists and dicts come back as they went?"""
    data = {"y": torch.arange(6, dtype=torch.float64).reshape(2, 3), "flag": True, "n": 3, "x": 0.5,
            "name": "Tanh", "list": [torch.zeros(0, 3), None, [1, 2]], "empty": torch.tensor(1.5)}
    back = unpack(pack(plain_data(data, "f")))
    assert torch.equal(back["y"], data["y"]) and back["y"].dtype == torch.float64
    assert back["empty"].shape == () and back["list"][0].shape == (0, 3)
    assert {k: back[k] for k in ("flag", "n", "x", "name")} == {"flag": True, "n": 3, "x": 0.5, "name": "Tanh"}
    assert back["list"][1:] == [None, [1, 2]]


@pytest.mark.parametrize("value, message", [
    (torch.zeros(17).as_subclass(type("Agreeable", (torch.Tensor,), {})), "subclass"),
    (torch.zeros(4 << 20)[:17], "memory holds"),  # a 17-element view of a 16 MiB storage
    (object(), "not plain data"),
    (torch.zeros(2, dtype=torch.complex64), "dense real"),
])
def test_what_is_not_plain_data_fails_with_a_message(value, message):
    """Does a tensor subclass, a small view of a huge storage, an object or a complex tensor fail the check?"""
    with pytest.raises(CheckFailure, match=message):
        plain_data({"y": value}, "tanh_forward")


def test_unpack_refuses_oversized_or_odd_results():
    """Are results beyond the limits, with an unknown dtype or a lying header refused before they are read?"""
    with pytest.raises(UnreadableResult):
        unpack(b"\0" * 4)
    with pytest.raises(UnreadableResult):
        unpack(struct.pack("<Q", 1 << 40) + b"{}")
    header = b'{"t0": {"dtype": "F32", "shape": [1000000], "data_offsets": [0, 4]}, "__metadata__": {"data": "{}"}}'
    with pytest.raises(UnreadableResult, match="impossible"):
        unpack(struct.pack("<Q", len(header)) + header + b"\0" * 4)
    header = b'{"t0": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}, "__metadata__": {"data": "{}"}}'
    with pytest.raises(UnreadableResult):
        unpack(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    assert MAX_TENSOR_BYTES < 16 << 20


def test_nan_never_passes_a_comparison():
    """Is a nan result wrong even where nan would compare equal to nan?"""
    with pytest.raises(CheckFailure, match="got nan"):
        assert_tensor_close(torch.tensor([float("nan")]), torch.tensor([0.0]), what="f(x)", rtol=1e-3, atol=1e-3)


def test_hidden_failures_never_show_the_expected_value():
    """Does a hidden check's message leave out what it expected?"""
    with pytest.raises(CheckFailure) as failure:
        assert_tensor_close(torch.tensor([0.5]), torch.tensor([0.25]), what="f(x)", rtol=0, atol=0)
    assert "0.25" in str(failure.value) and "0.25" not in failure.value.hidden_message


def test_a_test_cell_of_check_calls_is_planned_with_its_hidden_calls():
    """Are the calls, their names and literal parameters read, and the hidden ones marked?"""
    source = ('"""doc"""\ncheck_tanh_backward(tanh_backward, kind="visible")\n### BEGIN HIDDEN TESTS\n'
              'check_tanh_backward(tanh_backward, kind="random", shape=[6])\n### END HIDDEN TESTS')
    calls = plan_test_cell(source, Markers(), CHECKS)
    assert [(call.subjects, call.params, call.hidden) for call in calls] == [
        (("tanh_backward",), {"kind": "visible"}, False), (("tanh_backward",), {"kind": "random", "shape": [6]}, True)]


@pytest.mark.parametrize("source", ["assert answer() > 0", "check_tanh_backward(lambda g, y: g)",
                                    "check_tanh_backward(tanh_backward, kind=KIND)", "x = 1"])
def test_anything_else_is_not_a_plan(source):
    """Is a plain assert, a non-name argument, a non-literal parameter or an assignment left to the kernel?"""
    assert plan_test_cell(source, Markers(), CHECKS) is None


class NoLookups(dict):
    """Checks that fail the test if one is looked up."""

    def __contains__(self, name):
        raise AssertionError(f"looked up {name!r}")

    __getitem__ = __contains__


@pytest.mark.parametrize("source", ['"""answer() is positive."""\nassert answer() > 0', "x = 1", "import torch",
                                    "answer()[0]", "answer = lambda: 42"])
def test_a_test_cell_that_calls_no_plain_name_looks_up_no_check(source):
    """A course's plain test cells are told apart without the checks (importing them imports torch)."""
    assert plan_test_cell(source, Markers(), NoLookups()) is None


def test_the_checks_are_imported_at_the_first_lookup_only(monkeypatch):
    """JudgedExecute's checks come from all_checks() once, when a test cell first names a call."""
    made = []
    monkeypatch.setattr(judged_execute, "all_checks", lambda: made.append(1) or dict(CHECKS))
    checks = judged_execute.ChecksWhenAsked()
    assert made == []
    assert "check_tanh_backward" in checks and "not_a_check" not in checks
    assert checks["check_tanh_backward"] is CHECKS["check_tanh_backward"] and set(checks) == set(CHECKS)
    assert made == [1]


def judged(source: str, namespace: dict):
    """The verdicts of a test cell, the kernel's side run in this process (what JudgedExecute does)."""
    from course_utils.homework_checks import VISIBLE_SEED

    calls = plan_test_cell(source, Markers(), CHECKS)
    prepared = [(dict(call.params), call.check.make_inputs(torch.Generator().manual_seed(VISIBLE_SEED), call.params))
                for call in calls]
    request = encode_text(pack({"probes": [{"module": call.check.probe.__module__, "check": call.check.name,
                                            "subjects": list(call.subjects), "params": params}
                                           for call, (params, _) in zip(calls, prepared)],
                                "inputs": [inputs for _, inputs in prepared]}))
    answers = unpack(decode_text(runner.run(request, namespace)))
    return [verdict(call, params, inputs, answer) for call, (params, inputs), answer in zip(calls, prepared, answers)]


def test_verdicts_of_right_wrong_missing_and_raising_code():
    """Right code passes; wrong code, a missing name and an exception each fail with a message that says so."""
    cell = "check_tanh_backward(tanh_backward)"
    assert judged(cell, {"tanh_backward": lambda g, y: g * (1 - y * y)}) == [None]
    assert "wrong at" in judged(cell, {"tanh_backward": lambda g, y: g * (1 - y)})[0][1]
    assert judged(cell, {})[0] == ("NameError", "name 'tanh_backward' is not defined: run the cell that defines it")
    name, message = judged(cell, {"tanh_backward": lambda g, y: 1 / 0})[0]
    assert (name, message) == ("ZeroDivisionError", "division by zero")
    name, message = judged(cell, {"tanh_backward": lambda g, y: {"not": "a tensor"}})[0]
    assert "dict" in message and "plain torch.Tensor" in message


def test_a_lying_result_cannot_pass():
    """An object whose __eq__ and __bool__ say yes is not plain data; a subclass never reaches the grader."""

    class Yes:
        def __eq__(self, other):
            return True

        def __bool__(self):
            return True

    name, message = judged("check_tanh_backward(tanh_backward)", {"tanh_backward": lambda g, y: Yes()})[0]
    assert "not plain data" in message or "plain torch.Tensor" in message


def test_patching_the_checks_modules_changes_nothing_the_runner_does(monkeypatch):
    """Do the probes run from a fresh copy of the checks, whatever the submission did to the imported ones?"""
    import sys

    import course_utils.homework_checks as package
    import course_utils.homework_checks.tanh as checks

    in_place = "def tanh_backward(g, y):\n    g.mul_(1 - y * y)\n    return g"
    namespace = {}
    exec(in_place, namespace)
    cell = "check_tanh_backward(tanh_backward)"
    assert judged(cell, namespace)[0] is not None  # it changes its arguments

    def forged(real):
        def probe(tanh_backward, inputs, **params):
            before = {key: value.clone() for key, value in inputs.items()}
            results = real(tanh_backward, inputs, **params)
            results["grad_output_after"], results["output_after"] = before["grad_output"], before["output"]
            return results
        probe.__module__ = real.__module__
        return probe

    real = checks.check_tanh_backward.probe
    object.__setattr__(checks.check_tanh_backward, "probe", forged(real))  # the object the notebook imported
    monkeypatch.setitem(vars(checks), "student_code", lambda *a, **k: __import__("contextlib").nullcontext())
    monkeypatch.setattr(package, "plain_data", lambda value, what, depth=0: value)
    monkeypatch.setitem(sys.modules, "course_utils.homework_checks.tanh", type(sys)("stand-in"))
    try:
        assert judged(cell, namespace)[0] is not None  # still fails: the forgery never ran
        assert judged(cell, {"tanh_backward": lambda g, y: g * (1 - y * y)}) == [None]
    finally:
        object.__setattr__(checks.check_tanh_backward, "probe", real)
    assert not [name for name in sys.modules if name.startswith("_course_checks_")]


def test_methods_named_eval_or_compile_are_not_tampering():
    """Are model.eval(), torch.compile(), re.compile() and a phase named "eval" honest, and the builtins not?"""
    honest = ("import re\nfrom torch import compile as _compile\nmodel.eval()\nnet = torch.compile(net)\n"
              "pattern = re.compile('a+')\nphase = 'eval'\n")
    assert tampering([("cell", honest)]) == []
    for builtin in ("eval('1 + 1')", "exec('x = 1')", "compile('x', 'f', 'exec')"):
        assert tampering([("cell", builtin)]) == [f"cell: {builtin.split('(')[0]}"]


def test_static_look_follows_the_code_under_test_only():
    """Is torch.tanh reached from tanh_forward (through a helper and an alias) flagged, and a scratch use not?"""
    sources = [("tanh_forward", "import torch\nt = torch.tanh\n\ndef helper(x):\n    return t(x)\n\n"
                                "def tanh_forward(x):\n    return helper(x)"),
               ("scratch", "print(torch.tanh(x) - tanh_forward(x))"),
               ("tanh_backward", "def tanh_backward(g, y):\n    return g * (1 - y * y)")]
    defined = definitions(sources)
    names = forbidden_names(("torch.tanh", "math.tanh"))
    assert names >= {"tanh", "tanh_", "Tanh"}
    assert reached("tanh_forward", {"tanh_backward"}, defined, names) == ["tanh_forward: torch.tanh"]
    assert reached("tanh_backward", {"tanh_forward"}, defined, names) == []


def test_markers_come_from_nbgraders_configuration():
    """Does a course that renames the hidden-test delimiter get its hidden lines found by that name?"""
    from traitlets.config import Config

    config = Config()
    config.ClearHiddenTests.begin_test_delimeter = "BEGIN SECRET"
    config.ClearHiddenTests.end_test_delimeter = "END SECRET"
    markers = Markers.from_config(config)
    source = "a()\n# BEGIN SECRET\nb()\n# END SECRET\nc()"
    assert markers.hidden_line_numbers(source) == {3}
    assert markers.visible_part(source) == "a()\n\nc()".replace("\n\n", "\n")


@pytest.mark.slow
def test_grading_never_unpickles_what_the_kernel_sends(make_released_course, make_submission, source_answers, monkeypatch):
    """With pickle and torch.load refusing to run in the grader, is a correct submission still graded in full?"""
    from course_utils.grading.grading_worker import run_autograde_in_process
    from course_utils.grading.submission import grade_submission

    course = make_released_course("tanh")
    make_submission(course, "alice", "tanh", source_answers(course, "tanh"))

    def refuse(*args, **kwargs):
        raise AssertionError("the grader unpickled something")

    for module, name in [(pickle, "loads"), (pickle, "load"), (torch, "load"), (torch.serialization, "load")]:
        monkeypatch.setattr(module, name, refuse)
    monkeypatch.setenv("COURSE_SANDBOX", "off")
    result = grade_submission(course, "tanh", "alice", run=run_autograde_in_process)
    assert (result.status, result.auto_score) == ("graded", result.auto_max), result.detail
