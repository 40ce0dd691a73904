"""``python -m course_utils.grading STEP``: what the make targets run, in a class's order.

    release          release/ from source/ (and to the exchange, when there is one)
    collect          submissions from the exchange, or from an LMS zip (--zip)
    autograde        grade submitted/ in the sandbox, then export (grades.csv, grades_wide.csv) and report
    feedback         feedback/ pages (and to the exchange, when there is one)
    export           grades.csv and grades_wide.csv from the gradebook
    report           reports/<assignment>.html (+ -items.csv, -similarity.csv): the instructor's view of a batch
    student-edition  dist/student/: what students get, without solutions or hidden tests

Run from the repository root (or pass ``--course``). Every step imports the
roster (``assignments/roster.csv``) and the due dates (``assignments/course.toml``)
into nbgrader's gradebook first. The exchange is used when ``COURSE_EXCHANGE``
is set or nbgrader's default exchange folder exists.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

STEPS = ["release", "collect", "autograde", "feedback", "export", "report", "student-edition"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.grading", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.split("\n")[2:10]))
    parser.add_argument("step", choices=STEPS)
    parser.add_argument("--course", type=Path, default=Path("assignments"),
                        help="the nbgrader course root (default: assignments)")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at a time (autograde)")
    parser.add_argument("--timeout", type=int, default=None,
                        help="seconds per notebook cell (autograde; default: Execute.timeout of nbgrader_config.py)")
    parser.add_argument("--kernel", default=None, help="kernelspec that runs the submissions (autograde)")
    parser.add_argument("--zip", type=Path, default=None, help="an LMS download to import (collect)")
    parser.add_argument("--assignment", default=None,
                        help="the assignment the zip holds (collect; default: recognised from the notebooks); "
                             "the one to report (report; default: every graded one)")
    parser.add_argument("--out", type=Path, default=Path("dist/student"),
                        help="where the student edition goes (student-edition)")
    args = parser.parse_args(argv)

    if args.step == "student-edition":
        from .student_edition import EditionError, build

        try:
            build(Path.cwd(), args.out.resolve(), args.course.resolve())
        except EditionError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        return 0
    course = args.course.resolve()
    if not (course / "nbgrader_config.py").is_file():
        parser.error(f"{course} is no nbgrader course (no nbgrader_config.py): "
                     "run from the repository root or pass --course")
    if args.jobs < 1:
        parser.error("--jobs must be 1 or more")
    if args.zip is not None and args.step != "collect":
        parser.error("--zip is for the collect step")

    from .nbgrader_cli import collection_paused

    with collection_paused():  # what every step imports (nbgrader, through the roster and the pipeline)
        from .deadlines import SettingsError
        from .exchange import ExchangeError
        from .exchange_service import ServiceError
        from .lms import LmsImportError
        from .pipeline import GradingError
        from .roster import RosterError

    errors = (SettingsError, ExchangeError, ServiceError, LmsImportError, RosterError, GradingError)
    try:
        return STEP_FUNCTIONS[args.step](course, args)
    except errors as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _prepare_gradebook(course: Path) -> None:
    """Put the roster's students and course.toml's due dates into the gradebook (it is created if missing)."""
    from .deadlines import load_settings
    from .roster import import_into_gradebook, load_roster

    students = load_roster(course)  # read (and checked) first: a broken roster stops before anything is written
    settings = load_settings(course)
    import_into_gradebook(course, students)
    if settings.due and (course / "gradebook.db").exists():
        from datetime import timezone

        from .roster import open_gradebook

        with open_gradebook(course) as gradebook:
            known = {assignment.name for assignment in gradebook.assignments}
            for name, due in settings.due.items():
                if name in known:
                    gradebook.update_or_create_assignment(
                        name, duedate=due.astimezone(timezone.utc).replace(tzinfo=None))


def _options(args):
    from .pipeline import GradingOptions

    return GradingOptions(timeout=args.timeout, kernel_name=args.kernel)


def _release(course: Path, args) -> int:
    from . import exchange, exchange_service
    from .pipeline import release

    names = release(course, options=_options(args))
    _prepare_gradebook(course)
    if exchange_service.service_configured():
        from .roster import load_roster

        service = exchange_service.ExchangeService()
        service.ensure_course(load_roster(course))
        for name in names:
            outcome = service.release(name, course / "release" / name)
            print(f"{name}: {outcome} in the exchange service {service.url}")
    elif exchange.exchange_configured():
        exchange.release_assignments(course, names)
    else:
        print(f"no exchange ({exchange.ENV_VAR} unset, {exchange.DEFAULT_ROOT} absent): "
              f"students get release/ another way (an LMS, the student edition)")
    return 0


def _collect(course: Path, args) -> int:
    import os

    from . import exchange, exchange_service
    from .roster import load_roster

    if os.geteuid() == 0:
        # Collect reads what students wrote: as root a link or a special file could reach anything.
        print("error: make collect does not run as root: run it as an instructor (a member of the "
              "instructors' group), in a terminal of your JupyterLab on the hub", file=sys.stderr)
        return 1
    students = load_roster(course)
    if args.zip is None and exchange_service.service_configured():
        from .pipeline import assignment_names

        service = exchange_service.ExchangeService()
        service.ensure_course(students)
        rostered = {student.student_id for student in students}
        for name in [args.assignment] if args.assignment else assignment_names(course):
            report = service.collect(course, name)
            print("\n".join(report.lines()))
            have = set(report.collected) | set(report.unchanged)
            absent = sorted(rostered - have)
            if absent:
                print(f"{name}: no submission yet: {', '.join(absent)}")
    elif args.zip is not None:
        from .lms import import_zip

        report = import_zip(course, args.zip, students, args.assignment)
        print("\n".join(report.lines()))
        print(f"every file's outcome: {course / 'collected' / (report.assignment + '.csv')}")
    elif exchange.exchange_configured():
        from .pipeline import assignment_names

        names = [args.assignment] if args.assignment else assignment_names(course)
        rostered = {student.student_id for student in students}
        for name, collected in exchange.collect(course, names).items():
            strangers = sorted(set(collected) - rostered) if rostered else []
            absent = sorted(rostered - set(collected))
            print(f"{name}: {len(collected)} submission(s) in {course / 'submitted'} from the exchange"
                  + (f"; not on the roster: {', '.join(strangers)}" if strangers else "")
                  + (f"; no submission yet: {', '.join(absent)}" if absent else ""))
    else:
        print(f"error: nothing to collect from: set {exchange.ENV_VAR} to the exchange folder, or import an "
              "LMS download with make collect ZIP=path/to/submissions.zip", file=sys.stderr)
        return 1
    _prepare_gradebook(course)
    return 0


def _autograde(course: Path, args) -> int:
    from .pipeline import autograde

    _prepare_gradebook(course)
    results = autograde(course, jobs=args.jobs, options=_options(args))
    ungraded = [r for r in results if r.status != "graded"]
    print(f"{len(results)} submission(s) graded now or before, {len(ungraded)} without a grade")
    # grades.csv always has one format: the export's (roster, late penalties, hand grading, reviewed flags).
    return _export(course, args) or _report(course, args)


def _feedback(course: Path, args) -> int:
    from . import exchange, exchange_service
    from .pipeline import feedback

    pages = feedback(course, options=_options(args))
    if exchange_service.service_configured():
        service = exchange_service.ExchangeService()
        for name in sorted({page.parent.name for page in pages}):
            students = service.release_feedback(course, name)
            print(f"{name}: feedback released to the exchange service for {len(students)} student(s)")
    elif exchange.exchange_configured():
        names = exchange.release_feedback(course, sorted({page.parent.name for page in pages}))
        print(f"feedback released to the exchange {exchange.exchange_root()} for {', '.join(names) or 'nothing'}")
    return 0


def _export(course: Path, args) -> int:
    from collections import Counter

    from .export import GRADES_CSV, GRADES_WIDE_CSV, write_grades

    _prepare_gradebook(course)
    rows = write_grades(course)
    counts = Counter(row.status for row in rows)
    print(f"{len(rows)} row(s) ({', '.join(f'{n} {s}' for s, n in sorted(counts.items())) or 'none'}): "
          f"{course / GRADES_CSV}, {course / GRADES_WIDE_CSV}")
    return 0


def _report(course: Path, args) -> int:
    from .report import assignments_with_grades, write_report

    names = [args.assignment] if args.assignment else assignments_with_grades(course)
    for name in names:
        _, lines = write_report(course, name)
        print("\n".join(lines))
    if not names:
        print(f"no graded notebooks in {course / 'autograded'}: nothing to report (run make autograde)")
    return 0


STEP_FUNCTIONS = {"release": _release, "collect": _collect, "autograde": _autograde, "feedback": _feedback,
                  "export": _export, "report": _report}


if __name__ == "__main__":
    from .nbgrader_cli import skip_unused_modules

    skip_unused_modules()  # the IRI parser that nbformat's validation would import: ~1 s of every step
    sys.exit(main())
