"""requirements/*.txt (the lock `make run`, `make test` and CI install) match pyproject.toml.

Checked offline and without resolving: every requirement of pyproject.toml is pinned at a
version its range allows, and the lock names as direct (`via skillpager`) exactly those. A new
release on PyPI never fails this; an edit of pyproject.toml without `make lock` does.
"""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCKS = {"runtime.txt": (), "dev.txt": ("dev",)}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)")
_DIRECT = "skillpager (pyproject.toml)"


def declared(extras: tuple[str, ...]) -> list[Requirement]:
    """pyproject.toml's runtime requirements plus those of `extras`."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    texts = list(project["dependencies"])
    for extra in extras:
        texts += project["optional-dependencies"][extra]
    return [Requirement(text) for text in texts]


def pins(lock: str) -> dict[str, Version]:
    """name -> pinned version of a compiled lock."""
    found: dict[str, Version] = {}
    for line in lock.splitlines():
        if match := _PIN.match(line):
            found[canonicalize_name(match[1])] = Version(match[2])
    return found


def direct(lock: str) -> set[str]:
    """The packages the lock says pyproject.toml asked for (uv's `via` annotations)."""
    names: set[str] = set()
    current = ""
    for line in lock.splitlines():
        if match := _PIN.match(line):
            current = canonicalize_name(match[1])
        elif line.lstrip("# ").removeprefix("via ").strip() == _DIRECT and current:
            names.add(current)
    return names


@pytest.mark.parametrize(("name", "extras"), LOCKS.items())
def test_lock_pins_every_requirement_within_its_range(name: str, extras: tuple[str, ...]) -> None:
    """Each requirement is pinned, at a version its range allows."""
    pinned = pins((REPO_ROOT / "requirements" / name).read_text())
    wrong = []
    for req in declared(extras):
        version = pinned.get(canonicalize_name(req.name))
        if version is None or not req.specifier.contains(version, prereleases=True):
            wrong.append(f"{req} (locked: {version or 'missing'})")
    assert not wrong, f"requirements/{name} is stale, run `make lock`: {wrong}"


@pytest.mark.parametrize(("name", "extras"), LOCKS.items())
def test_lock_has_no_dropped_requirement(name: str, extras: tuple[str, ...]) -> None:
    """What the lock holds as pyproject.toml's own is exactly pyproject.toml's list."""
    lock = (REPO_ROOT / "requirements" / name).read_text()
    assert direct(lock) == {canonicalize_name(req.name) for req in declared(extras)}


def test_dev_lock_keeps_the_runtime_pins() -> None:
    """make test runs on the versions make run installs."""
    runtime = pins((REPO_ROOT / "requirements" / "runtime.txt").read_text())
    dev = pins((REPO_ROOT / "requirements" / "dev.txt").read_text())
    assert {name: dev.get(name) for name in runtime} == runtime
