"""Real, separate Unix users for tests of a class: nbgrader's exchange, JupyterHub's PAM login.

The ``unix_users`` fixture (``tests/conftest.py``) hands out a :class:`UnixUsers`;
``unix_users.add("student")`` creates ``student<random hex>`` with a home
folder (``useradd -m``), and every user and group it created is removed at
the end of the test (``userdel -r``), also when the test fails. Creating users
needs root and ``useradd``/``runuser``: elsewhere the fixture skips the test
with the reason (:func:`why_not_available`).

The users run the course's Python and the repository even where these live
in a private folder (pyenv under ``/root``): :meth:`UnixUser.run` then runs
the command in a mount namespace that shows just those (:func:`exposing_command`).
Files the users must reach (an exchange, a course copy) cannot live under
pytest's ``tmp_path``, which is private to the user running pytest:
:func:`shared_folder` makes a folder under the system's temporary folder that
every user can enter.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

TOOLS = ("useradd", "userdel", "groupadd", "groupdel", "runuser")


def why_not_available() -> str | None:
    """Why users cannot be created here (a one-line reason), or None if they can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "creating Unix users needs root (CI runs the tests as root)"
    tools = (*TOOLS, "unshare", "mount") if any(_blocked_ancestor(p) for p in needed_paths()) else TOOLS
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        return f"creating Unix users needs {', '.join(missing)} (Debian: apt-get install passwd util-linux)"
    return None


