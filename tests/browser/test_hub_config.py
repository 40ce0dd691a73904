"""deploy/jupyterhub/jupyterhub_config.py as JupyterHub loads it (no root, no browser needed)."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import types

import pytest
from traitlets.config.loader import PyFileConfigLoader

from lab_pages import ROOT

HUB = ROOT / "deploy" / "jupyterhub"


def load_hub_config(monkeypatch, **environment):
    for name in ("HUB_IP", "HUB_PORT", "COURSE_ROOT", "COURSE_INSTRUCTORS_GROUP"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return PyFileConfigLoader("jupyterhub_config.py", path=str(HUB)).load_config()


def test_hub_listens_on_loopback_port_8000_by_default(monkeypatch):
    """Is a hub started without settings reachable from this machine only?"""
    config = load_hub_config(monkeypatch)
    assert (config.JupyterHub.ip, config.JupyterHub.port) == ("127.0.0.1", 8000)
    assert config.JupyterHub.hub_ip == "127.0.0.1"
    assert config.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:8001"


def test_hub_ip_and_port_are_honoured(monkeypatch):
    """Do HUB_IP and HUB_PORT move the hub's pages, and its API and the proxy's along?"""
    config = load_hub_config(monkeypatch, HUB_IP="0.0.0.0", HUB_PORT="9000")
    assert (config.JupyterHub.ip, config.JupyterHub.port) == ("0.0.0.0", 9000)
    assert config.JupyterHub.hub_port == 9081
    assert config.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:9001"


def test_every_server_runs_the_course_environment_and_logs_in_with_pam(monkeypatch):
    config = load_hub_config(monkeypatch)
    assert config.Spawner.cmd == [str(ROOT / ".venv" / "bin" / "jupyterhub-singleuser")]
    assert config.JupyterHub.authenticator_class == "pam"
    assert config.JupyterHub.spawner_class == "localprocess"


@pytest.mark.parametrize("instructor", [False, True])
def test_roles_start_where_they_work_with_their_settings(monkeypatch, instructor):
    """Does a student start at home with the student settings, an instructor in the course?"""
    config = load_hub_config(monkeypatch, COURSE_INSTRUCTORS_GROUP="no-such-group-for-tests")
    hook = config.Spawner.pre_spawn_hook
    monkeypatch.setitem(hook.__globals__, "is_instructor", lambda name: instructor)
    spawner = types.SimpleNamespace(user=types.SimpleNamespace(name="someone"), environment={},
                                    notebook_dir=None, log=types.SimpleNamespace(info=lambda *args: None))
    hook(spawner)
    role = "instructor" if instructor else "student"
    assert spawner.notebook_dir == (str(ROOT) if instructor else "~")
    assert spawner.environment["JUPYTER_CONFIG_PATH"] == str(HUB / "roles" / role)
    assert spawner.environment["PATH"].startswith(str(ROOT / ".venv" / "bin"))
    assert spawner.environment["COURSE_EXCHANGE_URL"] == "http://127.0.0.1:8082/services/ngshare"
    # where the course lives is the instructors' business only
    assert ("COURSE_ROOT" in spawner.environment) == instructor
    if not instructor:
        assert not [value for value in spawner.environment.values() if str(ROOT) in value
                    and not value.startswith(str(ROOT / ".venv")) and str(HUB) not in value], spawner.environment


def test_the_exchange_is_a_hub_service_on_loopback_with_its_own_database(monkeypatch):
    """Does the hub run the exchange service (ngshare) on 127.0.0.1, its database and files in the hub's state?"""
    config = load_hub_config(monkeypatch, HUB_STATE_DIR="/srv/hub-state")
    (service,) = config.JupyterHub.services
    assert service["name"] == "ngshare" and service["url"] == "http://127.0.0.1:8082"
    command = service["command"]
    assert command[1] == str(HUB / "exchange_service.py")
    assert command[command.index("--database") + 1] == "sqlite:////srv/hub-state/exchange/ngshare.db"
    assert command[command.index("--storage") + 1] == "/srv/hub-state/exchange/files"


