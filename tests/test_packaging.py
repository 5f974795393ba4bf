"""pyproject.toml and environment.yml must declare the same dependencies."""

from __future__ import annotations

import re
import tomllib

import yaml

from conftest import REPO

# conda-forge names that differ from PyPI's
CONDA_TO_PYPI = {"pytorch": "torch"}


def _name_and_spec(requirement: str) -> tuple[str, str]:
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement)
    name, spec = match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")
    return CONDA_TO_PYPI.get(name, name), spec


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    deps = list(project["dependencies"]) + list(extras["slurm"]) + list(extras["dev"])
    return dict(_name_and_spec(d) for d in deps)


def _environment() -> dict[str, str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    deps = {}
    for item in env["dependencies"]:
        entries = item["pip"] if isinstance(item, dict) else [item]
        for entry in entries:
            if entry.startswith("-e") or entry in ("pip",):
                continue
            name, spec = _name_and_spec(entry)
            if name != "python":
                deps[name] = spec
    return deps


def test_environment_matches_pyproject():
    assert _environment() == _pyproject()


def test_environment_installs_the_project_itself():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    assert "-e ." in pip


def test_console_script_points_at_cli_main():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["treenets"] == "treenets.cli:main"
    from treenets import cli

    assert callable(cli.main)
