"""Self-checks for the lectures' "your turn" cells and end-of-lecture exercises.

A student writes an answer in an exercise cell, leaving the placeholder
``...`` (Ellipsis) or a function body ``raise NotImplementedError`` until they
try; the next cell calls a check from ``course_utils.exercises.<lecture>``. A
check never prints the expected answer. It prints one line and returns a
:class:`Verdict`:

* ``Not attempted yet: ...`` while the placeholder is still there, so the
  notebook runs top to bottom untouched;
* ``Right: ...`` when the answer does what was asked;
* ``Not yet: <why>`` when it does not, with a reason the student can act on
  (a wrong shape, a wrong dtype, a value off for a named input).

Lecture modules write checks as plain functions decorated with
:func:`self_check`; inside, they ``return right("...")`` or
``return wrong("...")``. The decorator handles the placeholder and any
exception the student's code raises.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

#: What an untouched exercise cell holds.
PLACEHOLDER = ...


@dataclass(frozen=True)
class Verdict:
    """The outcome of one self-check: ``status`` is right, wrong or not attempted."""

    status: str  # "right" | "wrong" | "not attempted"
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "right"

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        prefix = {"right": "Right", "wrong": "Not yet", "not attempted": "Not attempted yet"}[self.status]
        return f"{prefix}: {self.message}"

    def _ipython_display_(self):
        """Show nothing: the check has already printed its sentence (so it shows once, assigned or not)."""


def right(message: str = "well done.") -> Verdict:
    return Verdict("right", message)


def wrong(message: str) -> Verdict:
    return Verdict("wrong", message)


def not_attempted(message: str = "replace the `...` (or the `raise NotImplementedError`) with your answer, "
                  "then run this cell again.") -> Verdict:
    return Verdict("not attempted", message)


def is_placeholder(answer) -> bool:
    """True for ``...`` and for ``None`` (a function that is still only a ``pass``)."""
    return answer is PLACEHOLDER or answer is None


def self_check(check: Callable[..., Verdict]) -> Callable[..., Verdict]:
    """Turn ``check(answer, ...) -> Verdict`` into a cell-friendly self-check.

    The wrapped check prints its verdict and returns it. A placeholder answer,
    or student code raising ``NotImplementedError``, is "not attempted"; any
    other exception raised while checking is reported as the student's error
    (type and message), never as a traceback of the check.
    """

    @functools.wraps(check)
    def run(answer=PLACEHOLDER, *args, **kwargs) -> Verdict:
        if is_placeholder(answer):
            verdict = not_attempted()
        else:
            try:
                verdict = check(answer, *args, **kwargs)
            except NotImplementedError:
                verdict = not_attempted()
            except Exception as error:  # the student's code failed: say how, not where in the check
                verdict = wrong(f"your code raised {type(error).__name__}: {error}")
        print(verdict)
        return verdict

    return run
