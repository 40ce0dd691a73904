"""Red team: one student attacks the class on the real set-up (root only; skipped elsewhere with the reason).

``make hub``'s set-up, for real: ``course_hub.py add-users`` makes Unix users
from a roster (alice, bob: honest; eve: the attacker) and an instructor;
``course_hub.py start`` runs JupyterHub (PAM) with the exchange service
(ngshare, a hub service). Everybody acts with their own JupyterHub token (got
with their password, as their server's would be) and their own Unix rights,
with the role's settings (``roles/<role>/``): students with nbgrader's own
``fetch_assignment``/``submit``, the instructor with ``python -m
course_utils.grading`` (what the make targets run). The homework is the tiny
torch-free one of ``conftest.tiny_notebook`` (2 points) in two assignments:
``first`` (due next year) and ``second`` (due an hour ago).

Each test is one attack; each asserts that the attack failed and that the
class's grades are right afterwards (collect, autograde, export as the
instructor). One hub and one course serve the whole module.
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
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest
from unix_users import UnixUser, shared_folder, top_level_permissions_kept

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

    def edit(self, assignment: str, source: str, *, name: str | None = None) -> None:
        """Answer the fetched notebook (as this user): the solution cell becomes ``source``."""
        script = ("import sys, nbformat\npath = sys.argv[1]\nnb = nbformat.read(path, as_version=4)\n"
                  "for cell in nb.cells:\n"
                  "    if cell.metadata.get('nbgrader', {}).get('grade_id') == 'answer':\n"
                  "        cell.source = sys.argv[2]\nnbformat.write(nb, path)\n")
        self.run(PYTHON, "-c", script, str(self.user.home / assignment / f"{name or assignment}.ipynb"), source)


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


@pytest.fixture(scope="module")
def hub():
    reason = why_no_class()
    if reason:
        pytest.skip(reason)
    tag = secrets.token_hex(3)
    names = {"alice": f"alice{tag}", "bob": f"bob{tag}", "eve": f"eve{tag}", "instructor": f"ins{tag}"}
    groups = {"COURSE_STUDENTS_GROUP": f"students{tag}", "COURSE_INSTRUCTORS_GROUP": f"instructors{tag}"}
    folder = shared_folder("course-class-")
    hub = ClassHub(folder)
    hub.course.mkdir(parents=True)
    shutil.copy(COURSE / "nbgrader_config.py", hub.course)
    for assignment in ("first", "second"):
        (hub.course / "source" / assignment).mkdir(parents=True)
        nbformat.write(tiny_notebook(ANSWER), hub.course / "source" / assignment / f"{assignment}.ipynb")
    (hub.course / "roster.csv").write_text("student_id,first_name,last_name,email,lms_id\n" + "".join(
        f"{names[who]},{who.title()},X,{who}@example.org,{index}\n" for index, who in enumerate(
            ("alice", "bob", "eve"), start=1)))
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
        for who, name in names.items():
            entry = pwd.getpwnam(name)
            user = UnixUser(name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))
            role = "instructor" if who == "instructor" else "student"
            hub.people[who] = Person(user, hub.token(name, passwords[name]), role, hub)
        instructor = hub.people["instructor"]
        out = instructor.course("release").stdout
        assert "first: released in the exchange service" in out, out
        # The honest students fetch both, answer them right, and submit (second: after its due date).
        for who in ("alice", "bob", "eve"):
            person = hub.people[who]
            for assignment in ("first", "second"):
                done = person.nbgrader("fetch_assignment", assignment)
                fetched = person.user.home / assignment / f"{assignment}.ipynb"
                assert fetched.is_file(), f"fetch_assignment did not fetch:\n{done.stdout}\n{done.stderr}"
                if who != "eve":
                    person.edit(assignment, RIGHT)
                    person.nbgrader("submit", assignment)
        yield hub
    finally:
        hub.stop()
        for name in names.values():
            subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
            subprocess.run(["userdel", "--remove", "--force", name], capture_output=True)
        for group in groups.values():
            subprocess.run(["groupdel", group], capture_output=True)
        kept.__exit__(None, None, None)
        if (folder / "hub.log").is_file():  # kept for a failure's post-mortem
            shutil.copy(folder / "hub.log", Path(tempfile.gettempdir()) / "course-class-attacks-hub.log")
        shutil.rmtree(folder, ignore_errors=True)


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


def assert_honest_grades(hub: ClassHub, rows) -> None:
    """alice and bob: 2 of 2 on first (on time), second graded late (1 day: 10% off)."""
    for who in ("alice", "bob"):
        name = hub.people[who].name
        first, second = rows[(name, "first")], rows[(name, "second")]
        assert (first["status"], first["total"], first["days_late"]) == ("graded", "2", ""), first
        assert (second["status"], second["days_late"], second["total"]) == ("graded", "1", "1.8"), second


# -- the attacks -----------------------------------------------------------------------------------


def test_a_student_cannot_submit_as_another(hub):
    """eve submits a blank notebook as bob (nbgrader's --student, JUPYTERHUB_USER, the API's user field): is
    every one refused or filed as eve, and bob's grade his own?"""
    eve, bob = hub.people["eve"], hub.people["bob"]
    done = eve.nbgrader("submit", "first", f"--student={bob.name}", check=False)
    assert done.returncode != 0 and "not possible" in done.stdout + done.stderr, done.stdout + done.stderr
    eve.nbgrader("submit", "first", JUPYTERHUB_USER=bob.name, USER=bob.name)
    blank = base64.b64encode((hub.people["eve"].user.home / "first" / "first.ipynb").read_bytes()).decode()
    status, answer = eve.api("POST", f"/submission/{COURSE_ID}/first",
                             data={"user": bob.name, "files": json.dumps([{"path": "first.ipynb",
                                                                           "content": blank}])})
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
    rows = hub.grades()
    assert_honest_grades(hub, rows)
    assert rows[(eve.name, "first")]["status"] == "graded" and rows[(eve.name, "first")]["total"] == "0"


