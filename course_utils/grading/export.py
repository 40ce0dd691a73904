"""The gradebook, closed: ``grades.csv`` (student × assignment) and ``grades_wide.csv`` (for the LMS).

:func:`write_grades` is what ``make export`` runs (and ``make autograde`` at
its end). Every rostered student gets a row per assignment, with or without
a submission. A row's numbers come from nbgrader's gradebook, so scores a
grader entered in Formgrader count; its status comes from the autograder's
record of the submission (``.grading/results/<assignment>/<student>.json``):

``graded``
    ``automatic`` (the test cells, with a grader's override where there is
    one) + ``manual`` (answers graded by hand) - ``late_penalty`` = ``total``.
``flagged``
    the tests' points are shown in ``automatic`` and ``detail`` says why the
    submission was flagged; ``total`` is 0 until a grader has scored each
    flagged test cell in Formgrader, after which the row is ``graded``.
``missing``, ``failed``, ``timeout``
    0 points; ``detail`` says why.
``submitted``
    collected after the last ``make autograde`` (or never graded): run it.

Lateness (``deadlines``, ``assignments/course.toml``) comes from the
submission's ``timestamp.txt`` (the exchange's) or else the LMS's late mark
(``collected/<assignment>.csv``, written by ``make collect ZIP=...``).
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from nbgrader.plugins import ExportPlugin

from . import deadlines, lms, roster
from .layout import submission_digest

GRADES_CSV = "grades.csv"
GRADES_WIDE_CSV = "grades_wide.csv"
COLUMNS = ["student_id", "assignment", "status", "automatic", "manual", "late_penalty", "total", "max",
           "submitted_at", "days_late", "detail"]
# The LMS's own column names first (Canvas needs Student and ID, the Canvas user id; it matches students
# by ID), then one column of totals per assignment, then the roster's own ids (Moodle: map email or
# student_id to a user field).
WIDE_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
WIDE_TRAILING = ["student_id", "lms_id", "email"]
RECORDS = Path(".grading") / "results"  # written by the autograder's batch (course_utils.grading.parallel)


@dataclass
class GradeRow:
    student_id: str
    assignment: str
    status: str
    automatic: float = 0.0
    manual: float = 0.0
    late_penalty: float = 0.0
    total: float = 0.0
    max: float = 0.0
    submitted_at: str = ""
    days_late: int = 0
    detail: str = ""

    def csv_row(self) -> dict[str, str]:
        row = asdict(self)
        for key in ("automatic", "manual", "late_penalty", "total", "max"):
            row[key] = _number(row[key])
        row["days_late"] = str(self.days_late) if self.days_late else ""
        return row


def write_grades(course: Path) -> list[GradeRow]:
    """Write ``<course>/grades.csv`` and ``<course>/grades_wide.csv``; return the rows of grades.csv."""
    course = Path(course).resolve()
    students = roster.load_roster(course)
    rows = grade_rows(course, students)
    _write_csv(course / GRADES_CSV, COLUMNS, [row.csv_row() for row in rows])
    settings = deadlines.load_settings(course)
    # An assignment nobody has handed in yet (not due, say) gets no column: importing it would enter zeros.
    # A submission to an assignment that source/ lacks has a row in grades.csv, never an LMS column.
    assignments = sorted({row.assignment for row in rows if row.status != "missing"} & set(_assignment_points(course)))
    totals = {(row.student_id, row.assignment): row.total for row in rows}
    wide = []
    for student in students or [roster.Student(sid) for sid in sorted({row.student_id for row in rows})]:
        name = ", ".join(part for part in (student.last_name, student.first_name) if part) or student.student_id
        line = {"Student": name, "ID": student.lms_id, "SIS User ID": student.student_id,
                "SIS Login ID": student.email, "Section": "", "student_id": student.student_id,
                "lms_id": student.lms_id, "email": student.email}
        for assignment in assignments:
            line[settings.lms_name(assignment)] = _number(totals.get((student.student_id, assignment), 0.0))
        wide.append(line)
    _write_csv(course / GRADES_WIDE_CSV,
               [*WIDE_COLUMNS, *(settings.lms_name(a) for a in assignments), *WIDE_TRAILING], wide)
    return rows


def read_grades(course: Path) -> list[dict[str, str]]:
    """The rows of ``<course>/grades.csv`` as :func:`write_grades` wrote them (``COLUMNS``), as strings."""
    with open(Path(course) / GRADES_CSV, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


class CourseExport(ExportPlugin):
    """``nbgrader export`` writes what ``make export`` writes: grades.csv and grades_wide.csv (see
    :func:`write_grades`), set as ``c.ExportApp.plugin_class`` in ``assignments/nbgrader_config.py``.

    nbgrader's default exporter writes one flat table of raw scores and penalties; the course's rows
    also need the roster, the autograder's statuses (flagged, failed, ...) and LMS late marks, which
    the gradebook does not hold, so the plugin reads the course folder as well. ``make export`` calls
    :func:`write_grades` directly (the same writer, without starting nbgrader's application); ``--to``,
    ``--assignment`` and ``--student`` are not supported: the files always hold the whole class.
    """

    def export(self, gradebook) -> None:
        if self.to or self.student or self.assignment:
            raise ValueError("the course's exporter writes grades.csv and grades_wide.csv for the whole class; "
                             "run 'nbgrader export' without --to, --assignment or --student")
        root = self.config.get("CourseDirectory", {}).get("root") or os.getcwd()
        rows = write_grades(Path(root))
        self.log.info("Wrote %d row(s) to %s and %s", len(rows), GRADES_CSV, GRADES_WIDE_CSV)


def grade_rows(course: Path, students: list[roster.Student]) -> list[GradeRow]:
    """One row per (student, assignment), sorted by assignment then student.

    The students are the roster's, plus anyone else with a submission (their
    detail says they are not on the roster); with no roster, everyone with a
    submission or a gradebook entry.
    """
    course = Path(course)
    settings = deadlines.load_settings(course)
    maxima = _assignment_points(course)
    gradebook = _read_gradebook(course)
    rostered = {student.student_id for student in students}
    others = {student for (_, student) in gradebook} | _submitted_students(course)
    others -= rostered
    rows = []
    for assignment in sorted(maxima):
        test_cells, max_points = maxima[assignment]
        log = lms.read_log(course, assignment)
        for student_id in [*sorted(rostered), *sorted(others)]:
            row = _grade_row(course, assignment, student_id, test_cells, max_points,
                             gradebook.get((assignment, student_id)), log.get(student_id), settings)
            if student_id in others:
                handed_in = ((assignment, student_id) in gradebook or (course / "submitted" / student_id / assignment)
                             .is_dir() or (course / RECORDS / assignment / f"{student_id}.json").is_file())
                if not handed_in:
                    continue  # not rostered and nothing for this assignment: no row
                row.detail = "; ".join(filter(None, ["not on the roster", row.detail]))
            rows.append(row)
    rows += _unknown_assignment_rows(course, set(maxima))
    return sorted(rows, key=lambda row: row.assignment)  # stable: each assignment's students stay in order


def _unknown_assignment_rows(course: Path, known: set[str]) -> list[GradeRow]:
    """A ``failed`` row for each submission to an assignment that ``source/`` does not hold (a typo in a
    folder name, an LMS zip filed under the wrong name): the instructor sees it instead of losing it."""
    folder = course / "submitted"
    found = sorted((assignment.name, student.name) for student in (folder.iterdir() if folder.is_dir() else [])
                   if student.is_dir() and not student.name.startswith(".")
                   for assignment in student.iterdir()
                   if assignment.is_dir() and not assignment.name.startswith(".") and assignment.name not in known)
    return [GradeRow(student, assignment, "failed", detail=f"unknown assignment: no {assignment!r} in source/")
            for assignment, student in found]


def _grade_row(course: Path, assignment: str, student_id: str, test_cells: set[str], max_points: float,
               grades: dict | None, lms_row: dict | None, settings: deadlines.CourseSettings) -> GradeRow:
    row = GradeRow(student_id, assignment, "missing", max=max_points)
    folder = course / "submitted" / student_id / assignment
    record_path = course / RECORDS / assignment / f"{student_id}.json"
    record = _read_record(record_path)
    if folder.is_dir() and _changed_since_graded(folder, record, record_path):
        row.status = "submitted"
        row.detail = "collected after the last autograde: run make autograde"
        return row
    if record is None and grades is None:
        if lms_row and lms_row.get("status") != "imported":
            row.detail = lms_row.get("detail", "")
        else:
            row.detail = "no submission"
        return row
    status = str((record or {}).get("status") or "graded")
    detail = str((record or {}).get("detail") or "")
    if status not in ("graded", "flagged"):
        row.status = "failed" if status == "unknown assignment" else status
        row.detail = detail
        return row

    automatic = manual = 0.0
    flagged_cells, pending = [], []
    if grades is not None:
        for cell in grades["cells"]:
            if cell["name"] in test_cells:
                automatic += cell["score"]
                if cell["needs_manual_grade"] and cell["manual_score"] is None:
                    flagged_cells.append(cell["name"])
            else:
                manual += cell["score"]
                if cell["needs_manual_grade"]:
                    pending.append(cell["name"])
    else:
        automatic = float((record or {}).get("auto_score") or 0.0)
    notes = []
    if status == "flagged" and (flagged_cells or grades is None):
        tests_gave = sum(float(v) for v in ((record or {}).get("cell_scores") or {}).values()) or automatic
        row.status, row.automatic, row.manual = "flagged", tests_gave, manual
        row.detail = (f"counts 0 until reviewed in Formgrader (score cells {', '.join(flagged_cells)}); "
                      f"{detail}" if flagged_cells else f"counts 0 until reviewed; {detail}")
        return row
    if status == "flagged":
        notes.append("flag reviewed in Formgrader")
    elif detail:
        notes.append(detail)
    if pending:
        notes.append(f"not graded by hand yet: {', '.join(pending)}")

    row.status, row.automatic, row.manual = "graded", automatic, manual
    submitted_at, how = _submission_time(folder, lms_row)
    earned = automatic + manual
    seconds_late = 0.0
    if submitted_at is not None:
        row.submitted_at = submitted_at.isoformat(timespec="seconds")
        seconds_late = settings.seconds_late(assignment, submitted_at)
    elif how:  # an LMS late mark without a time: lms_late_days days after the grace period
        seconds_late = 86400 * settings.policy.lms_late_days + 60 * settings.policy.grace_minutes
    row.days_late = settings.policy.days_late(seconds_late)
    if row.days_late:
        # The rule nbgrader's AssignLatePenalties applies through late_penalty.CourseLatePenalty,
        # here applied to the final points (hand-graded ones included).
        percent = settings.policy.percent(row.days_late)
        row.late_penalty = settings.policy.penalty(earned, seconds_late)
        because = how or "timestamp"
        notes.append(f"late {row.days_late} day(s) ({because}): -{percent:g}%")
    row.total = round(max(0.0, earned - row.late_penalty), 2)
    row.detail = "; ".join(notes)
    return row


def _submission_time(folder: Path, lms_row: dict | None) -> tuple[datetime | None, str]:
    """``(time submitted, '')`` from the exchange's timestamp.txt, or ``(None, why late)`` from an LMS late mark."""
    stamp = folder / "timestamp.txt"
    if stamp.is_file():
        parsed = deadlines.parse_timestamp(stamp.read_text(encoding="utf-8", errors="replace"))
        if parsed is not None:
            return parsed, ""
    if lms_row and lms_row.get("status") == "imported" and lms_row.get("late") == "yes":
        return None, f"{(lms_row.get('lms') or 'the LMS').capitalize()} marked it late; counted per lms_late_days"
    return None, ""


