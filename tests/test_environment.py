"""pyproject.toml (pip) and environment.yml (conda) must install the same packages.

Compared: pyproject's runtime dependencies plus its `lab` and `dev` extras against the
conda dependencies (less `python` and `pip`). Names are normalised (lowercase, `_` and
`.` become `-`, extras such as `dask[distributed]` are dropped) and mapped through
PIP_TO_CONDA where conda-forge spells a package differently. Where both files give a
lower bound (`>=` or `==`), the bounds must be the same version.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = ("lab", "dev")
NOT_COMPARED = {"python", "pip"}

# PyPI name -> conda-forge name, for packages the two spell differently (after
# normalisation). Every package listed today has the same name on both.
PIP_TO_CONDA: dict[str, str] = {}

_NAME = re.compile(r"^\s*(?:[\w.-]+::)?([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?(.*)$")
_LOWER = re.compile(r"(?:>=|==)\s*([0-9][0-9A-Za-z.*+!-]*)")


def normalise(name: str) -> str:
    """Lowercase, with runs of `-`, `_` and `.` written as one `-`."""
    return re.sub(r"[-_.]+", "-", name.strip().lower())


def parse(spec: str) -> tuple[str, str | None]:
    """`'dask[distributed]>=2024.1; python_version>"3"'` -> `('dask', '2024.1')`.

    Works for pip requirements and for conda match specs (`numpy >=1.26`,
    `conda-forge::numpy>=1.26`). The version is the lower bound, or None.
    """
    spec = spec.split(";", 1)[0].split("#", 1)[0]
    match = _NAME.match(spec)
    if match is None:
        raise ValueError(f"cannot read a package name from {spec!r}")
    name, rest = match.groups()
    lower = _LOWER.search(rest)
    return normalise(name), lower.group(1) if lower else None


def same_version(a: str, b: str) -> bool:
    """`6.0` and `6` are the same version; `6.0` and `6.1` are not."""

    def release(v: str) -> tuple[int, ...]:
        parts = [int(p) for p in re.match(r"\d+(?:\.\d+)*", v).group(0).split(".")]
        while len(parts) > 1 and parts[-1] == 0:
            parts.pop()
        return tuple(parts)

    return release(a) == release(b)


def pip_packages(pyproject: dict[str, Any]) -> dict[str, tuple[str | None, str]]:
    """Conda-side name -> (lower bound, where pyproject.toml lists it)."""
    project = pyproject["project"]
    sources = [("dependencies", project.get("dependencies", []))]
    extras = project.get("optional-dependencies", {})
    sources += [(f"the {extra!r} extra", extras.get(extra, [])) for extra in EXTRAS]
    packages: dict[str, tuple[str | None, str]] = {}
    for where, requirements in sources:
        for requirement in requirements:
            name, lower = parse(requirement)
            packages.setdefault(PIP_TO_CONDA.get(name, name), (lower, where))
    return packages


def conda_packages(environment: dict[str, Any]) -> dict[str, str | None]:
    """Conda name -> lower bound; the `pip:` sub-list, `python` and `pip` are left out."""
    packages: dict[str, str | None] = {}
    for dependency in environment.get("dependencies") or []:
        if not isinstance(dependency, str):  # the {"pip": [...]} entry
            continue
        name, lower = parse(dependency)
        if name not in NOT_COMPARED:
            packages.setdefault(name, lower)
    return packages


def compare(pyproject: dict[str, Any], environment: dict[str, Any]) -> list[str]:
    """Every disagreement between the two files, one sentence each; [] if none."""
    pip = pip_packages(pyproject)
    conda = conda_packages(environment)
    problems = [
        f"{name!r} is in pyproject.toml ({where}) but not in environment.yml"
        for name, (_, where) in sorted(pip.items())
        if name not in conda
    ]
    problems += [
        f"{name!r} is in environment.yml but not in pyproject.toml "
        f"(dependencies or the {' / '.join(EXTRAS)} extras)"
        for name in sorted(conda)
        if name not in pip
    ]
    for name, (pip_lower, where) in sorted(pip.items()):
        conda_lower = conda.get(name)
        if pip_lower and conda_lower and not same_version(pip_lower, conda_lower):
            problems.append(
                f"{name!r}: pyproject.toml ({where}) asks for >={pip_lower}, "
                f"environment.yml for >={conda_lower}"
            )
    return problems


def test_environment_yml_matches_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    environment = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    problems = compare(pyproject, environment)
    assert not problems, "environment.yml and pyproject.toml disagree:\n" + "\n".join(problems)


def test_compare_reports_mismatches():
    pyproject = {
        "project": {
            "dependencies": ["PyYAML>=6.0", "simpy>=4.1", "numpy>=1.26"],
            "optional-dependencies": {
                "lab": ["dask[distributed]>=2024.1"],
                "dev": ["pytest>=8.0"],
                "bench": ["ciw>=3.1"],  # not compared: only runtime, lab and dev are
            },
        }
    }
    environment = {
        "dependencies": [
            "python>=3.11",
            "pyyaml>=6",  # same name once normalised, same version as 6.0
            "dask>=2024.1",  # extras dropped
            "numpy >=1.25",  # lower bound differs
            "pytest>=8.0",
            "pandas>=2.1",  # not in pyproject
            "pip",
            {"pip": ["-e ."]},
        ]
    }
    problems = compare(pyproject, environment)
    assert problems == [
        "'simpy' is in pyproject.toml (dependencies) but not in environment.yml",
        "'pandas' is in environment.yml but not in pyproject.toml (dependencies or the "
        "lab / dev extras)",
        "'numpy': pyproject.toml (dependencies) asks for >=1.26, environment.yml for >=1.25",
    ]

    # and with the mismatches fixed, nothing is reported
    environment["dependencies"][3] = "numpy>=1.26"
    environment["dependencies"][5] = "simpy>=4.1"
    assert compare(pyproject, environment) == []
