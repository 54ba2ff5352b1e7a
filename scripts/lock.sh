#!/usr/bin/env bash
# Regenerates the image's hash-locked dependencies from PyPI (needs `uv`; pip-tools'
# `pip-compile --generate-hashes` would do the same). Run after changing pyproject.toml's
# dependencies; tests/deploy/test_image.py checks the lock still covers them.
#   requirements.lock        what the image installs (no extras: no embedded PostgreSQL)
#   requirements-build.lock  what builds Ledgerline's own wheel (build-system.requires)
set -euo pipefail
cd "$(dirname "$0")/.."
common=(--generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28
    --annotation-style line --custom-compile-command scripts/lock.sh
    --index-url https://pypi.org/simple)
uv pip compile pyproject.toml "${common[@]}" -o requirements.lock
printf 'setuptools>=77\nwheel\n' | uv pip compile - "${common[@]}" -o requirements-build.lock
