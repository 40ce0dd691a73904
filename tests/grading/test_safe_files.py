"""Submissions read and written as data (course_utils.grading.safe_files): no link, no special file, no giant."""
from __future__ import annotations

import os
import socket
import stat

import pytest

from course_utils.grading import safe_files
from course_utils.grading.safe_files import Limits, Rejected, check_files, read_tree, replace_folder

SMALL = Limits(file_bytes=1000, submission_bytes=1500, files=5, depth=2)


def submission(tmp_path, **files):
    folder = tmp_path / "submission"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def test_an_ordinary_folder_is_read_as_its_files(tmp_path):
    folder = submission(tmp_path, **{"hw.ipynb": b"{}", "notes.txt": b"hi"})
    (folder / "data").mkdir()
    (folder / "data" / "x.csv").write_bytes(b"1,2")
    assert read_tree(folder, SMALL) == [("data/x.csv", b"1,2"), ("hw.ipynb", b"{}"), ("notes.txt", b"hi")]


@pytest.mark.parametrize("make, reason", [
    (lambda folder: os.symlink("/etc/passwd", folder / "notes.txt"), "symbolic link"),
    (lambda folder: os.symlink("/nowhere", folder / "dangling"), "symbolic link"),
    (lambda folder: os.mkfifo(folder / "pipe"), "is a FIFO"),
    (lambda folder: socket.socket(socket.AF_UNIX).bind(str(folder / "sock")), "is a socket"),
    (lambda folder: os.link(folder / "hw.ipynb", folder / "again.ipynb"), "hard link"),
])
def test_links_and_special_files_reject_the_submission(tmp_path, make, reason):
    """A symlink (dangling too), a FIFO, a socket, a hard link: is the submission refused, saying which?"""
    folder = submission(tmp_path, **{"hw.ipynb": b"{}"})
    make(folder)
    with pytest.raises(Rejected, match=reason):
        read_tree(folder, SMALL)


def test_a_device_rejects_the_submission(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root can make a device node")
    folder = submission(tmp_path, **{"hw.ipynb": b"{}"})
    os.mknod(folder / "zero", stat.S_IFCHR | 0o666, os.makedev(1, 5))
    with pytest.raises(Rejected, match="is a device"):
        read_tree(folder, SMALL)


def test_the_submission_folder_itself_may_not_be_a_link(tmp_path):
    folder = submission(tmp_path, **{"hw.ipynb": b"{}"})
    os.symlink(folder, tmp_path / "link")
    with pytest.raises(Rejected, match="symbolic link"):
        read_tree(tmp_path / "link", SMALL)


def test_a_sparse_file_counts_its_whole_size(tmp_path):
    """A 150 MB sparse file takes no disk but is refused by its apparent size, without being read?"""
    folder = submission(tmp_path, **{"hw.ipynb": b"{}"})
    with open(folder / "big.bin", "wb") as handle:
        handle.truncate(150 << 20)
    with pytest.raises(Rejected, match="big.bin has 157286400 bytes, over the limit"):
        read_tree(folder, Limits())


@pytest.mark.parametrize("files, reason", [
    ({"a.bin": b"x" * 1001}, "over the limit of 1000 per file"),
    ({"a.bin": b"x" * 800, "b.bin": b"x" * 800}, "limit per submission"),
    ({f"f{i}": b"" for i in range(6)}, "over 5 files"),
])
def test_size_and_count_limits(tmp_path, files, reason):
    with pytest.raises(Rejected, match=reason):
        read_tree(submission(tmp_path, **files), SMALL)
    with pytest.raises(Rejected, match=reason):
        check_files(files.items(), SMALL)


def test_nesting_is_limited(tmp_path):
    folder = submission(tmp_path)
    (folder / "a" / "b" / "c" / "d").mkdir(parents=True)
    with pytest.raises(Rejected, match="nested too deep"):
        read_tree(folder, SMALL)


def test_files_of_another_owner_are_refused_when_an_owner_is_given(tmp_path):
    folder = submission(tmp_path, **{"hw.ipynb": b"{}"})
    with pytest.raises(Rejected, match="not to the submitting student"):
        read_tree(folder, SMALL, owner=os.geteuid() + 1)


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/../../b", "", ".", "a//b", "a\\..\\b", "x\x00y"])
def test_paths_from_outside_must_stay_inside(name):
    with pytest.raises(Rejected):
        check_files([(name, b"")], SMALL)


def test_replace_folder_swaps_the_whole_folder_and_follows_no_link(tmp_path):
    """The new files replace the old folder at once; a link planted where the folder was is replaced, not followed?"""
    outside = tmp_path / "outside"
    outside.mkdir()
    destination = tmp_path / "submitted" / "ann" / "hw"
    destination.parent.mkdir(parents=True)
    os.symlink(outside, destination)
    replace_folder(destination, check_files([("hw.ipynb", b"{}"), ("data/x.csv", b"1")], SMALL))
    assert not destination.is_symlink() and sorted(p.name for p in destination.rglob("*")) == ["data", "hw.ipynb",
                                                                                                "x.csv"]
    assert list(outside.iterdir()) == []
    replace_folder(destination, check_files([("other.ipynb", b"{}")], SMALL))
    assert [p.name for p in destination.iterdir()] == ["other.ipynb"]
    assert [p.name for p in destination.parent.iterdir()] == ["hw"]  # no staging folder left


def test_quarantine_lists_the_latest_reason(tmp_path):
    safe_files.quarantine(tmp_path, "hw", "ann", "first reason")
    safe_files.quarantine(tmp_path, "hw", "ann", "second reason")
    assert safe_files.quarantined(tmp_path, "hw") == {"ann": "second reason"}


def test_quarantine_keeps_which_submission_it_was(tmp_path):
    safe_files.quarantine(tmp_path, "hw", "ann", "too big", "exchange 2026-01-01 00:00:00.000000")
    assert safe_files.quarantined(tmp_path, "hw", sources=True) == {
        "ann": ("exchange 2026-01-01 00:00:00.000000", "too big")}
