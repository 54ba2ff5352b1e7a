"""Refresh GraphiQL's browser files in infra/http/static/graphiql/ from npm.

The GraphiQL page loads its scripts and styles from the server itself (no internet needed);
`infra/http/static/graphiql/assets.json` names each npm package, its version and the files
the page loads, in loading order. Edit a version there, then:

    .venv/bin/python scripts/refresh_graphiql_assets.py

For each package this runs `npm pack <name>@<version>` (the registry's tarball, checked by
npm against its published integrity), copies the named files and the package's LICENSE to
`<name>@<version>/`, removes the versions no longer named, and writes each file's SHA-384
(the page's Subresource Integrity, which the CDN copies must match too) into assets.json.
A package whose tarball has no LICENSE names, in `license_from`, the package of the same
repository whose LICENSE covers it. Needs Node's `npm`; not run by the tests, which check
the files against assets.json.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "infra" / "http" / "static" / "graphiql"
MANIFEST = ASSETS / "assets.json"
OURS = {"assets.json", "ledgerline-graphiql.js"}  # not from npm: kept as they are


def integrity(path: Path) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


def npm_pack(spec: str, into: Path) -> Path:
    done = subprocess.run(
        ["npm", "pack", spec, "--json", "--pack-destination", str(into)],
        cwd=into,
        check=True,
        capture_output=True,
        text=True,
    )
    return into / json.loads(done.stdout)[0]["filename"]


def unpack(tarball: Path, into: Path) -> Path:
    with tarfile.open(tarball) as archive:
        archive.extractall(into, filter="data")
    return into / "package"


def remove_unnamed(kept: set[str]) -> None:
    """Removes the versions (and packages) assets.json no longer names."""
    entries = [e for e in ASSETS.iterdir() if e.name not in OURS]
    entries += [child for e in entries if e.name.startswith("@") for child in e.iterdir()]
    for entry in entries:
        name = entry.relative_to(ASSETS).as_posix()
        if entry.exists() and name not in kept and not any(k.startswith(name + "/") for k in kept):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def main() -> int:
    manifest = json.loads(MANIFEST.read_text())
    hashes: dict[str, str] = {}
    licences: dict[str, Path] = {}
    kept: set[str] = set()
    with tempfile.TemporaryDirectory() as scratch:
        unpacked: dict[str, Path] = {}
        for package in manifest["packages"]:
            spec = f"{package['name']}@{package['version']}"
            work = Path(scratch) / spec.replace("/", "+")
            work.mkdir()
            unpacked[package["name"]] = root = unpack(npm_pack(spec, work), work)
            published = json.loads((root / "package.json").read_text())
            if published["version"] != package["version"]:
                raise SystemExit(f"{spec}: npm gave version {published['version']}")
            found = [p for p in root.iterdir() if p.name.upper().startswith(("LICENSE", "LICENCE"))]
            if found:
                licences[package["name"]] = found[0]
        for package in manifest["packages"]:
            spec = f"{package['name']}@{package['version']}"
            root, target = unpacked[package["name"]], ASSETS / spec
            if target.exists():
                shutil.rmtree(target)
            for name in package["files"]:
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(root / name, target / name)
                hashes[f"{spec}/{name}"] = integrity(target / name)
            licence = licences.get(package.get("license_from", package["name"]))
            if licence is None:
                raise SystemExit(f"{spec}: no LICENSE in its package; name one in license_from")
            shutil.copyfile(licence, target / "LICENSE")
            kept.add(spec)
    remove_unnamed(kept)
    manifest["integrity"] = hashes
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"refreshed {len(hashes)} files in {ASSETS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
