"""Where the grading sandbox keeps its runtime folders: the grader's own folder, nothing planted there or in /tmp
is followed, removed or chmodded (course_utils.grading.sandbox_folders, issue 27 item 4)."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from course_utils.grading import sandbox, sandbox_folders

def test_runtime_folders_live_in_the_graders_private_folder(tmp_path, monkeypatch):
    """Are runtime folders made in a folder of the grader's own (mode 700), not in the shared /tmp?"""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COURSE_SANDBOX_RUNTIME", raising=False)
    folder = sandbox_folders.make_runtime_folder()
    base = tmp_path / "home" / ".cache" / "course-sandbox"
    assert folder.parent == base and folder.name.startswith(sandbox_folders.RUNTIME_PREFIX)
    assert stat.S_IMODE(base.stat().st_mode) == 0o700 and stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.parametrize("plant", ["link", "open folder"])
def test_a_runtime_base_that_others_could_plant_in_is_refused(tmp_path, monkeypatch, plant):
    """A base that is a link, or that others may enter: refused with what to do, nothing created in it?"""
    base = tmp_path / "base"
    if plant == "link":
        (tmp_path / "elsewhere").mkdir()
        os.symlink(tmp_path / "elsewhere", base)
    else:
        base.mkdir(mode=0o777)
        base.chmod(0o777)
    monkeypatch.setenv("COURSE_SANDBOX_RUNTIME", str(base))
    with pytest.raises(sandbox.SandboxUnavailable, match="only you can enter"):
        sandbox_folders.make_runtime_folder()
    assert not list((tmp_path / "elsewhere").iterdir()) if plant == "link" else True


def test_folders_planted_in_tmp_are_left_alone(tmp_path, monkeypatch):
    """Folders named like runtimes in /tmp (another user's, a symlink): untouched by the stale sweep?"""
    import tempfile

    monkeypatch.setenv("COURSE_SANDBOX_RUNTIME", str(tmp_path / "base"))
    planted = Path(tempfile.mkdtemp(prefix=sandbox_folders.RUNTIME_PREFIX))
    (planted / "owner").write_text("999999999")  # "a dead run": the old sweep removed it
    link = Path(tempfile.gettempdir()) / f"{sandbox_folders.RUNTIME_PREFIX}link{os.getpid()}"
    os.symlink(tmp_path, link)
    try:
        sandbox_folders.remove_stale_runtimes()
        assert (planted / "owner").exists() and link.is_symlink()
        assert stat.S_IMODE(tmp_path.stat().st_mode) == stat.S_IMODE(os.stat(tmp_path).st_mode)
    finally:
        link.unlink()
        sandbox_folders.remove_tree(planted)


def test_remove_tree_never_changes_a_parents_mode(tmp_path):
    """Removing a runtime whose inside was locked: is its parent's mode left as it was?"""
    parent = tmp_path / "parent"
    (parent / "runtime" / "a").mkdir(parents=True)
    parent.chmod(0o755)
    (parent / "runtime" / "a").chmod(0)
    sandbox_folders.remove_tree(parent / "runtime")
    assert not (parent / "runtime").exists() and stat.S_IMODE(parent.stat().st_mode) == 0o755


def test_remove_tree_of_a_link_removes_the_link_only(tmp_path):
    target = tmp_path / "target"
    (target / "keep").mkdir(parents=True)
    os.symlink(target, tmp_path / "link")
    sandbox_folders.remove_tree(tmp_path / "link")
    assert (target / "keep").is_dir() and not (tmp_path / "link").exists()

