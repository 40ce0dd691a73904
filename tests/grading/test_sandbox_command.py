"""The bwrap command line of a sandboxed program (course_utils.grading.sandbox_command)."""
from __future__ import annotations

import resource

from course_utils.grading.sandbox_command import WORK_SOURCE, bwrap_command, kernel_program
from course_utils.grading.sandbox_limits import Limits

LIMITS = Limits(memory_bytes=1000, cpu_seconds=60, processes=8, file_bytes=2000, work_bytes=300)


def _command(program: list[str]) -> list[str]:
    return bwrap_command(bwrap="/usr/bin/bwrap", prlimit="/usr/bin/prlimit", python="/env/bin/python",
                         readonly=["/env"], limits=LIMITS, ipc_dir="/runtime/ipc",
                         connection_file="/runtime/tmp/kernel-1.json", workdir="/course/autograded/alice/hw",
                         copy="/runtime/scratch/x/work", copy_bytes=100, program=program)


def test_the_program_runs_last_under_prlimits_limits():
    """Does the given program run in place of the kernel, after prlimit has set every per-process limit?"""
    command = _command(["/env/bin/python", "-c", "pass"])
    assert command[0] == "/usr/bin/bwrap"
    assert command[command.index("/usr/bin/prlimit"):] == [
        "/usr/bin/prlimit", "--data=1000", "--cpu=60:65", "--nproc=8", "--fsize=2000", "--core=0",
        "--", "/env/bin/python", "-c", "pass"]


def test_the_working_folder_is_a_tmpfs_of_the_copys_size_plus_work_bytes_filled_from_the_copy():
    """Is the working folder a tmpfs sized copy + work_bytes, with the copy bound read-only to fill it?"""
    command = _command(kernel_program("/env/bin/python", "/runtime/tmp/kernel-1.json"))
    tmpfs = command.index("/course/autograded/alice/hw")
    assert command[tmpfs - 3:tmpfs] == ["--size", "400", "--tmpfs"]
    source = command.index(WORK_SOURCE)
    assert command[source - 2:source] == ["--ro-bind", "/runtime/scratch/x/work"]
    assert command[-6:] == ["/env/bin/python", "-m", "ipykernel_launcher", "-f", "/runtime/tmp/kernel-1.json",
                            "--HistoryManager.hist_file=:memory:"]


def test_every_process_limit_is_one_that_a_warm_kernel_can_set_itself():
    """A warm kernel sets Limits.process_limits() with setrlimit: is each name a resource.RLIMIT_* too?"""
    assert all(hasattr(resource, f"RLIMIT_{name.upper()}") for name in Limits().process_limits())