@dataclass(frozen=True)
class UnixUser:
    name: str
    uid: int
    gid: int
    home: Path

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """A plain login-like environment for this user (PATH kept, so the course's venv is found)."""
        env = {"HOME": str(self.home), "USER": self.name, "LOGNAME": self.name, "SHELL": "/bin/sh",
               "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        env.update(extra or {})
        return env

    def run(self, args: Sequence[str], *, cwd: str | Path | None = None, env: Mapping[str, str] | None = None,
            check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run ``args`` as this user (``runuser``), in ``cwd`` (default: the home folder); output captured.

        ``env`` is added to :meth:`environment`. On a non-zero exit with
        ``check`` the error names the command and shows its output.
        """
        command = [*exposing_command(), "runuser", "-u", self.name, "--", *args]
        done = subprocess.run(command, cwd=cwd or self.home, env=self.environment(env), text=True,
                              capture_output=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"as {self.name}: {' '.join(map(str, args))} exited {done.returncode}\n"
                                 f"{done.stdout}\n{done.stderr}")
        return done


class UnixUsers:
    """Creates users and groups with unique names; :meth:`remove_all` deletes them again."""

    def __init__(self) -> None:
        self.users: list[UnixUser] = []
        self.groups: list[str] = []

    def add_group(self, prefix: str = "group") -> str:
        name = _unique(prefix)
        subprocess.run(["groupadd", name], check=True, capture_output=True)
        self.groups.append(name)
        return name

    def add(self, prefix: str = "user", groups: Iterable[str] = (), private_home: bool = True) -> UnixUser:
        """A new user ``<prefix><6 hex digits>`` with a home folder, in ``groups`` (which must exist).

        The home folder is private (0700), as on a class's server: with
        Debian's defaults (UMASK 022) ``useradd -m`` makes it 0755, and any
        student could read another's homework and nbgrader's cached copy of
        their submission.
        """
        name = _unique(prefix)
        command = ["useradd", "--create-home", "--shell", "/bin/sh", "--user-group"]
        groups = list(groups)
        if groups:
            command += ["--groups", ",".join(groups)]
        subprocess.run([*command, name], check=True, capture_output=True)
        import pwd

        entry = pwd.getpwnam(name)
        user = UnixUser(name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))
        self.users.append(user)
        if private_home:
            user.home.chmod(0o700)
        return user

    def remove_all(self) -> list[str]:
        """Delete every user (:func:`delete_user`) and group made here; returns the failures."""
        failures = []
        for user in reversed(self.users):
            done = delete_user(user.name)
            # userdel exits 6 when the user was already gone, 12 when only the mail spool was absent.
            if done.returncode not in (0, 6, 12):
                failures.append(f"userdel {user.name}: {done.stderr.strip()}")
        for group in reversed(self.groups):
            done = subprocess.run(["groupdel", group], capture_output=True, text=True)
            if done.returncode != 0:
                failures.append(f"groupdel {group}: {done.stderr.strip()}")
        self.users.clear()
        self.groups.clear()
        return failures


def delete_user(name: str) -> subprocess.CompletedProcess:
    """Kill ``name``'s processes, remove what it left at the top of the temporary folder (torch makes
    ``torchinductor_<name>`` there), then delete the user with home folder and mail spool (``userdel``'s
    result is returned). Files of a deleted user would belong to the next user given its uid."""
    import pwd

    subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
    with contextlib.suppress(KeyError):
        uid = pwd.getpwnam(name).pw_uid
        for folder in {Path("/tmp"), Path(tempfile.gettempdir())}:
            for entry in folder.iterdir() if folder.is_dir() else []:
                with contextlib.suppress(OSError):
                    if entry.lstat().st_uid != uid:
                        continue
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry)
                    else:
                        entry.unlink()
    return subprocess.run(["userdel", "--remove", "--force", name], capture_output=True, text=True)


def needed_paths() -> list[Path]:
    """What every user must reach: the Python installation (venv and interpreter) and the repository."""
    repository = Path(__file__).resolve().parents[1]
    return sorted({Path(os.path.realpath(p)) for p in (sys.base_prefix, sys.prefix, repository)})


def _blocked_ancestor(path: Path) -> Path | None:
    """The highest folder above ``path`` that other users cannot enter (no o+x), if any."""
    for ancestor in reversed(path.parents):  # from / downwards
        if ancestor != Path("/") and not os.stat(ancestor).st_mode & 0o001:
            return ancestor
    return None


def exposing_command() -> list[str]:
    """A command prefix that makes :func:`needed_paths` reachable for the command it runs, or [].

    Where the interpreter lives below a private folder (pyenv in ``/root``,
    mode 0700), the command runs in its own mount namespace in which that
    folder is an empty tmpfs holding only the needed paths, bound in
    read-only. Nothing changes for the rest of the system.
    """
    exposures = [(path, blocked) for path in needed_paths() if (blocked := _blocked_ancestor(path))]
    if not exposures:
        return []
    script = ["set -e", 'hold=$(mktemp -d)']
    for index, (path, _) in enumerate(exposures):
        script += [f'mkdir "$hold/{index}"', f"mount --bind {shlex.quote(str(path))} \"$hold/{index}\""]
    for blocked in sorted({blocked for _, blocked in exposures}):
        script.append(f"mount -t tmpfs -o mode=0755,size=1m course-test {shlex.quote(str(blocked))}")
    for index, (path, _) in enumerate(exposures):
        script += [f"mkdir -p {shlex.quote(str(path))}",
                   f"mount --bind -o ro \"$hold/{index}\" {shlex.quote(str(path))}",
                   f'umount "$hold/{index}"']
    script += ['rm -r "$hold"', 'exec "$@"']
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(script), "expose"]


def _unique(prefix: str) -> str:
    cleaned = "".join(c for c in prefix.lower() if c.isalnum())[:20] or "user"
    if not cleaned[0].isalpha():
        cleaned = "u" + cleaned
    return f"{cleaned}{secrets.token_hex(3)}"


def shared_folder(prefix: str = "course-test-") -> Path:
    """A new folder in the system's temporary folder that every user may enter (mode 0755); the caller removes it."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


@contextlib.contextmanager
def top_level_permissions_kept(*roots: Path):
    """Put back the owner group and mode of each root and its top-level entries afterwards.

    ``course_hub.py prepare`` closes the repository to students by giving its
    top-level entries to the hub's instructors' group; a test that starts a hub
    removes that group afterwards, and must not leave the repository owned by
    a deleted group (whose gid a later group could take).
    """
    saved = {}
    for root in roots:
        for path in [root, *(root.iterdir() if root.is_dir() else [])]:
            if not path.is_symlink():
                info = os.stat(path)
                saved[path] = (info.st_gid, info.st_mode & 0o7777)
    try:
        yield
    finally:
        for path, (gid, mode) in saved.items():
            with contextlib.suppress(OSError):
                os.chown(path, -1, gid)
                os.chmod(path, mode)


def kill_processes_naming(folder: Path) -> list[int]:
    """Kill (SIGKILL) every process whose command line names ``folder``; return their pids.

    A hub's managed services (the exchange service) run in sessions of their own: stopping the hub's
    process group leaves them running when the hub does not stop them itself (it was killed, or timed out).
    Their command lines name the hub's state folder, which is how a test finds them afterwards.
    """
    killed = []
    needle = str(folder).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
        except (OSError, ProcessLookupError):
            continue
    return killed


def kill_hub_leftovers(state: Path) -> list[int]:
    """Kill what a stopped (or killed) hub with state folder ``state`` may leave running; return their pids.

    Its managed services (:func:`kill_processes_naming`), and its configurable-http-proxy, which JupyterHub
    starts in a session of its own and stops itself only when it exits cleanly (its pid is in
    ``state/jupyterhub-proxy.pid``; killed only if that process still is the proxy).
    """
    killed = kill_processes_naming(state)
    with contextlib.suppress(OSError, ValueError, ProcessLookupError):
        pid = int((state / "jupyterhub-proxy.pid").read_text().strip())
        if b"configurable-http-proxy" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    return killed
