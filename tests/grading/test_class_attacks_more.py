"""More class attacks by one student on the real set-up (issue 27; root only, skipped elsewhere with the reason).

The same class as ``test_class_attacks.py`` (its module-scoped ``hub``
fixture: ``course_hub.py add-users`` and ``start``, the exchange service,
alice and bob honest, eve the attacker, ``first`` due next year and
``second`` due an hour ago). These attacks worked against the set-up when
they were written (see /work/coord/attack27.md of that session); each test
asserts that the attack fails and the class's grades, reports and feedback
are right afterwards.
"""
from __future__ import annotations

import sqlite3
import time

import pytest
from test_class_attacks import (COURSE_ID, RIGHT, assert_honest_grades, hub)  # noqa: F401 (hub: the fixture)

pytestmark = [pytest.mark.root, pytest.mark.slow]


def post(person, assignment: str, files: dict[str, bytes], timeout: float = 300):
    import base64
    import json

    return person.api("POST", f"/submission/{COURSE_ID}/{assignment}", data={"files": json.dumps(
        [{"path": name, "content": base64.b64encode(data).decode()} for name, data in files.items()])},
        timeout=timeout)


def submit_clean(hub, who: str = "eve") -> None:
    """``who`` hands in the right answer again (so the next test starts from an honest class)."""
    person = hub.people[who]
    person.edit("first", RIGHT)
    person.nbgrader("submit", "first")


def storage(hub) -> tuple[set[str], set[str]]:
    """(names of the files in the service's storage folder, names its database refers to)."""
    folder = hub.state / "exchange" / "files"
    on_disk = {path.name for path in folder.iterdir()} if folder.is_dir() else set()
    with sqlite3.connect(f"file:{hub.state / 'exchange' / 'ngshare.db'}?mode=ro", uri=True) as db:
        referred = {row[0] for row in db.execute("SELECT actual_name FROM files")}
    return on_disk, referred


@pytest.mark.parametrize("files", [
    {"timestamp.txt/x": b"a folder named like the file collect writes"},
    {".exchange-source/x": b"a folder named like collect's own record"},
    {"notes/a.txt": b"x", "notes": b"a file named like the folder before it"},
], ids=["timestamp-folder", "source-folder", "file-over-folder"])
def test_file_names_that_clash_with_folders_do_not_stop_collect(hub, files):
    """eve's submission holds a folder where collect writes a file (or a file named like an earlier file's
    folder): is it quarantined with the reason, and the rest of the class collected and graded?"""
    eve = hub.people["eve"]
    notebook = (eve.user.home / "first" / "first.ipynb").read_bytes()
    status, answer = post(eve, "first", {"first.ipynb": notebook, **files})
    assert status == 200, answer
    hub.people["alice"].nbgrader("submit", "second")  # a class-mate's new submission after eve's
    try:
        rows = hub.grades()  # collect must exit 0 (check=True)
        assert f"{eve.name}: " in hub.collected, hub.collected
        assert_honest_grades(hub, rows)
    finally:
        submit_clean(hub)


def test_an_output_that_names_a_hidden_marker_does_not_stop_feedback(hub):
    """eve's answer displays JavaScript holding the hidden-test marker (not text/*, so not redacted): does
    `make feedback` still release every other student's feedback?"""
    eve, alice = hub.people["eve"], hub.people["alice"]
    eve.edit("first", RIGHT + "\nfrom IPython.display import display\n"
             "display({'application/javascript': 'var note = \"BEGIN HIDDEN TESTS\";', 'text/plain': 'x'}, raw=True)")
    eve.nbgrader("submit", "first")
    try:
        assert_honest_grades(hub, hub.grades())
        out = hub.people["instructor"].course("feedback").stdout  # must exit 0
        assert "first: feedback released to the exchange service" in out, out
        alice.nbgrader("fetch_feedback", "first")
        assert list((alice.user.home / "first" / "feedback").rglob("*.html"))
    finally:
        submit_clean(hub)


def test_a_failed_upload_leaves_nothing_in_the_services_storage(hub):
    """eve's upload fails half-way (a NUL in a file's extension makes ngshare's open() raise after it wrote
    the first file): is the written file removed (else she fills the disk past her quota)?"""
    eve = hub.people["eve"]
    on_disk, referred = storage(hub)
    assert on_disk <= referred, sorted(on_disk - referred)[:5]
    for _ in range(2):
        post(eve, "first", {"big.bin": b"\0" * (5 << 20), "x.\x00": b"y"})
    on_disk, referred = storage(hub)
    assert on_disk <= referred, f"{len(on_disk - referred)} file(s) in storage that no submission owns"


def test_thousands_of_empty_files_are_refused_by_the_service(hub):
    """eve sends one submission of 50,000 empty files (the byte quota does not see them; the service stalls
    while it writes them): is it refused, and does the service answer alice meanwhile?"""
    eve, alice = hub.people["eve"], hub.people["alice"]
    import threading

    answers = {}
    flood = threading.Thread(target=lambda: answers.setdefault(
        "eve", post(eve, "first", {f"f{i}": b"" for i in range(50_000)}, timeout=600)))
    flood.start()
    time.sleep(1)
    started = time.monotonic()
    assert alice.api("GET", f"/assignments/{COURSE_ID}")[0] == 200
    waited = time.monotonic() - started
    flood.join()
    try:
        assert answers["eve"][0] in (400, 413), answers["eve"]
        assert waited < 10, f"alice waited {waited:.1f} s for the list of assignments"
    finally:
        submit_clean(hub)


def test_code_that_ast_unparse_cannot_handle_does_not_stop_the_report(hub):
    """eve's right answer carries a 500-term sum (runs in the kernel; ast.unparse recurses too deep): does
    `make autograde` exit 0 and write every assignment's report?"""
    eve = hub.people["eve"]
    reports = hub.course / "reports"
    eve.edit("first", RIGHT + "\nnoise = " + "+".join(["1"] * 500))
    eve.nbgrader("submit", "first")
    started = time.time()
    try:
        rows = hub.grades()  # autograde (and its report) must exit 0
        assert_honest_grades(hub, rows)
        assert rows[(eve.name, "first")]["total"] == "2"
        for assignment in ("first", "second"):
            assert (reports / f"{assignment}.html").stat().st_mtime >= started, assignment
    finally:
        submit_clean(hub)


def test_a_kernel_cannot_fill_the_graders_disk(hub):
    """eve's right answer also allocates 1 GB files in its working folder (a copy on the grader's disk; only
    the per-file limit applies): is the total capped well below 3 GB, and the class graded?"""
    import json

    eve = hub.people["eve"]
    eve.edit("first", RIGHT + "\nimport os\nmade = 0\nfor i in range(3):\n    try:\n"
             "        fd = os.open(f'fill{i}', os.O_CREAT | os.O_WRONLY, 0o600)\n"
             "        os.posix_fallocate(fd, 0, 1 << 30)\n        os.close(fd)\n        made += 1\n"
             "    except OSError:\n        break\nprint('allocated GB:', made)")
    eve.nbgrader("submit", "first")
    try:
        rows = hub.grades()
        assert_honest_grades(hub, rows)
        graded = json.loads((hub.course / "autograded" / eve.name / "first" / "first.ipynb").read_text())
        printed = "".join("".join(output.get("text", "")) for cell in graded["cells"]
                          for output in cell.get("outputs", []))
        assert "allocated GB:" in printed and "allocated GB: 3" not in printed, printed
    finally:
        submit_clean(hub)
