"""Inside the grading kernel: every test runs against the originals of what it relies on.

The tests run in the same Python process as the student's code, so that code
could make a failing test pass: replace a check helper, patch what the checks
call (``torch.allclose``, ``builtins.isinstance``), silence IPython's error
display, rewrite the test cells as they run. nbgrader restores the test
cells' source (checksums), but not the state they run in. This module is
that state's guard. :class:`course_utils.grading.guarded_execute.GuardedExecute`
(the course's nbgrader ``Execute`` preprocessor) drives it:

* :func:`install` runs before the first cell of a submission. It imports, in
  a private namespace, what the instructor's locked cells import (the check
  helpers, torch...), with the submission's folder off ``sys.path`` (a
  submitted ``torch.py`` cannot stand in), and records the originals: every
  function, class and descriptor of the modules and classes the checks use,
  of ``builtins`` and of IPython's and ipykernel's machinery that reports
  errors, with the code objects and defaults of Python functions;
  ``sys.modules`` entries; trace and profile hooks.
* :func:`enter_test`, before each autograded test cell: whatever differs
  from the originals is put back for the duration of the test (and noted),
  the names the test reads are bound to the instructor's objects (a student's
  own helper called ``assert_tensor_close`` or a variable called ``sum`` is
  set aside), the student's IPython hooks (``%autoreload``, input and AST
  transformers, event callbacks) are set aside, and torch's global modes
  (grad mode, default dtype) are reset.
* :func:`after_student_code` runs whenever a check hands control back from
  the student's code (``course_utils.homework_checks.student_code``), and
  :func:`exit_test` after the test cell: a change made *while the tests ran*
  is tampering by its effect. It is undone at once, so the rest of the test
  runs on the originals, and reported with the test cell and what was
  replaced; the submission is then ``flagged`` for a person.
* :func:`exit_test` also takes the hidden tests out of the kernel's memory of
  the cell (``In``, ``_ih``, ``_i``, IPython's history, ``linecache``), so a
  later cell cannot print them, and gives the student's own bindings and hooks
  back for the cells that follow.
* :func:`report` returns the findings on one line for the preprocessor.

Code running in the same process can always find another way (it could
rewrite this module's records through ``gc``); that is why a reviewer sees
the static hints of :mod:`course_utils.grading.integrity` next to a flag.
Only the standard library is imported here; torch is guarded when the
instructor's cells import it.
"""
from __future__ import annotations

import ast
import builtins
import json
import linecache
import os
import sys
import types

MARKER = "COURSE-GUARD"
HIDDEN_BEGIN = "BEGIN HIDDEN TESTS"

# Modules whose callables, classes and submodules the checks may use.
GUARDED_MODULES = (
    "builtins", "math", "contextlib", "warnings", "io", "signal", "threading", "importlib", "functools",
    "collections", "itertools", "operator", "numbers", "types",
    "torch", "torch.nn", "torch.nn.functional", "torch.nn.modules.module", "torch.nn.modules.container",
    "torch.nn.modules.linear", "torch.nn.modules.activation", "torch.nn.modules.loss", "torch.nn.parameter",
    "torch.autograd", "torch.autograd.function", "torch.autograd.gradcheck", "torch.autograd.grad_mode",
    "torch.testing", "torch.optim", "torch.optim.adam", "torch.optim.optimizer", "torch.utils.data",
    "torch.utils.data.dataloader", "torch.utils.data.dataset", "torch.utils._python_dispatch", "torch.overrides",
    "torch.functional", "torch._tensor", "torch.random", "torch.serialization",
    "numpy", "torchvision", "torchvision.transforms", "torchvision.transforms.functional",
    "torchvision.transforms.transforms",
    "course_utils", "course_utils.homework_checks", "course_utils.homework_checks.tanh",
    "course_utils.homework_checks.augmentation", "course_utils.grading.kernel_guard",
    "IPython", "IPython.core.interactiveshell", "IPython.core.ultratb", "IPython.core.displayhook",
    "IPython.core.events", "IPython.core.compilerop", "IPython.core.inputtransformer2", "IPython.core.history",
    "ipykernel", "ipykernel.ipkernel", "ipykernel.kernelbase", "ipykernel.zmqshell", "ipykernel.iostream",
    "ipykernel.displayhook", "jupyter_client.session",
)
# Classes (with their bases) whose methods the checks call: "module:qualname".
GUARDED_CLASSES = (
    "torch:Tensor", "torch.nn:Module", "torch.nn:Sequential", "torch.nn:Linear", "torch.nn:Tanh", "torch.nn:MSELoss",
    "torch.nn:Parameter", "torch.autograd:Function", "torch.autograd.function:FunctionCtx",
    "torch.autograd.function:BackwardCFunction", "torch.optim:Adam", "torch.optim:SGD",
    "torch.utils.data:DataLoader", "torch.utils.data:Dataset", "torch.utils.data:TensorDataset",
    "torch.utils._python_dispatch:TorchDispatchMode", "torch:Generator",
    "torchvision.transforms:Compose", "contextlib:ExitStack", "contextlib:_GeneratorContextManager",
    "contextlib:redirect_stderr", "contextlib:redirect_stdout", "contextlib:nullcontext", "warnings:catch_warnings",
    "io:StringIO",
)
# sys: only its functions (its streams and paths change legitimately).
SYS_FUNCTIONS = ("settrace", "setprofile", "gettrace", "getprofile", "_getframe", "exc_info", "exit",
                 "__displayhook__", "__excepthook__", "audit", "getrecursionlimit")
