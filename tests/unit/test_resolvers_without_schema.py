"""`schema/` imports `resolvers/`, never the reverse: resolvers answer domain objects and
name the schema's input types lazily, so loading them loads no schema module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import importlib, pkgutil, sys
import resolvers
for module in pkgutil.iter_modules(resolvers.__path__):
    importlib.import_module("resolvers." + module.name)
print(" ".join(sorted(name for name in sys.modules if name.split(".")[0] == "schema")))
"""


def test_importing_every_resolver_module_imports_no_schema_module() -> None:
    # when: a fresh interpreter imports every module of resolvers/
    loaded = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True
    )
    # then
    assert loaded.stdout.split() == []
