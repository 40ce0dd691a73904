"""Is the grading machinery layered, each module above what it calls, and apart from what notebooks import?"""
from __future__ import annotations

import subprocess
import sys

import pytest

# Each case imports a module in a fresh interpreter (torch included).
pytestmark = pytest.mark.slow

# module -> the grading modules it must not import (those above it)
LAYERS = {
    "course_utils.grading.nbgrader_run": ["submission", "parallel", "pipeline"],
    "course_utils.grading.submission": ["parallel", "pipeline"],
    "course_utils.grading.parallel": ["pipeline"],
    # the sandbox: sandbox.py orchestrates the parts, the launcher sits above the stdlib-only parts it runs
    "course_utils.grading.sandbox": ["warm_kernels", "kernel_zygote", "nbgrader_run", "pipeline", "nbgrader"],
    "course_utils.grading.sandbox_launcher": ["sandbox", "warm_kernels", "nbgrader", "jupyter_client"],
    "course_utils.grading.sandbox_command": ["sandbox", "sandbox_launcher", "sandbox_cgroups", "sandbox_folders"],
    "course_utils.grading.sandbox_cgroups": ["sandbox", "sandbox_launcher", "sandbox_command", "sandbox_folders"],
    "course_utils.grading.sandbox_folders": ["sandbox", "sandbox_launcher", "sandbox_command", "sandbox_cgroups"],
    "course_utils.homework_checks": ["nbgrader", "course_utils.grading"],
    "course_utils.homework_checks.tanh": ["nbgrader", "course_utils.grading"],
    "course_utils.homework_checks.augmentation": ["nbgrader", "course_utils.grading"],
    "course_utils.homework_checks.runner": ["nbgrader", "course_utils.grading"],
    # the workers' factory: standard library only, beneath the worker it forks
    "course_utils.grading.worker_factory": ["grading_worker", "kernel_zygote", "warm_kernels", "nbgrader", "torch"],
    # the kernel zygote's program: what it holds is what every kernel starts from
    "course_utils.grading.kernel_zygote": ["grading_worker", "warm_kernels", "sandbox", "nbgrader", "nbformat",
                                           "jupyter_client", "torch"],
}
# Names of other packages in LAYERS (any other name without a dot is a module of course_utils.grading).
PACKAGES = {"nbgrader", "nbformat", "jupyter_client", "torch"}


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_a_layer_imports_nothing_above_it(module):
    """Imported alone in a fresh interpreter, does the module leave the layers above it (and, for the
    checks that notebooks import, all grading machinery) unimported?"""
    above = [name if "." in name or name in PACKAGES else f"course_utils.grading.{name}" for name in LAYERS[module]]
    code = (f"import sys, {module}\n"
            f"print([name for name in sys.modules if any(name == a or name.startswith(a + '.') for a in {above!r})])")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert output.returncode == 0, output.stderr
    assert output.stdout.strip() == "[]", f"{module} imports {output.stdout.strip()}"