# What IPython and ipykernel swap in and out around every cell (BuiltinTrap, DisplayTrap, input
# forwarding): different inside a cell than in the guard's requests, and not what grading relies on.
SWAPPED_PER_CELL = {("builtins", "input"), ("builtins", "exit"), ("builtins", "quit"), ("builtins", "get_ipython"),
                    ("builtins", "raw_input"), ("sys", "displayhook"), ("sys", "excepthook")}
# Attributes of the shell that route errors and outputs.
SHELL_ATTRIBUTES = ("custom_exceptions", "CustomTB", "InteractiveTB", "SyntaxTB", "displayhook", "display_pub",
                    "display_formatter", "events", "kernel", "compile", "input_transformer_manager",
                    "history_manager", "excepthook", "builtin_trap", "display_trap")

_state: dict = {}

# The builtins this module uses, bound here: a notebook that replaces them in
# ``builtins`` (``builtins.isinstance = ...``) cannot mislead the guard.
from builtins import (  # noqa: E402,A004
    AttributeError, Exception, ImportError, KeyError, RuntimeError, TypeError, all, any, callable, compile, dict,
    exec, frozenset, getattr, hasattr, id, isinstance, len, list, set, setattr, sorted, str, tuple, type, vars, zip)


def _is_guarded_value(value) -> bool:
    return (callable(value) or isinstance(value, (types.ModuleType, staticmethod, classmethod, property,
                                                  types.GetSetDescriptorType, types.MemberDescriptorType)))


def _parts(value) -> tuple:
    """What must stay the same about ``value``: itself, and for Python functions their code and defaults."""
    functions = []
    if isinstance(value, (staticmethod, classmethod)):
        functions.append(value.__func__)
    elif isinstance(value, property):
        functions += [value.fget, value.fset, value.fdel]
    elif isinstance(value, types.MethodType):
        functions.append(value.__func__)
    else:
        functions.append(value)
    extra = []
    for function in functions:
        if isinstance(function, types.FunctionType):
            extra += [function.__code__, function.__defaults__, function.__kwdefaults__]
    return (value, *extra)


def _same(a: tuple, b: tuple) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x is y:
            continue
        if isinstance(x, types.MethodType) and isinstance(y, types.MethodType):
            if x.__func__ is y.__func__ and x.__self__ is y.__self__:
                continue
        if isinstance(x, tuple) and isinstance(y, tuple) and len(x) == len(y) and all(p is q for p, q in zip(x, y)):
            continue  # defaults: a new tuple of the same objects
        if isinstance(x, dict) and isinstance(y, dict) and x.keys() == y.keys() and all(x[k] is y[k] for k in x):
            continue
        return False
    return True


def _owners():
    """``[(label, object whose attributes are guarded, names or None for all guarded ones)]``."""
    owners = []
    modules = [sys.modules[name] for name in GUARDED_MODULES if name in sys.modules]
    for module in modules:
        owners.append((module.__name__, module, None))
    owners.append(("sys", sys, SYS_FUNCTIONS))
    classes = set()
    for dotted in GUARDED_CLASSES:
        module_name, _, qualname = dotted.rpartition(":")
        value = sys.modules.get(module_name)
        for part in qualname.split("."):
            value = getattr(value, part, None)
        if isinstance(value, type):
            classes.update(value.__mro__)
    shell = _shell()
    instances = []
    if shell is not None:
        instances = [shell, getattr(shell, "kernel", None), getattr(getattr(shell, "kernel", None), "session", None),
                     getattr(shell, "displayhook", None), getattr(shell, "display_pub", None),
                     getattr(shell, "events", None), getattr(shell, "InteractiveTB", None),
                     getattr(shell, "SyntaxTB", None)]
        instances = [instance for instance in instances if instance is not None]
        for instance in instances + [sys.stdout, sys.stderr]:
            classes.update(type(instance).__mro__)
        owners.append(("the IPython shell", shell, SHELL_ATTRIBUTES))
    for instance in instances:
        owners.append((f"{type(instance).__name__} instance", instance, "own"))
    for cls in sorted(classes - {object, type}, key=lambda c: (c.__module__, c.__qualname__)):
        if cls.__module__ == "builtins":
            continue
        owners.append((f"{cls.__module__}.{cls.__qualname__}", cls, None))
    return owners


