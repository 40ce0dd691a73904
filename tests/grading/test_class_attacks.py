"""Red team: students attack the class on the real set-up (root only; skipped elsewhere with the reason).

``make hub``'s set-up, for real: ``course_hub.py add-users`` makes Unix users
from a roster (alice, bob: honest; one attacker per attack, ``eve-<attack>``)
and an instructor; ``course_hub.py start`` runs JupyterHub (PAM) with the
exchange service (ngshare, a hub service). Everybody acts with their own
JupyterHub token (got with their password, as their server's would be) and
their own Unix rights, with the role's settings (``roles/<role>/``): students
with nbgrader's own fetch and submit (the command line where the attack is a
command line; else nbgrader's exchange classes as the Assignments tab calls
them, one process per student), or with the service's API where the attack is
a request or a notebook's content (what nbgrader's client sends), the
instructor with ``python -m course_utils.grading`` (what the make targets run). The homework is the tiny
torch-free one of ``conftest.tiny_notebook`` (2 points) in two assignments:
``first`` (due next year) and ``second`` (due an hour ago).

One hub and one course serve the whole module, and grading is paid once for
the attacks that are independent: every attacker stages its attack side by
side (``staged``), then the instructor collects, autogrades and exports once;
each test asserts that its attacker's attack failed and that the honest
students' grades are right. Attacks that are a sequence (upload, collect,
upload again; feedback after grades; a hub restart) run in their order after
that round.
"""
from __future__ import annotations

import base64
import csv
import json
import os
import pwd
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest
from unix_users import UnixUser, delete_user, kill_hub_leftovers, shared_folder, top_level_permissions_kept

from conftest import COURSE, tiny_notebook

# Real Unix users, the hub and its exchange service (root only).
pytestmark = [pytest.mark.slow, pytest.mark.root]

REPOSITORY = COURSE.parent
HUB = REPOSITORY / "deploy" / "jupyterhub"
COURSE_HUB = HUB / "course_hub.py"
PYTHON = sys.executable
ANSWER = 734519  # the solution; the hidden test checks it
RIGHT = "def answer():\n    return 734519"
COURSE_ID = "deep-learning-course"
HONEST = ("alice", "bob")
# One attacker per attack (a student of the roster like the others), and what it does before the
# attack itself: (step, assignment[, source]) run as the student by STUDENT_STEPS. An attack that is the
# notebook's content is sent as nbgrader's client sends it (ANSWERS: the released notebook answered).
JS_MARKER = ("\nfrom IPython.display import display\n"
             "display({'application/javascript': 'var note = \"BEGIN HIDDEN TESTS\";', 'text/plain': 'x'}, raw=True)")
FILL_DISK = ("\nimport os\nmade = 0\nfor i in range(3):\n    try:\n"
             "        fd = os.open(f'fill{i}', os.O_CREAT | os.O_WRONLY, 0o600)\n"
             "        os.posix_fallocate(fd, 0, 1 << 30)\n        os.close(fd)\n        made += 1\n"
             "    except OSError:\n        break\nprint('allocated GB:', made)")
# The honest students fetch both, answer them right, and submit (second: after its due date).
HONEST_STEPS = [("fetch", "first"), ("fetch", "second"), ("edit", "first", RIGHT), ("edit", "second", RIGHT),
                ("submit", "first"), ("submit", "second")]
ATTACKERS: dict[str, list[tuple[str, ...]]] = {
    "eve-as": [("fetch", "first")],  # submits as bob
    "eve-late": [("fetch", "second"), ("edit", "second", RIGHT)],  # forges her submission's time
    "eve-links": [],  # links and climbing paths to the instructor's files
    "eve-big": [],  # oversized and malformed uploads, one after the other
    "eve-tmp": [],  # plants folders in /tmp, then submits a right answer
    "eve-clash-ts": [], "eve-clash-src": [], "eve-clash-file": [],  # names that clash with collect's folders
    "eve-marker": [], "eve-unparse": [], "eve-disk": [],  # their answers (ANSWERS)
    "eve-upload": [],  # an upload that fails half-way
    "eve-flood": [],  # 50,000 empty files
    "eve-walk": [],  # reads what her server can reach
}
ANSWERS = {  # attacker: (assignment, the solution cell's source)
    "eve-tmp": ("second", RIGHT),
    "eve-marker": ("first", RIGHT + JS_MARKER),
    "eve-unparse": ("first", RIGHT + "\nnoise = " + "+".join(["1"] * 500)),
    "eve-disk": ("first", RIGHT + FILL_DISK),
}
CLASHES = {
    "eve-clash-ts": {"timestamp.txt/x": b"a folder named like the file collect writes"},
    "eve-clash-src": {".exchange-source/x": b"a folder named like collect's own record"},
    "eve-clash-file": {"notes/a.txt": b"x", "notes": b"a file named like the folder before it"},
}
# nbgrader's own fetch and submit as a student's Assignments tab runs them (nbgrader's assignment_list
# server extension: the config of JUPYTER_CONFIG_PATH and the home folder, ExchangeFactory's classes),
# several steps in one process: argv[1] is a JSON list of (step, assignment[, source]).
STUDENT_STEPS = r"""
import json, sys
import nbformat
from nbgrader.apps import NbGrader
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeFactory

for step, assignment, *source in json.loads(sys.argv[1]):
    if step == "edit":  # the solution cell becomes source
        path = f"{assignment}/{assignment}.ipynb"
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "answer":
                cell.source = source[0]
        nbformat.write(nb, path)
        continue
    app = NbGrader()
    app.load_config_file()
    config = app.config
    config.CourseDirectory.assignment_id = assignment
    coursedir, authenticator = CourseDirectory(config=config), Authenticator(config=config)
    exchange = ExchangeFactory(config=config)
    action = {"fetch": exchange.FetchAssignment, "submit": exchange.Submit}[step]
    action(coursedir=coursedir, authenticator=authenticator, config=config).start()
"""


