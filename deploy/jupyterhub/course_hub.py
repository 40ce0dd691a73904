"""Run the course's JupyterHub on one machine: settings, users from the roster, the shared data.

    python deploy/jupyterhub/course_hub.py start        prepare, then run JupyterHub (what `make hub` runs)
    python deploy/jupyterhub/course_hub.py add-users assignments/roster.csv [--instructor NAME ...]
    python deploy/jupyterhub/course_hub.py fetch-data   notMNIST into the shared COURSE_DATA_DIR, once

``start`` and ``add-users`` need root (the hub starts each user's server as
that user). Settings come from the environment (see :func:`settings`).
"""
from __future__ import annotations

import argparse
import csv
import grp
import os
import pwd
import re
import secrets
import shlex
import signal
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parents[1]
COURSE_ID = "deep-learning-course"
# Passed from the hub's environment to every server when set (offline data, tests).
PASSED_TO_SERVERS = ("NOTMNIST_URL", "COURSE_QUICK_RUN", "COURSE_SANDBOX", "OMP_NUM_THREADS")
UNIX_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
EXCHANGE_SERVICE = "ngshare"  # the hub service that is the exchange (exchange_service.py)
# What students' servers need from the course root: the Python environment, the
# course's package, the hub's role settings, the lectures. Everything else (.git,
# tests, assignments/, the hub's state, scripts) is closed to everyone but the
# instructors' group.
OPEN_TO_STUDENTS = (".venv", "course_utils", "deploy", "lectures")


@dataclass(frozen=True)
class HubSettings:
    ip: str
    port: int
    bin: Path
    state: Path
    course_root: Path
    data_dir: Path
    students_group: str
    instructors_group: str
    extra_environment: dict = field(default_factory=dict)
    server_args: list = field(default_factory=list)


def settings(environ=os.environ) -> HubSettings:
    """The hub's settings: each has an environment variable and a default for one machine."""
    return HubSettings(
        ip=environ.get("HUB_IP", "127.0.0.1"),
        port=int(environ.get("HUB_PORT", "8000")),
        bin=Path(environ.get("HUB_VENV", REPOSITORY / ".venv")) / "bin",
        state=Path(environ.get("HUB_STATE_DIR", HERE / "state")),
        course_root=Path(environ.get("COURSE_ROOT", REPOSITORY)).resolve(),
        data_dir=Path(environ.get("COURSE_DATA_DIR") or f"/srv/{COURSE_ID}/data"),
        students_group=environ.get("COURSE_STUDENTS_GROUP", "course-students"),
        instructors_group=environ.get("COURSE_INSTRUCTORS_GROUP", "course-instructors"),
        extra_environment={name: environ[name] for name in PASSED_TO_SERVERS if name in environ},
        server_args=shlex.split(environ.get("HUB_SERVER_ARGS", "")),
    )


def exchange_url(hub: HubSettings) -> str:
    """Where the exchange service listens (loopback, ``HUB_PORT + 82``); its API is below /services/ngshare/."""
    return f"http://127.0.0.1:{hub.port + 82}"


def instructors(hub: HubSettings) -> list[str]:
    """The members of the instructors' group: the exchange's admins."""
    try:
        group = grp.getgrnam(hub.instructors_group)
    except KeyError:
        return []
    return sorted(set(group.gr_mem) | {user.pw_name for user in pwd.getpwall() if user.pw_gid == group.gr_gid})


def run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed: {done.stderr.strip()}")