def test_late_work_cannot_be_made_on_time(hub):
    """eve submits after the due date with a forged timestamp format and her own timestamp.txt: is it late?"""
    eve = hub.people["eve"]
    eve.edit("second", RIGHT)
    (eve.user.home / "second" / "timestamp.txt").write_text("2020-01-01 00:00:00.000000 UTC")
    eve.nbgrader("submit", "second", "--Exchange.timestamp_format=2020-01-01 00:00:00.000000 UTC")
    rows = hub.grades()
    assert_honest_grades(hub, rows)
    row = rows[(eve.name, "second")]
    assert (row["status"], row["days_late"], row["total"]) == ("graded", "1", "1.8"), row
    stamp = (hub.course / "submitted" / eve.name / "second" / "timestamp.txt").read_text()
    assert not stamp.startswith("2020"), stamp


def test_paths_and_links_cannot_reach_the_instructors_files(hub):
    """eve submits links to the solution and the gradebook, and paths that climb out: is nothing of the
    instructor's in what is collected, and the class collected?"""
    eve = hub.people["eve"]
    folder = eve.user.home / "first"
    eve.run("rm", "-f", str(folder / "first.ipynb"))
    eve.run("ln", "-s", str(hub.course / "source" / "first" / "first.ipynb"), str(folder / "first.ipynb"))
    done = eve.nbgrader("submit", "first", check=False)  # her own nbgrader cannot read it: nothing sent
    assert "734519" not in done.stdout + done.stderr
    for name in ("../../evil.ipynb", "/tmp/evil.ipynb", "a/../../evil.ipynb"):
        status, answer = eve.api("POST", f"/submission/{COURSE_ID}/first", data={"files": json.dumps(
            [{"path": name, "content": base64.b64encode(b"{}").decode()}])})
        assert status == 400 and "Illegal path" in answer.get("message", ""), (name, status, answer)
    rows = hub.grades()
    assert_honest_grades(hub, rows)
    submitted = hub.course / "submitted" / eve.name / "first"
    for path in submitted.rglob("*"):
        assert not path.is_symlink() and (path.is_dir() or path.is_file())
        assert b"return 734519" not in path.read_bytes() if path.is_file() else True
    assert not list(hub.course.parent.glob("evil*")) and not Path("/tmp/evil.ipynb").exists()


def test_oversized_and_malformed_submissions_do_not_stop_the_class(hub):
    """eve sends a body over the service's limit, a file over collect's limit, a submission without a
    notebook and a notebook that is not JSON: is each refused or quarantined with the reason, and the rest
    of the class collected and graded?"""
    eve = hub.people["eve"]

    def post(files: dict[str, bytes]):
        return eve.api("POST", f"/submission/{COURSE_ID}/second", data={"files": json.dumps(
            [{"path": name, "content": base64.b64encode(data).decode()} for name, data in files.items()])},
            timeout=300)

    status, _ = post({"second.ipynb": b"x" * (70 << 20)})  # over the 64 MB request limit
    assert status in (0, 400, 413), status
    assert post({"second.ipynb": b"{}", "weights.bin": b"\0" * (21 << 20)})[0] == 200  # one file over 20 MB
    rows = hub.grades()
    assert f"{eve.name}: " in hub.collected and "over the limit" in hub.collected, hub.collected
    assert (hub.course / "quarantine" / "second" / f"{eve.name}.txt").is_file()
    assert_honest_grades(hub, rows)
    assert post({"notes.txt": b"no notebook here"})[0] == 200
    collected = hub.people["instructor"].course("collect").stdout
    assert "holds no notebook" in collected, collected
    assert post({"second.ipynb": b"\x00not json at all"})[0] == 200
    rows = hub.grades()
    assert_honest_grades(hub, rows)
    assert rows[(eve.name, "second")]["status"] in ("failed", "graded"), rows[(eve.name, "second")]
    assert rows[(eve.name, "second")]["total"] == "0"


