"""Fixtures of the unit tests. The offline test world (the generated archive
served on loopback, ``NOTMNIST_URL``, ``COURSE_QUICK_RUN``) and the
``http_folder`` fixture are set up by ``conftest.py`` at the repository root.
"""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def notmnist_archive(tmp_path_factory) -> Path:
    """A small generated notMNIST archive (20 images per letter + 2 unreadable files)."""
    from course_utils.synthetic import make_synthetic_notmnist

    return make_synthetic_notmnist(
        tmp_path_factory.mktemp("notmnist-archive") / "notMNIST_small.tar.gz", per_class=20, seed=1
    )


@pytest.fixture
def plot_guard(monkeypatch):
    """For plotting tests: fail if the code calls ``plt.show()`` or changes rcParams; close new figures."""
    import matplotlib
    import matplotlib.pyplot as plt

    def forbidden_show(*args, **kwargs):
        raise AssertionError("a plotting helper must not call plt.show()")

    monkeypatch.setattr(plt, "show", forbidden_show)
    rc_before = dict(matplotlib.rcParams)
    figures_before = set(plt.get_fignums())
    yield
    assert dict(matplotlib.rcParams) == rc_before, "a plotting helper changed rcParams"
    for number in set(plt.get_fignums()) - figures_before:
        plt.close(number)


@pytest.fixture
def unix_users():
    """Real Unix users for the test (``unix_users.add("student")``), removed afterwards even on failure.

    Skips the test, with the reason, where users cannot be created (not root,
    no useradd). See ``tests/unix_users.py``.
    """
    from unix_users import UnixUsers, why_not_available

    reason = why_not_available()
    if reason:
        pytest.skip(reason)
    users = UnixUsers()
    try:
        yield users
    finally:
        failures = users.remove_all()
    assert not failures, "could not remove the test's users: " + "; ".join(failures)