def ensure_group(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        run("groupadd", name)
        return grp.getgrnam(name).gr_gid


def prepare(hub: HubSettings) -> None:
    """Everything the hub needs on disk, with the permissions a class needs.

    * the groups; the hub's state folder and the exchange service's folder
      in it (root only). The exchange is a hub service, not a folder that
      students write: no folder is writable by more than one student;
    * the shared data folder: instructors write it, everybody reads it;
    * the course root's assignments/ folder (solutions, hidden tests,
      submissions, the gradebook): instructors' group may read and write it,
      students may not even list it; the rest of the course root (and of
      this repository) is closed to students too, but for what their
      servers run (:func:`close_to_students`).

    Modes and groups change, never content: grades survive (make export
    decides what changed by content, not by ctime).
    """
    instructors = ensure_group(hub.instructors_group)
    ensure_group(hub.students_group)
    hub.state.mkdir(parents=True, exist_ok=True)
    hub.state.chmod(0o700)
    hub.data_dir.mkdir(parents=True, exist_ok=True)
    os.chown(hub.data_dir, 0, instructors)
    hub.data_dir.chmod(0o2775)
    assignments = hub.course_root / "assignments"
    for folder, folders, files in os.walk(assignments):
        for name in folders:
            os.chown(os.path.join(folder, name), -1, instructors)
            os.chmod(os.path.join(folder, name), 0o2770)
        for name in files:
            path = os.path.join(folder, name)
            os.chown(path, -1, instructors)
            os.chmod(path, (os.stat(path).st_mode | 0o060) & ~0o007)
    os.chown(assignments, -1, instructors)
    assignments.chmod(0o2770)
    for root in {hub.course_root, REPOSITORY}:
        close_to_students(root, instructors, hub.state)
    exchange = hub.state / "exchange"
    exchange.mkdir(exist_ok=True)
    exchange.chmod(0o700)


def close_to_students(root: Path, instructors_gid: int, state: Path) -> None:
    """Close ``root`` (a course root or the hub's repository) to everyone but root and the instructors.

    Others may pass through ``root`` (mode o=x, no listing) into
    :data:`OPEN_TO_STUDENTS` only; every other entry of ``root`` loses its
    o-bits and gives the instructors' group read access instead. Only these
    top-level entries change mode: nothing below them (submissions, grades)
    is touched.
    """
    if not root.is_dir():
        return
    os.chown(root, -1, instructors_gid)
    root.chmod((stat.S_IMODE(os.stat(root).st_mode) & ~0o007) | 0o051)
    for entry in root.iterdir():
        if entry.name in OPEN_TO_STUDENTS or entry.is_symlink():
            continue
        os.chown(entry, -1, instructors_gid)
        mode = stat.S_IMODE(os.stat(entry).st_mode)
        entry.chmod((mode & ~0o007) | (0o050 if entry.is_dir() else 0o040))
    hub_state = root / "deploy" / "jupyterhub" / "state"
    if hub_state.is_dir() and hub_state.resolve() != state.resolve():
        hub_state.chmod(0o700)


def _blocked_ancestor(path: Path) -> Path | None:
    """The highest folder above ``path`` that other users cannot enter (no o+x), if any."""
    for ancestor in reversed(path.parents):
        if ancestor != Path("/") and not os.stat(ancestor).st_mode & 0o001:
            return ancestor
    return None


def exposing_prefix(hub: HubSettings) -> list[str]:
    """A command prefix that lets users' servers reach the course's Python, or [] where they can.

    Where the interpreter lives in a private folder (pyenv under /root, mode
    0700), the hub runs in its own mount namespace in which that folder is an
    empty tmpfs with only the interpreter, the venv and the repository bound
    in read-only; the servers it starts inherit it. Nothing changes outside.
    On a class machine, install Python where every user can run it instead.
    """
    needed = sorted({Path(os.path.realpath(p)) for p in
                     (sys.base_prefix, hub.bin.parent, REPOSITORY, hub.course_root)})
    exposures = [(path, blocked) for path in needed if (blocked := _blocked_ancestor(path))]
    if not exposures:
        return []
    script = ["set -e", "hold=$(mktemp -d)"]
    for index, (path, _) in enumerate(exposures):
        script += [f'mkdir "$hold/{index}"', f'mount --bind {shlex.quote(str(path))} "$hold/{index}"']
    for blocked in sorted({blocked for _, blocked in exposures}):
        script.append(f"mount -t tmpfs -o mode=0755,size=1m course-hub {shlex.quote(str(blocked))}")
    for index, (path, _) in enumerate(exposures):
        script += [f"mkdir -p {shlex.quote(str(path))}",
                   f'mount --bind -o ro "$hold/{index}" {shlex.quote(str(path))}', f'umount "$hold/{index}"']
    script += ['rm -r "$hold"', 'exec "$@"']
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(script), "course-hub"]


