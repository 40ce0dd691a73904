"""Import an LMS's "download all submissions" zip into ``submitted/<student>/<assignment>/``.

``make collect ZIP=path/to/submissions.zip`` runs :func:`import_zip`. It reads

* **Canvas** ("Download Submissions"): flat files
  ``<name>_<user id>_<submission id>_<file>``, with ``_LATE_`` (any case)
  after the name for a late one (``smithjohn_LATE_123_456_hw1.ipynb``); the
  submission id may be absent, and a re-uploaded file may carry a number
  (``hw1-1.ipynb``).
* **Moodle** ("Download all submissions"): folders
  ``<Full Name>_<participant id>_assignsubmission_file_/<file>`` (or, with
  Moodle's "download submissions in folders" off, flat files
  ``<Full Name>_<participant id>_assignsubmission_file_<file>``).
* a zip made by hand: a folder or file named after a roster ``student_id``.

A student is found through the roster's ``lms_id`` (the Canvas user id or the
Moodle participant id). One ``.ipynb`` per student is accepted under any file
name and written under the name the assignment expects; everything else is
reported by name and not imported: a file of someone not on the roster, a
student with two notebooks (ambiguous: the instructor picks one), a file
that is not a notebook, a name in no known format. The outcome of every file
is also written to ``collected/<assignment>.csv`` (with the LMS's late mark,
which ``make export`` turns into a late penalty).

Why not ``nbgrader zip_collect`` with a ``FileNameCollectorPlugin`` (read in
nbgrader 0.9.6, the pinned version): such a plugin could map these names to
roster ids and pick the notebook by its grade ids, but the flow around it
cannot do this import's job. A collector returns only a student id, a file id
and a timestamp, so Canvas's LATE mark, which has no time, would be lost or a
time invented. Two uploads of one notebook by one student without timestamps
(a Canvas re-upload, ``hw1-1.ipynb``) stop the collect of the whole class
("Duplicate submission file. No timestamps for comparison" in
``ZipCollectApp._collect_files``), and a student who already has a submitted
folder stops it unless ``--force``; here identical uploads count once, differing
ones are reported for that student alone, and the same zip again changes
nothing. Its extractor unpacks every archive in the download, nested ones
too, without a size limit, and its ``shutil.copy`` into ``submitted/`` skips
``safe_files``' limits on size, count, names and links; here each entry is read
from the zip with a byte limit. A file it skips is a log line; here every
file's outcome is reported and written to the CSV. So LMS names are parsed in
one place, :func:`parse_entry`, and there is no collector plugin.
"""
from __future__ import annotations

import csv
import json
import os
import re
import stat
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import safe_files
from .roster import Student, check_student_id

COLLECTED = "collected"  # below the course root: collected/<assignment>.csv
LOG_COLUMNS = ("student_id", "lms_id", "lms", "status", "late", "file", "detail")
MAX_NOTEBOOK_BYTES = safe_files.LIMITS.file_bytes  # a notebook bigger than this is reported, not imported
LIMITS = safe_files.LIMITS

CANVAS = re.compile(r"^(?P<name>.+?)_(?:(?P<late>late)_)?(?P<lms_id>\d+)_(?:(?P<submission>\d+)_)?(?P<file>.+)$",
                    re.IGNORECASE)
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<lms_id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?$")
MOODLE_FLAT = re.compile(r"^(?P<name>.+)_(?P<lms_id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>.+)$")
SYSTEM_FILES = re.compile(r"(^|/)(__MACOSX|\.ipynb_checkpoints)(/|$)|(^|/)\.[^/]*$|(^|/)Thumbs\.db$")
RESUBMISSION_NUMBER = re.compile(r"-\d+$")  # Canvas's hw1-1.ipynb for a second upload of hw1.ipynb


class LmsImportError(RuntimeError):
    """The zip cannot be imported at all (not a zip, no assignment to file it under); the message says why."""


@dataclass(frozen=True)
class Entry:
    """One file of the zip, as the LMS named it."""

    path: str  # inside the zip
    lms: str  # canvas, moodle, folder
    lms_id: str
    name: str  # the student's name as the LMS spells it (or the folder name)
    file_name: str  # the file as the student uploaded it
    late: bool = False


@dataclass
class ImportReport:
    assignment: str
    imported: dict[str, str] = field(default_factory=dict)  # student_id -> zip entry
    problems: list[tuple[str, str]] = field(default_factory=list)  # (zip entry, why not imported)
    absent: list[str] = field(default_factory=list)  # rostered students without an imported notebook
    late: list[str] = field(default_factory=list)  # student_ids the LMS marks late

    def lines(self) -> list[str]:
        late = f", {len(self.late)} marked late: {', '.join(self.late)}" if self.late else ""
        out = [f"{self.assignment}: imported {len(self.imported)} notebook(s){late}"]
        if self.problems:
            out.append(f"NOT imported ({len(self.problems)} file(s)):")
            out += [f"  {path}: {why}" for path, why in self.problems]
        if self.absent:
            out.append(f"nothing imported for {len(self.absent)} rostered student(s): {', '.join(self.absent)}")
        return out