def _record(owners) -> dict:
    snapshot = {}
    for label, owner, names in owners:
        try:
            if names is None:
                items = list(vars(owner).items())
            elif names == "own":
                items = list(getattr(owner, "__dict__", {}).items())
            else:
                items = [(name, getattr(owner, name)) for name in names if hasattr(owner, name)]
        except Exception:  # an odd object: nothing to guard in it
            continue
        for name, value in items:
            if (label, name) in SWAPPED_PER_CELL:
                continue
            if names is None or names == "own":
                if not _is_guarded_value(value) or name in ("__dict__", "__weakref__"):
                    continue
            snapshot[(label, name)] = (owner, name, names == "own", _parts(value))
    for name in GUARDED_MODULES:
        if name in sys.modules:
            snapshot[("sys.modules", name)] = (sys.modules, name, "item", (sys.modules[name],))
    return snapshot


def _current(entry):
    owner, name, kind, _ = entry
    try:
        if kind == "item":
            return (owner[name],)
        if kind is True:
            return _parts(owner.__dict__[name])
        if isinstance(owner, type):
            return _parts(vars(owner)[name])
        if isinstance(owner, types.ModuleType):
            return _parts(vars(owner)[name])
        return _parts(getattr(owner, name))
    except (KeyError, AttributeError):
        return ("<missing>",)


def _put_back(entry) -> None:
    owner, name, kind, parts = entry
    value = parts[0]
    if kind == "item":
        owner[name] = value
        return
    functions = [value.__func__] if isinstance(value, (staticmethod, classmethod, types.MethodType)) else [value]
    if isinstance(value, property):
        functions = [value.fget, value.fset, value.fdel]
    extra = list(parts[1:])
    for function in functions:
        if isinstance(function, types.FunctionType) and len(extra) >= 3:
            code, defaults, kwdefaults = extra[:3]
            extra = extra[3:]
            if function.__code__ is not code:
                function.__code__ = code
            function.__defaults__ = defaults
            function.__kwdefaults__ = kwdefaults
    if kind is True:
        owner.__dict__[name] = value
    elif isinstance(owner, type) and owner.__module__ == "builtins":
        return
    else:
        try:
            setattr(owner, name, value)
        except (AttributeError, TypeError):
            try:
                type.__setattr__(owner, name, value) if isinstance(owner, type) else None
            except (AttributeError, TypeError):
                pass


def _changes(undo: bool, exempt: frozenset = frozenset()) -> list[str]:
    """What differs from the originals (``owner.name``); put back when ``undo``."""
    changed = []
    snapshot = _state["snapshot"]
    for key, entry in snapshot.items():
        if key in exempt:
            continue
        if not _same(_current(entry), entry[3]):
            changed.append(f"{key[0]}.{key[1]}")
            if undo:
                _put_back(entry)
    for instance in _state.get("instances", []):  # a method replaced on the instance itself
        own = getattr(instance, "__dict__", {})
        for name in [name for name in own if name not in _state["own_keys"].get(id(instance), ())]:
            if callable(getattr(type(instance), name, None)):
                changed.append(f"{type(instance).__name__}.{name} (on the instance)")
                if undo:
                    del own[name]
    hooks = []
    if sys.gettrace() is not _state["trace"]:
        hooks.append("a trace function (sys.settrace)")
        if undo:
            sys.settrace(_state["trace"])
    if sys.getprofile() is not _state["profile"]:
        hooks.append("a profile function (sys.setprofile)")
        if undo:
            sys.setprofile(_state["profile"])
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch._C, "_len_torch_function_stack"):
        while torch._C._len_torch_function_stack() > 0:
            hooks.append("an active torch function mode")
            if not undo:
                break
            torch._C._pop_torch_function_stack()
        while torch._C._len_torch_dispatch_stack() > _state.get("dispatch_depth", 0):
            hooks.append("an active torch dispatch mode")
            if not undo:
                break
            from torch.utils._python_dispatch import _pop_mode

            _pop_mode()
    return sorted(set(hooks)) + changed


