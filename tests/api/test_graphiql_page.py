"""GraphiQL's page: its files come from this server (pinned, with their integrity) unless
the CDN is asked for, and in development it carries a working token for the demo account,
to a browser on this machine only. The browser itself: tests/e2e/test_graphiql_browser.py."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from auth.scopes import ALL_SCOPES
from infra.app import _graphiql_page
from infra.http import graphiql
from infra.repositories.accounts import ensure_account
from infra.seed import DEMO_TENANT
from infra.settings import Settings
from tests.api.test_http_surface import running_client
from tests.conftest import TestDatabase as SessionDatabase

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
ASSET = re.compile(r'<(?:script src|link rel="stylesheet" href)="([^"]+)" integrity="([^"]+)"')


def page_config(page: str) -> dict[str, Any]:
    found = re.search(r'<script id="graphiql-config" type="application/json">(.*?)</script>', page)
    assert found, page
    config: dict[str, Any] = json.loads(found.group(1))
    return config


def sri(body: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()


@pytest.fixture(scope="module")
async def cdn_client(
    settings: Settings, test_database: SessionDatabase
) -> AsyncIterator[httpx.AsyncClient]:
    async for c in running_client(settings, test_database.url, graphiql_cdn=True):
        yield c


@pytest.fixture(scope="module")
async def off_client(
    settings: Settings, test_database: SessionDatabase
) -> AsyncIterator[httpx.AsyncClient]:
    async for c in running_client(settings, test_database.url, graphiql=False):
        yield c


async def test_page_loads_every_file_from_this_server_as_pinned(
    client: httpx.AsyncClient,
) -> None:
    # when
    page = await client.get("/graphql", headers=BROWSER)
    assets = ASSET.findall(page.text)
    served = {url: await client.get(url) for url, _ in assets}
    boot = await client.get("/graphiql/ledgerline-graphiql.js")
    # then: the files the manifest names, in its order, each answered with the bytes whose
    # integrity the page states (a browser refuses any other)
    assert page.status_code == 200
    assert [url for url, _ in assets] == [f"/graphiql/{path}" for path in graphiql.asset_files()]
    assert "unpkg.com" not in page.text and "https://" not in page.text
    for url, integrity in assets:
        assert served[url].status_code == 200, url
        assert sri(served[url].content) == integrity, url
    assert boot.status_code == 200 and "GraphiQL.createFetcher" in boot.text


async def test_cdn_is_opt_in_and_pinned_to_the_same_files(
    client: httpx.AsyncClient, cdn_client: httpx.AsyncClient
) -> None:
    # when
    local = ASSET.findall((await client.get("/graphql", headers=BROWSER)).text)
    cdn = ASSET.findall((await cdn_client.get("/graphql", headers=BROWSER)).text)
    # then
    assert cdn and all(url.startswith("https://unpkg.com/") for url, _ in cdn)
    assert cdn == [(url.replace("/graphiql", "https://unpkg.com", 1), i) for url, i in local]


async def test_development_page_carries_a_working_token_for_the_demo_account(
    app: Any, client: httpx.AsyncClient, admin: asyncpg.Connection
) -> None:
    # given: the demo account, as `ledgerline serve` seeds it (removed afterwards: the seed
    # tests create it themselves in this session's database)
    async with app.state.engine.begin() as conn:
        await ensure_account(conn, DEMO_TENANT, "Demo Merchant")
    try:
        # when
        page = await client.get("/graphql", headers=BROWSER)
        headers = json.loads(page_config(page.text)["headers"])
        viewer = await client.post(
            "/graphql",
            json={"query": "{ viewer { account { id } clientId scopes } }"},
            headers=headers,
        )
    finally:
        await admin.execute("delete from accounts where id = $1", DEMO_TENANT)
    # then: never cached, and the token works with every scope
    assert page.headers["cache-control"] == "no-store"
    assert viewer.status_code == 200, viewer.text
    assert viewer.json()["data"]["viewer"] == {
        "account": {"id": DEMO_TENANT},
        "clientId": "graphiql",
        "scopes": sorted(ALL_SCOPES),
    }


async def test_page_opens_a_browser_elsewhere_on_the_network_without_a_token(
    app: Any,
) -> None:
    # given: a browser that is not on this machine
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://ledgerline.test") as c:
        # when
        page = await c.get("/graphql", headers=BROWSER)
    # then: the page, without a token
    assert page.status_code == 200
    assert "headers" not in page_config(page.text)
    assert "Bearer" not in page.text


def test_production_never_gives_the_page_a_token() -> None:
    # given: GraphiQL forced on in production (the start refuses that; the page too)
    production = Settings(environment="production", graphiql=True)

    class NoIssuer:
        def issue(self, **_: Any) -> Any:
            raise AssertionError("a production page must not issue a token")

    # when
    page = _graphiql_page(production, NoIssuer())  # type: ignore[arg-type]
    # then
    assert page is not None and page._development_token is None


async def test_assets_are_not_served_when_graphiql_is_off(
    off_client: httpx.AsyncClient,
) -> None:
    # when
    response = await off_client.get("/graphiql/ledgerline-graphiql.js")
    # then
    assert response.status_code == 404


def test_page_configuration_cannot_close_its_script_element() -> None:
    # when
    text = graphiql._script_json({"q": "</script><script>alert(1)</script><!--"})
    # then
    assert "<" not in text and ">" not in text
    assert json.loads(text) == {"q": "</script><script>alert(1)</script><!--"}
