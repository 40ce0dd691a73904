"""The class list: ``assignments/roster.csv``, and its import into nbgrader's gradebook.

Columns: ``student_id,first_name,last_name,email,lms_id``. ``student_id`` is
the name nbgrader knows a student by: their Unix user name on the course's
JupyterHub (the exchange's submissions carry it), and the folder name under
``submitted/``. ``lms_id`` is the student's id in the LMS whose downloads
``make collect ZIP=...`` imports (Canvas: the user id in the file names;
Moodle: the participant id in the folder names).
"""
from __future__ import annotations

import csv
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROSTER_FILE = "roster.csv"
COLUMNS = ("student_id", "first_name", "last_name", "email", "lms_id")
# nbgrader uses the id as a folder name and in the exchange's file names ('+' separates fields there).
VALID_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]*\Z")


class RosterError(ValueError):
    """roster.csv cannot be used; the message names the file, the row and the fix."""


def check_student_id(student_id: str, where: str = "student id") -> str:
    """``student_id`` if it is safe as a folder name and a command-line value, else :class:`RosterError`.

    Ids reach paths (``submitted/<id>``) and nbgrader's ``--student=<id>``,
    where ``*`` would mean every student and ``../x`` another folder.
    """
    if not isinstance(student_id, str) or not VALID_ID.match(student_id) or len(student_id) > 64:
        raise RosterError(f"{where} {student_id!r} is not a valid student id: use letters, digits, '_', "
                          "'.', '-', '@' (not first: '.', '-', '@'), at most 64 characters")
    return student_id


@dataclass(frozen=True)
class Student:
    student_id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_id: str = ""

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


def roster_path(course: Path) -> Path:
    return Path(course) / ROSTER_FILE


def read_roster(path: Path) -> list[Student]:
    """The students of ``path`` in file order; a missing file is an empty class.

    Raises :class:`RosterError` for a missing column, an empty, invalid or
    repeated ``student_id``, or an ``lms_id`` given to two students.
    """
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8-sig") as file:  # -sig: spreadsheets write a BOM
        reader = csv.DictReader(file)
        header = [name.strip() for name in reader.fieldnames or []]
        missing = [column for column in COLUMNS if column not in header]
        if missing:
            raise RosterError(f"{path}: missing column(s) {', '.join(missing)}; the header must be "
                              f"{','.join(COLUMNS)}")
        reader.fieldnames = header
        students: list[Student] = []
        seen_ids: dict[str, int] = {}
        seen_lms: dict[str, str] = {}
        for line, row in enumerate(reader, start=2):
            values = {column: (row.get(column) or "").strip() for column in COLUMNS}
            if not any(values.values()):
                continue
            student_id = values["student_id"]
            if not VALID_ID.match(student_id) or len(student_id) > 64:
                raise RosterError(f"{path} line {line}: student_id {student_id!r} must be a user name "
                                  "(letters, digits, '_', '.', '-', '@'; no spaces or '+'; at most 64)")
            if student_id in seen_ids:
                raise RosterError(f"{path} line {line}: student_id {student_id!r} is already on line "
                                  f"{seen_ids[student_id]}")
            lms_id = values["lms_id"]
            if lms_id and lms_id in seen_lms:
                raise RosterError(f"{path} line {line}: lms_id {lms_id!r} is also {seen_lms[lms_id]!r}'s")
            seen_ids[student_id] = line
            if lms_id:
                seen_lms[lms_id] = student_id
            students.append(Student(**values))
    return students


def load_roster(course: Path) -> list[Student]:
    return read_roster(roster_path(course))


def open_gradebook(course: Path):
    """nbgrader's ``Gradebook`` of ``<course>/gradebook.db`` (created if missing), as a context manager.

    Creating one needs the version of nbgrader's gradebook schema, read in this process
    (:func:`.nbgrader_cli.read_gradebook_version_in_process`); should that fall back on nbgrader's
    ``alembic`` command, this interpreter's folder is put first on PATH so that it is found however we
    were started.
    """
    from nbgrader.api import Gradebook  # slow to import: only when needed

    from .nbgrader_cli import read_gradebook_version_in_process

    read_gradebook_version_in_process()

    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([scripts, os.environ.get("PATH", "")])
    return Gradebook(f"sqlite:///{Path(course).resolve() / 'gradebook.db'}")


def import_into_gradebook(course: Path, students: list[Student]) -> int:
    """Add or update every student in ``<course>/gradebook.db``; returns how many. Nobody is removed."""
    if not students:
        return 0
    with open_gradebook(course) as gradebook:
        for student in students:
            gradebook.update_or_create_student(student.student_id, first_name=student.first_name or None,
                                               last_name=student.last_name or None,
                                               email=student.email or None,
                                               lms_user_id=student.lms_id or None)
    return len(students)
