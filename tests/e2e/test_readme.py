"""The README's commands work as written: its curl section, run by a shell against the real
server, creates a client, gets a token, lists customers and creates one."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import conftest
from tests.support.databases import fresh_database
from tests.support.server_process import (
    REPO,
    RunningServer,
    free_port,
    run_cli,
    server_env,
    serving,
)

pytestmark = pytest.mark.e2e


def curl_section() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Calling the API as a partner (curl)", 1)[1]
    found = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert found, "no ```sh block in the README's curl section"
    return found.group(1)


def json_documents(text: str) -> list[dict[str, Any]]:
    """The JSON objects curl printed one after the other (it ends none with a newline)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (start := text.find("{", at)) != -1:
        document, at = decoder.raw_decode(text, start)
        found.append(document)
    return found


@pytest.fixture(scope="module")
async def readme_database(
    test_database: conftest.TestDatabase,
) -> AsyncIterator[conftest.TestDatabase]:
    """The README's commands make the `demo` account: in a database of their own, not the
    session's (where the seed tests create it)."""
    async with fresh_database(test_database) as database:
        yield database


@pytest.fixture(scope="module")
def server(
    readme_database: conftest.TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    port = free_port()
    env = server_env(
        tmp_path_factory.mktemp("readme-data"),
        port,
        DATABASE_URL=readme_database.url,
        SECRET_KEY=conftest.TEST_SECRET_KEY,
    )
    # An account first: `serve` then finds the database in use and seeds no demo history
    # (seconds instead of half a minute); the README's commands make the demo account anyway.
    made = run_cli(env, "clients", "create", "--tenant", "readme", "--scopes", "customers:read")
    assert made.returncode == 0, made.stderr
    with serving(env, port) as running:
        yield running


def test_readme_curl_section_runs_against_the_server(server: RunningServer, tmp_path: Path) -> None:
    if shutil.which("curl") is None or shutil.which("python3") is None:
        pytest.skip("the README's curl section needs curl and python3 on PATH")
    # given: `./dev` as the README means it (the `ledgerline` command) and this server's port
    dev = tmp_path / "dev"
    dev.write_text(f'#!/bin/sh\ncd "{REPO}" && exec "{sys.executable}" -m infra.cli "$@"\n')
    dev.chmod(0o755)
    script = curl_section().replace("http://127.0.0.1:8000", server.base_url)
    script += '\nprintf "\\nCLIENT_ID=%s\\nTOKEN=%s\\n" "$CLIENT_ID" "$TOKEN"\n'
    # when
    done = subprocess.run(
        ["sh", "-eu", "-c", script],
        cwd=tmp_path,
        env={**server.env, "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then: the client printed, its id and a token kept, and both curl calls answered
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    client = json.loads(lines[0])
    assert client["tenant"] == "demo" and client["client_secret"]
    assert f"CLIENT_ID={client['client_id']}" in lines
    assert any(line.startswith("TOKEN=ey") for line in lines)
    answers = json_documents(done.stdout.split("\n", 1)[1].split("\nCLIENT_ID=")[0])
    customers, created = [answer["data"] for answer in answers]
    assert "edges" in customers["customers"]
    assert created["createCustomer"]["userErrors"] == []
    assert created["createCustomer"]["customer"]["id"].startswith("cus_")
