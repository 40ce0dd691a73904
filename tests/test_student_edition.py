"""``make student-edition``: what students get holds the course and nothing of the instructor's.

The edition is built from this repository's lectures and package and a copy
of ``assignments/`` (the build releases the homework into the copy, never
into ``assignments/``). The leak scan here is written independently of the
builder's own check (it reads the written folder and archive), so the two
cannot share a blind spot; both take the course's markers and regions from
``course_utils.grading.markers``, which ``tests/grading/test_markers.py``
checks against nbgrader's own release.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from course_utils.grading.markers import HIDDEN, MARK_SCHEME, SOLUTION, Markers
from course_utils.grading.student_edition import EditionError, build, find_leaks, notebook_imports

REPO = Path(__file__).resolve().parents[1]
MARKERS = Markers.for_course(REPO / "assignments")


# Building the edition releases the homework with nbgrader; one test pip-installs the package.
pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def course_copy(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("instructor") / "assignments"
    course.mkdir()
    shutil.copy(REPO / "assignments" / "nbgrader_config.py", course)
    shutil.copytree(REPO / "assignments" / "source", course / "source",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return course


@pytest.fixture(scope="module")
def edition(course_copy, tmp_path_factory) -> Path:
    return build(REPO, tmp_path_factory.mktemp("dist") / "student", course_copy)


def notebook_text(path: Path) -> str:
    """Cells and text outputs as a student sees them (not JSON-escaped)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    parts = []
    for cell in notebook["cells"]:
        parts.append("".join(cell["source"]))
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            parts += ["".join(value) for key, value in output.get("data", {}).items() if key.startswith("text/")]
    return "\n".join(parts)


def secret_lines() -> set[str]:
    """Lines inside the source notebooks' solution, hidden-test and mark-scheme regions, not shown elsewhere."""
    inside_lines, outside_lines = set(), set()
    for path in (REPO / "assignments" / "source").glob("*/*.ipynb"):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            inside_lines |= {line.strip() for line in MARKERS.lines_in(source, SOLUTION, HIDDEN, MARK_SCHEME)}
            outside_lines |= {line.strip() for line in MARKERS.without(source, SOLUTION, HIDDEN, MARK_SCHEME)
                              .splitlines()}
    for path in (REPO / "lectures").glob("*.ipynb"):
        outside_lines |= {line.strip() for line in notebook_text(path).splitlines()}
    return {line for line in inside_lines - outside_lines if len(line) >= 20}


def every_file(edition: Path) -> dict[str, str]:
    """Every file of the edition folder and of its archive, as text."""
    files = {}
    for path in edition.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            files[path.relative_to(edition).as_posix()] = text + (
                "\n" + notebook_text(path) if path.suffix == ".ipynb" else "")
    with tarfile.open(edition.with_name(edition.name + ".tar.gz")) as archive:
        for member in archive.getmembers():
            if member.isfile():
                files["archive:" + member.name] = archive.extractfile(member).read().decode("utf-8", "replace")
    return files


def test_the_edition_holds_lectures_homework_package_and_readme(edition):
    """Lectures, released homework, the package, its pyproject and a README: are they all there, and archived?"""
    lectures = sorted(path.name for path in (REPO / "lectures").glob("*.ipynb"))
    assert sorted(path.name for path in (edition / "lectures").glob("*.ipynb")) == lectures
    homework = sorted(path.name for path in (REPO / "assignments" / "source").iterdir() if path.is_dir())
    assert sorted(path.name for path in (edition / "homework").iterdir()) == homework
    for name in homework:
        assert list((edition / "homework" / name).glob("*.ipynb"))
    assert (edition / "pyproject.toml").is_file() and (edition / "course_utils" / "__init__.py").is_file()
    with tarfile.open(edition.with_name("student.tar.gz")) as archive:
        archived = {member.name for member in archive.getmembers() if member.isfile()}
    assert archived == {f"student/{path.relative_to(edition).as_posix()}" for path in edition.rglob("*")
                        if path.is_file()}


