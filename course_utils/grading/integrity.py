"""Static hints for the reviewer of a flagged submission: code that looks like tampering with the tests.

This scan decides nothing. Whether a submission tampered with its tests is
judged by the effect, in the grading kernel (:mod:`.kernel_guard`): the tests
run on the originals of what they rely on, and only a change made while they
run flags a submission. For a flagged one, :func:`find_tampering`'s findings
are added to ``detail`` so that the reviewer sees where to look. Ordinary
code also matches these patterns (``import inspect``, ``vars(self)``,
magics), which is why they never withhold points by themselves.

:func:`find_tampering` reads every cell that is not the instructor's own code
(compared with the source notebook, comments aside) and reports, with cell and
line:

* binding a name that the test cells use but the answers are not meant to
  define (the helpers, ``torch``, builtins such as ``isinstance``), unless it
  is the very import of the locked set-up cell;
* assigning or deleting an attribute or item of something the student did
  not create: a module (``torch.equal = ...``, ``checks.x = ...``), a builtin,
  a test helper, anything reached through them (``t = torch; t.equal = ...``)
  or a value that is not a plain name (``f().x = ...``); inside functions the
  student's own parameters and locals are fine (``self.w``, ``ctx.saved``);
* the ways around those rules: ``setattr``/``delattr``, ``exec``/``eval``/
  ``compile``/``__import__``, ``globals``/``vars``/``locals``, IPython's
  ``get_ipython`` and its input history (``In``, ``_ih``), frame and code
  objects (``__dict__``, ``__globals__``, ``sys._getframe``, ``f_back``...),
  and importing ``ctypes``, ``builtins``, ``importlib``, ``inspect``,
  ``gc``, ``IPython``...
"""
from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable

import nbformat

FORBIDDEN_NAMES = {
    "setattr", "delattr", "exec", "eval", "compile", "__import__", "globals", "vars", "locals",
    "get_ipython", "breakpoint", "__builtins__", "__builtin__", "__loader__", "__spec__",
    "In", "Out", "_ih", "_oh", "_dh", "_i", "_ii", "_iii",
}
FORBIDDEN_ATTRIBUTES = {
    "__dict__", "__globals__", "__builtins__", "__code__", "__closure__", "__defaults__", "__kwdefaults__",
    "__setattr__", "__delattr__", "__getattribute__", "__subclasses__", "__bases__", "__mro__", "__import__",
    "__loader__", "__spec__", "__self__", "__func__", "__wrapped__",
    "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "f_trace", "gi_frame", "cr_frame", "ag_frame",
    "tb_frame", "tb_next", "co_code", "_getframe", "settrace", "setprofile", "excepthook", "displayhook",
    "modules", "user_ns", "user_global_ns", "showtraceback", "set_custom_exc",
}
FORBIDDEN_MODULES = {
    "ctypes", "builtins", "__builtin__", "importlib", "imp", "gc", "inspect", "IPython", "ipykernel",
    "jupyter_client", "zmq", "types", "code", "codeop", "runpy", "marshal", "pickle", "dill", "traceback",
    "sitecustomize", "usercustomize", "site",
}
# Attributes and items that answers may set on a module: configuration, not tests.
ALLOWED_STORES = ("torch.backends.", "plt.rcParams", "matplotlib.rcParams", "mpl.rcParams", "os.environ")
OWN_OBJECTS = {"self", "cls", "ctx"}


def find_tampering(graded: nbformat.NotebookNode, source: nbformat.NotebookNode) -> list[str]:
    """What tampers with the tests in ``graded`` (as autograded), given the instructor's ``source``.

    Returns messages ``"cell N, line L: ..."`` (N counts from 1); empty if nothing was found.
    """
    instructor = _instructor_cells(source)
    locked = [tree for tree, is_locked in instructor.values() if is_locked]
    student_cells = []
    for index, cell in enumerate(graded.cells):
        tree = _parse(cell.source) if cell.cell_type == "code" else None
        if tree is None:
            continue  # markdown, or code that fails when run: nothing to tamper with
        known = instructor.get(cell.metadata.get("nbgrader", {}).get("grade_id"))
        if known is not None and known[1] and _same_code(tree, known[0]):
            continue  # the instructor's locked cell, restored by nbgrader
        student_cells.append((index, tree))
    scanner = _Scanner(protected=_protected_names(source), allowed_imports=_imports_of(locked),
                       imported=_imported_names([*locked, *(tree for _, tree in student_cells)]),
                       functions=_function_names(tree for _, tree in student_cells))
    findings = []
    for index, tree in student_cells:
        for line, message in scanner.scan(tree):
            findings.append(f"cell {index + 1}, line {line}: {message}")
    return findings


# -- what the instructor's notebook says --------------------------------------------------


