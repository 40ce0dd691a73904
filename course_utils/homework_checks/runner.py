"""What the grader runs in the student's kernel while grading: the probes of one test cell, nothing else.

The grader (:mod:`course_utils.grading.judged_execute`) evaluates, as one
silent user expression, ``run(REQUEST, globals())`` of this module.
``REQUEST`` is :func:`~course_utils.homework_checks.pack`\\ ed and base64'd::

    {"probes": [{"module": ..., "check": ..., "subjects": [names], "params": {...}}, ...],
     "inputs": [{name: tensor}, ...]}          # one entry per probe

``run`` answers the same way with one entry per probe: ``{"results": plain
data}``, ``{"raised": [exception name, message]}`` or ``{"missing": name}``;
after the first probe that raised, the rest are ``{"skipped": true}`` (the
cell has failed already: a loop stopped by the time limit costs once).
Nothing here judges anything; whatever the submission does to this module or
to its process can only change the raw results it hands back.
"""
from __future__ import annotations

import importlib

from . import MAX_STRING, decode_text, encode_text, pack, plain_data, unpack


def run(request: str, namespace: dict) -> str:
    order = unpack(decode_text(request))
    answers = []
    for probe, inputs in zip(order["probes"], order["inputs"]):
        failed = any("results" not in answer for answer in answers)
        answers.append({"skipped": True} if failed else _run_probe(probe, inputs, namespace))
    return encode_text(pack(answers))


def _run_probe(probe: dict, inputs: dict, namespace: dict) -> dict:
    module = probe["module"]
    if not module.startswith("course_utils.homework_checks."):
        raise ValueError(f"not a module of checks: {module}")
    check = getattr(importlib.import_module(module), probe["check"])
    for name in probe["subjects"]:
        if name not in namespace:
            return {"missing": name}
    try:
        data = check.probe(*[namespace[name] for name in probe["subjects"]], inputs, **probe["params"])
        return {"results": plain_data(data, probe["subjects"][0])}
    except (Exception, SystemExit) as error:  # KeyboardInterrupt (the grader's timeout) ends the request
        return {"raised": [type(error).__name__, _text(error)]}


def _text(error: BaseException) -> str:
    try:
        text = str(error)
    except Exception:  # a __str__ that fails, too
        text = ""
    return text[:MAX_STRING] if type(text) is str else ""
