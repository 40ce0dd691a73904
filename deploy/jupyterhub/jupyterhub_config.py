"""JupyterHub for this course on one Linux machine: ``make hub`` (as root) starts it.

* Login: the machine's Unix users with their passwords (PAM). Members of the
  groups ``COURSE_STUDENTS_GROUP`` (default ``course-students``) and
  ``COURSE_INSTRUCTORS_GROUP`` (default ``course-instructors``) may log in;
  ``deploy/jupyterhub/course_hub.py add-users assignments/roster.csv`` creates
  them from the roster. Another authenticator (OAuth through your LMS or
  GitHub, LTI) replaces ``c.JupyterHub.authenticator_class`` below; the
  servers still run as Unix users, so the users must exist (README,
  "Running the course for a class").
* Every user's server runs this repository's ``.venv`` (the course's pinned
  packages) as that user (LocalProcessSpawner, the hub runs as root), so
  nbgrader knows each student by their Unix name.
* Roles, by group: instructors start in the course (``COURSE_ROOT``, default
  this repository) with Formgrader, *Create Assignment* and the course list;
  students start in their home folder with the *Assignments* tab and
  *Validate* only. Each role's JupyterLab and nbgrader settings are the
  folder ``roles/<role>/``, put first on the server's ``JUPYTER_CONFIG_PATH``.
* Formgrader under the hub: JupyterHub forbids every page to be framed
  (``frame-ancestors 'none'``), which blanks Formgrader's JupyterLab tab, an
  iframe. Instructors' servers only allow framing by their own origin
  (``frame-ancestors 'self'`` in ``roles/instructor``); the hub's pages and
  students' servers keep ``'none'``. MathJax comes from the server itself
  (``share/``, jupyter_server_mathjax), so Formgrader shows maths offline.
* Shared data: ``COURSE_DATA_DIR`` (default ``/srv/deep-learning-course/data``)
  is one notMNIST cache for everybody, written by instructors (``course_hub.py
  fetch-data``) and read-only for students.

Addresses: ``HUB_IP`` (default 127.0.0.1, loopback only) and ``HUB_PORT``
(default 8000) for the pages; the proxy's API and the hub listen on
127.0.0.1 at ``HUB_PORT + 1`` and ``HUB_PORT + 81`` (8001 and 8081 by
default, JupyterHub's own). The hub's database, cookie secret and proxy
token live in ``HUB_STATE_DIR`` (default ``deploy/jupyterhub/state/``).
"""
import grp
import os
import pwd
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (traitlets provides it when it loads this file)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from course_hub import EXCHANGE_SERVICE, exchange_url, instructors, settings  # noqa: E402 (the folder above is put on the path first)

hub = settings()

c.JupyterHub.ip = hub.ip
c.JupyterHub.port = hub.port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = hub.port + 81
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{hub.port + 1}"
# The Python proxy gives up on a request after 20 s by default (tornado's client
# timeout); Validate runs the whole notebook in one request: allow 10 minutes.
c.ConfigurableHTTPProxy.command = [str(hub.bin / "configurable-http-proxy"), "--proxy-timeout", "600000"]
c.ConfigurableHTTPProxy.pid_file = str(hub.state / "jupyterhub-proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{hub.state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(hub.state / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True

c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.allowed_groups = {hub.students_group, hub.instructors_group}
# No PAM session (pam_systemd, pam_limits) per server: containers have no systemd.
c.PAMAuthenticator.open_sessions = False

c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(hub.bin / "jupyterhub-singleuser")]
# HUB_SERVER_ARGS: extra options for every user's server, e.g. the browser
# tests' --LabApp.expose_app_in_browser=True (tests/browser/test_hub.py).
c.Spawner.args = hub.server_args
c.Spawner.default_url = "/lab"
# A class logs in at once on a small machine: give servers time to start.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180


def is_instructor(name: str) -> bool:
    try:
        group = grp.getgrnam(hub.instructors_group)
    except KeyError:
        return False
    return name in group.gr_mem or pwd.getpwnam(name).pw_gid == group.gr_gid


def per_role(spawner):
    """Start instructors in the course with the instructor settings, students at home with theirs."""
    role = "instructor" if is_instructor(spawner.user.name) else "student"
    spawner.notebook_dir = str(hub.course_root) if role == "instructor" else "~"
    spawner.environment.update({
        "PATH": f"{hub.bin}:/usr/local/bin:/usr/bin:/bin",
        "JUPYTER_CONFIG_PATH": str(HERE / "roles" / role),
        "JUPYTER_PATH": str(HERE / "share"),
        "COURSE_EXCHANGE_URL": exchange_url(hub) + f"/services/{EXCHANGE_SERVICE}",
        "COURSE_DATA_DIR": str(hub.data_dir),
        "COURSE_ROLE": role,
        **hub.extra_environment,
    })
    # Only instructors learn where the course lives (students cannot enter it anyway).
    if role == "instructor":
        spawner.environment["COURSE_ROOT"] = str(hub.course_root)
    spawner.log.info("starting %s's server as %s in %s", spawner.user.name, role, spawner.notebook_dir)


c.Spawner.pre_spawn_hook = per_role

# The exchange: ngshare as a hub service (exchange_service.py), its database and
# files in HUB_STATE_DIR/exchange (root only). It knows each request's user from
# the hub and stamps submissions with its own clock. Instructors are its admins.
c.JupyterHub.services = [{
    "name": EXCHANGE_SERVICE,
    "url": exchange_url(hub),
    "command": [str(hub.bin / "python"), str(HERE / "exchange_service.py"),
                "--database", f"sqlite:///{hub.state / 'exchange' / 'ngshare.db'}",
                "--storage", str(hub.state / "exchange" / "files"),
                "--admins", ",".join(instructors(hub))],
    "environment": {"PATH": f"{hub.bin}:/usr/bin:/bin"},
}]
