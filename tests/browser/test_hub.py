"""The class on JupyterHub, end to end through the pages (``make hub``'s configuration).

As root only: the hub logs real Unix users in with PAM and starts each one's
server as that user. The test creates a roster with one student, creates the
users with ``course_hub.py add-users`` (as an instructor would), starts the hub
with ``course_hub.py start`` (what ``make hub`` runs) on a copy of the course,
and then, in the browser:

1. the instructor logs in and, from a terminal, releases the homework and
   fills the shared notMNIST cache (``course_hub.py fetch-data``);
2. the student logs in, sees the homework in the *Assignments* tab, fetches
   homework 1, writes the answers, validates and submits (all through the
   hub's exchange service, ngshare: no shared exchange folder exists);
3. the instructor collects and autogrades (the course's sandboxed pipeline),
   opens the submission in Formgrader (in its JupyterLab tab, framed by the
   instructor's own server), grades the written answer by hand, releases
   feedback and exports the grades;
4. the student fetches the feedback in the *Assignments* tab and opens it:
   no line of the hidden tests is on the page.
"""
from __future__ import annotations

import csv
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from course_servers import BIN, OPEN_DOCUMENT, SCREENSHOTS, copy_course, free_port, stop, wait_for_http, wait_for_lab
from homework import automatic_points, hidden_test_lines, solution_cells, total_points
from lab_pages import ROOT, save, set_cell_source
from unix_users import delete_user, kill_hub_leftovers, top_level_permissions_kept

COURSE_HUB = ROOT / "deploy" / "jupyterhub" / "course_hub.py"
HOMEWORK = "tanh"  # homework 1, with the written answer graded by hand
STEP_TIMEOUT_S = 300


def why_no_hub() -> str | None:
    if os.geteuid() != 0:
        return "the hub test creates Unix users and starts servers as them: run as root (CI does)"
    missing = [tool for tool in ("useradd", "userdel", "groupadd", "groupdel", "chpasswd", "unshare")
               if shutil.which(tool) is None]
    if missing:
        return f"the hub test needs {', '.join(missing)}"
    if subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode != 0:
        # course_hub.py start needs it where Python lives in a private folder (pyenv under /root)
        return "the hub test needs mount namespaces (unshare --mount), which this machine refuses"
    return None


class Class:
    """The hub and its people for one test."""

    def __init__(self, url, folder, course, student, instructor, passwords, groups):
        self.url, self.folder, self.course = url, folder, course
        self.student, self.instructor, self.passwords, self.groups = student, instructor, passwords, groups


