"""``make report``: the instructor's page and CSV files of a graded batch, checked against a generated one.

The batch (tests/grading/generated_class.py) is what ``make autograde`` leaves
behind: graded notebooks whose failing test cells hold an error output,
``grades.csv`` in the export's columns, and grading records. Its students have
an ability and its tests a difficulty; one test passes at random (a broken
test), three submissions are ``failed``, ``timeout`` and ``flagged``, every
fifth is late, and three students copied another. No nbgrader run is needed.
"""
from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import io
import math
import re
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin

import numpy as np
import pytest

import generated_class
from course_utils.grading import similarity
from course_utils.grading.__main__ import main
from course_utils.grading.report import build_report, message_groups

# A generated graded batch is written and reported.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENT = "tanh"
BROKEN = "test_tanh_module"
STATUSES = {"tanh_s001": "failed", "tanh_s002": "timeout", "tanh_s003": "flagged"}


@dataclass
class Batch:
    course: Path
    planted: set[frozenset[str]]
    printed: str = ""
    unchanged: bool = False


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Batch:
    """A graded batch of 14 independent students and 3 copiers, reported with ``python -m ... report``."""
    course = tmp_path_factory.mktemp("report") / "assignments"
    (course / "source").mkdir(parents=True)
    shutil.copy(REPO / "assignments" / "nbgrader_config.py", course)
    shutil.copytree(REPO / "assignments" / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT)
    notebooks, planted = generated_class.make_class(ASSIGNMENT, independent=14, copies=3, seed=11)
    generated_class.grade_class(course, ASSIGNMENT, notebooks, seed=5, statuses=STATUSES, broken=BROKEN)
    with open(course / "grades.csv", "a", newline="", encoding="utf-8") as file:  # rostered, never submitted
        csv.writer(file).writerow(["nobody", ASSIGNMENT, "missing", "0", "0", "0", "0", "10", "", "", "no submission"])
    before = snapshot(course)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["report", "--course", str(course)]) == 0
    return Batch(course, planted, printed.getvalue(), snapshot(course) == before)


@pytest.fixture(scope="module")
def course(batch) -> Path:
    return batch.course