def test_folders_planted_for_the_sandbox_do_not_stop_autograde(hub):
    """eve plants runtime-like folders and links in /tmp and a changed submission makes autograde run: are
    they left alone, and is the class graded?"""
    eve = hub.people["eve"]
    planted = [f"/tmp/course-sandbox-planted{secrets.token_hex(2)}", f"/tmp/course-sandbox-link{secrets.token_hex(2)}"]
    eve.run("mkdir", "-m", "777", planted[0])
    eve.run("sh", "-c", f"echo 1 > {planted[0]}/owner")
    eve.run("ln", "-s", str(hub.people["instructor"].user.home), planted[1])
    try:
        eve.edit("second", RIGHT)
        eve.nbgrader("submit", "second")
        rows = hub.grades()
        assert_honest_grades(hub, rows)
        assert rows[(eve.name, "second")]["status"] == "graded" and rows[(eve.name, "second")]["total"] == "1.8"
        assert Path(planted[0], "owner").is_file() and Path(planted[1]).is_symlink()
        assert oct(hub.people["instructor"].user.home.stat().st_mode & 0o777) == oct(0o700)
    finally:
        for path in planted:
            subprocess.run(["rm", "-rf", path], capture_output=True)


SECRET_WALK = r"""
import os, sys
secrets = [line for line in open(sys.argv[1]).read().split("\n") if line]
roots = sys.argv[2:]
found, readable = [], 0
for root in roots:
    for folder, folders, files in os.walk(root, onerror=lambda error: None):
        folders[:] = [f for f in folders if not os.path.islink(os.path.join(folder, f))]
        for name in files:
            path = os.path.join(folder, name)
            try:
                if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > 5_000_000:
                    continue
                data = open(path, "rb").read().decode("utf-8", "replace")
            except OSError:
                continue
            readable += 1
            found += [f"{os.stat(path).st_uid}\t{path}\t{secret}" for secret in secrets if secret in data]
print(readable)
print("\n".join(found))
"""


def test_a_student_reads_nothing_of_the_instructors(hub):
    """Walking every folder eve's server can reach where course files could be (the course root, this
    repository, the hub's state, /tmp, /srv, /home, /var/tmp, /usr/local/share...), as eve: no solution line,
    no hidden test line, no gradebook?"""
    eve = hub.people["eve"]
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
    done = eve.run(PYTHON, "-c", SECRET_WALK, str(secrets_file), *roots, timeout=600)
    readable, *lines = done.stdout.strip().split("\n")
    ours = {str(hub.folder), str(REPOSITORY)}  # this class's set-up: everything found there counts
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


def test_feedback_reaches_its_student_only(hub):
    """The instructor releases feedback through the service: does alice get hers with nbgrader's own
    fetch_feedback, without the hidden test, and is eve refused bob's?"""
    if not (hub.course / "grades.csv").is_file():  # (this test run alone)
        hub.grades()
    out = hub.people["instructor"].course("feedback").stdout
    assert "feedback released to the exchange service" in out, out
    alice, eve, bob = hub.people["alice"], hub.people["eve"], hub.people["bob"]
    alice.nbgrader("fetch_feedback", "first")
    pages = list((alice.user.home / "first" / "feedback").rglob("*.html"))
    assert len(pages) == 1, pages
    import html
    import re

    page = html.unescape(re.sub(r"<[^>]+>", "", pages[0].read_text()))  # the text, without the highlighting
    assert "return 734519" in page and f"assert answer() == {ANSWER}" not in page
    stamp = (hub.course / "submitted" / bob.name / "first" / ".exchange-source").read_text().strip()
    status, answer = eve.api("GET", f"/feedback/{COURSE_ID}/first/{bob.name}", params={"timestamp": stamp})
    assert status == 403 and not answer.get("files"), (status, answer)


def test_grades_survive_a_hub_restart(hub):
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