def test_no_solution_hidden_test_or_mark_scheme_in_any_file(edition):
    """Does no file (nor the archive) hold a marker, a line of a solution, hidden test or mark scheme?"""
    secrets = secret_lines()
    assert len(secrets) > 20, "the source notebooks should have solutions and hidden tests to look for"
    leaks = []
    for name, text in every_file(edition).items():
        leaks += [f"{name}: {marker}" for marker in MARKERS.all() if marker in text]
        lines = {line.strip() for line in text.splitlines()}
        leaks += [f"{name}: {line}" for line in secrets & lines]
    assert not leaks, "\n".join(leaks[:20])


def test_no_instructor_file_in_the_edition(edition):
    """No gradebook, no source/ folder, no grading machinery (pipeline, sandbox, exports)?"""
    names = [path.relative_to(edition).as_posix() for path in edition.rglob("*")]
    assert not [name for name in names if "gradebook" in name or "source/" in name or "submitted" in name
                or "reports" in name.split("/")]
    assert not (edition / "course_utils" / "grading" / "pipeline.py").exists()
    assert not (edition / "course_utils" / "grading" / "export.py").exists()
    for path in (edition / "course_utils").rglob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+nbgrader\b", path.read_text(encoding="utf-8"), re.M), path


def test_the_instructors_reports_count_as_a_leak():
    """Is a class report (``reports/<assignment>.html`` and its CSVs) refused wherever it would ride along?"""
    files = {"homework/hw1_tanh/reports/hw1_tanh.html": b"<html>scores</html>",
             "reports/hw1_tanh-similarity.csv": b"student_a,student_b,similarity,above_threshold\n",
             "homework/hw1_tanh/hw1_tanh.ipynb": b"{}"}
    leaks = find_leaks(files, set())
    assert sorted(leaks) == ["homework/hw1_tanh/reports/hw1_tanh.html: an instructor's file or folder",
                             "reports/hw1_tanh-similarity.csv: an instructor's file or folder"]


def test_the_builder_refuses_to_leak(edition, course_copy, tmp_path):
    """With a solution line planted in a lecture, does the build stop and write nothing?"""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "lectures", repo / "lectures")
    shutil.copytree(REPO / "course_utils", repo / "course_utils", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", repo)
    course = repo / "assignments"
    shutil.copytree(course_copy, course, ignore=shutil.ignore_patterns("gradebook.db"))
    secret = sorted(secret_lines())[0]
    lecture = sorted((repo / "lectures").glob("*.ipynb"))[0]
    notebook = json.loads(lecture.read_text(encoding="utf-8"))
    notebook["cells"][0]["source"] = [f"### {MARKERS.begin_solution}\n", secret]
    lecture.write_text(json.dumps(notebook), encoding="utf-8")
    with pytest.raises(EditionError, match="leak"):
        build(repo, tmp_path / "out", course, release_first=False)  # released by the edition fixture
    assert not (tmp_path / "out").exists()


def test_the_package_installs_on_its_own_and_has_what_the_notebooks_import(edition, tmp_path):
    """pip-installed from the edition alone: does every course_utils module the notebooks import load from it?"""
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--target", str(target), str(edition)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    modules = sorted({name for path in edition.rglob("*.ipynb") for name in notebook_imports(path)
                      if name.startswith("course_utils") and (target / name.replace(".", "/")).with_suffix(".py")
                      .exists() or (target / name.replace(".", "/") / "__init__.py").exists()})
    assert "course_utils" in modules and len(modules) > 3, modules
    code = ("import importlib, sys\nimport course_utils\n"
            f"assert course_utils.__file__.startswith({str(target)!r}), course_utils.__file__\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            "assert 'nbgrader' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr


def test_the_readme_sets_up_and_opens_in_two_commands(edition):
    """Does the student README give one command to install and one to open JupyterLab?"""
    readme = (edition / "README.md").read_text(encoding="utf-8")
    block = readme.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(block) == 2
    assert "pip install" in block[0] and ".[course]" in block[0]
    assert "jupyter lab" in block[1]
    assert "deep-learning-course" in readme
