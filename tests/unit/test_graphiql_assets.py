"""The GraphiQL files kept in the package are the npm files assets.json pins (their SRI
hashes, which also hold the CDN copies to the same bytes), each with its licence, and the
page opens with the README's first query."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from infra.http import graphiql

REPO = Path(__file__).resolve().parents[2]


def test_every_pinned_file_is_kept_with_its_integrity_and_licence() -> None:
    # given
    integrity = graphiql.manifest()["integrity"]
    # when
    files = graphiql.asset_files()
    # then
    assert sorted(files) == sorted(integrity)
    for path in files:
        body = (graphiql.ASSETS_DIR / path).read_bytes()
        assert (
            "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()
            == (integrity[path])
        ), path
    for package in graphiql.manifest()["packages"]:
        licence = graphiql.ASSETS_DIR / f"{package['name']}@{package['version']}" / "LICENSE"
        assert "Permission is hereby granted" in licence.read_text(), licence


def test_page_opens_with_the_readme_first_query() -> None:
    # given
    readme = (REPO / "README.md").read_text()
    # when
    first = re.search(r"```graphql\n(.*?)```", readme, re.DOTALL)
    # then
    assert first is not None and first.group(1) == graphiql.DEFAULT_QUERY
