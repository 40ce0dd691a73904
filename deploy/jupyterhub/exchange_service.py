"""The course's exchange: ngshare, run by JupyterHub as the hub service ``ngshare``.

Students fetch, submit and fetch feedback through it with nbgrader's own
commands and the *Assignments* tab (the ``ngshare_exchange`` plugin, set in
``roles/*/nbgrader_config.py``); ``make release/collect/feedback`` talk to it
with :mod:`course_utils.grading.exchange_service`. What it guarantees, and why
the shared exchange folder cannot (nbgrader #1097, #1104, #1225, #659):

* every request carries a JupyterHub token and ngshare asks the hub whose it
  is (``/hub/api/user``): a submission is filed under that name, whatever the
  client says; only the course's instructors read submissions;
* a submission's time is the server's clock on receipt (ngshare's
  ``Submission``: ``datetime.now(timezone.utc)``), not the student's
  ``timestamp.txt``;
* files are stored as bytes in the service's own folder and database
  (``HUB_STATE_DIR/exchange/``, root only): no student folder, no links.

This launcher adds what ngshare 0.6.0 lacks for a class on one machine: it
listens on loopback only (ngshare itself binds 0.0.0.0), caps a request's body
(``EXCHANGE_MAX_REQUEST_BYTES``) and a student's stored bytes per course
(``EXCHANGE_MAX_STUDENT_BYTES``), and answers 401 rather than 500 to a request
without a valid token. It also fixes ngshare 0.6.0 under SQLAlchemy 2: a new
assignment or submission was never added to the database session (it relied
on the backref cascade that SQLAlchemy 2 removed), so releases and
submissions were answered "success" and lost.

    python exchange_service.py --database sqlite:///… --storage DIR --admins a,b
"""
from __future__ import annotations

import argparse
import os
import sys
from collections import namedtuple
from urllib.parse import urlparse

MAX_REQUEST_BYTES = int(os.environ.get("EXCHANGE_MAX_REQUEST_BYTES", 64 << 20))  # base64: ~48 MB of files
MAX_STUDENT_BYTES = int(os.environ.get("EXCHANGE_MAX_STUDENT_BYTES", 512 << 20))  # all submissions of a course


def max_files() -> int:
    """Files in one submission: the limit collect applies (safe_files), so the service stores no more."""
    from course_utils.grading.safe_files import LIMITS

    return LIMITS.files


def check_upload(handler, json_str, limit: int | None) -> None:
    """Refuse, before anything is written, an upload of over ``limit`` files or with a name open() cannot take.

    Counted here, not by ngshare: its one thread writes every file (50,000
    empty files stall every other request for many seconds) and the byte quota
    does not see empty files. A NUL in a name made ngshare's open() fail after
    it had written the files before it.
    """
    import json

    try:
        entries = json.loads(json_str) if json_str is not None else None
    except ValueError:
        return  # ngshare answers 400
    if not isinstance(entries, list):
        return
    if limit is not None and len(entries) > limit:
        handler.json_error(413, f"the submission has {len(entries)} files, over the limit of {limit}")
    for entry in entries:
        path = entry.get("path") if isinstance(entry, dict) else None
        if isinstance(path, str) and "\x00" in path:
            handler.json_error(400, "Illegal path")


def unpack_or_remove(ngshare):
    """ngshare's json_files_unpack, but a failed upload leaves no file in storage.

    ngshare writes the files one by one and only then commits the rows: a
    failure half-way (a name open() refuses, a full disk) left the files
    written so far in storage, owned by no row and counted by no quota.
    """
    original = ngshare.MyHelpers.json_files_unpack

    def json_files_unpack(self, json_str, target):
        created = []
        create = self.filename_create

        def filename_create(filename):
            created.append(create(filename))
            return created[-1]

        self.filename_create = filename_create
        try:
            original(self, json_str, target)
        except BaseException:
            self.db.rollback()
            for name in created:
                if not self.db.query(ngshare.File).filter(ngshare.File.actual_name == name).count():
                    try:
                        os.unlink(os.path.join(self.application.storage_path, name))
                    except FileNotFoundError:
                        pass
            raise
        finally:
            del self.filename_create
        return None

    return json_files_unpack


