"""Submissions as data, never as links: checked file lists written into fresh folders, and quarantine.

Every way a submission reaches ``submitted/`` (the exchange service, a
folder, an LMS zip) goes through here:

* :func:`read_tree` reads a folder a student controls without following
  anything: symlinks, hard links to files of others, devices, FIFOs and
  sockets are refused, every file is opened with ``O_NOFOLLOW`` and checked
  to be the file that was listed, and no more than the limits is read (the
  apparent size counts, so a sparse file is as big as it claims);
* :func:`check_files` checks a list of ``(relative path, bytes)`` from
  anywhere: paths inside the submission, sizes within :data:`LIMITS`;
* :func:`replace_folder` writes such a list into a new folder and swaps it
  for the old one in one rename, so a half-written submission is never seen;
* :func:`quarantine` records a submission that broke a rule, with the reason,
  under ``quarantine/<assignment>/<student>.txt``, and the rest of the class
  is collected.
"""
from __future__ import annotations

import os
import shutil
import stat
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

QUARANTINE = "quarantine"  # below the course root


@dataclass(frozen=True)
class Limits:
    file_bytes: int = 20 << 20  # one file
    submission_bytes: int = 50 << 20  # all files of one submission
    files: int = 200  # files in one submission
    depth: int = 8  # folders below the submission


LIMITS = Limits()


class Rejected(ValueError):
    """A submission that breaks a rule; the message says which, for the quarantine list."""


def check_path(name: str) -> PurePosixPath:
    """``name`` as a relative path that stays inside its folder, or :class:`Rejected`."""
    if not isinstance(name, str) or not name or "\x00" in name or "\\" in name:
        raise Rejected(f"file name {name!r} is not allowed")
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("", ".", "..") for part in name.split("/")):
        raise Rejected(f"file name {name!r} leaves the submission folder")
    if len(path.parts) > LIMITS.depth + 1 or any(len(part.encode()) > 200 for part in path.parts):
        raise Rejected(f"file name {name!r} is too deep or too long")
    return path


def check_files(files: Iterable[tuple[str, bytes]], limits: Limits = LIMITS) -> list[tuple[PurePosixPath, bytes]]:
    """The files with checked paths; :class:`Rejected` for a bad path, a duplicate or a size over the limits."""
    checked, seen, folders, total = [], set(), set(), 0
    for name, data in files:
        path = check_path(name)
        if path in seen or any(parent in seen for parent in path.parents):
            raise Rejected(f"file name {name!r} appears twice")
        if path in folders:  # a file named like an earlier file's folder
            raise Rejected(f"file name {name!r} is also the name of a folder in the submission")
        if len(data) > limits.file_bytes:
            raise Rejected(f"{name} has {len(data)} bytes, over the limit of {limits.file_bytes} per file")
        total += len(data)
        if total > limits.submission_bytes:
            raise Rejected(f"the submission has over {limits.submission_bytes} bytes, the limit per submission")
        seen.add(path)
        folders.update(path.parents)
        checked.append((path, data))
        if len(checked) > limits.files:
            raise Rejected(f"the submission has over {limits.files} files, the limit")
    return checked


def read_tree(folder: Path, limits: Limits = LIMITS, owner: int | None = None) -> list[tuple[str, bytes]]:
    """Every regular file below ``folder`` as ``(relative path, bytes)``, or :class:`Rejected`.

    Nothing is followed: a symlink (``folder`` itself included), a hard link
    (a file with more than one name may be someone else's), a device, FIFO or
    socket rejects the submission. With ``owner``, every entry must belong to
    that uid.
    """
    files: list[tuple[str, bytes]] = []
    total = 0

    def visit(path: Path, relative: str, depth: int) -> None:
        nonlocal total
        info = os.lstat(path)
        if owner is not None and info.st_uid != owner:
            raise Rejected(f"{relative or '.'} belongs to uid {info.st_uid}, not to the submitting student")
        if stat.S_ISLNK(info.st_mode):
            raise Rejected(f"{relative or '.'} is a symbolic link")
        if stat.S_ISDIR(info.st_mode):
            if depth > limits.depth:
                raise Rejected(f"{relative} is nested too deep")
            for entry in sorted(os.listdir(path)):
                visit(path / entry, f"{relative}/{entry}" if relative else entry, depth + 1)
            return
        if not stat.S_ISREG(info.st_mode):
            kind = ("a FIFO" if stat.S_ISFIFO(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode)
                    else "a device")
            raise Rejected(f"{relative} is {kind}, not a file")
        if info.st_nlink > 1:
            raise Rejected(f"{relative} is a hard link (another name of the same file)")
        if info.st_size > limits.file_bytes:
            raise Rejected(f"{relative} has {info.st_size} bytes, over the limit of {limits.file_bytes} per file")
        total += info.st_size
        if total > limits.submission_bytes:
            raise Rejected(f"the submission has over {limits.submission_bytes} bytes, the limit per submission")
        if len(files) >= limits.files:
            raise Rejected(f"the submission has over {limits.files} files, the limit")
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            opened = os.fstat(descriptor)
            if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino) or not stat.S_ISREG(opened.st_mode):
                raise Rejected(f"{relative} changed while it was read")
            with os.fdopen(descriptor, "rb", closefd=False) as handle:
                data = handle.read(limits.file_bytes + 1)
        finally:
            os.close(descriptor)
        if len(data) > limits.file_bytes:
            raise Rejected(f"{relative} grew over the limit of {limits.file_bytes} bytes while it was read")
        files.append((relative, data))

    try:
        visit(Path(folder), "", 0)
    except OSError as error:
        raise Rejected(f"cannot be read safely: {error.strerror or error}") from None
    return files


def replace_folder(destination: Path, files: Iterable[tuple[PurePosixPath, bytes]]) -> None:
    """Make ``destination`` hold exactly ``files`` (checked by :func:`check_files`), replacing it in one rename.

    The new folder is written next to it and renamed into place; nothing is
    followed (files are created with ``O_EXCL | O_NOFOLLOW``).
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.parent / f".incoming-{destination.name}-{uuid.uuid4().hex}"
    staging.mkdir(mode=0o770)
    try:
        for path, data in files:
            target = staging.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o660)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
        old = None
        if destination.is_symlink() or destination.exists():
            old = destination.parent / f".replaced-{destination.name}-{uuid.uuid4().hex}"
            os.rename(destination, old)
        os.rename(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink()


def quarantine(course: Path, assignment: str, student: str, reason: str, source: str = "") -> Path:
    """Record that ``student``'s submission of ``assignment`` was not collected, and why; returns the record.

    ``student`` must already be a checked id (:func:`roster.check_student_id`).
    """
    folder = Path(course) / QUARANTINE / assignment
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / f"{student}.txt"
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with open(record, "a", encoding="utf-8") as handle:
        handle.write(f"{when}\t{source}\t{reason}\n")
    return record


def quarantined(course: Path, assignment: str, sources: bool = False) -> dict:
    """``{student: latest reason}`` of the submissions of ``assignment`` in quarantine
    (with ``sources``: ``{student: (which submission, latest reason)}``)."""
    folder = Path(course) / QUARANTINE / assignment
    found = {}
    for record in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
        lines = record.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        if lines:
            fields = lines[-1].split("\t")
            found[record.stem] = (fields[1] if len(fields) > 2 else "", fields[-1]) if sources else fields[-1]
    return found
