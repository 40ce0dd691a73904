"""A static look at the functions under test: do they reach a function the homework forbids?

The kernel refuses forbidden calls while the student's code runs
(:func:`course_utils.homework_checks.student_code`); code in the kernel can
defeat that, which can earn at most what a correct function earns. This look
at the source is the second opinion: starting from the object a check tests
(``tanh_forward``), it follows the names that object's code uses to the
notebook's other top-level definitions, and reports any use of a forbidden
name on the way (``torch.tanh``, ``x.tanh()``, ``nn.Tanh``, ``from math import
tanh``, ``getattr(torch, "tanh")``). A ``torch.tanh`` in a scratch cell that
compares against the reference is not reached, so it is not reported. The
objects other checks test are not followed: their own checks look at them.
"""
from __future__ import annotations

import ast
from collections.abc import Iterable


def forbidden_names(forbid: Iterable[str]) -> set[str]:
    """``"torch.tanh"`` -> the attribute names that reach it: ``tanh``, ``tanh_``, ``Tanh`` (nn.Tanh)."""
    names = set()
    for name in forbid:
        module, _, attribute = name.rpartition(".")
        names.add(attribute)
        if module == "torch":
            names |= {attribute + "_", attribute[:1].upper() + attribute[1:]}
    return names


def definitions(sources: Iterable[tuple[str, str]]) -> dict[str, list[tuple[str, ast.AST]]]:
    """``{name: [(cell, node), ...]}`` of the top-level functions, classes, assignments and imports."""
    found: dict[str, list[tuple[str, ast.AST]]] = {}
    for cell, source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.setdefault(node.name, []).append((cell, node))
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            found.setdefault(name.id, []).append((cell, node))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    found.setdefault((alias.asname or alias.name).split(".")[0], []).append((cell, node))
    return found


def reached(start: str, stop: set[str], defined: dict, forbidden: set[str]) -> list[str]:
    """Evidence (``"cell: line"``) of every forbidden name reached from ``start``'s definitions."""
    evidence, seen, todo = [], set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for cell, node in defined.get(name, []):
            if isinstance(node, ast.ImportFrom):
                if any(alias.name in forbidden and (alias.asname or alias.name) == name for alias in node.names):
                    evidence.append(f"{cell}: {ast.unparse(node)}")
                continue
            if isinstance(node, ast.Import):
                continue
            for part in ast.walk(node):
                hit = (isinstance(part, ast.Attribute) and part.attr in forbidden
                       or isinstance(part, ast.Constant) and part.value in forbidden)
                if hit:
                    evidence.append(f"{cell}: {_line(part, node)}")
                elif isinstance(part, ast.Name) and part.id not in stop and part.id not in seen:
                    todo.append(part.id)
    return sorted(set(evidence))


def _line(part: ast.AST, node: ast.AST) -> str:
    try:
        return ast.unparse(part)[:120]
    except Exception:
        return type(node).__name__


# Names a notebook has no reason to use unless it reaches for the grading machinery in its kernel:
# the checks' and the grader's modules, sys.modules, frames, functions' insides, trace hooks, torch's
# mode stacks and operator registry, code built from strings. (A scratch cell's gc.collect(),
# inspect.getsource(), self.__dict__ or self.__class__.__name__ is not among them: the honest corpus
# uses them all.)
TAMPERING_NAMES = {"homework_checks", "_python_dispatch", "_disable_current_modes", "TorchDispatchMode",
                   "TorchFunctionMode", "__torch_dispatch__", "_getframe", "_current_frames", "currentframe",
                   "getouterframes", "f_back", "f_locals", "f_globals", "tb_frame", "get_referrers", "settrace",
                   "setprofile",
                   "exec", "eval", "compile", "__import__", "importlib", "ctypes", "builtins", "safetensors",
                   "__globals__", "__code__", "__closure__", "__defaults__", "__kwdefaults__", "__setattr__",
                   "__subclasses__", "__builtins__"}
# These three count only as the builtins (a bare name): model.eval(), torch.compile(), re.compile() and a
# phase called "eval" are honest.
BUILTINS_ONLY = {"exec", "eval", "compile"}
GRADING_MODULES = ("homework_checks", "course_utils.grading")
INSPECT_FRAMES = {"stack", "trace", "getargvalues", "getframeinfo", "getouterframes", "getinnerframes"}


def tampering(sources: Iterable[tuple[str, str]], checks: Iterable[str] = ()) -> list[str]:
    """Evidence (``"cell: what"``) of the student's cells reaching for the grading machinery (see above).

    ``checks``: the names of the checks the notebook imports; reading an attribute of one (its probe,
    its judgement) is such a reach, calling it is not.
    """
    checks = set(checks)
    parsed = []
    for cell, source in sources:
        try:
            parsed.append((cell, ast.parse(source)))
        except SyntaxError:
            continue
    aliases = {"sys": "sys", "inspect": "inspect"}
    aliases.update({alias.asname: alias.name for _, tree in parsed for node in ast.walk(tree)
                    if isinstance(node, ast.Import) for alias in node.names
                    if alias.name in ("sys", "inspect") and alias.asname})
    evidence = []
    for cell, tree in parsed:
        for node in ast.walk(tree):
            what = None
            if isinstance(node, ast.Attribute):
                owner = node.value.id if isinstance(node.value, ast.Name) else None
                if node.attr in TAMPERING_NAMES - BUILTINS_ONLY:
                    what = node.attr
                elif node.attr == "modules" and aliases.get(owner) == "sys":
                    what = "sys.modules"
                elif node.attr in INSPECT_FRAMES and aliases.get(owner) == "inspect":
                    what = f"inspect.{node.attr}"
                elif node.attr == "library" and owner in ("torch", "th"):
                    what = "torch.library"
                elif owner in checks:
                    what = f"{owner}.{node.attr}"
            elif isinstance(node, ast.Name) and node.id in TAMPERING_NAMES:
                what = node.id
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                if isinstance(node, ast.ImportFrom):
                    modules += [f"{node.module}.{alias.name}" for alias in node.names]
                hit = [m for m in modules if set(m.split(".")) & (TAMPERING_NAMES - BUILTINS_ONLY)
                       or m in ("torch.library", "sys.modules")
                       or any(grading in m for grading in GRADING_MODULES)]
                what = hit[0] if hit else None
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                    node.value in TAMPERING_NAMES - BUILTINS_ONLY
                    or any(grading in node.value for grading in GRADING_MODULES)):
                what = repr(node.value[:60])
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__class__"
                                                      for t in node.targets):
                what = "__class__ ="
            elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Attribute) and t.attr.startswith("__") and isinstance(t.value, ast.Name)
                    and t.value.id != "self" for t in node.targets):
                target = next(t for t in node.targets if isinstance(t, ast.Attribute))
                what = f"{ast.unparse(target)} = ... (a class patched after its definition)"
            if what:
                evidence.append(f"{cell}: {what}")
    return sorted(set(evidence))