def _instructor_cells(source: nbformat.NotebookNode) -> dict[str, tuple[ast.Module, bool]]:
    """``{grade_id: (code, locked)}`` of the source's code cells."""
    cells = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        tree = _parse(cell.source) if cell.cell_type == "code" else None
        if tree is not None and "grade_id" in meta:
            locked = bool(meta.get("locked") or (meta.get("grade") and not meta.get("solution")))
            cells[meta["grade_id"]] = (tree, locked)
    return cells


def _protected_names(source: nbformat.NotebookNode) -> set[str]:
    """Names the test cells read but do not bind, less those the answers define."""
    read: set[str] = set()
    answered: set[str] = set()
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        tree = _parse(cell.source) if cell.cell_type == "code" else None
        if tree is None:
            continue
        if meta.get("solution"):
            answered |= _bound_names(tree)
        elif meta.get("grade"):
            loaded = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)
                      and isinstance(node.ctx, ast.Load)}
            read |= loaded - _bound_names(tree)
    return read - answered


def _bound_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {_bound_by(alias) for alias in node.names}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _imports_of(trees: Iterable[ast.Module]) -> set[str]:
    """Every import statement (normalised text) of the given code."""
    return {ast.unparse(node) for tree in trees for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))}


def _imported_names(trees: Iterable[ast.Module]) -> set[str]:
    return {_bound_by(alias) for tree in trees for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names}


