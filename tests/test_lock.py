"""The lock in requirements/ is what is installed, and it satisfies what pyproject declares."""

import re
from importlib import metadata
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def locked(name: str) -> dict[str, Version]:
    text = (ROOT / "requirements" / name).read_text()
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", text, flags=re.M)
    return {canonicalize_name(n): Version(v) for n, v in pins}


def declared() -> list[tuple[str, Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out = [("core", Requirement(r)) for r in project["dependencies"]]
    for extra, reqs in project["optional-dependencies"].items():
        out += [(extra, Requirement(r)) for r in reqs]
    return out


def test_every_declared_dependency_is_locked_inside_its_range():
    dev, core = locked("dev.txt"), locked("core.txt")
    torch_pin = locked("torch.txt")
    for group, req in declared():
        name = canonicalize_name(req.name)
        pins = {**dev, **torch_pin} if group != "core" else core
        assert name in pins, f"{req.name} ({group}) is not in the lock: run make lock"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{req.name} {pins[name]} is locked but pyproject asks {req.specifier}")


def test_core_and_full_lock_agree():
    dev, core = locked("dev.txt"), locked("core.txt")
    for name, version in core.items():
        assert dev.get(name) == version, f"{name}: core lock {version}, full lock {dev.get(name)}"


def test_core_lock_has_no_diffusion_stack():
    core = locked("core.txt")
    for heavy in ("torch", "diffusers", "transformers", "peft", "accelerate"):
        assert heavy not in core


def test_installed_versions_are_the_locked_ones():
    """make test installs from the lock: a free resolve would show up here."""
    wanted = {**locked("dev.txt"), **locked("torch.txt")}
    for name, version in wanted.items():
        try:
            have = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            pytest.fail(f"{name} is locked but not installed")
        assert have.public == version.public, f"{name}: installed {have}, locked {version}"