# -- the shell's hooks, set aside during tests --------------------------------------------


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _hook_lists(shell) -> list[tuple[object, str]]:
    manager = shell.input_transformer_manager
    return [(shell, "ast_transformers"), (shell, "input_transformers_post"),
            (manager, "cleanup_transforms"), (manager, "line_transforms"), (manager, "token_transformers")]


def _save_hooks(shell) -> dict:
    saved = {(id(owner), name): (owner, name, list(getattr(owner, name))) for owner, name in _hook_lists(shell)}
    saved["events"] = {event: list(callbacks) for event, callbacks in shell.events.callbacks.items()}
    saved["custom_exceptions"] = shell.custom_exceptions
    saved["user_hooks"] = shell.hooks
    return saved


def _apply_hooks(shell, saved: dict) -> None:
    for key, value in saved.items():
        if key == "events":
            for event in shell.events.callbacks:
                shell.events.callbacks[event][:] = value.get(event, [])
        elif key == "custom_exceptions":
            shell.custom_exceptions = value
        elif key == "user_hooks":
            continue
        else:
            owner, name, items = value
            getattr(owner, name)[:] = items


# -- the four steps -----------------------------------------------------------------------


def install(setup_imports: str, test_names: dict[str, list[str]]) -> None:
    """Record the originals; ``setup_imports`` are the instructor's import statements, ``test_names``
    the names each test cell reads (``{grade_id: [names]}``)."""
    cwd = os.getcwd()
    path = list(sys.path)
    sys.path[:] = [entry for entry in sys.path if entry not in ("", ".", cwd)]
    try:
        originals: dict = {}
        exec(compile(setup_imports, "<instructor's imports>", "exec"), originals)  # noqa: S102
    finally:
        sys.path[:] = path
    for name, module in list(sys.modules.items()):
        location = getattr(module, "__file__", None) or ""
        if location.startswith(cwd + os.sep) and name.split(".")[0] in {m.split(".")[0] for m in GUARDED_MODULES}:
            raise RuntimeError(f"module {name} comes from the submission folder ({location})")
    checks = sys.modules.get("course_utils.homework_checks")  # a homework without checks: no torch needed
    if "torch" in sys.modules:
        # What torch imports lazily patches torch itself (torch._dynamo wraps torch.manual_seed):
        # import it now, before the originals are recorded (and before any student's time limit).
        import torch._dynamo  # noqa: F401
        import torch.optim  # noqa: F401
        import torch.testing  # noqa: F401

        if checks is not None:
            checks._warm_up_dispatch_mode()
    if checks is not None:
        checks._GUARD = after_student_code
    shell = _shell()
    torch = sys.modules.get("torch")
    _state.update(
        originals={name: value for name, value in originals.items() if name != "__builtins__"},
        test_names=test_names,
        trace=sys.gettrace(), profile=sys.getprofile(),
        hooks=_save_hooks(shell) if shell is not None else None,
        default_dtype=torch.get_default_dtype() if torch is not None else None,
        dispatch_depth=0, flags=[], notes=[], test=None, saved=None,
    )
    _state["snapshot"] = _record(_owners())
    if shell is not None:
        kernel = getattr(shell, "kernel", None)
        instances = [item for item in (shell, kernel, getattr(kernel, "session", None), shell.displayhook,
                                       shell.display_pub, shell.events) if item is not None]
        _state["instances"] = instances
        _state["own_keys"] = {id(item): frozenset(getattr(item, "__dict__", {})) for item in instances}


def enter_test(grade_id: str) -> None:
    """Before a test cell: originals in place, the student's bindings and hooks set aside."""
    before = _changes(undo=True)
    if before:
        _note(f"before test {grade_id}, the notebook had replaced {', '.join(before[:5])}"
              + (f" and {len(before) - 5} more" if len(before) > 5 else "") + " (put back while the tests ran)")
    shell = _shell()
    namespace = shell.user_ns if shell is not None else {}
    saved_names = {}
    for name in _state["test_names"].get(grade_id, []):
        if name in _state["originals"]:
            saved_names[name] = namespace.get(name, _MISSING)
            namespace[name] = _state["originals"][name]
        elif hasattr(builtins, name) and name in namespace:
            saved_names[name] = namespace.pop(name)
    saved_hooks = None
    if shell is not None and _state["hooks"] is not None:
        saved_hooks = _save_hooks(shell)
        _apply_hooks(shell, _state["hooks"])
        shell.events.callbacks  # noqa: B018 (touch: an error here means the shell was replaced)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_grad_enabled(True)
        # torch imported by the student after the guard was installed starts with float32, its default
        recorded = _state["default_dtype"]
        torch.set_default_dtype(recorded if recorded is not None else torch.float32)
    _state.update(test=grade_id, saved=(saved_names, saved_hooks))