def parse_entry(path: str, roster_ids: set[str] = frozenset()) -> Entry | None:
    """What the LMS's file name says: student, file, late mark; None for a name in no known format."""
    parts = PurePosixPath(path).parts
    for index, part in enumerate(parts[:-1]):
        match = MOODLE_FOLDER.match(part)
        if match:
            return Entry(path, "moodle", match["lms_id"], match["name"], "/".join(parts[index + 1:]))
    base = parts[-1]
    match = MOODLE_FLAT.match(base)
    if match:
        return Entry(path, "moodle", match["lms_id"], match["name"], match["file"])
    match = CANVAS.match(base)
    if match:
        return Entry(path, "canvas", match["lms_id"], match["name"], match["file"], late=bool(match["late"]))
    for part in [*parts[:-1], PurePosixPath(base).stem]:
        if part in roster_ids:
            return Entry(path, "folder", "", part, base)
    return None


def import_zip(course: Path, zip_path: Path, roster: list[Student], assignment: str | None = None) -> ImportReport:
    """Import ``zip_path`` into ``course``; see the module's docstring. Returns what was done and what was not."""
    course = Path(course)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as error:
        raise LmsImportError(f"cannot read {zip_path}: {error}") from None
    by_lms_id = {student.lms_id: student for student in roster if student.lms_id}
    by_id = {student.student_id: student for student in roster}
    sources = _source_notebooks(course)
    problems: list[tuple[str, str]] = []
    notebooks: dict[str, list[tuple[Entry, bytes]]] = defaultdict(list)
    others: list[tuple[Entry, Student]] = []
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            if SYSTEM_FILES.search(info.filename):
                problems.append((info.filename, "ignored: a system file, not a submission"))
                continue
            entry = parse_entry(info.filename, set(by_id))
            if entry is None:
                problems.append((info.filename, "unrecognised name: not <name>_<lms id>_... (Canvas) nor "
                                                "<Full Name>_<id>_assignsubmission_... (Moodle)"))
                continue
            student = by_id.get(entry.name) if entry.lms == "folder" else by_lms_id.get(entry.lms_id)
            if student is None:
                problems.append((info.filename, f"not on the roster: {entry.lms} id {entry.lms_id} ({entry.name}); "
                                                "add the student with this lms_id to roster.csv and collect again"))
                continue
            if not entry.file_name.lower().endswith(".ipynb"):
                others.append((entry, student))
                continue
            if stat.S_IFMT(info.external_attr >> 16) not in (0, stat.S_IFREG):  # a symlink, device, FIFO...
                problems.append((info.filename, f"{student.student_id}: a link or special file in the zip, "
                                                "not a notebook; not imported"))
                continue
            # The size in the zip's directory can lie: read at most one byte past the limit.
            with archive.open(info) as member:
                data = member.read(MAX_NOTEBOOK_BYTES + 1)
            if info.file_size > MAX_NOTEBOOK_BYTES or len(data) > MAX_NOTEBOOK_BYTES:
                problems.append((info.filename, f"{student.student_id}: notebook of over {MAX_NOTEBOOK_BYTES} "
                                                "bytes, over the limit; not imported"))
                continue
            notebooks[student.student_id].append((entry, data))

    assignment = assignment or _guess_assignment(sources, notebooks, zip_path)
    if assignment not in sources:
        raise LmsImportError(f"no assignment {assignment!r} in {course / 'source'}; "
                           f"valid: {', '.join(sorted(sources)) or 'none'}")
    report = ImportReport(assignment)
    for entry, student in others:
        why = "not a notebook (.ipynb), not imported"
        if student.student_id in notebooks:
            why += " (the student's notebook was)"
        problems.append((entry.path, f"{student.student_id}: {why}"))
    log_rows = []
    for student_id, found in sorted(notebooks.items()):
        copies = ""
        if len(found) > 1 and len({data for _, data in found}) == 1:  # the same notebook uploaded twice
            copies = f" (identical to {', '.join(entry.path for entry, _ in found[:-1])})"
            found = found[-1:]
        if len(found) > 1:
            names = ", ".join(entry.path for entry, _ in found)
            why = (f"{student_id}: {len(found)} notebooks ({names}); none imported: copy the one to grade to "
                   f"submitted/{student_id}/{assignment}/")
            problems += [(entry.path, why) for entry, _ in found]
            log_rows.append(_log_row(student_id, found[0][0], "ambiguous", why))
            continue
        entry, data = found[0]
        target_name = _target_name(sources[assignment], entry.file_name, data)
        _write_submission(course, student_id, assignment, target_name, data)
        report.imported[student_id] = entry.path
        if entry.late:
            report.late.append(student_id)
        renamed = f" as {target_name}" if PurePosixPath(entry.file_name).name != target_name else ""
        log_rows.append(_log_row(student_id, entry, "imported", f"{entry.file_name}{renamed}{copies}"))
    for path, why in problems:
        log_rows.append({"student_id": "", "lms_id": "", "lms": "", "status": "not imported", "late": "",
                         "file": path, "detail": why})
    report.problems = problems
    report.absent = [s.student_id for s in roster if s.student_id not in report.imported]
    _write_log(course, assignment, log_rows, touched=set(notebooks))
    return report


