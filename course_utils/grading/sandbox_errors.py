"""What the grading sandbox raises when it cannot run, and the switch every message points to.

Standard library only, like every ``sandbox_*`` module the launcher imports
(:mod:`~course_utils.grading.sandbox_launcher`).
"""
from __future__ import annotations

SWITCH_ENV = "COURSE_SANDBOX"  # COURSE_SANDBOX=off grades without the sandbox


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run on this machine; the message says what to do."""


class NoUserNamespaces(SandboxUnavailable):
    """bwrap is installed but this kernel (or its configuration) refuses user namespaces."""
