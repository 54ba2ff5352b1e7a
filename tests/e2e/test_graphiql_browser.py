"""GraphiQL in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright,
against `ledgerline serve` as a developer starts it (embedded PostgreSQL, demo data).

The page must work without internet: every request that leaves the server is refused here,
and the test fails if the page even tries one. The development token must be in the
Headers tab before the first request, so no request is ever answered 401. The README's
first query is run through the page and its answer read from the screen.

The screenshot is written to the test's temporary directory; with
`UPDATE_DOCS_SCREENSHOT=1` it replaces docs/graphiql.png, the README's picture.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.seed import DEMO_CUSTOMERS, DEMO_TENANT
from tests.support.server_process import (
    REPO,
    RunningServer,
    free_port,
    server_env,
    serving,
    stop_leftover_postgres,
)

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = REPO / "docs" / "graphiql.png"

# CodeMirror 5 keeps its editor object on the element GraphiQL mounts it in.
EDITOR_VALUE = "selector => document.querySelector(selector).CodeMirror.getValue()"
SET_EDITOR_VALUE = (
    "([selector, text]) => document.querySelector(selector).CodeMirror.setValue(text)"
)
QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
RESPONSE_EDITOR = ".result-window .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"


def readme_first_query() -> str:
    found = re.search(r"```graphql\n(.*?)```", (REPO / "README.md").read_text(), re.DOTALL)
    assert found, "the README has no ```graphql block"
    return found.group(1)


@pytest.fixture
def demo_server() -> Iterator[RunningServer]:
    """`ledgerline serve` without DATABASE_URL: the embedded PostgreSQL, seeded."""
    data_dir = Path(tempfile.mkdtemp(prefix="ll-giql-"))  # short: the socket lives in it
    os.chmod(data_dir, 0o755)  # PostgreSQL runs as its own system user when we are root
    port = free_port()
    try:
        with serving(server_env(data_dir, port), port) as running:
            yield running
    finally:
        stop_leftover_postgres(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium; checked before a server is started for nothing."""
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH: `apt-get install chromium` (.ci/run installs it)")
    pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
    )
    return CHROMIUM


def test_graphiql_runs_the_readme_query_offline_with_the_development_token(
    chromium: str, demo_server: RunningServer, tmp_path: Path
) -> None:
    from playwright import sync_api

    origin = demo_server.base_url
    outside: list[str] = []
    graphql_calls: list[dict[str, Any]] = []

    def keep_offline(route: Any) -> None:
        if route.request.url.startswith(origin + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    def note_graphql(response: Any) -> None:
        request = response.request
        if request.method == "POST" and request.url == f"{origin}/graphql":
            graphql_calls.append(
                {
                    "status": response.status,
                    "authorization": request.headers.get("authorization", ""),
                    "query": json.loads(request.post_data or "{}").get("query", ""),
                }
            )

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.route("**/*", keep_offline)
            page.on("response", note_graphql)
            # when: the page opens; it introspects the schema by itself
            with page.expect_response(lambda r: "__schema" in (r.request.post_data or "")):
                page.goto(f"{origin}/graphql")
            page.wait_for_selector(QUERY_EDITOR)
            # the schema's documentation is there (introspection answered)
            page.click('[aria-label="Show Documentation Explorer"]')
            docs = page.locator(".graphiql-doc-explorer")
            docs.get_by_text("Query", exact=True).first.wait_for()
            headers = json.loads(page.evaluate(EDITOR_VALUE, HEADERS_EDITOR))
            # and the README's first query is run through it
            page.evaluate(SET_EDITOR_VALUE, [QUERY_EDITOR, readme_first_query()])
            page.click(".graphiql-execute-button")
            page.wait_for_function(
                "selector => document.querySelector(selector).CodeMirror.getValue()"
                ".includes('totalCount')",
                arg=RESPONSE_EDITOR,
            )
            answer = json.loads(page.evaluate(EDITOR_VALUE, RESPONSE_EDITOR))
            on_screen = page.inner_text(".result-window")
            page.screenshot(path=str(tmp_path / "graphiql.png"))
        finally:
            browser.close()

    # then: nothing was asked of the internet
    assert outside == []
    # and the Headers tab held the development token from the start: every request had it,
    # the introspection first, and none was refused
    assert headers["Authorization"].startswith("Bearer ey")
    assert "__schema" in graphql_calls[0]["query"]
    assert all(call["authorization"] == headers["Authorization"] for call in graphql_calls)
    assert [call["status"] for call in graphql_calls if call["status"] != 200] == []
    # and the README's query answered the demo account's customers, shown on the screen
    assert "errors" not in answer, answer
    data = answer["data"]
    assert data["viewer"]["account"]["id"] == DEMO_TENANT
    assert data["customers"]["totalCount"] == len(DEMO_CUSTOMERS)
    names = [edge["node"]["name"] for edge in data["customers"]["edges"]]
    assert names == sorted(customer.name for customer in DEMO_CUSTOMERS)[:5]
    assert '"totalCount": ' + str(len(DEMO_CUSTOMERS)) in on_screen
    assert f'"id": "{DEMO_TENANT}"' in on_screen
    if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
        shutil.copyfile(tmp_path / "graphiql.png", SCREENSHOT)
