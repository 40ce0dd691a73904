"""The sandbox kernelspec's program (course_utils.grading.sandbox_launcher): runnable as the kernelspec runs it?"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from course_utils.grading import sandbox_launcher

# Runs the launcher as a program (its __main__ blocks included) with no arguments, so that it stops at its
# usage message, then prints what it imported.
RUN_AND_LIST_MODULES = """\
import runpy, sys
try:
    runpy.run_path(sys.argv[1], run_name="__main__")
except SystemExit as stop:
    print(stop.code, file=sys.stderr)
print("\\n".join(sorted(sys.modules)))
"""


def _is_allowed(module: str) -> bool:
    """The standard library, and the package's own standard-library-only sandbox modules."""
    return (module.split(".")[0] in sys.stdlib_module_names or module.startswith("course_utils.grading.sandbox_")
            or module in {"__main__", "course_utils", "course_utils.grading"})


def test_launcher_run_isolated_imports_only_the_standard_library_and_its_sandbox_modules():
    """Run with the kernelspec's flags (python -I -S: no site-packages), does it import nothing else?"""
    python, *flags, launcher = sandbox_launcher.kernelspec_argv(sys.executable)[:4]
    assert flags == ["-I", "-S"]
    result = subprocess.run([python, *flags, "-c", RUN_AND_LIST_MODULES, launcher],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "usage:" in result.stderr, result.stderr
    imported = result.stdout.split()
    assert {"course_utils.grading.sandbox_command", "course_utils.grading.sandbox_cgroups"} <= set(imported)
    assert [module for module in imported if not _is_allowed(module)] == []


def test_launcher_runs_for_an_account_that_cannot_list_the_repository(unix_users):
    """The hub closes the repository's root to other accounts (``course_hub.py prepare``: mode o=x), and an
    instructor may not be in its group: does the launcher, run by such an account, still find its modules?"""
    from unix_users import top_level_permissions_kept

    repository = Path(sandbox_launcher.__file__).resolve().parents[2]
    python, *flags, launcher = sandbox_launcher.kernelspec_argv(sys.executable)[:4]
    user = unix_users.add("launch")
    with top_level_permissions_kept(repository):
        repository.chmod(0o711)  # others may pass through, not list (root itself is not held back by modes)
        done = user.run([python, *flags, launcher], check=False, cwd=user.home)
    assert done.returncode != 0 and "usage:" in done.stderr, done.stderr