def stored_bytes(handler, course, user) -> int:
    """What ``user`` has stored in ``course`` so far (all their submissions' files)."""
    from ngshare.database import Submission

    total = 0
    for assignment in course.assignments:
        for submission in handler.db.query(Submission).filter(Submission.assignment == assignment,
                                                              Submission.student == user):
            total += sum(file.size or 0 for file in submission.files)
    return total


def harden(ngshare) -> None:
    """ngshare's handlers with a token required everywhere and a per-student storage quota."""
    base = ngshare.MyRequestHandler
    original_prepare = base.prepare

    def prepare(self):
        original_prepare(self)
        if self.user is None and not isinstance(self, (ngshare.JupyterHubLoginHandler,)):
            self.json_error(401, "a JupyterHub token is required")

    base.prepare = prepare
    ngshare.MyHelpers.json_files_unpack = unpack_or_remove(ngshare)

    def submit(self, course_id, assignment_id):
        """ngshare's SubmitAssignment.post, with the quota, and the submission added to the session.

        ngshare 0.6.0 relies on SQLAlchemy 1.x's backref cascade to save a new
        Submission (``self.assignment = assignment``); SQLAlchemy 2 dropped
        it, and the submission was silently lost. Same for a new Assignment.
        """
        course = self.find_course(course_id)
        self.check_course_user(course)
        body = len(self.request.body or b"")
        used = stored_bytes(self, course, self.user)
        if used + body > MAX_STUDENT_BYTES:
            self.json_error(413, f"over your storage for this course ({used} bytes stored, limit "
                                 f"{MAX_STUDENT_BYTES}): ask your instructor")
        files = self.get_body_argument("files", None)
        check_upload(self, files, max_files())
        assignment = self.find_assignment(course, assignment_id)
        submission = ngshare.Submission(self.user, assignment)  # stamped with the server's clock, in UTC
        self.db.add(submission)
        self.json_files_unpack(files, submission.files)
        self.db.commit()
        self.json_success(timestamp=self.strftime(submission.timestamp))

    def release(self, course_id, assignment_id):
        """ngshare's DownloadReleaseAssignment.post, with the new assignment added to the session."""
        course = self.find_course(course_id)
        self.check_course_instructor(course)
        if self.db.query(ngshare.Assignment).filter(ngshare.Assignment.id == assignment_id,
                                                    ngshare.Assignment.course == course).one_or_none():
            self.json_error(409, "Assignment already exists")
        files = self.get_argument("files", None)
        check_upload(self, files, None)
        assignment = ngshare.Assignment(assignment_id, course)
        self.db.add(assignment)
        self.json_files_unpack(files, assignment.files)
        self.db.commit()
        self.json_success()

    ngshare.SubmitAssignment.post = submit
    ngshare.DownloadReleaseAssignment.post = release


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--storage", required=True)
    parser.add_argument("--admins", default="")
    args = parser.parse_args(argv)

    from ngshare import dbutil
    from ngshare import ngshare
    from tornado.httpserver import HTTPServer
    from tornado.ioloop import IOLoop

    os.umask(0o077)
    os.makedirs(args.storage, mode=0o700, exist_ok=True)
    dbutil.upgrade(args.database, cmd_opts=namedtuple("CmdOpts", ["x"])(["data=true", f"storage={args.storage}"]))
    harden(ngshare)
    prefix = os.environ["JUPYTERHUB_SERVICE_PREFIX"]
    app = ngshare.MyApplication(prefix, args.database, args.storage,
                                admin=[name for name in args.admins.split(",") if name], autoreload=False)
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    server = HTTPServer(app, max_body_size=MAX_REQUEST_BYTES)
    server.listen(url.port, url.hostname or "127.0.0.1")
    print(f"exchange (ngshare) on {url.geturl()}{prefix}, admins {args.admins or 'none'}", file=sys.stderr,
          flush=True)
    IOLoop.current().start()


if __name__ == "__main__":
    main()
