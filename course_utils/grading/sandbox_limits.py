"""The resource limits of one sandboxed kernel, and how they map onto process limits.

Standard library only (the launcher imports it, see
:mod:`~course_utils.grading.sandbox_launcher`). The limits take part in the
grade cache's fingerprint like every module of the grading package.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed kernel (each process, unless noted)."""

    memory_bytes: int = 4 << 30  # RLIMIT_DATA; as root the whole sandbox gets twice this
    cpu_seconds: int = 1800  # RLIMIT_CPU: the kernel is killed after this much CPU time
    processes: int = 512  # processes and threads of the whole sandbox
    file_bytes: int = 1 << 30  # RLIMIT_FSIZE: largest file it can write
    tmp_bytes: int = 512 << 20  # size of the private /tmp and of /dev/shm
    work_bytes: int = 512 << 20  # what it may add to its working folder (a tmpfs: in memory, never the disk)

    @property
    def sandbox_memory_bytes(self) -> int:
        """Memory of all processes together (root only, by cgroup). Above the
        per-process limit, so that one hog gets a MemoryError rather than the
        whole sandbox thrashing at the cgroup limit."""
        return 2 * self.memory_bytes

    def process_limits(self) -> dict[str, tuple[int, int]]:
        """The kernel's rlimits as ``{name: (soft, hard)}``, in the order they are set.

        Names are ``prlimit``'s options and, upper-cased after ``RLIMIT_``, the
        ``resource`` module's constants: what ``prlimit`` sets for a fresh kernel
        (:func:`.sandbox_command.bwrap_command`) and a warm one sets itself
        (:mod:`.kernel_zygote`).
        """
        return {
            "data": (self.memory_bytes, self.memory_bytes),
            "cpu": (self.cpu_seconds, self.cpu_seconds + 5),  # SIGXCPU first, SIGKILL 5 s later
            "nproc": (self.processes, self.processes),
            "fsize": (self.file_bytes, self.file_bytes),
            "core": (0, 0),
        }


LIMITS = Limits()  # what autograde uses
