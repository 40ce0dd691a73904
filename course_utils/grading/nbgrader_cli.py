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
"""
from __future__ import annotations

import sys

# The optional modules that nbgrader's runs do without (``None`` in sys.modules
# makes ``import`` raise ImportError, as for a module that is not installed).
SKIPPED_MODULES = ("rfc3987_syntax",)


def skip_unused_modules() -> None:
    """Hide :data:`SKIPPED_MODULES` from this process (before anything imports nbformat): for a program's
    start only, such as this one, the grading workers and the course's command line."""
    for name in SKIPPED_MODULES:
        sys.modules.setdefault(name, None)


def main() -> None:
    skip_unused_modules()
    from nbgrader.apps.nbgraderapp import main as nbgrader_main

    nbgrader_main()


if __name__ == "__main__":
    main()