@pytest.fixture
def hub_class(browser):
    reason = why_no_hub()
    if reason:
        pytest.skip(reason)
    tag = secrets.token_hex(3)
    student, instructor = f"stu{tag}", f"ins{tag}"
    groups = {"COURSE_STUDENTS_GROUP": f"students{tag}", "COURSE_INSTRUCTORS_GROUP": f"instructors{tag}"}
    folder = Path(shared_folder())
    course = copy_course(folder / "course")
    with open(course / "assignments" / "roster.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "first_name", "last_name", "email", "lms_id"])
        writer.writerow([student, "Ada", "Student", f"{student}@example.org", "1001"])
    (folder / "logs").mkdir(mode=0o1777)
    (folder / "logs").chmod(0o1777)
    port = free_port()
    environment = {**os.environ, **groups, "HUB_PORT": str(port), "HUB_STATE_DIR": str(folder / "state"),
                   "COURSE_ROOT": str(course),
                   "COURSE_DATA_DIR": str(folder / "data"),
                   "HUB_SERVER_ARGS": "--LabApp.expose_app_in_browser=True",
                   "PATH": f"{BIN}:{os.environ['PATH']}"}
    process = None
    kept = top_level_permissions_kept(COURSE_HUB.parents[2])  # make hub's prepare closes the repository
    kept.__enter__()
    try:
        subprocess.run([sys.executable, str(COURSE_HUB), "add-users", str(course / "assignments" / "roster.csv"),
                        "--instructor", instructor], env=environment, check=True, capture_output=True, text=True)
        passwords = dict(line.split(",", 1) for line in
                         (folder / "state" / "initial-passwords.csv").read_text().split())
        log = folder / "hub.log"
        with open(log, "wb") as output:
            process = subprocess.Popen([sys.executable, str(COURSE_HUB), "start"], env=environment, cwd=folder,
                                       stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_http(f"http://127.0.0.1:{port}/hub/login", process, log, timeout=120, any_status=False)
        yield Class(f"http://127.0.0.1:{port}", folder, course, student, instructor, passwords, groups)
    finally:
        if process is not None:
            stop(process)
        kill_hub_leftovers(folder / "state")  # what the hub left running (a service, its proxy)
        for name in (student, instructor):
            delete_user(name)
        for group in groups.values():
            subprocess.run(["groupdel", group], capture_output=True)
        kept.__exit__(None, None, None)
        keep_logs(folder)
        shutil.rmtree(folder, ignore_errors=True)


def keep_logs(folder: Path) -> None:
    """Keep the hub's log and the output of the instructor's commands next to the screenshots."""
    kept = SCREENSHOTS / "hub-logs"
    shutil.rmtree(kept, ignore_errors=True)
    kept.mkdir(parents=True)
    if (folder / "logs").is_dir():
        shutil.copytree(folder / "logs", kept, dirs_exist_ok=True)
    if (folder / "hub.log").is_file():
        shutil.copy(folder / "hub.log", kept / "hub.log")


def shared_folder() -> str:
    """A folder every user can enter (pytest's tmp_path is private to root)."""
    folder = tempfile.mkdtemp(prefix="course-hub-test-")
    os.chmod(folder, 0o755)
    return folder


def log_in(page, hub, name, password, shots):
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", password)
    shots(page, f"login-{name}")
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{name}/lab**", timeout=240_000)
    page.wait_for_function("window.jupyterapp !== undefined", timeout=120_000)
    page.evaluate("() => window.jupyterapp.started")
    shots(page, f"lab-{name}")


def command(page, name: str, args=None):
    return page.evaluate("([name, args]) => window.jupyterapp.commands.execute(name, args || {})", [name, args])


class Terminal:
    """A JupyterLab terminal of the instructor: commands are typed, their exit status read from a file."""

    def __init__(self, page, hub):
        self.page, self.hub, self.count = page, hub, 0
        self.id = page.evaluate("async () => (await window.jupyterapp.commands.execute('terminal:create-new')).id")
        self.screen = page.locator(f"[id='{self.id}'] .xterm-screen")
        self.screen.wait_for()
        time.sleep(1)

    def start(self, shell_command: str, step: str):
        """Type ``shell_command`` into the terminal; returns what :meth:`wait` needs."""
        self.count += 1
        output = self.hub.folder / "logs" / f"{self.count:02d}-{step}"
        self.page.evaluate("(id) => window.jupyterapp.shell.activateById(id)", self.id)
        self.screen.click()
        self.page.keyboard.type(f'cd "$COURSE_ROOT" && {{ {shell_command} ; }} > {output}.log 2>&1; '
                                f'echo $? > {output}.rc\n')
        return shell_command, output

    def wait(self, started, shots, step: str) -> str:
        """Wait until the command finished; fail with its output unless it exited 0."""
        shell_command, output = started
        deadline = time.monotonic() + STEP_TIMEOUT_S
        rc = Path(f"{output}.rc")
        while not rc.exists() or not rc.read_text().strip():
            assert time.monotonic() < deadline, f"{shell_command} did not finish in {STEP_TIMEOUT_S} s"
            time.sleep(0.5)
        shots(self.page, step)
        text = Path(f"{output}.log").read_text()
        assert rc.read_text().strip() == "0", f"{shell_command} failed:\n{text[-3000:]}"
        return text

    def run(self, shell_command: str, shots, step: str) -> str:
        return self.wait(self.start(shell_command, step), shots, step)


def assignment_list(page, shots, step):
    """Open the Assignments tab (or bring it to the front and refresh it) and wait until its lists are loaded."""
    opened = page.locator("#refresh_assignments_list").count() > 0
    command(page, "nbgrader:open-assignment-list")
    if opened:
        page.locator("#refresh_assignments_list").click()
    for name in ("released", "fetched", "submitted"):
        page.locator(f"#{name}_assignments_list_loading").wait_for(state="hidden")
    shots(page, step)


def test_a_class_on_the_hub_end_to_end(hub_class, new_page, shots):
    """Can a student fetch, validate and submit homework 1 on the hub, the instructor grade it
    (automatic and by hand in Formgrader) and release feedback, and the student read it without
    seeing the hidden tests?"""
    hub = hub_class
    source = ROOT / "assignments" / "source" / HOMEWORK / f"{HOMEWORK}.ipynb"

    # 1. The instructor releases the homework (their server starts in the course).
    teacher = new_page()
    log_in(teacher, hub, hub.instructor, hub.passwords[hub.instructor], shots)
    terminal = Terminal(teacher, hub)
    # ... and fills the shared notMNIST cache once, for every student's lecture 07,
    release = terminal.start(f"python -m course_utils.grading release && python {COURSE_HUB} fetch-data",
                             "instructor-release-and-fetch-data")

    # 2. while the student logs in (their server starts).
    learner = new_page()
    log_in(learner, hub, hub.student, hub.passwords[hub.student], shots)
    terminal.wait(release, shots, "instructor-release-and-fetch-data")
    data = hub.folder / "data"
    assert (data / "notMNIST_small" / "A").is_dir()
    assert all(path.stat().st_mode & 0o004 for path in data.rglob("*")), "students cannot read the cache"
    assert not data.stat().st_mode & 0o002, "students could write into the shared cache"
    # solutions and hidden tests: not even listable for students; no folder that students share
    assert not (hub.course / "assignments").stat().st_mode & 0o007
    assert not (hub.folder / "exchange").exists()

    # The student: Assignments tab, fetch, answer, validate, submit.
    assert learner.locator("#jp-mainmenu-nbgrader li[data-command='nbgrader:open-formgrader']").count() == 0
    assignment_list(learner, shots, "student-assignments")
    released = learner.locator("#released_assignments_list > .list_item")
    # the list may still be empty while its loading line has not shown yet (its "no assignments" placeholder
    # shows before loading too): wait for an item
    released.first.wait_for(timeout=60_000)
    listed = [released.nth(i).locator(".item_name").inner_text().strip() for i in range(released.count())]
    assert sorted(listed) == sorted(path.name for path in (ROOT / "assignments" / "source").iterdir()
                                    if path.is_dir()), f"the Assignments tab lists {listed}"
    released.filter(has=learner.locator(".item_name", has_text=HOMEWORK)).locator(".item_status button").click()
    learner.locator("#fetched_assignments_list > .list_item").first.wait_for()
    shots(learner, "student-fetched")
    notebook = Path(f"/home/{hub.student}") / HOMEWORK / f"{HOMEWORK}.ipynb"
    assert notebook.is_file(), f"fetching did not put {notebook} in the student's home"
    learner.evaluate(OPEN_DOCUMENT, f"{HOMEWORK}/{HOMEWORK}.ipynb")  # as a double click in the file browser does
    wait_for_lab(learner, f"{HOMEWORK}/{HOMEWORK}.ipynb")
    for index, text in solution_cells(notebook, source):
        set_cell_source(learner, index, text)
    save(learner)
    learner.locator("jp-button.validate-button").click()
    dialog = learner.locator(".nbgrader-SuccessDialog, .nbgrader-ErrorDialog")
    dialog.wait_for(timeout=240_000)
    shots(learner, "student-validated")
    assert "Success! Your notebook passes all the tests." in dialog.inner_text(), dialog.inner_text()[:3000]
    dialog.locator("button.jp-Dialog-button").click()
    assignment_list(learner, shots, "student-before-submit")
    fetched = learner.locator("#fetched_assignments_list > .list_item")
    fetched.filter(has=learner.locator(".item_name", has_text=HOMEWORK)).locator(
        '.item_status button:text("Submit")').first.click()
    learner.locator(f"[id^='nbgrader-'][id$='{HOMEWORK}-submissions'] > .list_item").nth(1).wait_for()
    shots(learner, "student-submitted")

    # 3. The instructor collects and autogrades with the course's pipeline (sandboxed).
    graded = terminal.run("python -m course_utils.grading collect && python -m course_utils.grading autograde",
                          shots, "instructor-collect-and-autograde")
    points = automatic_points(source)
    assert re.search(rf"{HOMEWORK}/{hub.student}: graded {points:g}/{points:g} ", graded), (
        f"the solved homework did not get all {points:g} automatic points:\n{graded[-2000:]}")

    # Formgrader in its JupyterLab tab (an iframe of the instructor's own server). Only
    # instructors' servers may be framed, and only by their own origin; the hub's pages
    # and students' servers may not be framed at all.
    policies = {
        "instructor's server": teacher.request.get(f"{hub.url}/user/{hub.instructor}/formgrader/"),
        "student's server": learner.request.get(f"{hub.url}/user/{hub.student}/lab"),
        "hub": learner.request.get(f"{hub.url}/hub/home"),
    }
    policies = {name: response.headers.get("content-security-policy", "") for name, response in policies.items()}
    assert "frame-ancestors 'self'" in policies["instructor's server"], policies
    assert "frame-ancestors 'none'" in policies["student's server"], policies
    assert "frame-ancestors 'none'" in policies["hub"], policies
    command(teacher, "nbgrader:open-formgrader")
    frame_element = teacher.locator("iframe").last
    frame_element.wait_for()
    formgrader = frame_element.content_frame
    formgrader.locator("ol.breadcrumb").first.wait_for(timeout=60_000)
    shots(teacher, "formgrader-tab")
    # Each click navigates the frame; wait for the next page's own table header before the
    # next click, or a locator can resolve on the page being left (its rows also have
    # `td.name a`, naming the homework) and click the wrong link.
    formgrader.locator("a:text-is('Manual Grading')").first.click()
    formgrader.locator("th:text-is('Assignment ID')").wait_for(timeout=60_000)
    formgrader.locator(f"td.name a:text-is('{HOMEWORK}')").first.click()
    formgrader.locator("th:text-is('Notebook ID')").wait_for(timeout=60_000)
    formgrader.locator("td.name a").first.click()
    formgrader.locator("th:text-is('Submission ID')").wait_for(timeout=60_000)
    formgrader.locator("a:text-is('Submission #1')").first.click()
    score = formgrader.locator("input.score#written_answer")
    score.wait_for(timeout=60_000)
    answer_cell = formgrader.locator(".nbgrader_cell", has=score)
    # MathJax (served by the instructor's server) typeset the answer's formula
    answer_cell.locator(".MathJax, .MathJax_CHTML, mjx-container").first.wait_for(timeout=60_000)
    assert "$" not in answer_cell.locator(".text_cell_render").inner_text()
    score.fill("2")
    score.press("Tab")
    formgrader.locator(".score-saved:visible").first.wait_for(timeout=30_000)
    shots(teacher, "formgrader-manual-grade")

    terminal.run("python -m course_utils.grading feedback && python -m course_utils.grading export",
                 shots, "instructor-feedback-and-export")
    rows = [row for row in csv.DictReader(open(hub.course / "assignments" / "grades.csv"))
            if row["student_id"] == hub.student and row["assignment"] == HOMEWORK]
    assert rows, "grades.csv has no row for the student's homework 1"
    assert float(rows[0]["manual"]) == 2, f"the manual grade did not reach grades.csv: {rows[0]}"

    # 4. The student fetches the feedback and opens it.
    assignment_list(learner, shots, "student-feedback-available")
    learner.locator('.item_status button:text("Fetch Feedback")').first.click()
    view = learner.locator("a:text('view feedback')").first
    view.wait_for(timeout=60_000)
    view.click()  # the file browser goes to the feedback folder
    report = learner.locator(".jp-DirListing-item", has_text=f"{HOMEWORK}.html").first
    report.wait_for(timeout=60_000)
    report.dblclick()
    feedback = learner.locator(".jp-HTMLViewer iframe").last
    feedback.wait_for(timeout=60_000)
    # the viewer's iframe is attached before its page is written into it: wait for the score line
    feedback.content_frame.locator(f"text={HOMEWORK} (Score:").first.wait_for(timeout=60_000)
    page_text = feedback.content_frame.locator("body").inner_text(timeout=60_000)
    shots(learner, "student-feedback")
    released_text = notebook.read_text()
    html = next(Path(f"/home/{hub.student}", HOMEWORK, "feedback").rglob(f"{HOMEWORK}.html")).read_text()
    # the automatic points plus the instructor's 2 for the written answer
    assert f"{HOMEWORK} (Score: {points + 2:.1f} / {total_points(source):.1f})" in page_text, page_text[:500]
    for shown in (page_text, html):
        leaked = [line for line in hidden_test_lines(source) if line not in released_text and line in shown]
        assert not leaked, f"the feedback shows hidden tests: {leaked[:3]}"
    assert "gradients never grow through a tanh layer" in page_text