# -- reading what the other steps wrote ---------------------------------------------------


def _read_record(path: Path) -> dict | None:
    """The autograder's result for one submission (its fields at the top or under "result"); None if unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and isinstance(data.get("result"), dict):
        data = {**data["result"], **({"submission_digest": data["submission_digest"]}
                                     if data.get("submission_digest") else {})}
    return data if isinstance(data, dict) and "status" in data else None


def _changed_since_graded(folder: Path, record: dict | None, record_path: Path) -> bool:
    """Whether ``submitted/<student>/<assignment>`` holds other content than what was last graded.

    Decided by content where the record keeps the graded submission's
    :func:`submission_digest`; else by the files' modification times (collect
    writes every file anew), never by ctime, which any chmod (``make hub``'s
    ``prepare``) moves.
    """
    if record is None:
        return True
    if record.get("submission_digest"):
        return record["submission_digest"] != submission_digest(folder)
    return _last_change(folder) > record_path.stat().st_mtime


def _last_change(folder: Path) -> float:
    """When the submission's content last changed (mtime: chmod, chown and hub restarts leave it)."""
    return max((path.lstat().st_mtime for path in [folder, *folder.rglob("*")]), default=0.0)


def _submitted_students(course: Path) -> set[str]:
    folder = course / "submitted"
    return {path.name for path in folder.iterdir() if path.is_dir() and not path.name.startswith(".")} \
        if folder.is_dir() else set()