def after_student_code(what: str) -> None:
    """Called by the checks each time the student's code hands control back inside a test."""
    grade_id = _state.get("test")
    if grade_id is None:
        return  # a check called from the student's own cell: nothing graded runs now
    changed = _changes(undo=True)
    shell = _shell()
    if shell is not None:
        for name in _state["test_names"].get(grade_id, []):
            if name in _state["originals"] and shell.user_ns.get(name, _MISSING) is not _state["originals"][name]:
                changed.append(f"the test's name {name!r}")
                shell.user_ns[name] = _state["originals"][name]
        if _state["hooks"] is not None:
            current = _save_hooks(shell)
            for key, value in _state["hooks"].items():
                if key == "user_hooks":
                    continue
                now = current[key]
                if (value if key in ("events", "custom_exceptions") else value[2]) != (
                        now if key in ("events", "custom_exceptions") else now[2]):
                    changed.append(f"IPython's {key[1] if isinstance(key, tuple) else key}")
            _apply_hooks(shell, _state["hooks"])
    if changed:
        _flag(f"test {grade_id}: while {what} ran, it replaced "
              + ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else ""))


def exit_test(grade_id: str, visible_source: str) -> None:
    """After a test cell: report changes made during it, hide its hidden tests, give back the student's state."""
    after_student_code("the test cell")
    _scrub_hidden(visible_source)
    saved_names, saved_hooks = _state.get("saved") or ({}, None)
    shell = _shell()
    if shell is not None:
        for name, value in saved_names.items():
            if value is _MISSING:
                shell.user_ns.pop(name, None)
            else:
                shell.user_ns[name] = value
        if saved_hooks is not None:
            _apply_hooks(shell, saved_hooks)
    _state.update(test=None, saved=None)


def report(token: str) -> str:
    """The findings, as one line the preprocessor reads back."""
    return f"{MARKER} {token} " + json.dumps({"flags": _state.get("flags", []), "notes": _state.get("notes", [])})


def _flag(message: str) -> None:
    if message not in _state["flags"]:
        _state["flags"].append(message)


def _note(message: str) -> None:
    if message not in _state["notes"]:
        _state["notes"].append(message)


_MISSING = object()


def _scrub_hidden(visible: str) -> None:
    """Replace every copy of the last test cell's source that holds hidden tests by its visible part."""
    shell = _shell()
    if shell is None:
        return
    namespace = shell.user_ns
    for name in ("In", "_ih"):
        history = namespace.get(name)
        if isinstance(history, list):
            for index, entry in enumerate(history):
                if isinstance(entry, str) and HIDDEN_BEGIN in entry:
                    history[index] = visible
    for name, value in list(namespace.items()):
        if isinstance(value, str) and HIDDEN_BEGIN in value and (name in ("_i", "_ii", "_iii") or name.startswith("_i")):
            namespace[name] = visible
    manager = getattr(shell, "history_manager", None)
    if manager is not None:
        for attribute in ("input_hist_parsed", "input_hist_raw"):
            history = getattr(manager, attribute, [])
            for index, entry in enumerate(history):
                if isinstance(entry, str) and HIDDEN_BEGIN in entry:
                    history[index] = visible
        try:
            with manager.db:
                manager.db.execute("UPDATE history SET source = ?, source_raw = ? WHERE source_raw LIKE ?",
                                   (visible, visible, f"%{HIDDEN_BEGIN}%"))
        except Exception:  # no database (history off): nothing stored there
            pass
    lines = [line + "\n" for line in visible.split("\n")]
    for cache in (linecache.cache, getattr(linecache, "_ipython_cache", {})):
        for key, entry in list(cache.items()):
            if isinstance(entry, tuple) and len(entry) >= 3 and any(HIDDEN_BEGIN in line for line in entry[2] or []):
                cache[key] = (len(visible), None, lines, key) if len(entry) == 4 else entry[:2] + (lines,) + entry[3:]


def names_read(source: str) -> list[str]:
    """The global names a test cell reads and does not bind itself (for the preprocessor)."""
    tree = ast.parse(source)
    loaded, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
    return sorted(loaded - bound)
