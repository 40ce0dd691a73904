"""``python -m course_utils.grading release|autograde|feedback``: what the make targets run.

Run from the repository root (or pass ``--course``). ``--timeout`` and
``--kernel`` override nbgrader_config.py for one autograde run.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .pipeline import GradingError, GradingOptions, autograde, feedback, release


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.grading", description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=["release", "autograde", "feedback"])
    parser.add_argument("--course", type=Path, default=Path("assignments"),
                        help="the nbgrader course root (default: assignments)")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at a time (autograde)")
    parser.add_argument("--timeout", type=int, default=None,
                        help="seconds per notebook cell (autograde; default: Execute.timeout of nbgrader_config.py)")
    parser.add_argument("--kernel", default=None, help="kernelspec that runs the submissions (autograde)")
    args = parser.parse_args(argv)

    course = args.course.resolve()
    if not (course / "nbgrader_config.py").is_file():
        parser.error(f"{course} is no nbgrader course (no nbgrader_config.py): "
                     "run from the repository root or pass --course")
    if args.jobs < 1:
        parser.error("--jobs must be 1 or more")
    options = GradingOptions(timeout=args.timeout, kernel_name=args.kernel)
    try:
        if args.step == "release":
            release(course, options=options)
        elif args.step == "autograde":
            results = autograde(course, jobs=args.jobs, options=options)
            ungraded = [r for r in results if r.status != "graded"]
            print(f"{len(results)} submission(s), {len(ungraded)} not graded; grades in {course / 'grades.csv'}")
        else:
            feedback(course, options=options)
    except GradingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
