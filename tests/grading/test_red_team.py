"""Can a student who read the course's source earn points for wrong code? (issue 23, the red-team battery)

Every trick of ``red_team_tricks`` is graded beside its wrong code alone: one
course, ONE autograde run with four workers over both homeworks. The rule: a
trick is flagged for a person, or it scores no more than the same wrong code
without it; a trick against the forbidden-call rule may earn what a correct
function earns (issue 23, item 4). A table of every trick's points is printed
(``pytest -s``) and written to ``red_team.json`` in the course's folder
(and to ``$RED_TEAM_TABLE`` if set); ``RED_TEAM_ONLY=name,name`` grades a subset.
It is slow: 85 submissions took 424 s with two workers on a 2-core machine
whose load average was 15-18 (other test runs beside it); results and how they
were measured are in ``red_team/README.md``.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import pytest
import torch

from course_utils.grading import sandbox
from course_utils.grading.pipeline import GradingOptions, autograde
from red_team_tricks import AUGMENTATION, TANH, UNPICKLED_MARKER, Trick, tricks

CELL_TIMEOUT = 20  # seconds per cell here: bounds the tricks that hog time
# After a cell timed out, nbgrader interrupts the kernel and waits this long for its last output (the course
# waits 30 s): a trick whose kernel never answers again (clears_and_fakes_outputs) costs CELL_TIMEOUT plus this.
IOPUB_TIMEOUT = 10
OPTIONS = GradingOptions(timeout=CELL_TIMEOUT, nbgrader_args=(f"--Execute.iopub_timeout={IOPUB_TIMEOUT}",))
# Four workers on two cores: many tricks wait (sleeps, dead kernels, time limits), so two leave the cores idle
# (the battery: 144 s with two, 88 s with four, one after the other at load average 3-4).
JOBS = 4


def todays_tanh_inputs() -> list[torch.Tensor]:
    """The inputs of test_tanh_forward_values and test_tanh_forward_stable, hidden ones too, as the source
    fixed them before issue 23 (8ba4f0b): a table of answers for them is a trick of that design."""
    stable = (-1e4, -1000.0, -100.0, -20.0, 20.0, 100.0, 1000.0, 1e4)
    f32 = [44.0, 44.5, 88.0, 88.8, 89.0, 1e30, 3.4e38, float("inf")]
    f64 = [354.0, 355.0, 709.0, 709.8, 710.0, 1e300, 1.7e308, float("inf")]
    return [
        torch.linspace(-4, 4, 17, dtype=torch.float64),
        3 * torch.randn(1000, dtype=torch.float64, generator=torch.Generator().manual_seed(2024)),
        torch.tensor([0.0, -0.0, 5e-324, -1e-300, 1e-100, -1e-20, 1e-12, -1e-8, 1e-5, -1e-3], dtype=torch.float64),
        torch.tensor(stable, dtype=torch.float32), torch.tensor(stable, dtype=torch.float64),
        torch.tensor(f32 + [-v for v in f32], dtype=torch.float32),
        torch.tensor(f64 + [-v for v in f64], dtype=torch.float64),
    ]


def hidden_tanh_table() -> dict[float, float]:
    """{x: tanh(x)} for today's inputs: what a student computes offline and pastes into the notebook."""
    return {x: y for inputs in todays_tanh_inputs()
            for x, y in zip(inputs.tolist(), torch.tanh(inputs).tolist())}


TRICKS = {trick.name: trick for trick in tricks(hidden_tanh_table())}
if os.environ.get("RED_TEAM_ONLY"):  # a comma-separated subset, to rerun a few tricks while working on them
    TRICKS = {name: TRICKS[name] for name in os.environ["RED_TEAM_ONLY"].split(",")}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def sandboxed(monkeypatch_module):
    """Grade in the sandbox where it works (as `make autograde` does); report whether it is on."""
    try:
        sandbox.check_sandbox()
    except sandbox.SandboxUnavailable:
        monkeypatch_module.setenv(sandbox.SWITCH_ENV, "off")
    return sandbox.sandbox_enabled()