def _log_row(student_id: str, entry: Entry, status: str, detail: str) -> dict[str, str]:
    return {"student_id": student_id, "lms_id": entry.lms_id, "lms": entry.lms, "status": status,
            "late": "yes" if entry.late else ("unknown" if entry.lms == "moodle" else "no"),
            "file": entry.path, "detail": detail}


def read_log(course: Path, assignment: str) -> dict[str, dict[str, str]]:
    """``{student_id: row}`` of ``collected/<assignment>.csv`` (empty if nothing was imported)."""
    path = Path(course) / COLLECTED / f"{assignment}.csv"
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as file:
        return {row["student_id"]: row for row in csv.DictReader(file) if row.get("student_id")}


def _write_log(course: Path, assignment: str, rows: list[dict[str, str]], touched: set[str]) -> None:
    """Rows of earlier imports are kept for students this zip did not touch; its problems replace theirs."""
    kept = [row for student_id, row in read_log(course, assignment).items() if student_id not in touched]
    path = course / COLLECTED / f"{assignment}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(sorted(kept + rows, key=lambda row: (row["student_id"] == "", row["student_id"],
                                                              row["file"])))
    os.replace(tmp, path)


def _write_submission(course: Path, student_id: str, assignment: str, name: str, data: bytes) -> None:
    """The notebook becomes the student's whole submission (an earlier one, and its timestamp, is replaced)."""
    folder = course / "submitted" / student_id / assignment
    if folder.is_dir() and not folder.is_symlink() and [path.name for path in folder.iterdir()] == [name] and (folder / name).read_bytes() == data:
        return  # the same zip again: leave it as it is, so it is not taken for a new submission
    check_student_id(student_id)
    safe_files.replace_folder(folder, safe_files.check_files([(name, data)], LIMITS))


# -- which assignment, which notebook name -------------------------------------------------


def _source_notebooks(course: Path) -> dict[str, dict[str, set[str]]]:
    """``{assignment: {notebook file name: grade ids}}`` of ``source/``."""
    found: dict[str, dict[str, set[str]]] = {}
    source = course / "source"
    for folder in sorted(source.iterdir()) if source.is_dir() else []:
        if folder.is_dir() and not folder.name.startswith("."):
            names = {path.name: _grade_ids(path.read_bytes()) for path in sorted(folder.glob("*.ipynb"))}
            if names:
                found[folder.name] = names
    return found


def _grade_ids(data: bytes) -> set[str]:
    try:
        notebook = json.loads(data.decode("utf-8"))
        cells = notebook.get("cells", []) if isinstance(notebook, dict) else []
        return {cell["metadata"]["nbgrader"]["grade_id"] for cell in cells
                if isinstance(cell, dict) and isinstance(cell.get("metadata", {}).get("nbgrader"), dict)
                and "grade_id" in cell["metadata"]["nbgrader"]}
    except (ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
        return set()


def _best_notebook(notebooks: dict[str, set[str]], data: bytes) -> tuple[str | None, int]:
    ids = _grade_ids(data)
    best = max(notebooks, key=lambda name: len(notebooks[name] & ids))
    overlap = len(notebooks[best] & ids)
    return (best, overlap) if overlap else (None, 0)


def _guess_assignment(sources: dict[str, dict[str, set[str]]], notebooks: dict[str, list[tuple[Entry, bytes]]],
                      zip_path: Path) -> str:
    """The assignment most of the zip's notebooks belong to (by their nbgrader cells), else the zip's name."""
    votes: Counter[str] = Counter()
    for found in notebooks.values():
        for _, data in found:
            scores = {name: _best_notebook(names, data)[1] for name, names in sources.items()}
            if scores and max(scores.values()) > 0:
                votes[max(scores, key=scores.get)] += 1
    ranked = votes.most_common(2)
    if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]):
        return ranked[0][0]
    in_name = [name for name in sources if name.lower() in Path(zip_path).name.lower()]
    if len(in_name) == 1:
        return in_name[0]
    raise LmsImportError(f"cannot tell which assignment {zip_path} holds (its notebooks match "
                       f"{dict(votes) or 'none'}); name it: make collect ZIP={zip_path} ASSIGNMENT=<one of "
                       f"{', '.join(sorted(sources))}>")


def _target_name(notebooks: dict[str, set[str]], file_name: str, data: bytes) -> str:
    """The assignment's notebook name this upload stands for: by its nbgrader cells, else by file name."""
    if len(notebooks) == 1:
        return next(iter(notebooks))
    best, _ = _best_notebook(notebooks, data)
    if best:
        return best
    stem = RESUBMISSION_NUMBER.sub("", PurePosixPath(file_name).stem).lower()
    for name in notebooks:
        if Path(name).stem.lower() == stem:
            return name
    return sorted(notebooks)[0]
