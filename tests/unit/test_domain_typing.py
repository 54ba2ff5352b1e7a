"""domain/ type-checks under mypy --strict (STYLE.md): the rules money depends on stay typed."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_domain_passes_strict_type_checking() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "domain"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert result.returncode == 0, result.stdout + result.stderr
