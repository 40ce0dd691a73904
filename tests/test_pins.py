"""pyproject.toml is the single source of versions; environment.yml must agree."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI's
CONDA_NAMES = {"torch": "pytorch"}


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    pins = {}
    for requirement in requirements:
        name, sep, version = requirement.partition("==")
        assert sep, f"{requirement!r} in pyproject.toml is not pinned with =="
        pins[CONDA_NAMES.get(name.strip(), name.strip()).lower()] = version.strip()
    return pins


def environment_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {}
    dependencies = list(env["dependencies"])
    for dependency in env["dependencies"]:  # PyPI-only packages: the pip: list
        if isinstance(dependency, dict):
            dependencies += dependency.get("pip", [])
    for dependency in dependencies:
        if not isinstance(dependency, str):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*==\s*(\S+)", dependency)
        if match:
            pins[match[1].lower()] = match[2]
    return pins


def test_every_dependency_is_pinned_to_one_version():
    assert pyproject_pins()  # raises inside if any requirement lacks ==


def test_environment_yml_names_the_same_packages_at_the_same_versions():
    assert environment_pins() == pyproject_pins()


def test_torch_and_torchvision_are_the_pair_that_imports_together():
    import torch
    import torchvision

    pins = pyproject_pins()
    assert torch.__version__.split("+")[0] == pins["pytorch"]
    assert torchvision.__version__.split("+")[0] == pins["torchvision"]
    # torchvision's compiled ops register only when the pair matches
    assert torch.ops.torchvision.nms is not None


# Libraries whose APIs the grading layer drives directly (kernels, the notebook
# executor): an upgrade must be a reviewed change of these pins, like torch's.
GRADING_LIBRARIES = ("ipython", "ipykernel", "jupyter_client", "nbclient", "nbconvert", "nbgrader")


def test_the_libraries_the_grading_drives_are_pinned_in_both_files():
    pins, environment = pyproject_pins(), environment_pins()
    for name in GRADING_LIBRARIES:
        assert name in pins, f"pin {name} in pyproject.toml (the grading layer uses its internals)"
        assert environment.get(name) == pins[name], f"environment.yml must pin {name}=={pins[name]}"


def test_the_installed_grading_libraries_are_the_pinned_ones():
    from importlib.metadata import version

    pins = pyproject_pins()
    for name in GRADING_LIBRARIES:
        assert version(name) == pins[name], f"{name} {version(name)} is installed, {pins[name]} is pinned: run make install"


def test_requires_python_is_what_the_code_and_environment_yml_need():
    import sys

    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = re.fullmatch(r">=\s*3\.(\d+)", spec)
    assert minimum, f"requires-python should be a lower bound like '>=3.11', not {spec!r}"
    # The code imports tomllib (3.11+): a lower bound below 3.11 would promise what fails.
    assert int(minimum[1]) >= 11
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert conda_python == f"python=3.{minimum[1]}", "environment.yml's python should be requires-python's minimum"
    assert sys.version_info >= (3, int(minimum[1]))


def test_the_pinned_jsonschema_loads_without_the_iri_parser():
    """Does importing nbformat (every nbgrader command, grading worker, Jupyter server) leave rfc3987_syntax
    unimported? jsonschema 4.24+ imports it, and it builds an RFC 3987 parser: ≈1 CPU-s a process
    (pyproject.toml says why jsonschema is pinned)."""
    import subprocess
    import sys
    from importlib.metadata import version

    assert version("jsonschema") == pyproject_pins()["jsonschema"], "run make install"
    done = subprocess.run([sys.executable, "-c", "import sys, nbformat; print('rfc3987_syntax' in sys.modules)"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False", "this jsonschema imports rfc3987_syntax: keep the pin below 4.24"