def _assignment_points(course: Path) -> dict[str, tuple[set[str], float]]:
    """``{assignment: (grade ids of its autograded test cells, its maximum points)}`` from ``source/``."""
    import nbformat

    found = {}
    source = course / "source"
    for folder in sorted(source.iterdir()) if source.is_dir() else []:
        notebooks = sorted(folder.glob("*.ipynb")) if folder.is_dir() and not folder.name.startswith(".") else []
        if not notebooks:
            continue
        tests, total = set(), 0.0
        for path in notebooks:
            for cell in nbformat.read(path, as_version=4).cells:
                meta = cell.metadata.get("nbgrader", {})
                if meta.get("grade"):
                    total += float(meta.get("points", 0))
                    if cell.cell_type == "code" and not meta.get("solution"):
                        tests.add(meta["grade_id"])
                elif meta.get("task"):
                    total += float(meta.get("points", 0))
        found[folder.name] = (tests, total)
    return found


def _read_gradebook(course: Path) -> dict[tuple[str, str], dict]:
    """``{(assignment, student): {"cells": [...]}}`` of every submission in the gradebook."""
    database = course / "gradebook.db"
    if not database.is_file():
        return {}
    found = {}
    with roster.open_gradebook(course) as gradebook:
        for assignment in gradebook.assignments:
            for submission in assignment.submissions:
                cells = [{"name": grade.name, "score": float(grade.score or 0.0), "auto_score": grade.auto_score,
                          "manual_score": grade.manual_score, "needs_manual_grade": bool(grade.needs_manual_grade)}
                         for notebook in submission.notebooks for grade in notebook.grades]
                found[(assignment.name, submission.student.id)] = {"cells": cells}
    return found


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)  # never a half-written file


def _number(value: float) -> str:
    return f"{round(value, 2):g}"
