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
