"""``python -m course_utils.grading.nbgrader_cli ARGS``: nbgrader's command line, started faster.

Every nbgrader step of the course runs through here (see
:func:`course_utils.grading.pipeline.nbgrader_command`); the arguments are
nbgrader's own, e.g. ``autograde tanh --student alice``.

Why not ``python -m nbgrader``: nbgrader imports nbformat, nbformat imports
jsonschema, and jsonschema imports ``rfc3987_syntax`` when it is installed
(jupyter-events installs it), which builds a parser for IRIs at import time:
1.3-2 s of CPU in every nbgrader run, paid once per graded submission (about
15 % of grading a homework-1 submission here). nbgrader never checks an IRI
(nbformat validates notebooks against draft-4 schemas, which have no IRI
format), so this entry point hides that module, which jsonschema treats as
not installed, and then runs nbgrader's ``main``. The course's own environment
pins jsonschema 4.23 (pyproject.toml), which never imports it; the hiding keeps
an environment with a newer jsonschema (conda, a JupyterHub image) as fast.

It also lets nbgrader find the version it stamps a new gradebook with in this
process (:func:`read_gradebook_version_in_process`) instead of running
``alembic heads`` in a new interpreter: about 1.3 CPU-s each time a course's
gradebook is created (a release of a new course, a class list imported).
"""
from __future__ import annotations

import contextlib
import gc
import sys

# The optional modules that nbgrader's runs do without (``None`` in sys.modules
# makes ``import`` raise ImportError, as for a module that is not installed).
SKIPPED_MODULES = ("rfc3987_syntax",)


def skip_unused_modules() -> None:
    """Hide :data:`SKIPPED_MODULES` from this process (before anything imports nbformat): for a program's
    start only, such as this one, the grading workers and the course's command line."""
    for name in SKIPPED_MODULES:
        sys.modules.setdefault(name, None)


@contextlib.contextmanager
def collection_paused():
    """Pause Python's cyclic garbage collector while a program imports what it needs, then restore it.

    Imports allocate many objects and make few cycles, yet every 700 allocations start a collection,
    and the older generations' collections walk what was imported so far: about a sixth of the CPU time
    of ``import torch, torchvision`` (3.3 -> 2.8 CPU-s on the 2-core machine, three runs each) and of
    ``import nbgrader.apps`` (0.93 -> 0.79). For a program's start only, like :func:`skip_unused_modules`;
    :mod:`.kernel_zygote` pauses it the same way while it preloads.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_gradebook_version_in_process() -> None:
    """Have nbgrader read the gradebook schema's version (the head of its own alembic migrations, which it
    writes into a new gradebook) here, with alembic's API, instead of in an ``alembic heads`` subprocess.

    The same scripts are read, so the answer is the same (``tests/grading/test_driver.py`` compares the two);
    where they have no single head the replacement defers to nbgrader's own function. nbgrader looks the
    function up when it creates a gradebook (``nbgrader.api.Gradebook``), so this is for a program's start,
    before any gradebook is opened, as :func:`skip_unused_modules`; calling it again changes nothing.
    """
    import nbgrader.api

    subprocess_version = getattr(nbgrader.api.get_alembic_version, "nbgraders_own", nbgrader.api.get_alembic_version)

    def alembic_head() -> str:
        from alembic.script import ScriptDirectory
        from nbgrader.dbutil import ALEMBIC_DIR

        try:
            head = ScriptDirectory(ALEMBIC_DIR).get_current_head()
        except Exception:  # several heads, an unreadable script: what nbgrader itself would answer
            head = None
        return head or subprocess_version()

    alembic_head.nbgraders_own = subprocess_version
    nbgrader.api.get_alembic_version = alembic_head


def main() -> None:
    with collection_paused():
        skip_unused_modules()
        read_gradebook_version_in_process()
        from nbgrader.apps.nbgraderapp import main as nbgrader_main

    nbgrader_main()


if __name__ == "__main__":
    main()