def why_no_class() -> str | None:
    if os.geteuid() != 0:
        return "the class attacks create Unix users and run the hub as root: run as root (CI does)"
    missing = [tool for tool in ("useradd", "userdel", "groupadd", "groupdel", "chpasswd", "runuser", "unshare",
                                 "bwrap") if shutil.which(tool) is None]
    if missing:
        return f"the class attacks need {', '.join(missing)}"
    if subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode != 0:
        return "the class attacks need mount namespaces (unshare --mount), which this machine refuses"
    return None


def call(method: str, url: str, token: str | None = None, data: dict | None = None, json_body=None,
         params: dict | None = None, timeout: float = 60) -> tuple[int, dict]:
    """``(status, JSON answer)`` of one request (a refused request is an answer, not an exception)."""
    from urllib.parse import urlencode

    if params:
        url += "?" + urlencode(params)
    headers = {"Authorization": f"token {token}"} if token else {}
    body = None
    if json_body is not None:
        body, headers["Content-Type"] = json.dumps(json_body).encode(), "application/json"
    elif data is not None:
        body = urlencode(data).encode()
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    except (ConnectionError, urllib.error.URLError) as error:
        return 0, {"error": str(error)}
    try:
        return status, json.loads(text or b"{}")
    except ValueError:
        return status, {"text": text[:200].decode(errors="replace")}


class Person:
    def __init__(self, user: UnixUser, token: str, role: str, hub: "ClassHub"):
        self.user, self.token, self.role, self.hub = user, token, role, hub
        self.name = user.name

    def environment(self, **extra: str) -> dict[str, str]:
        """What the hub gives this person's server (jupyterhub_config.per_role), plus ``extra``."""
        env = {"JUPYTER_CONFIG_PATH": str(HUB / "roles" / self.role), "JUPYTERHUB_API_TOKEN": self.token,
               "JUPYTERHUB_USER": self.name, "COURSE_EXCHANGE_URL": self.hub.exchange,
               "PATH": f"{Path(PYTHON).parent}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
               "OMP_NUM_THREADS": "1"}
        if self.role == "instructor":
            env["COURSE_ROOT"] = str(self.hub.root)
        env.update(extra)
        return env

    def run(self, *args: str, check: bool = True, timeout: float = 300, cwd=None, **extra: str):
        return self.user.run(list(args), env=self.environment(**extra), check=check, timeout=timeout, cwd=cwd)

    def nbgrader(self, *args: str, check: bool = True, **extra: str):
        return self.run(PYTHON, "-m", "nbgrader", *args, check=check, **extra)

    def course(self, *args: str, check: bool = True):
        return self.run(PYTHON, "-m", "course_utils.grading", *args, "--course", str(self.hub.course),
                        check=check, cwd=self.hub.root)

    def api(self, method: str, path: str, **kwargs):
        return call(method, self.hub.exchange + path, self.token, **kwargs)

    def steps(self, steps: list[tuple[str, ...]], timeout: float = 300) -> None:
        """Fetch, answer (the solution cell becomes the source given) and submit, as this student, in one
        process (STUDENT_STEPS): nbgrader's exchange classes, as the Assignments tab calls them."""
        if steps:
            self.run(PYTHON, "-c", STUDENT_STEPS, json.dumps(steps), timeout=timeout)

    def post(self, assignment: str, files: dict[str, bytes], timeout: float = 300, **fields: str):
        """A submission straight to the service's API (what nbgrader's client sends), ``(status, answer)``."""
        return self.api("POST", f"/submission/{COURSE_ID}/{assignment}", data={**fields, "files": json.dumps(
            [{"path": name, "content": base64.b64encode(data).decode()} for name, data in files.items()])},
            timeout=timeout)