@pytest.mark.parametrize("role", ["student", "instructor"])
def test_nbgrader_of_every_role_uses_the_exchange_service(monkeypatch, role):
    """Do both roles' nbgrader settings send fetch, submit, collect and feedback to ngshare, not a folder?"""
    monkeypatch.setenv("COURSE_EXCHANGE_URL", "http://127.0.0.1:8082/services/ngshare")
    monkeypatch.setenv("COURSE_ROOT", str(ROOT))
    monkeypatch.setenv("JUPYTERHUB_USER", "someone")  # the plugin reads it when imported (a server has it)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(HUB / "roles" / role)).load_config()
    factory = config.ExchangeFactory
    assert factory.submit.__module__ == "ngshare_exchange.submit"
    assert factory.list.__module__ == "ngshare_exchange.list"
    assert factory.exchange().ngshare_url == "http://127.0.0.1:8082/services/ngshare"


def test_only_instructors_get_formgrader_and_only_their_servers_may_be_framed():
    student = json.loads((HUB / "roles" / "student" / "jupyter_server_config.json").read_text())["ServerApp"]
    instructor = json.loads((HUB / "roles" / "instructor" / "jupyter_server_config.json").read_text())["ServerApp"]
    assert student["jpserver_extensions"]["nbgrader.server_extensions.formgrader"] is False
    assert instructor["jpserver_extensions"]["nbgrader.server_extensions.formgrader"] is True
    assert "tornado_settings" not in student  # JupyterHub's frame-ancestors 'none' stays
    assert instructor["tornado_settings"]["headers"]["Content-Security-Policy"] == "frame-ancestors 'self'"
    disabled = json.loads((HUB / "roles" / "student" / "labconfig" / "page_config.json").read_text())
    assert disabled["disabledExtensions"]["@jupyter/nbgrader:formgrader"] is True


def test_prepare_closes_the_course_root_to_students_but_what_their_servers_run(tmp_path):
    """Is every entry of the course root but .venv, course_utils, deploy and lectures closed to others
    (group: the instructors), the root itself passable but not listable, and nothing below touched?"""
    import grp
    import os
    import stat
    import subprocess
    import sys

    if os.geteuid() != 0:
        pytest.skip("changing a folder's group to the instructors' needs root")
    sys.path.insert(0, str(HUB))
    from course_hub import OPEN_TO_STUDENTS, close_to_students

    for name in (".git", "tests", "assignments/source", *OPEN_TO_STUDENTS):
        (tmp_path / name).mkdir(parents=True)
    (tmp_path / "assignments" / "source" / "hw.ipynb").write_text("solution")
    (tmp_path / "README.md").write_text("readme")
    group = f"h27grp{os.getpid()}"
    subprocess.run(["groupadd", group], check=True)
    try:
        gid = grp.getgrnam(group).gr_gid
        close_to_students(tmp_path, gid, tmp_path / "state")
        mode = lambda path: stat.S_IMODE(os.stat(path).st_mode)  # noqa: E731
        assert mode(tmp_path) & 0o007 == 0o001
        for name in (".git", "tests", "assignments", "README.md"):
            assert mode(tmp_path / name) & 0o007 == 0 and os.stat(tmp_path / name).st_gid == gid, name
        for name in OPEN_TO_STUDENTS:
            assert mode(tmp_path / name) & 0o005 == 0o005, name
        assert mode(tmp_path / "assignments" / "source" / "hw.ipynb") == 0o644  # below: untouched
    finally:
        subprocess.run(["groupdel", group], capture_output=True)


def test_the_hub_and_what_it_starts_stop_on_sigint_even_if_started_with_it_ignored():
    """A hub launched from a background job (SIGINT ignored) must not pass that on: JupyterHub
    stops its exchange service and the servers with SIGINT, and waits 30 s before SIGTERM."""
    child = ("import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, "
             "signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []))")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import course_hub; "
            f"course_hub.exec_with_default_sigint([sys.executable, '-c', {child!r}])")

    def ignore_and_block_sigint():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

    output = subprocess.run([sys.executable, "-c", code, str(HUB)], preexec_fn=ignore_and_block_sigint,
                            capture_output=True, text=True, timeout=60)
    assert output.stdout.split() == ["True", "False"], output
