"""The sandbox's working folder cannot fill the grader's disk (issue 27): a tmpfs of limited size.

RLIMIT_FSIZE limits one file; a kernel that fallocates many files (no CPU
time, no memory) used to fill the disk that holds the gradebook.
"""
from __future__ import annotations

import pytest
from jupyter_client import KernelManager  # noqa: F401 (the sandbox tests' kernel)
from test_sandbox import TEST_LIMITS, course, kernel, runtime  # noqa: F401 (fixtures)

from conftest import sandbox_unavailable


@pytest.fixture(scope="module", autouse=True)
def _sandbox_works():
    reason = sandbox_unavailable()
    if reason:
        pytest.skip(reason)


@pytest.mark.slow  # starts a sandboxed kernel
def test_the_working_folder_is_a_tmpfs_of_limited_size(kernel):
    """Files of its own are there; allocating past work_bytes in total fails with ENOSPC, not the disk."""
    chunk = TEST_LIMITS.file_bytes // 2
    stdout, error = kernel.run(
        "import os\nmade = 0\nfor i in range(64):\n    try:\n"
        "        fd = os.open(f'fill{i}', os.O_CREAT | os.O_WRONLY, 0o600)\n"
        f"        os.posix_fallocate(fd, 0, {chunk})\n        os.close(fd)\n        made += 1\n"
        "    except OSError as error:\n        print(error.errno == 28)\n        break\n"
        "print(made)\nprint(os.statvfs('.').f_blocks * os.statvfs('.').f_frsize)\n"
        "for i in range(made):\n    os.remove(f'fill{i}')")
    assert error is None, error
    enospc, made, size = stdout.split()
    assert enospc == "True"
    assert int(made) * chunk <= TEST_LIMITS.work_bytes + (1 << 20)
    assert int(size) <= TEST_LIMITS.work_bytes + (1 << 20)
