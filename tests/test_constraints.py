"""constraints.txt pins what `make install` resolves to; it must agree with pyproject.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and version, f"constraints.txt: {line!r} is not 'name==version'"
        pins[canonicalize_name(name)] = version
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = list(project["dependencies"]) + list(project["optional-dependencies"]["dev"])
    return [Requirement(line) for line in lines]


def test_every_dependency_is_pinned_inside_its_range() -> None:
    pins = _pins()
    wrong = []
    for req in _requirements():
        version = pins.get(canonicalize_name(req.name))
        if version is None:
            wrong.append(f"{req.name}: not pinned")
        elif not req.specifier.contains(version, prereleases=True):
            wrong.append(f"{req.name}=={version} outside {req.specifier}")
    assert not wrong, "constraints.txt disagrees with pyproject.toml (make constraints): " + (
        "; ".join(wrong)
    )


def test_a_pin_outside_its_range_is_caught() -> None:
    req = Requirement("websockets>=14,<18")
    assert not req.specifier.contains("18.0")
    assert req.specifier.contains(_pins()["websockets"])
