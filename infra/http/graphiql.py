"""GraphiQL on `GET /graphql` for browsers, working without internet.

Its scripts and styles are pinned copies served from the package (`static/graphiql/`, listed
with their Subresource Integrity in `assets.json`, refreshed from npm by
scripts/refresh_graphiql_assets.py); `GRAPHIQL_CDN=true` loads the same files from the CDN.
In development the page carries a fresh token for the demo account in its Headers tab, so
its first request (the schema's introspection) is already authenticated. Only a browser on
this machine gets one: a development server reachable from the network must not hand out
tokens to whoever opens the page.
"""

from __future__ import annotations

import html
import ipaddress
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS_DIR = Path(__file__).parent / "static" / "graphiql"
ASSETS_PATH = "/graphiql"  # where the app mounts ASSETS_DIR
_TEMPLATE = Path(__file__).with_name("graphiql.html")

# The README's first query (a test keeps the two the same): the page opens with it.
DEFAULT_QUERY = """{
  viewer { account { id name } scopes }
  customers(first: 5, orderBy: {field: NAME, direction: ASC}) {
    totalCount
    edges { cursor node { id name email currency balance { amount formatted } address { country } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""  # noqa: E501


@cache
def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ASSETS_DIR / "assets.json").read_text())
    return loaded


def asset_files() -> list[str]:
    """The npm files the page loads, in loading order: `<package>@<version>/<file>`."""
    return [
        f"{package['name']}@{package['version']}/{name}"
        for package in manifest()["packages"]
        for name in package["files"]
    ]


def static_files() -> StaticFiles:
    return StaticFiles(directory=ASSETS_DIR)


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element (no `</script>` or `<!--` can appear)."""
    text = json.dumps(value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class GraphiQLPage:
    """`development_token` makes a token for the page; None (production) gives none."""

    def __init__(
        self, *, cdn: bool = False, development_token: Callable[[], str] | None = None
    ) -> None:
        base = manifest()["cdn"] if cdn else ASSETS_PATH
        integrity = manifest()["integrity"]
        tags = []
        for path in asset_files():
            url, sri = html.escape(f"{base}/{path}"), html.escape(integrity[path])
            if path.endswith(".css"):
                tags.append(f'<link rel="stylesheet" href="{url}" integrity="{sri}" crossorigin>')
            else:
                tags.append(f'<script src="{url}" integrity="{sri}" crossorigin></script>')
        self._page = (
            _TEMPLATE.read_text()
            .replace("{{ assets }}", "\n    ".join(tags))
            .replace("{{ boot }}", f"{ASSETS_PATH}/ledgerline-graphiql.js")
        )
        self._development_token = development_token

    def __call__(self, request: Request) -> HTMLResponse:
        config: dict[str, Any] = {"url": str(request.url.path), "defaultQuery": DEFAULT_QUERY}
        if self._development_token is not None and _is_loopback(request):
            token = self._development_token()
            config["headers"] = json.dumps({"Authorization": f"Bearer {token}"}, indent=2)
        page = self._page.replace("{{ config }}", _script_json(config))
        # A page with a token is never cached, by the browser or anything between.
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})
