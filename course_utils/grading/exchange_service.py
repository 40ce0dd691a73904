"""The instructor's side of the exchange service (ngshare, a JupyterHub service): release, collect, feedback.

On the course's hub (``make hub``) the exchange is not a folder but the hub
service ``ngshare`` (deploy/jupyterhub/exchange_service.py). Every request
carries a JupyterHub token; the service asks the hub whose it is, files each
submission under that user and stamps it with its own clock. Its address is
``COURSE_EXCHANGE_URL`` (set in every server by the hub) and the instructor's
token ``JUPYTERHUB_API_TOKEN`` (set in their server: run the course's commands
in a terminal of the instructor's JupyterLab).

``collect`` takes each student's latest submission from the service and
writes it into ``submitted/<student>/<assignment>/`` as data: paths and sizes
checked (:mod:`.safe_files`), a ``timestamp.txt`` from the service's time
(a student's own ``timestamp.txt`` is dropped), the whole folder replaced in
one rename. A submission that breaks a rule is quarantined with the reason;
the rest of the class is collected.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import pwd
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import safe_files
from .roster import RosterError, Student, check_student_id

URL_ENV = "COURSE_EXCHANGE_URL"
TOKEN_ENV = "JUPYTERHUB_API_TOKEN"
COURSE_ID = "deep-learning-course"
TIMESTAMP_FILE = "timestamp.txt"
SOURCE_FILE = ".exchange-source"  # which service submission a folder holds: collect skips what it has
TIMEOUT_S = 120


class ServiceError(RuntimeError):
    """The exchange service refused or failed a request; the message says what it answered."""


def service_configured() -> bool:
    return bool(os.environ.get(URL_ENV))


@dataclass
class CollectReport:
    assignment: str
    collected: list[str] = field(default_factory=list)  # new or changed submissions written now
    unchanged: list[str] = field(default_factory=list)  # the latest submission was already in submitted/
    quarantined: dict[str, str] = field(default_factory=dict)  # student -> why not collected

    def lines(self) -> list[str]:
        out = [f"{self.assignment}: {len(self.collected)} submission(s) collected from the exchange service, "
               f"{len(self.unchanged)} unchanged"]
        if self.quarantined:
            out.append(f"QUARANTINED, not collected ({len(self.quarantined)}; see quarantine/{self.assignment}/):")
            out += [f"  {student}: {why}" for student, why in sorted(self.quarantined.items())]
        return out


class ExchangeService:
    """A client of ngshare's REST API with one user's token."""

    def __init__(self, url: str | None = None, token: str | None = None, course_id: str = COURSE_ID):
        self.url = (url or os.environ.get(URL_ENV) or "").rstrip("/")
        self.token = token or os.environ.get(TOKEN_ENV) or ""
        self.course_id = course_id
        if not self.url:
            raise ServiceError(f"{URL_ENV} is not set: the exchange service's address (the hub sets it in "
                               "every server; run the course's commands in a terminal of your JupyterLab on the hub)")
        if not self.token:
            raise ServiceError(f"{TOKEN_ENV} is not set: the exchange service needs your JupyterHub token (the "
                               "hub sets it in your server; run the course's commands in its terminal)")

    def request(self, method: str, path: str, data: dict | None = None, params: dict | None = None) -> dict:
        url = self.url + urllib.parse.quote(path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                answer = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            try:
                answer = json.loads(error.read().decode("utf-8"))
            except ValueError:
                raise ServiceError(f"{method} {path}: HTTP {error.code}") from None
        except (OSError, ValueError) as error:
            raise ServiceError(f"the exchange service at {self.url} did not answer {method} {path}: {error}") from None
        if not answer.get("success"):
            raise ServiceError(f"{method} {path}: {answer.get('message', 'failed')}")
        return answer

    # -- the course and its people ----------------------------------------------------------

    def ensure_course(self, students: Iterable[Student]) -> None:
        """Create the course (the caller becomes its instructor) if missing; enrol the roster's students."""
        if self.course_id not in self.request("GET", "/courses")["courses"]:
            me = os.environ.get("JUPYTERHUB_USER") or pwd.getpwuid(os.getuid()).pw_name
            self.request("POST", f"/course/{self.course_id}", {"instructors": json.dumps([me])})
        rows = [{"username": check_student_id(s.student_id), "first_name": s.first_name, "last_name": s.last_name,
                 "email": s.email} for s in students]
        if rows:
            answer = self.request("POST", f"/students/{self.course_id}", {"students": json.dumps(rows)})
            refused = [row for row in answer.get("status", []) if not row.get("success")]
            if refused:
                raise ServiceError("the exchange refused to enrol " + ", ".join(
                    f"{row['username']} ({row.get('message')})" for row in refused))

    # -- release ----------------------------------------------------------------------------

    def release(self, assignment: str, folder: Path) -> str:
        """Release ``folder``'s files as ``assignment``; returns 'released', 'unchanged' or raises.

        A released assignment is not replaced: ngshare would delete its
        submissions with it. Releasing the same files again is a no-op.
        """
        files = _folder_files(folder)
        try:
            listed = self.request("GET", f"/assignment/{self.course_id}/{assignment}", params={"list_only": "true"})
        except ServiceError:
            listed = None
        if listed is not None:
            ours = {name: hashlib.md5(data).hexdigest() for name, data in files}
            theirs = {entry["path"]: entry["checksum"] for entry in listed["files"]}
            if ours == theirs:
                return "unchanged"
            raise ServiceError(f"{assignment} was released before with other files; replacing it would delete "
                               "the students' submissions in the exchange. Release it under a new name, or "
                               "remove it from the exchange (ngshare DELETE /assignment) if nobody submitted")
        self.request("POST", f"/assignment/{self.course_id}/{assignment}", {"files": _encode(files)})
        return "released"

    # -- collect ----------------------------------------------------------------------------

    def latest_submissions(self, assignment: str) -> dict[str, str]:
        """``{student: the service's time of their latest submission}``."""
        answer = self.request("GET", f"/submissions/{self.course_id}/{assignment}")
        latest: dict[str, str] = {}
        for entry in answer.get("submissions", []):
            student, stamp = entry["student_id"], entry["timestamp"]
            if student not in latest or _parse(stamp) > _parse(latest[student]):
                latest[student] = stamp
        return latest

    def collect(self, course: Path, assignment: str) -> CollectReport:
        """Each student's latest submission into ``submitted/<student>/<assignment>/``; see the module's docstring."""
        report = CollectReport(assignment)
        for student, stamp in sorted(self.latest_submissions(assignment).items()):
            try:
                check_student_id(student, "the exchange's student id")
            except RosterError as error:
                report.quarantined[repr(student)] = str(error)
                continue
            folder = Path(course) / "submitted" / student / assignment
            source = f"{stamp}"
            if _read_small(folder / SOURCE_FILE) == source:
                report.unchanged.append(student)
                continue
            earlier = safe_files.quarantined(course, assignment, sources=True).get(student)
            if earlier and earlier[0] == f"exchange {stamp}":  # this very submission was refused before
                report.quarantined[student] = earlier[1]
                continue
            try:
                answer = self.request("GET", f"/submission/{self.course_id}/{assignment}/{student}",
                                      params={"timestamp": stamp})
                files = safe_files.check_files(_decode(answer["files"]))
                # The time is the service's, never a file of the student's.
                files = [(path, data) for path, data in files if str(path) not in (TIMESTAMP_FILE, SOURCE_FILE)]
                for path, _ in files:
                    if path.parts[0] in (TIMESTAMP_FILE, SOURCE_FILE):  # a folder where collect writes its file
                        raise safe_files.Rejected(f"file name {str(path)!r} is inside a folder named like "
                                                  f"collect's own {path.parts[0]}")
                if not any(path.suffix == ".ipynb" for path, _ in files):
                    raise safe_files.Rejected("the submission holds no notebook")
                files += [(safe_files.check_path(TIMESTAMP_FILE), timestamp_text(stamp).encode()),
                          (safe_files.check_path(SOURCE_FILE), source.encode())]
                try:
                    safe_files.replace_folder(folder, files)
                except (FileExistsError, NotADirectoryError, IsADirectoryError) as error:
                    # names the checks let through but the file system refuses: this submission's problem, not
                    # the class's (a full disk, EACCES ... still stop collect: they are the grader's)
                    raise safe_files.Rejected(f"its files cannot be written as named: {error.strerror}") from None
            except (safe_files.Rejected, ServiceError, KeyError, TypeError, ValueError) as error:
                safe_files.quarantine(course, assignment, student, str(error), f"exchange {stamp}")
                report.quarantined[student] = str(error)
                continue
            report.collected.append(student)
        return report

    # -- feedback ---------------------------------------------------------------------------

    def release_feedback(self, course: Path, assignment: str) -> list[str]:
        """Upload ``feedback/<student>/<assignment>/*.html`` of submissions that came through the service."""
        released = []
        for page_folder in sorted((Path(course) / "feedback").glob(f"*/{assignment}")):
            student = page_folder.parent.name
            submitted = Path(course) / "submitted" / student / assignment
            stamp = _read_small(submitted / SOURCE_FILE)
            if not stamp:
                continue  # not from the service (an LMS zip): its feedback goes back through the LMS
            files = [(path.name, path.read_bytes()) for path in sorted(page_folder.glob("*.html"))]
            if not files:
                continue
            self.request("POST", f"/feedback/{self.course_id}/{assignment}/{student}",
                         {"timestamp": stamp, "files": _encode(files)})
            released.append(student)
        return released


def timestamp_text(stamp: str) -> str:
    """nbgrader's ``timestamp.txt`` for the service's time (UTC, which ngshare writes without a zone)."""
    return _parse(stamp).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _parse(stamp: str) -> datetime:
    text = stamp.strip().removesuffix("UTC").strip()
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)


def _folder_files(folder: Path) -> list[tuple[str, bytes]]:
    return [(str(path.relative_to(folder)), path.read_bytes()) for path in sorted(Path(folder).rglob("*"))
            if path.is_file() and ".ipynb_checkpoints" not in path.parts]


def _encode(files: list[tuple[str, bytes]]) -> str:
    return json.dumps([{"path": name, "content": base64.b64encode(data).decode()} for name, data in files])


def _decode(entries) -> list[tuple[str, bytes]]:
    if not isinstance(entries, list):
        raise safe_files.Rejected("the service's answer holds no file list")
    return [(entry["path"], base64.b64decode(entry["content"], validate=False)) for entry in entries]


def _read_small(path: Path) -> str:
    try:
        if path.is_symlink() or not path.is_file():
            return ""
        return path.read_text(encoding="utf-8")[:200].strip()
    except OSError:
        return ""