class ClassHub:
    def __init__(self, folder: Path):
        self.folder = folder
        self.root = folder / "course"  # COURSE_ROOT
        self.course = self.root / "assignments"
        self.state = folder / "state"
        self.port = 0
        self.url = self.exchange = ""
        self.process: subprocess.Popen | None = None
        self.environment: dict[str, str] = {}
        self.people: dict[str, Person] = {}
        self.collected = self.autograded = ""

    def start(self) -> None:
        log = open(self.folder / "hub.log", "ab")
        self.process = subprocess.Popen([PYTHON, str(COURSE_HUB), "start"], env=self.environment, cwd=self.folder,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the hub exited:\n{(self.folder / 'hub.log').read_text()[-3000:]}")
            if call("GET", f"{self.url}/hub/login")[0] == 200 and call("GET", f"{self.exchange}/healthz")[0] == 200:
                return
            time.sleep(0.5)
        raise RuntimeError(f"the hub did not start:\n{(self.folder / 'hub.log').read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        kill_hub_leftovers(self.state)  # what the hub left running (a service, its proxy)

    def token(self, name: str, password: str) -> str:
        """Log in with the password (the hub then knows the user), then ask for a token as a server has one."""
        import http.cookiejar  # noqa: F401 (the module, not this file's call())
        import re
        from urllib.parse import urlencode

        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = opener.open(f"{self.url}/hub/login", timeout=60).read().decode()
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page)
        form = {"username": name, "password": password, **({"_xsrf": xsrf.group(1)} if xsrf else {})}
        opener.open(urllib.request.Request(f"{self.url}/hub/login?next=/hub/home", data=urlencode(form).encode()),
                    timeout=120)
        status, answer = call("POST", f"{self.url}/hub/api/users/{name}/tokens",
                              json_body={"auth": {"username": name, "password": password}, "note": "class test"})
        assert status in (200, 201) and answer.get("token"), (status, answer)
        return answer["token"]

    def grades(self) -> dict[tuple[str, str], dict[str, str]]:
        """Collect, autograde and export as the instructor; ``{(student, assignment): grades.csv row}``."""
        instructor = self.people["instructor"]
        self.collected = instructor.course("collect").stdout
        self.autograded = instructor.course("autograde", "--timeout", "30").stdout
        return self.rows()

    def rows(self) -> dict[tuple[str, str], dict[str, str]]:
        with open(self.course / "grades.csv", newline="") as handle:
            return {(row["student_id"], row["assignment"]): row for row in csv.DictReader(handle)}



def _free_port() -> int:
    import socket

    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port + 82 < 65536:
            free = True
            for other in (port + 1, port + 81, port + 82):
                with socket.socket() as check:
                    try:
                        check.bind(("127.0.0.1", other))
                    except OSError:
                        free = False
            if free:
                return port
    raise RuntimeError("no free ports")


def side_by_side(*actions, workers: int = 4) -> None:
    """Run independent actions (each by its own users) at the same time; the first failure is raised."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(action) for action in actions]:
            future.result()


@pytest.fixture(scope="module")
def hub():
    reason = why_no_class()
    if reason:
        pytest.skip(reason)
    tag = secrets.token_hex(3)
    students = [*HONEST, *ATTACKERS]
    names = {who: f"{who}{tag}" if who in HONEST else f"{who}-{tag}" for who in students}
    names["instructor"] = f"ins{tag}"
    groups = {"COURSE_STUDENTS_GROUP": f"students{tag}", "COURSE_INSTRUCTORS_GROUP": f"instructors{tag}"}
    folder = shared_folder("course-class-")
    hub = ClassHub(folder)
    hub.course.mkdir(parents=True)
    shutil.copy(COURSE / "nbgrader_config.py", hub.course)
    for assignment in ("first", "second"):
        (hub.course / "source" / assignment).mkdir(parents=True)
        nbformat.write(tiny_notebook(ANSWER), hub.course / "source" / assignment / f"{assignment}.ipynb")
    (hub.course / "roster.csv").write_text("student_id,first_name,last_name,email,lms_id\n" + "".join(
        f"{names[who]},{who.title()},X,{who}@example.org,{index}\n" for index, who in enumerate(students, start=1)))
    due_second = datetime.now(timezone.utc) - timedelta(hours=1)
    (hub.course / "course.toml").write_text(
        "[late]\npercent_per_day = 10\nmax_percent = 50\n\n"
        f"[assignments.first]\ndue = {(datetime.now(timezone.utc) + timedelta(days=365)).isoformat(timespec='seconds')}\n\n"
        f"[assignments.second]\ndue = {due_second.isoformat(timespec='seconds')}\n")
    hub.port = _free_port()
    hub.url = f"http://127.0.0.1:{hub.port}"
    hub.exchange = f"http://127.0.0.1:{hub.port + 82}/services/ngshare"
    kept = top_level_permissions_kept(REPOSITORY)  # make hub's prepare closes the repository to students
    kept.__enter__()
    hub.environment = {**os.environ, **groups, "HUB_PORT": str(hub.port), "HUB_STATE_DIR": str(hub.state),
                       "COURSE_ROOT": str(hub.root), "COURSE_DATA_DIR": str(folder / "data"),
                       "PATH": f"{Path(PYTHON).parent}:{os.environ['PATH']}"}
    try:
        subprocess.run([PYTHON, str(COURSE_HUB), "add-users", str(hub.course / "roster.csv"),
                        "--instructor", names["instructor"]], env=hub.environment, check=True, capture_output=True)
        passwords = dict(line.split(",", 1) for line in (hub.state / "initial-passwords.csv").read_text().split())
        hub.start()

        def log_in(who: str) -> None:
            entry = pwd.getpwnam(names[who])
            user = UnixUser(entry.pw_name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))
            role = "instructor" if who == "instructor" else "student"
            hub.people[who] = Person(user, hub.token(user.name, passwords[user.name]), role, hub)

        side_by_side(*(lambda who=who: log_in(who) for who in names))
        instructor = hub.people["instructor"]
        out = instructor.course("release").stdout
        assert "first: released in the exchange service" in out, out
        yield hub
    finally:
        hub.stop()
        for name in names.values():
            delete_user(name)
        for group in groups.values():
            subprocess.run(["groupdel", group], capture_output=True)
        kept.__exit__(None, None, None)
        if (folder / "hub.log").is_file():  # kept for a failure's post-mortem
            shutil.copy(folder / "hub.log", Path(tempfile.gettempdir()) / "course-class-attacks-hub.log")
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Staged:
    """What the attacks staged side by side were answered, and the one grading round after them."""
    answers: dict[str, object] = field(default_factory=dict)
    started: float = 0.0  # when the round's autograde started
    collected: str = ""
    error: str = ""  # a step of the round that exited non-zero (every test of the round fails with it)
    graded: dict = field(default_factory=dict)

    @property
    def rows(self) -> dict[tuple[str, str], dict[str, str]]:
        assert not self.error, self.error
        return self.graded


@pytest.fixture(scope="module")
def staged(hub):
    """The honest students' work and every independent attack at once, then collect, autograde and export
    once as the instructor."""
    staged = Staged()
    answers = staged.answers
    planted = [f"/tmp/course-sandbox-planted{secrets.token_hex(2)}", f"/tmp/course-sandbox-link{secrets.token_hex(2)}"]

    def as_another() -> None:
        eve, bob = hub.people["eve-as"], hub.people["bob"]
        eve.steps(ATTACKERS["eve-as"])
        prepared["bob"].result()  # after bob's own submission: one filed as his would be his latest
        answers["--student"] = eve.nbgrader("submit", "first", f"--student={bob.name}", check=False)
        eve.nbgrader("submit", "first", JUPYTERHUB_USER=bob.name, USER=bob.name)
        blank = (eve.user.home / "first" / "first.ipynb").read_bytes()
        answers["user field"] = eve.post("first", {"first.ipynb": blank}, user=bob.name)

    def late() -> None:
        eve = hub.people["eve-late"]
        eve.steps(ATTACKERS["eve-late"])
        (eve.user.home / "second" / "timestamp.txt").write_text("2020-01-01 00:00:00.000000 UTC")
        eve.nbgrader("submit", "second", "--Exchange.timestamp_format=2020-01-01 00:00:00.000000 UTC")

    def links() -> None:
        eve = hub.people["eve-links"]
        folder = eve.user.home / "first"
        eve.run("mkdir", "-p", str(folder))
        eve.run("ln", "-s", str(hub.course / "source" / "first" / "first.ipynb"), str(folder / "first.ipynb"))
        answers["links"] = eve.nbgrader("submit", "first", check=False)  # she cannot read it: nothing sent
        answers["paths"] = {name: eve.post("first", {name: b"{}"})
                            for name in ("../../evil.ipynb", "/tmp/evil.ipynb", "a/../../evil.ipynb")}

    def oversized() -> None:
        eve = hub.people["eve-big"]
        answers["body"] = eve.post("second", {"second.ipynb": b"x" * (70 << 20)})  # over the 64 MB request limit
        answers["file"] = eve.post("second", {"second.ipynb": b"{}", "weights.bin": b"\0" * (21 << 20)})

    def plant() -> None:
        eve = hub.people["eve-tmp"]
        answers["planted"] = planted
        eve.run("mkdir", "-m", "777", planted[0])
        eve.run("sh", "-c", f"echo 1 > {planted[0]}/owner")
        eve.run("ln", "-s", str(hub.people["instructor"].user.home), planted[1])
        answer("eve-tmp")

    def answer(who: str) -> None:
        """``who``'s answer sent as nbgrader's submit sends the notebook (the attack is its content)."""
        assignment, source = ANSWERS[who]
        notebook = nbformat.read(hub.course / "release" / assignment / f"{assignment}.ipynb", as_version=4)
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "answer":
                cell.source = source
        answers[who] = hub.people[who].post(assignment, {f"{assignment}.ipynb": nbformat.writes(notebook).encode()})
        assert answers[who][0] == 200, answers[who]

    def clashes() -> None:
        notebook = (hub.course / "release" / "first" / "first.ipynb").read_bytes()  # what fetch gives them
        for who, files in CLASHES.items():
            answers[who] = hub.people[who].post("first", {"first.ipynb": notebook, **files})
        prepared["alice"].result()
        hub.people["alice"].nbgrader("submit", "second")  # a class-mate's new submission after theirs

    try:
        # the honest students' work and every attack at the same time (each by its own users)
        with ThreadPoolExecutor(max_workers=6) as pool:
            prepared = {who: pool.submit(hub.people[who].steps, HONEST_STEPS) for who in HONEST}
            attacks = [pool.submit(action) for action in (as_another, late, links, oversized, plant, clashes)]
            attacks += [pool.submit(answer, who) for who in ANSWERS if who != "eve-tmp"]
            for future in [*prepared.values(), *attacks]:
                future.result()
        for who in HONEST:
            for assignment in ("first", "second"):
                fetched = hub.people[who].user.home / assignment / f"{assignment}.ipynb"
                assert fetched.is_file(), f"{who} did not fetch {assignment}"
        staged.started = time.time()
        try:
            staged.graded = hub.grades()
        except AssertionError as error:  # collect or autograde exited non-zero
            staged.error = str(error)
        staged.collected = hub.collected
        yield staged
    finally:
        for path in planted:
            subprocess.run(["rm", "-rf", path], capture_output=True)


@pytest.fixture(scope="module")
def feedback(hub, staged):
    """The instructor releases feedback after the round; alice fetches hers with nbgrader's fetch_feedback."""
    released = hub.people["instructor"].course("feedback", check=False)
    fetched = hub.people["alice"].nbgrader("fetch_feedback", "first", check=False)
    return released, fetched


def assert_honest_grades(hub: ClassHub, rows) -> None:
    """alice and bob: 2 of 2 on first (on time), second graded late (1 day: 10% off)."""
    for who in HONEST:
        name = hub.people[who].name
        first, second = rows[(name, "first")], rows[(name, "second")]
        assert (first["status"], first["total"], first["days_late"]) == ("graded", "2", ""), first
        assert (second["status"], second["days_late"], second["total"]) == ("graded", "1", "1.8"), second


def storage(hub) -> tuple[set[str], set[str]]:
    """(names of the files in the service's storage folder, names its database refers to)."""
    folder = hub.state / "exchange" / "files"
    on_disk = {path.name for path in folder.iterdir()} if folder.is_dir() else set()
    with sqlite3.connect(f"file:{hub.state / 'exchange' / 'ngshare.db'}?mode=ro", uri=True) as db:
        referred = {row[0] for row in db.execute("SELECT actual_name FROM files")}
    return on_disk, referred


# -- the attacks staged side by side, graded in one round ------------------------------------------


def test_a_student_cannot_submit_as_another(hub, staged):
    """eve submits a blank notebook as bob (nbgrader's --student, JUPYTERHUB_USER, the API's user field): is
    every one refused or filed as eve, and bob's grade his own?"""
    eve, bob = hub.people["eve-as"], hub.people["bob"]
    done = staged.answers["--student"]
    assert done.returncode != 0 and "not possible" in done.stdout + done.stderr, done.stdout + done.stderr
    status, answer = staged.answers["user field"]
    assert status == 200, answer
    # what eve may not read: bob's submissions and feedback, the list of submissions
    for path in (f"/submission/{COURSE_ID}/first/{bob.name}", f"/submissions/{COURSE_ID}/first",
                 f"/submissions/{COURSE_ID}/first/{bob.name}"):
        assert eve.api("GET", path)[0] == 403, path
    status, _ = eve.api("GET", f"/feedback/{COURSE_ID}/first/{bob.name}",
                        params={"timestamp": "2026-01-01 00:00:00.000000"})
    assert status in (403, 404)
    # without a token, nothing at all
    assert call("GET", hub.exchange + f"/assignments/{COURSE_ID}")[0] == 401
    rows = staged.rows
    assert_honest_grades(hub, rows)
    assert rows[(eve.name, "first")]["status"] == "graded" and rows[(eve.name, "first")]["total"] == "0"


def test_late_work_cannot_be_made_on_time(hub, staged):
    """eve submits after the due date with a forged timestamp format and her own timestamp.txt: is it late?"""
    eve = hub.people["eve-late"]
    rows = staged.rows
    assert_honest_grades(hub, rows)
    row = rows[(eve.name, "second")]
    assert (row["status"], row["days_late"], row["total"]) == ("graded", "1", "1.8"), row
    stamp = (hub.course / "submitted" / eve.name / "second" / "timestamp.txt").read_text()
    assert not stamp.startswith("2020"), stamp


def test_paths_and_links_cannot_reach_the_instructors_files(hub, staged):
    """eve submits links to the solution and the gradebook, and paths that climb out: is nothing of the
    instructor's in what is collected, and the class collected?"""
    eve = hub.people["eve-links"]
    done = staged.answers["links"]
    assert "734519" not in done.stdout + done.stderr
    for name, (status, answer) in staged.answers["paths"].items():
        assert status == 400 and "Illegal path" in answer.get("message", ""), (name, status, answer)
    assert_honest_grades(hub, staged.rows)
    submitted = hub.course / "submitted" / eve.name / "first"
    for path in submitted.rglob("*"):
        assert not path.is_symlink() and (path.is_dir() or path.is_file())
        assert b"return 734519" not in path.read_bytes() if path.is_file() else True
    assert not list(hub.course.parent.glob("evil*")) and not Path("/tmp/evil.ipynb").exists()


def test_folders_planted_for_the_sandbox_do_not_stop_autograde(hub, staged):
    """eve plants runtime-like folders and links in /tmp and a changed submission makes autograde run: are
    they left alone, and is the class graded?"""
    eve = hub.people["eve-tmp"]
    rows = staged.rows
    assert_honest_grades(hub, rows)
    assert rows[(eve.name, "second")]["status"] == "graded" and rows[(eve.name, "second")]["total"] == "1.8"
    planted = staged.answers["planted"]
    assert Path(planted[0], "owner").is_file() and Path(planted[1]).is_symlink()
    assert oct(hub.people["instructor"].user.home.stat().st_mode & 0o777) == oct(0o700)


@pytest.mark.parametrize("who", list(CLASHES), ids=["timestamp-folder", "source-folder", "file-over-folder"])
def test_file_names_that_clash_with_folders_do_not_stop_collect(hub, staged, who):
    """eve's submission holds a folder where collect writes a file (or a file named like an earlier file's
    folder): is it quarantined with the reason, and the rest of the class collected and graded?"""
    status, answer = staged.answers[who]
    assert status == 200, answer
    rows = staged.rows  # collect exited 0 (alice's new submission came after eve's)
    assert f"{hub.people[who].name}: " in staged.collected, staged.collected
    assert_honest_grades(hub, rows)


def test_code_that_ast_unparse_cannot_handle_does_not_stop_the_report(hub, staged):
    """eve's right answer carries a 500-term sum (runs in the kernel; ast.unparse recurses too deep): does
    `make autograde` exit 0 and write every assignment's report?"""
    eve = hub.people["eve-unparse"]
    rows = staged.rows  # autograde (and its report) exited 0
    assert_honest_grades(hub, rows)
    assert rows[(eve.name, "first")]["total"] == "2"
    for assignment in ("first", "second"):
        assert (hub.course / "reports" / f"{assignment}.html").stat().st_mtime >= staged.started, assignment


def test_a_kernel_cannot_fill_the_graders_disk(hub, staged):
    """eve's right answer also allocates 1 GB files in its working folder (a copy on the grader's disk; only
    the per-file limit applies): is the total capped well below 3 GB, and the class graded?"""
    eve = hub.people["eve-disk"]
    assert_honest_grades(hub, staged.rows)
    graded = json.loads((hub.course / "autograded" / eve.name / "first" / "first.ipynb").read_text())
    printed = "".join("".join(output.get("text", "")) for cell in graded["cells"]
                      for output in cell.get("outputs", []))
    assert "allocated GB:" in printed and "allocated GB: 3" not in printed, printed


# -- after the round: feedback, what a student can read, the service's storage ---------------------


def test_feedback_reaches_its_student_only(hub, staged, feedback):
    """The instructor releases feedback through the service: does alice get hers with nbgrader's own
    fetch_feedback, without the hidden test, and is eve refused bob's?"""
    released, fetched = feedback
    assert released.returncode == 0, released.stdout + released.stderr
    assert "feedback released to the exchange service" in released.stdout, released.stdout
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    alice, eve, bob = hub.people["alice"], hub.people["eve-as"], hub.people["bob"]
    pages = list((alice.user.home / "first" / "feedback").rglob("*.html"))
    assert len(pages) == 1, pages
    import html
    import re

    page = html.unescape(re.sub(r"<[^>]+>", "", pages[0].read_text()))  # the text, without the highlighting
    assert "return 734519" in page and f"assert answer() == {ANSWER}" not in page
    stamp = (hub.course / "submitted" / bob.name / "first" / ".exchange-source").read_text().strip()
    status, answer = eve.api("GET", f"/feedback/{COURSE_ID}/first/{bob.name}", params={"timestamp": stamp})
    assert status == 403 and not answer.get("files"), (status, answer)


def test_an_output_that_names_a_hidden_marker_does_not_stop_feedback(hub, staged, feedback):
    """eve's answer displays JavaScript holding the hidden-test marker (not text/*, so not redacted): does
    `make feedback` still release every other student's feedback?"""
    rows = staged.rows
    assert_honest_grades(hub, rows)
    assert rows[(hub.people["eve-marker"].name, "first")]["status"] == "graded"  # her page was in the batch
    released, fetched = feedback
    assert released.returncode == 0, released.stdout + released.stderr  # make feedback exits 0
    assert "first: feedback released to the exchange service" in released.stdout, released.stdout
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert list((hub.people["alice"].user.home / "first" / "feedback").rglob("*.html"))


# Searched as bytes, not as decoded text: ASCII never takes part in a decoding error, so this finds every
# secret the text would show, at a fifth of the time (the walk reads over a GB).
SECRET_WALK = r"""
import os, sys
secrets = [line.encode() for line in open(sys.argv[1], "rb").read().decode().split("\n") if line]
ours, roots = sys.argv[2].split(os.pathsep), sys.argv[3:]
found, readable = [], 0
for root in roots:
    for folder, folders, files in os.walk(root, onerror=lambda error: None):
        mine = any((folder + "/").startswith(top + "/") for top in ours)
        folders[:] = [f for f in folders if not os.path.islink(os.path.join(folder, f)) and (
            mine or not os.path.isfile(os.path.join(folder, f, "pyvenv.cfg")))]  # others' venvs: PyPI's packages
        for name in files:
            path = os.path.join(folder, name)
            try:
                if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > 5_000_000:
                    continue
                data = open(path, "rb").read()
            except OSError:
                continue
            readable += 1
            found += [f"{os.stat(path).st_uid}\t{path}\t{secret.decode()}" for secret in secrets if secret in data]
print(readable)
print("\n".join(found))
"""


def test_a_student_reads_nothing_of_the_instructors(hub, feedback):
    """Walking every folder eve's server can reach where course files could be (the course root, this
    repository, the hub's state, /tmp, /srv, /home, /var/tmp, /usr/local/share...), as eve: no solution line,
    no hidden test line, no gradebook?"""
    eve = hub.people["eve-walk"]  # after the round and feedback: every file the course makes exists
    hidden = f"assert answer() == {ANSWER}"
    secrets_file = hub.folder / "secrets.txt"
    lines = {f"return {ANSWER}", hidden}
    for notebook in (REPOSITORY / "assignments" / "source").glob("*/*.ipynb"):  # the real course's secrets
        for cell in nbformat.read(notebook, as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                if "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line:
                    inside = True
                elif "END SOLUTION" in line or "END HIDDEN TESTS" in line:
                    inside = False
                elif inside and len(line.strip()) >= 30 and "raise NotImplementedError" not in line:
                    lines.add(line.strip())
    # a line the lectures print too (a training loop's "for epoch in range(num_epochs):") is no secret
    public = "\n".join(path.read_text(errors="replace") for path in (REPOSITORY / "lectures").glob("*.ipynb"))
    lines = {line for line in lines if line not in public}
    secrets_file.write_text("\n".join(sorted(lines)))
    secrets_file.chmod(0o644)
    # Folders she may pass through but not list (the course root, the repository: mode o=x) hide nothing
    # from a guess: their entries are walked by name too (but the venv: PyPI's packages, open by design).
    named = [str(entry) for folder in (hub.root, REPOSITORY, hub.state) for entry in folder.iterdir()
             if entry.name != ".venv"]
    # (of /var, what users may write: the system's package caches hold nothing of the course)
    roots = [str(hub.root), str(REPOSITORY), str(hub.state), *named, "/tmp", "/srv", "/home", "/var/tmp",
             "/var/mail", "/var/spool", "/var/local", "/usr/local/share", "/opt", "/dev/shm"]
    ours = {str(hub.folder), str(REPOSITORY)}  # this class's set-up: everything found there counts
    # Elsewhere, virtual environments are not walked (PyPI's packages, like our own .venv above): a machine's
    # /tmp may hold other clones of this repository, each with a venv of gigabytes (93 s of walk with six).
    done = eve.run(PYTHON, "-c", SECRET_WALK, str(secrets_file), os.pathsep.join(ours), *roots, timeout=600)
    readable, *lines = done.stdout.strip().split("\n")
    uids = {person.user.uid for person in hub.people.values()} | {0}
    found = []
    for line in filter(None, lines):
        uid, path, secret = line.split("\t")
        if path == str(secrets_file) or path.startswith(str(eve.user.home) + "/"):
            continue  # the list itself; eve's own work
        if not path.startswith("/tmp/") or any(path.startswith(root + "/") for root in ours) or (
                int(uid) in uids - {0}):
            found.append(f"{path}: {secret}")
        # (a root-owned file elsewhere in /tmp belongs to another test running beside this one)
    assert int(readable) > 100, done.stdout[-2000:]  # the walk did read (the venv, the lectures)
    assert not found, "\n".join(found[:20])
    # and her shell cannot list or read the course, its history or the hub's state
    for path in (hub.course / "source", hub.course / "gradebook.db", REPOSITORY / ".git" / "HEAD",
                 REPOSITORY / "tests", hub.state, hub.course / "submitted"):
        assert eve.run("ls", str(path), check=False).returncode != 0, path
    done = eve.run("git", "-c", "safe.directory=*", "-C", str(REPOSITORY), "show",
                   "HEAD:assignments/source/tanh/tanh.ipynb", check=False)
    assert done.returncode != 0 and "BEGIN SOLUTION" not in done.stdout


def test_a_failed_upload_leaves_nothing_in_the_services_storage(hub):
    """eve's upload fails half-way (a NUL in a file's extension makes ngshare's open() raise after it wrote
    the first file): is the written file removed (else she fills the disk past her quota)?"""
    eve = hub.people["eve-upload"]
    on_disk, referred = storage(hub)
    assert on_disk <= referred, sorted(on_disk - referred)[:5]
    for _ in range(2):
        eve.post("first", {"big.bin": b"\0" * (5 << 20), "x.\x00": b"y"})
    on_disk, referred = storage(hub)
    assert on_disk <= referred, f"{len(on_disk - referred)} file(s) in storage that no submission owns"


def test_thousands_of_empty_files_are_refused_by_the_service(hub):
    """eve sends one submission of 50,000 empty files (the byte quota does not see them; the service stalls
    while it writes them): is it refused, and does the service answer alice meanwhile?"""
    eve, alice = hub.people["eve-flood"], hub.people["alice"]
    answers = {}
    flood = threading.Thread(target=lambda: answers.setdefault(
        "eve", eve.post("first", {f"f{i}": b"" for i in range(50_000)}, timeout=600)))
    flood.start()
    time.sleep(1)
    started = time.monotonic()
    assert alice.api("GET", f"/assignments/{COURSE_ID}")[0] == 200
    waited = time.monotonic() - started
    flood.join()
    assert answers["eve"][0] in (400, 413), answers["eve"]
    assert waited < 10, f"alice waited {waited:.1f} s for the list of assignments"


# -- sequences: upload, collect, upload again; a hub restart -----------------------------------------


def test_oversized_and_malformed_submissions_do_not_stop_the_class(hub, staged):
    """eve sends a body over the service's limit, a file over collect's limit, a submission without a
    notebook and a notebook that is not JSON, one after the other: is each refused or quarantined with the
    reason, and the rest of the class collected and graded?"""
    eve = hub.people["eve-big"]
    assert staged.answers["body"][0] in (0, 400, 413), staged.answers["body"]
    assert staged.answers["file"][0] == 200, staged.answers["file"]  # one file over 20 MB
    rows = staged.rows
    assert f"{eve.name}: " in staged.collected and "over the limit" in staged.collected, staged.collected
    assert (hub.course / "quarantine" / "second" / f"{eve.name}.txt").is_file()
    assert_honest_grades(hub, rows)
    assert eve.post("second", {"notes.txt": b"no notebook here"})[0] == 200
    collected = hub.people["instructor"].course("collect").stdout
    assert "holds no notebook" in collected, collected
    assert eve.post("second", {"second.ipynb": b"\x00not json at all"})[0] == 200
    rows = hub.grades()
    assert_honest_grades(hub, rows)
    assert rows[(eve.name, "second")]["status"] in ("failed", "graded"), rows[(eve.name, "second")]
    assert rows[(eve.name, "second")]["total"] == "0"


def test_grades_survive_a_hub_restart(hub, staged):
    """After autograde, the hub is stopped and started again (make hub: prepare chmods the course) and the
    instructor exports and collects again: is every grade as it was?"""
    rows = hub.grades()
    hub.stop()
    hub.start()
    instructor = hub.people["instructor"]
    instructor.course("export")
    assert hub.rows() == rows
    assert hub.grades() == rows
    assert "0 submission(s) collected" in hub.collected, hub.collected
