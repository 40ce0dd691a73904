"""tests/unix_users.py: a test's users leave nothing behind."""
from __future__ import annotations

import pwd
import tempfile
from pathlib import Path

import pytest

from unix_users import delete_user


def test_a_deleted_user_leaves_nothing_in_the_temporary_folder(unix_users):
    """What the user made at the top of /tmp (torch makes torchinductor_<user> there) goes with the user;
    what others made there stays."""
    user = unix_users.add("tmpuser")
    made = Path(tempfile.gettempdir()) / f"left-by-{user.name}"
    user.run(["mkdir", "-p", str(made / "inside")])
    user.run(["touch", f"{made}.file"])
    ours = Path(tempfile.mkdtemp(prefix="not-the-users-"))
    try:
        assert made.is_dir() and Path(f"{made}.file").is_file()
        done = delete_user(user.name)
        assert done.returncode in (0, 12), done.stderr  # 12: only the mail spool was absent
        assert not made.exists() and not Path(f"{made}.file").exists()
        assert ours.is_dir()
        with pytest.raises(KeyError):
            pwd.getpwnam(user.name)
    finally:
        ours.rmdir()