def snapshot(course: Path) -> dict[str, str]:
    """A hash of every file but the reports: the grades, the records, the graded notebooks."""
    return {str(path.relative_to(course)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(course.rglob("*")) if path.is_file() and "reports" not in path.parts}


def page(course: Path) -> str:
    return (course / "reports" / f"{ASSIGNMENT}.html").read_text(encoding="utf-8")


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_make_report_writes_a_page_two_csv_files_and_a_summary(batch, course):
    """Does the report step write reports/<assignment>.html, -items.csv and -similarity.csv and print a summary?"""
    for name in (f"{ASSIGNMENT}.html", f"{ASSIGNMENT}-items.csv", f"{ASSIGNMENT}-similarity.csv"):
        assert (course / "reports" / name).is_file(), name
    printed = batch.printed
    assert f"{ASSIGNMENT}: 17 submission(s)" in printed and "1 flagged, 1 missing" in printed
    assert "most failed:" in printed and f"report: {course / 'reports' / ASSIGNMENT}.html" in printed


def test_the_page_is_self_contained_with_every_figure_embedded(course):
    """No script, nothing fetched from elsewhere; every figure a PNG embedded in the page."""
    html = page(course)
    assert "<script" not in html.lower()
    assert not re.search(r"(src|href)=['\"](https?:)?//", html), "the page loads something from elsewhere"
    sources = re.findall(r"<img [^>]*src='([^']+)'", html)
    assert len(sources) == 3  # scores, lateness, grading time
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        png = base64.b64decode(source.split(",", 1)[1])
        width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and width > 100 and height > 100


def test_items_are_the_test_cells_most_failed_first_with_item_rest_correlation(course):
    """Pass rate and discrimination of every test cell, computed here again from the graded notebooks."""
    items = rows(course / "reports" / f"{ASSIGNMENT}-items.csv")
    assert list(items[0]) == ["grade_id", "points", "pass_rate", "discrimination"]
    notebooks = sorted((course / "autograded").glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"))
    scores = {}  # grade_id -> points of each student, in one order
    for path in notebooks:
        for cell in generated_class.nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
                failed = any(output.output_type == "error" for output in cell.outputs)
                scores.setdefault(meta["grade_id"], []).append(0.0 if failed else float(meta["points"]))
    assert sorted(item["grade_id"] for item in items) == sorted(scores)
    rates = [float(item["pass_rate"]) for item in items]
    assert rates == sorted(rates), "most failed first"
    for item in items:
        own = np.array(scores[item["grade_id"]])
        rest = sum(np.array(points) for grade_id, points in scores.items() if grade_id != item["grade_id"])
        assert float(item["pass_rate"]) == pytest.approx(np.mean(own > 0), abs=1e-3)
        expected = np.corrcoef(own, rest)[0, 1] if own.std() > 0 else math.nan
        if math.isnan(expected):
            assert item["discrimination"] == ""
        else:
            assert float(item["discrimination"]) == pytest.approx(expected, abs=1e-3)
    by_id = {item["grade_id"]: float(item["discrimination"] or "nan") for item in items}
    assert by_id[BROKEN] < min(value for grade_id, value in by_id.items() if grade_id != BROKEN and value == value)


def test_failures_are_grouped_by_message_with_counts_and_links(course):
    """Messages that differ only in their numbers are one group; counts add up; links reach the notebooks."""
    report = build_report(course, ASSIGNMENT, with_similarity=False)
    for cell in report.cells:
        groups = message_groups(cell)
        assert sum(len(students) for _, students in groups) == len(cell.failures)
        assert len(groups) <= len(generated_class.FAILURES["default"])
    html = page(course)
    files = re.findall(r"<a class='file' href='([^']+)'", html)
    assert files
    for href in files:
        assert (course / "reports" / unquote(href)).resolve().is_file(), href
    rendered = re.findall(r"<a href='([^']*nbconvert/html/[^']+)'", html)
    assert rendered
    for href in rendered:  # served by JupyterLab at /files/<path from its root>; its root is the repository
        url = urljoin(f"http://lab/files/assignments/reports/{ASSIGNMENT}.html", unquote(href))
        path = url.removeprefix("http://lab/nbconvert/html/").removesuffix("?download=false")
        assert url.startswith("http://lab/nbconvert/html/assignments/autograded/")
        assert (course.parent / path).is_file(), path


def test_lateness_and_failed_timeout_flagged_submissions_are_listed_with_detail(course):
    html = page(course)
    for student, status in STATUSES.items():
        assert re.search(rf"<td>{student}</td><td>{status}</td><td>[^<]+</td>", html), student
    late = [row for row in rows(course / "grades.csv") if row["days_late"]]
    assert late
    for row in late:
        assert f"<td>{row['student_id']}</td><td>{row['submitted_at']}</td><td>{row['days_late']}</td>" in html


def test_similarity_lists_the_copies_above_the_threshold_and_nothing_else(batch, course):
    """Every planted pair above the threshold, no pair of independent students; every pair scoring half the
    threshold or more is in the CSV, with a similarity in [0, 1]."""
    found = rows(course / "reports" / f"{ASSIGNMENT}-similarity.csv")
    assert list(found[0]) == ["student_a", "student_b", "similarity", "above_threshold"]
    above = {frozenset((row["student_a"], row["student_b"])) for row in found if row["above_threshold"] == "true"}
    donors = {}  # copier -> the student copied
    for pair in batch.planted:
        copier, donor = sorted(pair, key=lambda student: "_c" not in student)
        donors[copier] = donor
    same_source = {frozenset((a, b)) for a in donors for b in donors if a < b and donors[a] == donors[b]}
    assert above == batch.planted | same_source, "above the threshold: the planted pairs and copiers of one source"
    for row in found:
        assert 0.0 <= float(row["similarity"]) <= 1.0
        assert (row["above_threshold"] == "true") == (float(row["similarity"]) >= similarity.THRESHOLD)
    assert any(float(row["similarity"]) < similarity.THRESHOLD for row in found)  # the half-threshold band
    html = page(course)
    assert html.count("<div class='side'>") >= len(batch.planted) and "<mark>" in html


def test_the_report_changes_no_grade(batch):
    """grades.csv, the grading records and the graded notebooks are byte for byte as before."""
    assert batch.unchanged


def test_students_get_nothing_of_the_reports(course):
    """The student edition (released homework, lectures, package) holds no file of reports/ and none of
    its text; the reports folder is git-ignored."""
    from course_utils.grading.student_edition import edition_files

    release = course / "release" / ASSIGNMENT
    release.mkdir(parents=True, exist_ok=True)
    generated_class.nbformat.write(generated_class.build_notebook(ASSIGNMENT, []), release / f"{ASSIGNMENT}.ipynb")
    files = dict(edition_files(REPO, course, [ASSIGNMENT]))
    assert files and not [name for name in files if "reports" in Path(name).parts or name.endswith(".csv")]
    marker = b"the graded batch"
    assert marker in (course / "reports" / f"{ASSIGNMENT}.html").read_bytes()
    assert not [name for name, data in files.items() if marker in data]
    assert "/assignments/reports/" in (REPO / ".gitignore").read_text().splitlines()


def test_grades_are_read_through_one_function_that_fills_every_column(tmp_path):
    """A grades.csv of an older format (student, auto_score) still gives rows with the export's columns."""
    from course_utils.grading.report import GRADE_COLUMNS, read_grades

    (tmp_path / "grades.csv").write_text("student,assignment,status,auto_score,auto_max,manual_max,detail\n"
                                         "ann,tanh,graded,7,10,4,\nbob,other,graded,1,10,0,\n")
    assert read_grades(tmp_path, "tanh") == [{**{column: "" for column in GRADE_COLUMNS}, "student_id": "ann",
                                              "assignment": "tanh", "status": "graded", "total": "7", "max": "10"}]
    from course_utils.grading.export import COLUMNS
    assert GRADE_COLUMNS == COLUMNS
