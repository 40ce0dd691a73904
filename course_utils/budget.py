"""The one explicit switch that shortens training in notebooks: ``COURSE_QUICK_RUN``.

Lectures and homework train for a fixed budget chosen for a student's laptop.
Test runs (CI, ``make test``) set ``COURSE_QUICK_RUN=1`` so the same notebooks
finish quickly on the small generated dataset. Nothing else shortens a run:
no guessing from the data size or the machine.
"""
from __future__ import annotations

import os

QUICK_RUN_ENV = "COURSE_QUICK_RUN"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def is_quick_run() -> bool:
    """True when the environment variable ``COURSE_QUICK_RUN`` is set to 1/true/yes/on."""
    value = os.environ.get(QUICK_RUN_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"{QUICK_RUN_ENV}={value!r} is not understood; use 1 to shorten training or 0 (or unset) for the full run."
    )


def budget(full, quick):
    """Return ``quick`` in a quick run (see :func:`is_quick_run`), else ``full``.

    Example: ``num_epochs = budget(full=10, quick=2)``.
    """
    return quick if is_quick_run() else full