def submission(trick_or_wrong, answers_of, release_of) -> tuple[nbformat.NotebookNode, dict[str, str]]:
    """The released notebook with the correct answers, the wrong ones over them, then the trick's changes."""
    trick = trick_or_wrong if isinstance(trick_or_wrong, Trick) else None
    wrong = trick.wrong if trick else trick_or_wrong
    answers = {**answers_of[wrong.homework], **wrong.answers, **(trick.answers if trick else {})}
    notebook = nbformat.from_dict(json.loads(json.dumps(release_of[wrong.homework])))
    ids = [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in notebook.cells]
    for cell, grade_id in zip(notebook.cells, ids):
        if grade_id in answers:
            cell.source = answers[grade_id]
    for where, source in (trick.cells if trick else ()):
        solution = [i for i, cell in enumerate(notebook.cells) if cell.metadata.get("nbgrader", {}).get("solution")]
        index = {"start": solution[0], "end": len(notebook.cells)}.get(where)
        if index is None:
            index = ids.index(where.removeprefix("after:")) + 1
        notebook.cells.insert(index, nbformat.v4.new_code_cell(source))
    if trick and trick.metadata:
        trick.metadata(notebook)
    return notebook, dict(trick.files) if trick else {}


def alone_student(trick: Trick) -> str:
    return f"alone-{trick.wrong.name}"


def trick_student(trick: Trick) -> str:
    return f"trick-{trick.name}"


@pytest.fixture(scope="module")
def battery(make_released_course, source_answers, sandboxed):
    """Every trick and every wrong code alone, graded in one autograde run (JOBS=4); {student: result}."""
    course = make_released_course(TANH, AUGMENTATION)
    answers_of = {name: source_answers(course, name) for name in (TANH, AUGMENTATION)}
    release_of = {name: nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
                  for name in (TANH, AUGMENTATION)}
    students = {trick_student(trick): trick for trick in TRICKS.values()}
    students.update({alone_student(trick): trick.wrong for trick in TRICKS.values()})
    for student, what in students.items():
        notebook, files = submission(what, answers_of, release_of)
        folder = course / "submitted" / student / what.homework
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / f"{what.homework}.ipynb")
        for name, text in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
    for trick in TRICKS.values():
        Path(UNPICKLED_MARKER.format(name=trick.name)).unlink(missing_ok=True)

    started = time.monotonic()
    results = {r.student: r for r in autograde(course, jobs=JOBS, options=OPTIONS)}
    seconds = time.monotonic() - started
    table = [{"trick": trick.name, "homework": trick.homework, "wrong": trick.wrong.name,
              "alone": results[alone_student(trick)].auto_score, "with_trick": results[trick_student(trick)].auto_score,
              "status": results[trick_student(trick)].status, "alone_status": results[alone_student(trick)].status,
              "max": results[trick_student(trick)].auto_max, "forbidden_call": trick.forbidden_call,
              "detail": results[trick_student(trick)].detail[:300]} for trick in TRICKS.values()]
    report = json.dumps({"seconds": seconds, "sandboxed": sandboxed, "tricks": table}, indent=1)
    (course.parent / "red_team.json").write_text(report)
    if os.environ.get("RED_TEAM_TABLE"):  # a copy that outlives pytest's temporary folders
        Path(os.environ["RED_TEAM_TABLE"]).write_text(report)
    print(f"\nred-team battery: {len(results)} submissions graded in {seconds:.0f} s with JOBS={JOBS} "
          f"({'sandbox' if sandboxed else 'no sandbox'}); table in {course.parent / 'red_team.json'}")
    for row in table:
        print(f"  {row['trick']:<36} {row['homework']:<12} alone {row['alone']:>5}  trick {row['with_trick']:>5}"
              f"  {row['status']}")
    return results


@pytest.mark.skipif(bool(os.environ.get("RED_TEAM_ONLY")), reason="a subset of the battery was asked for")
def test_battery_covers_both_homeworks():
    """Are there at least 25 tricks, 8 of them on homework 2?"""
    assert len(TRICKS) >= 25
    assert sum(trick.homework == AUGMENTATION for trick in TRICKS.values()) >= 8


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TRICKS))
def test_trick_earns_nothing_unless_flagged(battery, name):
    """Does the trick score no more than its wrong code alone, unless the submission is flagged for a person?"""
    trick = TRICKS[name]
    alone, tricked = battery[alone_student(trick)], battery[trick_student(trick)]
    assert alone.status == "graded", f"the wrong code alone must be graded: {alone.status} {alone.detail}"
    if tricked.status == "flagged":
        return
    ceiling = tricked.auto_max if trick.forbidden_call else alone.auto_score
    assert tricked.auto_score <= ceiling, (
        f"{trick.tries}: {tricked.auto_score} points with the trick, {alone.auto_score} alone, "
        f"status {tricked.status}: {tricked.cell_scores} vs {alone.cell_scores}")


@pytest.mark.slow
def test_nothing_the_kernel_sent_was_unpickled(battery):
    """Did any process outside the kernel run the code a returned object's __reduce_ex__ carries?"""
    assert not Path(UNPICKLED_MARKER.format(name="reduce_runs_code")).exists()
