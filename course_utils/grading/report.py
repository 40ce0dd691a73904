"""``make report``: the instructor's view of a graded batch, one page per assignment.

For each assignment with graded notebooks, :func:`write_report` writes into
``<course>/reports/`` (never released: students get ``release/`` and
``feedback/`` only):

``<assignment>.html``
    one self-contained page (figures as base64 PNG, no script): the score
    histogram with mean, median and the number of zero, full and flagged
    submissions; one row per autograded test cell, most failed first, with its
    points, pass rate and discrimination (the correlation of the cell's score
    with the total of the other cells: near 0 or negative, the test measures
    something else than the rest, or is broken); the failure messages of each
    test grouped, with counts and links to a few graded notebooks; lateness;
    submissions ``failed``, ``timeout`` or ``flagged`` with their detail;
    grading time per submission; the most similar pairs of submissions with
    their matching code side by side (:mod:`.similarity`; it never changes a
    grade).
``<assignment>-items.csv``
    ``grade_id, points, pass_rate, discrimination``.
``<assignment>-similarity.csv``
    ``student_a, student_b, similarity, above_threshold``: every pair the page
    lists or that scores at least half the threshold.

What it reads (each through one small function, so a format change is a
one-line fix): ``grades.csv`` (:mod:`.export`), the graded notebooks
``autograded/<student>/<assignment>/*.ipynb`` (a test cell's verdict is its
output: an error output carries the failure message), the grading records
``.grading/results/<assignment>/<student>.json`` (``seconds``, ``status``,
``detail``) and the starter code (``release/``, else ``source/``).

Links to graded notebooks open them rendered (the Jupyter server's
``nbconvert/html`` page) when the report is opened from JupyterLab's file
browser, and as files when the page is opened from disk.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import os
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from . import similarity

REPORTS = "reports"
GRADES_CSV = "grades.csv"
RECORDS = Path(".grading") / "results"
EXAMPLES = 3  # graded notebooks linked per failure message
MESSAGES = 5  # failure messages shown per test cell
PAIRS_SHOWN = 10  # similar pairs shown side by side (every pair above the threshold is listed in the table)
SUBMITTED = ("graded", "flagged", "failed", "timeout")


@dataclass
class TestCell:
    grade_id: str
    points: float
    scores: dict[str, float] = field(default_factory=dict)  # student -> points earned
    failures: dict[str, str] = field(default_factory=dict)  # student -> why the cell gave less than its points


@dataclass
class ItemRow:
    grade_id: str
    points: float
    pass_rate: float
    discrimination: float  # nan when it cannot be computed (everyone passed, or fewer than 3 submissions)


@dataclass
class Report:
    assignment: str
    grades: list[dict[str, str]]
    cells: list[TestCell]
    items: list[ItemRow]
    notebooks: dict[str, list[Path]]
    seconds: dict[str, float]
    comparison: similarity.Comparison | None

    def submissions(self) -> list[dict[str, str]]:
        return [row for row in self.grades if row["status"] in SUBMITTED]


# -- reading what the other steps wrote ---------------------------------------------------

GRADE_COLUMNS = ["student_id", "assignment", "status", "automatic", "manual", "late_penalty", "total", "max",
                 "submitted_at", "days_late", "detail"]  # export.COLUMNS, not imported: the export imports nbgrader


def read_grades(course: Path, assignment: str) -> list[dict[str, str]]:
    """The rows of ``grades.csv`` for ``assignment``, every export column present (empty when the file lacks
    it; an older file's ``student`` and ``auto_score`` stand in for ``student_id`` and ``total``)."""
    path = course / GRADES_CSV
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as file:
        rows = [row for row in csv.DictReader(file) if row.get("assignment") == assignment]
    found = []
    for raw in rows:
        row = {column: raw.get(column) or "" for column in GRADE_COLUMNS}
        row["student_id"] = row["student_id"] or raw.get("student") or ""
        row["total"] = row["total"] or raw.get("auto_score") or ""
        row["max"] = row["max"] or raw.get("auto_max") or ""
        found.append(row)
    return found


def read_record(course: Path, assignment: str, student: str) -> dict:
    """The autograder's record of one submission (fields at the top or under ``result``); {} if none."""
    try:
        data = json.loads((course / RECORDS / assignment / f"{student}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    data = data.get("result", data) if isinstance(data, dict) else {}
    return data if isinstance(data, dict) else {}


def graded_notebooks(course: Path, assignment: str) -> dict[str, list[Path]]:
    """``{student: [graded notebooks]}`` from ``autograded/<student>/<assignment>/``."""
    found = {}
    for folder in sorted((course / "autograded").glob(f"*/{assignment}")):
        notebooks = sorted(path for path in folder.glob("*.ipynb") if not path.name.startswith("."))
        if notebooks and not folder.parent.name.startswith("."):
            found[folder.parent.name] = notebooks
    return found


def test_cells(notebooks: dict[str, list[Path]]) -> list[TestCell]:
    """Every autograded test cell, in notebook order, with each student's points and failure message."""
    from .layout import cell_scores, is_autograded_test

    cells: dict[str, TestCell] = {}
    for student, paths in notebooks.items():
        for path in paths:
            notebook = read_notebook(path)
            scores = cell_scores(notebook)
            for cell in notebook.cells:
                if not is_autograded_test(cell):
                    continue
                meta = cell.metadata["nbgrader"]
                item = cells.setdefault(meta["grade_id"], TestCell(meta["grade_id"], float(meta.get("points", 0))))
                item.scores[student] = scores[meta["grade_id"]]
                if scores[meta["grade_id"]] < item.points:
                    item.failures[student] = failure_message(cell)
    return list(cells.values())


def read_notebook(path: Path):
    """A graded notebook, read without nbformat's schema validation (slow; nbgrader wrote it)."""
    return similarity.read_notebook(path)


def failure_message(cell) -> str:
    """Why a test cell gave less than its points: its error (``Name: message``), else what it wrote to stderr."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            value = str(output.get("evalue", "")).strip()
            return f"{output.get('ename', 'Error')}: {value}" if value else str(output.get("ename", "Error"))
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            return "wrote to stderr: " + "".join(output.get("text", "")).strip().splitlines()[0][:200]
    return "no points, no error shown (partial credit or not run)"


def grading_seconds(course: Path, assignment: str, students) -> dict[str, float]:
    found = {}
    for student in students:
        seconds = read_record(course, assignment, student).get("seconds")
        if isinstance(seconds, (int, float)) and seconds > 0:
            found[student] = float(seconds)
    return found


# -- statistics ---------------------------------------------------------------------------

def item_rows(cells: list[TestCell]) -> list[ItemRow]:
    """One row per test cell, most failed first (then in notebook order)."""
    students = sorted({student for cell in cells for student in cell.scores})
    rows = []
    for cell in cells:
        graded = [s for s in students if s in cell.scores]
        passed = sum(cell.scores[s] >= cell.points for s in graded) if graded else 0
        item = [cell.scores.get(s, 0.0) for s in students]
        rest = [sum(other.scores.get(s, 0.0) for other in cells if other is not cell) for s in students]
        rows.append(ItemRow(cell.grade_id, cell.points, passed / len(graded) if graded else math.nan,
                            correlation(item, rest)))
    order = {cell.grade_id: index for index, cell in enumerate(cells)}
    return sorted(rows, key=lambda row: (row.pass_rate if not math.isnan(row.pass_rate) else 2, order[row.grade_id]))


def correlation(xs: list[float], ys: list[float]) -> float:
    """Pearson's r; nan when either side does not vary or there are fewer than 3 values."""
    if len(xs) < 3:
        return math.nan
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else math.nan


def message_groups(cell: TestCell) -> list[tuple[str, list[str]]]:
    """``[(message, students)]``, most common first; messages that differ only in numbers are one group."""
    groups: dict[str, list[str]] = defaultdict(list)
    example: dict[str, str] = {}
    for student in sorted(cell.failures):
        message = cell.failures[student]
        key = re.sub(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", "#", message)
        groups[key].append(student)
        example.setdefault(key, message)
    return sorted(((example[key], students) for key, students in groups.items()), key=lambda g: (-len(g[1]), g[0]))


def score_summary(report: Report) -> dict[str, float]:
    rows = report.submissions()
    totals = [_float(row["total"]) for row in rows]
    maximum = max((_float(row["max"]) for row in report.grades), default=0.0)
    return {"submissions": len(rows), "mean": statistics.fmean(totals) if totals else math.nan,
            "median": statistics.median(totals) if totals else math.nan, "max": maximum,
            "zero": sum(t == 0 for t in totals), "full": sum(maximum > 0 and t >= maximum for t in totals),
            "flagged": sum(row["status"] == "flagged" for row in rows),
            "missing": sum(row["status"] == "missing" for row in report.grades)}


def build_report(course: Path, assignment: str, with_similarity: bool = True) -> Report:
    course = Path(course)
    notebooks = graded_notebooks(course, assignment)
    grades = read_grades(course, assignment)
    cells = test_cells(notebooks)
    comparison = None
    if with_similarity and notebooks:
        codes = similarity.submission_codes(course, assignment, notebooks)
        comparison = similarity.similar_pairs(codes, similarity.starter_code(course, assignment))
    students = sorted({row["student_id"] for row in grades} | set(notebooks))
    return Report(assignment, grades, cells, item_rows(cells), notebooks,
                  grading_seconds(course, assignment, students), comparison)


# -- figures ------------------------------------------------------------------------------

def _png(fig) -> str:
    """A matplotlib Figure (made without pyplot: nothing to close) as a data: URL."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def score_figure(report: Report) -> str:
    from matplotlib.figure import Figure

    summary = score_summary(report)
    totals = [_float(row["total"]) for row in report.submissions()]
    fig = Figure(figsize=(6, 3))
    ax = fig.subplots()
    top = summary["max"] or max(totals, default=1.0) or 1.0
    ax.hist(totals, bins=min(20, max(5, int(top) * 2)), range=(0, top), color="#4c72b0", edgecolor="white")
    if totals:
        ax.axvline(summary["mean"], color="#dd8452", label=f"mean {summary['mean']:.2f}")
        ax.axvline(summary["median"], color="#55a868", linestyle="--", label=f"median {summary['median']:.2f}")
        ax.legend(loc="upper left")
    ax.set(xlabel=f"total points (of {top:g})", ylabel="submissions", title=f"{report.assignment}: scores")
    return _png(fig)


def time_figure(report: Report) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 2.6))
    ax = fig.subplots()
    seconds = sorted(report.seconds.values())
    ax.hist(seconds, bins=20, color="#8172b3", edgecolor="white")
    ax.set(xlabel="seconds to grade one submission", ylabel="submissions", title="grading time")
    return _png(fig)


def lateness_figure(report: Report) -> str:
    from matplotlib.figure import Figure

    days = Counter(int(_float(row["days_late"])) for row in report.submissions())
    fig = Figure(figsize=(6, 2.6))
    ax = fig.subplots()
    keys = sorted(days) or [0]
    ax.bar([str(k) for k in keys], [days.get(k, 0) for k in keys], color="#c44e52")
    ax.set(xlabel="days late", ylabel="submissions", title="lateness")
    return _png(fig)


# -- writing ------------------------------------------------------------------------------

def write_report(course: Path, assignment: str, lab_root: Path | None = None) -> tuple[Path, list[str]]:
    """Write the page and both CSV files of ``assignment``; return the page's path and the terminal summary."""
    course = Path(course).resolve()
    report = build_report(course, assignment)
    folder = course / REPORTS
    folder.mkdir(exist_ok=True)
    _write_csv(folder / f"{assignment}-items.csv", ["grade_id", "points", "pass_rate", "discrimination"],
               [[row.grade_id, f"{row.points:g}", _fraction(row.pass_rate), _fraction(row.discrimination)]
                for row in report.items])
    pairs = report.comparison.pairs if report.comparison else []
    listed = pairs[:max(PAIRS_SHOWN, sum(p.similarity >= similarity.THRESHOLD for p in pairs))]
    kept = [p for p in pairs if p in listed or p.similarity >= similarity.THRESHOLD / 2]
    _write_csv(folder / f"{assignment}-similarity.csv", ["student_a", "student_b", "similarity", "above_threshold"],
               [[p.student_a, p.student_b, f"{p.similarity:.3f}", str(p.similarity >= similarity.THRESHOLD).lower()]
                for p in kept])
    page = folder / f"{assignment}.html"
    links = NotebookLinks(course, folder, Path(lab_root).resolve() if lab_root else course.parent)
    tmp = page.with_name(page.name + ".tmp")
    tmp.write_text(render_html(report, listed, links), encoding="utf-8")
    os.replace(tmp, page)
    return page, summary_lines(report, page)


def summary_lines(report: Report, page: Path) -> list[str]:
    s = score_summary(report)
    lines = [f"{report.assignment}: {s['submissions']} submission(s), mean {s['mean']:.2f} / median "
             f"{s['median']:.2f} of {s['max']:g}; {s['zero']} zero, {s['full']} full, {s['flagged']} flagged, "
             f"{s['missing']} missing" if s["submissions"] else f"{report.assignment}: no graded submission"]
    hardest = [row for row in report.items if not math.isnan(row.pass_rate) and row.pass_rate < 1][:3]
    if hardest:
        lines.append("  most failed: " + ", ".join(f"{row.grade_id} ({row.pass_rate:.0%} pass)" for row in hardest))
    pairs = [p for p in (report.comparison.pairs if report.comparison else []) if p.similarity >= similarity.THRESHOLD]
    lines.append(f"  {len(pairs)} pair(s) at or above similarity {similarity.THRESHOLD:g}"
                 + (": " + ", ".join(f"{p.student_a}+{p.student_b} {p.similarity:.2f}" for p in pairs[:5]) if pairs else ""))
    lines.append(f"  report: {page}")
    return lines


@dataclass
class NotebookLinks:
    """Links from the page to graded notebooks: rendered by the Jupyter server whose root is ``lab_root``
    (the page is then served at ``<base>/files/<path>``), and the file itself, relative to the page."""

    course: Path
    folder: Path
    lab_root: Path

    def rendered(self, path: Path) -> str:
        try:
            page_depth = len(self.folder.relative_to(self.lab_root).parts) + 1  # + "files/"
            target = path.relative_to(self.lab_root).as_posix()
        except ValueError:
            return self.file(path)
        return "../" * page_depth + "nbconvert/html/" + _quote(target) + "?download=false"

    def file(self, path: Path) -> str:
        return _quote(os.path.relpath(path, self.folder).replace(os.sep, "/"))


def render_html(report: Report, pairs: list[similarity.Pair], links: NotebookLinks) -> str:
    e = html.escape
    s = score_summary(report)
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>{e(report.assignment)}: report</title><style>{STYLE}</style></head><body>",
             f"<h1>{e(report.assignment)}: the graded batch</h1>",
             "<p class='note'>For instructors only: this folder is never released. Similarity never changes a "
             "grade; a listed pair is a reason to look, not a verdict.</p>",
             "<h2 id='scores'>Scores</h2>"]
    if s["submissions"]:
        parts.append(f"<p>{s['submissions']} submission(s) ({s['missing']} missing): mean <b>{s['mean']:.2f}</b>, "
                     f"median <b>{s['median']:.2f}</b> of {s['max']:g}; <b>{s['zero']}</b> with zero, "
                     f"<b>{s['full']}</b> with full points, <b>{s['flagged']}</b> flagged.</p>")
    parts.append(f"<img alt='score histogram' src='{score_figure(report)}'>")

    parts.append("<h2 id='tests'>Test cells, most failed first</h2><table><tr><th>test cell</th><th>points</th>"
                 "<th>pass rate</th><th>discrimination</th></tr>")
    for row in report.items:
        parts.append(f"<tr><td><a href='#{e(row.grade_id)}'>{e(row.grade_id)}</a></td><td>{row.points:g}</td>"
                     f"<td>{_percent(row.pass_rate)}</td><td>{_fraction(row.discrimination) or 'n/a'}</td></tr>")
    parts.append("</table><p class='note'>Discrimination: the correlation of the cell's points with the total "
                 "of the other cells. Near 0 or negative: passing this test says little about the rest; check "
                 "whether it is broken. n/a: everyone scored the same.</p>")

    parts.append("<h2 id='failures'>Why tests failed</h2>")
    by_id = {cell.grade_id: cell for cell in report.cells}
    for row in report.items:
        cell = by_id[row.grade_id]
        groups = message_groups(cell)
        parts.append(f"<h3 id='{e(cell.grade_id)}'>{e(cell.grade_id)} ({len(cell.failures)} of "
                     f"{len(cell.scores)} below {cell.points:g} points)</h3>")
        if not groups:
            parts.append("<p>Every graded submission passed.</p>")
            continue
        parts.append("<table><tr><th>count</th><th>message</th><th>graded notebooks</th></tr>")
        for message, students in groups[:MESSAGES]:
            parts.append(f"<tr><td>{len(students)}</td><td><pre>{e(message[:600])}</pre></td><td>"
                         + _notebook_links(report, students[:EXAMPLES], links) + "</td></tr>")
        others = sum(len(students) for _, students in groups[MESSAGES:])
        if others:
            parts.append(f"<tr><td>{others}</td><td>{len(groups) - MESSAGES} other message(s)</td><td></td></tr>")
        parts.append("</table>")

    parts.append("<h2 id='lateness'>Lateness</h2>")
    late = [row for row in report.submissions() if _float(row["days_late"]) > 0]
    parts.append(f"<img alt='days late' src='{lateness_figure(report)}'>")
    if late:
        parts.append("<table><tr><th>student</th><th>submitted</th><th>days late</th><th>penalty</th></tr>"
                     + "".join(f"<tr><td>{e(r['student_id'])}</td><td>{e(r['submitted_at'])}</td>"
                               f"<td>{e(r['days_late'])}</td><td>{e(r['late_penalty'])}</td></tr>" for r in late)
                     + "</table>")
    else:
        parts.append("<p>No late submission.</p>")

    parts.append("<h2 id='problems'>Failed, timed out, flagged</h2>")
    problems = [row for row in report.grades if row["status"] in ("failed", "timeout", "flagged")]
    if problems:
        parts.append("<table><tr><th>student</th><th>status</th><th>detail</th><th>notebook</th></tr>"
                     + "".join(f"<tr><td>{e(r['student_id'])}</td><td>{e(r['status'])}</td>"
                               f"<td>{e(r['detail'])}</td><td>{_notebook_links(report, [r['student_id']], links)}"
                               f"</td></tr>" for r in problems) + "</table>")
    else:
        parts.append("<p>None.</p>")

    parts.append("<h2 id='time'>Grading time</h2>")
    if report.seconds:
        values = sorted(report.seconds.values())
        slowest = sorted(report.seconds.items(), key=lambda item: -item[1])[:5]
        parts.append(f"<p>{len(values)} submission(s): median {statistics.median(values):.1f} s, slowest "
                     + ", ".join(f"{e(student)} {sec:.1f} s" for student, sec in slowest) + ".</p>"
                     f"<img alt='grading time' src='{time_figure(report)}'>")
    else:
        parts.append("<p>No grading record with a time.</p>")

    parts.append(f"<h2 id='similarity'>Similar submissions (threshold {similarity.THRESHOLD:g})</h2>")
    parts.append(similarity_html(report, pairs, links))
    parts.append("</body></html>")
    return "\n".join(parts)


def similarity_html(report: Report, pairs: list[similarity.Pair], links: NotebookLinks) -> str:
    e = html.escape
    if report.comparison is None or not pairs:
        return "<p>No pair of submissions shares code beyond the starter code.</p>"
    parts = ["<p class='note'>Over the code students wrote (solution cells and cells they added), with the "
             "released starter code and code most of the class writes alike left out. Code is shown as "
             "compared: comments, docstrings and prints dropped, functions in a fixed order.</p>",
             "<table><tr><th>students</th><th>similarity</th><th></th></tr>"]
    for index, pair in enumerate(pairs):
        above = pair.similarity >= similarity.THRESHOLD
        parts.append(f"<tr class='{'above' if above else ''}'><td>"
                     + _notebook_links(report, [pair.student_a, pair.student_b], links)
                     + f"</td><td>{pair.similarity:.2f}</td><td>{'above threshold' if above else ''}"
                     + (f" <a href='#pair{index}'>code</a>" if index < PAIRS_SHOWN else "") + "</td></tr>")
    parts.append("</table>")
    for index, pair in enumerate(pairs[:PAIRS_SHOWN]):
        spans_a, spans_b = similarity.matching_regions(report.comparison, pair)
        code_a = report.comparison.codes[pair.student_a]
        code_b = report.comparison.codes[pair.student_b]
        parts.append(f"<h3 id='pair{index}'>{e(pair.student_a)} and {e(pair.student_b)}: {pair.similarity:.2f}"
                     f"</h3><div class='side'><pre>{_highlight(code_a, spans_a)}</pre>"
                     f"<pre>{_highlight(code_b, spans_b)}</pre></div>")
    return "\n".join(parts)


def _highlight(code: str, spans: list[tuple[int, int]]) -> str:
    out, at = [], 0
    for start, end in sorted(spans):
        start, end = max(start, at), min(end, len(code))
        if start >= end:
            continue
        out += [html.escape(code[at:start]), "<mark>", html.escape(code[start:end]), "</mark>"]
        at = end
    out.append(html.escape(code[at:]))
    return "".join(out)


def _notebook_links(report: Report, students: list[str], links: NotebookLinks) -> str:
    e = html.escape
    parts = []
    for student in students:
        paths = report.notebooks.get(student, [])
        if not paths:
            parts.append(e(student))
            continue
        parts.append(f"<a href='{e(links.rendered(paths[0]))}'>{e(student)}</a> "
                     f"<a class='file' href='{e(links.file(paths[0]))}'>(.ipynb)</a>")
    return ", ".join(parts)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; max-width: 75em; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { border: 1px solid #ccc; padding: 0.2em 0.5em;
vertical-align: top; text-align: left; } pre { margin: 0; white-space: pre-wrap; font-size: 0.85em; }
.note { color: #555; font-size: 0.9em; } tr.above td { background: #fde2e1; } a.file { font-size: 0.8em; }
.side { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; } .side pre { border: 1px solid #ccc;
padding: 0.5em; overflow-x: auto; } mark { background: #ffe08a; } img { max-width: 100%; }
"""


def assignments_with_grades(course: Path) -> list[str]:
    """Assignments that have graded notebooks, in order."""
    root = course / "autograded"
    return sorted({folder.name for folder in root.glob("*/*") if folder.is_dir() and not folder.name.startswith(".")}
                  ) if root.is_dir() else []


def _write_csv(path: Path, columns: list[str], rows: list[list[str]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows(rows)
    os.replace(tmp, path)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path)


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _fraction(value: float) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.3f}"


def _percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.0%}"