def _function_names(trees: Iterable[ast.Module]) -> set[str]:
    return {node.name for tree in trees for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _bound_by(alias: ast.alias) -> str:
    return alias.asname or alias.name.split(".")[0]


def _same_code(tree: ast.Module, other: ast.Module) -> bool:
    return ast.dump(tree) == ast.dump(other)


def _parse(source: str) -> ast.Module | None:
    """The cell as Python, IPython's magics and shell escapes turned into calls first."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return None


# -- reading one cell ---------------------------------------------------------------------


class _Scanner(ast.NodeVisitor):
    """Reads the student's cells in order; what one cell binds is known in the next."""

    def __init__(self, protected: set[str], allowed_imports: set[str], imported: set[str], functions: set[str]):
        self.protected = protected  # what the tests read and the answers must not rebind
        self.allowed_imports = allowed_imports  # the locked cells' own imports, which may be repeated
        self.imported = imported  # names bound by an import anywhere in the notebook
        self.functions = functions  # the student's own functions
        self.own: set[str] = set()  # globals the student bound to values of their own
        self.tainted: set[str] = set()  # names bound to a module, builtin or helper itself
        self.locals: list[set[str]] = []  # the own names of each enclosing function or class
        self.findings: list[tuple[int, str]] = []

    def scan(self, tree: ast.Module) -> list[tuple[int, str]]:
        self.findings = []
        self.visit(tree)
        return self.findings

    def report(self, node: ast.AST, message: str) -> None:
        self.findings.append((getattr(node, "lineno", 0), message))

    # bindings

    def foreign(self, name: str) -> bool:
        """Does ``name`` stand for something the student did not create?"""
        if name in self.tainted:
            return True
        if any(name in scope for scope in self.locals) or name in self.own:
            return False
        return name in self.imported or name in self.protected or hasattr(builtins, name)

    def bind(self, node: ast.AST, name: str, value: ast.AST | None = None, *, by_import: str | None = None) -> None:
        foreign_value = by_import is not None or (value is not None and self._holds_foreign(value))
        if self.locals:
            self.locals[-1].add(name)
        else:
            if name in self.protected and not (by_import and by_import in self.allowed_imports):
                self.report(node, f"rebinds {name!r}, which the tests use")
            if foreign_value:
                self.own.discard(name)
            else:
                self.own.add(name)
        if foreign_value:
            self.tainted.add(name)
        else:
            self.tainted.discard(name)

    def _holds_foreign(self, value: ast.AST) -> bool:
        """Is a module, helper or tainted name itself in ``value`` (not only called, not only read from)?"""
        used_through = set()
        for node in ast.walk(value):
            if isinstance(node, ast.Call):
                used_through.add(id(node.func))
            elif isinstance(node, (ast.Attribute, ast.Subscript)):
                used_through.add(id(node.value))
        return any(isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and id(node) not in used_through
                   and self.foreign(node.id) and not (hasattr(builtins, node.id) and node.id not in self.tainted)
                   for node in ast.walk(value))

    def bind_target(self, target: ast.AST, value: ast.AST | None, node: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self.bind(node, target.id, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.bind_target(element, None, node)
        elif isinstance(target, ast.Starred):
            self.bind_target(target.value, None, node)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            self.check_store(target, node)

    def check_store(self, target: ast.AST, node: ast.AST) -> None:
        """An attribute or item store/delete: only on the student's own objects."""
        path = _dotted(target)
        if path and path.startswith(ALLOWED_STORES):
            return
        root = target
        while isinstance(root, (ast.Attribute, ast.Subscript)):
            root = root.value
        what = ast.unparse(target)
        if not isinstance(root, ast.Name):
            self.report(node, f"changes {what}, which is not a variable of the answer")
        elif root.id not in OWN_OBJECTS and self.foreign(root.id):
            self.report(node, f"changes {what}: {root.id!r} is not the answer's own object")

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.bind_target(target, node.value, node)
            self.visit_target_parts(target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        self.bind_target(node.target, None, node)
        self.visit_target_parts(node.target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self.bind_target(node.target, node.value, node)
        self.visit_target_parts(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.bind(node, node.target.id, node.value)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self.bind_target(target, None, node)
            self.visit_target_parts(target)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self.bind_target(node.target, None, node)
        self.visit_target_parts(node.target)
        for statement in node.body + node.orelse:
            self.visit(statement)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.bind_target(item.optional_vars, None, node)
                self.visit_target_parts(item.optional_vars)
        for statement in node.body:
            self.visit(statement)

    visit_AsyncWith = visit_With

    def visit_target_parts(self, target: ast.AST) -> None:
        """Visit what a store target reads (``a[f(x)] = ...`` reads ``f`` and ``x``)."""
        if isinstance(target, ast.Attribute):
            self.visit(target.value)
        elif isinstance(target, ast.Subscript):
            self.visit(target.value)
            self.visit(target.slice)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.visit_target_parts(element)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.bind(node, node.name)
        for statement in node.body:
            self.visit(statement)

    def visit_Import(self, node: ast.Import) -> None:
        statement = ast.unparse(node)
        for alias in node.names:
            self.check_module(node, alias.name)
            self.bind(node, _bound_by(alias), by_import=statement)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        statement = ast.unparse(node)
        self.check_module(node, node.module or "")
        for alias in node.names:
            if alias.name == "*":
                self.report(node, f"imports * from {node.module}, which can replace any name the tests use")
                continue
            self.check_module(node, f"{node.module}.{alias.name}")
            self.bind(node, _bound_by(alias), by_import=statement)

    def check_module(self, node: ast.AST, module: str) -> None:
        if module.split(".")[0] in FORBIDDEN_MODULES:
            self.report(node, f"imports {module}")

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            if name in self.protected:
                self.report(node, f"declares {name!r} global in a function, to rebind what the tests use")
            if self.locals:
                self.locals[-1].discard(name)

    # scopes

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self.visit(node.args)
        self.bind(node, node.name)
        parameters = {arg.arg for arg in ast.walk(node.args) if isinstance(arg, ast.arg)}
        self.locals.append(set(parameters))
        for statement in node.body:
            self.visit(statement)
        self.locals.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.visit(node.args)
        self.locals.append({arg.arg for arg in ast.walk(node.args) if isinstance(arg, ast.arg)})
        self.visit(node.body)
        self.locals.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expression in node.decorator_list + node.bases + [keyword.value for keyword in node.keywords]:
            self.visit(expression)
        self.bind(node, node.name)
        self.locals.append(set())  # a class body binds class attributes, not globals
        for statement in node.body:
            self.visit(statement)
        self.locals.pop()

    # reads

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_NAMES and not any(node.id in scope for scope in self.locals):
            self.report(node, f"uses {node.id}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in FORBIDDEN_ATTRIBUTES:
            self.report(node, f"uses .{node.attr}")
        self.visit(node.value)

    def visit_Call(self, node: ast.Call) -> None:
        code = _magic_code(node)
        if code is not None:  # a harmless magic: read the code it runs instead
            tree = _parse(code)
            if tree is not None:
                self.visit(tree)
            return
        if isinstance(node.func, ast.Name) and node.func.id in self.functions:
            for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
                if isinstance(argument, ast.Name) and argument.id in self.tainted | self.protected:
                    self.report(node, f"hands {argument.id!r} to its own function {node.func.id}()")
        self.generic_visit(node)


def _magic_code(node: ast.Call) -> str | None:
    """The code run by ``%time``, ``%timeit``, ``%%capture`` and the like ("" for ``%matplotlib``).

    ``None`` when ``node`` is no call of one of these magics (any other magic is
    a call of ``get_ipython``, which is reported).
    """
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr in {"run_line_magic", "run_cell_magic"}
            and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "get_ipython"
            and all(isinstance(argument, ast.Constant) and isinstance(argument.value, str) for argument in node.args)):
        return None
    name, *arguments = [argument.value for argument in node.args]
    if name == "matplotlib":
        return ""
    if func.attr == "run_line_magic" and name in {"time", "timeit"}:
        return _without_options(arguments[0]) if arguments else ""
    if func.attr == "run_cell_magic" and name in {"time", "timeit", "capture"} and len(arguments) == 2:
        return arguments[1]
    return None


def _without_options(line: str) -> str:
    """``-n 10 -r 3 f(x)`` -> ``f(x)`` (the options of %timeit)."""
    words = line.split()
    while words and words[0].startswith("-"):
        words = words[2:] if words[0] in {"-n", "-r", "-p"} else words[1:]
    return " ".join(words)


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)]) + ("." if parts else "")
