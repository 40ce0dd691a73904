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

Nothing here judges anything. The probes do not run from objects the
submission can reach: for each request the checks' package and the modules
of its checks are loaded afresh from their files under a private random name
(taken out of ``sys.modules`` again at once), and the probes, ``student_code``,
``plain_data``, ``pack`` and ``unpack`` all come from that fresh copy. So a
submission that patches ``sys.modules["course_utils.homework_checks..."]``,
the check objects the notebook imported, or those modules' globals changes
nothing the probes do; what it does to the rest of its process (torch,
builtins) can only change the raw results it hands back.
"""
from __future__ import annotations

import importlib.util
import secrets
import sys
from pathlib import Path

_PREFIX = "course_utils.homework_checks."
_FOLDER = Path(__file__).resolve().parent


def run(request: str, namespace: dict) -> str:
    checks = fresh_checks()
    order = checks.unpack(checks.decode_text(request))
    loaded = fresh_checks(sorted({probe["module"] for probe in order["probes"]}), package=checks)
    answers = []
    for probe, inputs in zip(order["probes"], order["inputs"]):
        failed = any("results" not in answer for answer in answers)
        answers.append({"skipped": True} if failed else _run_probe(checks, loaded, probe, inputs, namespace))
    return checks.encode_text(checks.pack(answers))


def fresh_checks(modules=(), *, package=None):
    """The checks' package loaded afresh from its file (no ``package`` given), or ``{dotted name: module}``
    of the check modules named, loaded afresh inside ``package`` (itself such a fresh copy)."""
    if package is None:
        return _load(f"_course_checks_{secrets.token_hex(8)}", _FOLDER / "__init__.py", package=True)
    loaded = {}
    sys.modules[package.__name__] = package  # only while its modules run `from . import ...`
    try:
        for dotted in modules:
            short = dotted.removeprefix(_PREFIX)
            if not dotted.startswith(_PREFIX) or not short.isidentifier() or short == "runner" \
                    or not (_FOLDER / f"{short}.py").is_file():
                raise ValueError(f"not a module of checks: {dotted}")
            loaded[dotted] = _load(f"{package.__name__}.{short}", _FOLDER / f"{short}.py")
    finally:
        for key in [key for key in sys.modules if key.split(".")[0] == package.__name__]:
            del sys.modules[key]
    return loaded


def _load(name: str, path: Path, package: bool = False):
    spec = importlib.util.spec_from_file_location(
        name, path, submodule_search_locations=[str(path.parent)] if package else None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        if package:
            del sys.modules[name]
    return module


def _run_probe(checks, loaded: dict, probe: dict, inputs: dict, namespace: dict) -> dict:
    check = getattr(loaded[probe["module"]], probe["check"])
    for name in probe["subjects"]:
        if name not in namespace:
            return {"missing": name}
    try:
        data = check.probe(*[namespace[name] for name in probe["subjects"]], inputs, **probe["params"])
        return {"results": checks.plain_data(data, probe["subjects"][0])}
    except (Exception, SystemExit) as error:  # KeyboardInterrupt (the grader's timeout) ends the request
        return {"raised": [type(error).__name__, _text(error, checks.MAX_STRING)]}


def _text(error: BaseException, limit: int) -> str:
    try:
        text = str(error)
    except Exception:  # a __str__ that fails, too
        text = ""
    return text[:limit] if type(text) is str else ""