def start(hub: HubSettings) -> None:
    if os.geteuid() != 0:
        raise SystemExit("the hub starts every user's server as that user: run 'sudo make hub'")
    prepare(hub)
    command = [*exposing_prefix(hub), str(hub.bin / "jupyterhub"), "-f", str(HERE / "jupyterhub_config.py")]
    print(f"JupyterHub for {COURSE_ID} on http://{hub.ip}:{hub.port} (course {hub.course_root}, "
          f"exchange service {exchange_url(hub)}/services/{EXCHANGE_SERVICE}/, data {hub.data_dir})", flush=True)
    os.chdir(hub.state)
    exec_with_default_sigint(command)


def exec_with_default_sigint(command: list[str]) -> None:
    """Replace this process with ``command``, SIGINT set back to its default action first.

    A job that a non-interactive shell starts in the background (``nohup make hub &``, some CI
    runners) inherits SIGINT *ignored*, and so would the hub's exchange service and every server
    it starts. JupyterHub stops those with SIGINT and waits 30 s before it sends SIGTERM, so each
    stop of the hub took 30 s longer. (A blocked SIGINT, kept across exec too, is unblocked.)
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    os.execvp(command[0], command)


def add_users(hub: HubSettings, roster: Path, instructors: list[str], passwords: Path) -> None:
    """Create a Unix user per roster row (``student_id``) and per ``--instructor``, with a random password.

    Users that exist are only added to their group. New passwords go to
    ``passwords`` (root only), one ``user,password`` per line, for you to hand out.
    """
    if os.geteuid() != 0:
        raise SystemExit("creating users needs root: sudo .venv/bin/python deploy/jupyterhub/course_hub.py ...")
    with open(roster, newline="") as handle:
        students = [row["student_id"].strip() for row in csv.DictReader(handle) if row.get("student_id", "").strip()]
    bad = [name for name in students + instructors if not UNIX_NAME.fullmatch(name)]
    if bad:
        raise SystemExit(f"not usable as Unix user names (lower case, digits, - and _): {', '.join(bad)}")
    ensure_group(hub.students_group)
    ensure_group(hub.instructors_group)
    created = []
    for name, group in [(n, hub.students_group) for n in students] + [(n, hub.instructors_group) for n in instructors]:
        try:
            pwd.getpwnam(name)
            run("usermod", "--append", "--groups", group, name)
            continue
        except KeyError:
            pass
        run("useradd", "--create-home", "--shell", "/bin/bash", "--groups", group, name)
        Path(pwd.getpwnam(name).pw_dir).chmod(0o700)  # a student's home is theirs alone
        password = secrets.token_urlsafe(12)
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True, capture_output=True)
        created.append((name, password))
    passwords.parent.mkdir(parents=True, exist_ok=True)
    with open(os.open(passwords, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "w") as handle:
        handle.writelines(f"{name},{password}\n" for name, password in created)
    print(f"{len(created)} user(s) created, {len(students) + len(instructors) - len(created)} existed; "
          f"new passwords in {passwords}")


def fetch_data(hub: HubSettings) -> None:
    """Download and decode notMNIST once into the shared folder every student's lecture 07 reads."""
    sys.path.insert(0, str(REPOSITORY))
    from course_utils.data import load_notmnist

    images, _, _ = load_notmnist(root=hub.data_dir)
    for folder, folders, files in os.walk(hub.data_dir):
        for name in folders + files:
            path = os.path.join(folder, name)
            os.chmod(path, os.stat(path).st_mode | 0o044 | (0o011 if name in folders else 0))
    print(f"{len(images)} notMNIST images in {hub.data_dir}, readable by every user")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("start", help="prepare folders and permissions, then run JupyterHub")
    commands.add_parser("prepare", help="only prepare folders and permissions")
    users = commands.add_parser("add-users", help="Unix users from the roster (and instructors)")
    users.add_argument("roster", type=Path)
    users.add_argument("--instructor", action="append", default=[], help="an instructor's user name (repeatable)")
    users.add_argument("--passwords", type=Path, default=None,
                       help="where new passwords go (default: HUB_STATE_DIR/initial-passwords.csv)")
    commands.add_parser("fetch-data", help="notMNIST into the shared COURSE_DATA_DIR")
    args = parser.parse_args(argv)
    hub = settings()
    if args.command == "start":
        start(hub)
    elif args.command == "prepare":
        prepare(hub)
    elif args.command == "add-users":
        add_users(hub, args.roster, args.instructor, args.passwords or hub.state / "initial-passwords.csv")
    else:
        fetch_data(hub)


if __name__ == "__main__":
    main()
