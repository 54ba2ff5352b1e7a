"""GraphQL over HTTP's two response media types on /graphql, chosen by the `Accept` header.

`application/json` (no `Accept`, `*/*`, or asked for first) answers as it always has: 200
once the operation ran, 400 for any request error. `application/graphql-response+json`
answers with the status codes of the GraphQL-over-HTTP specification (graphql/
graphql-over-http, spec/GraphQLOverHTTP.md, "Status Codes"): 200 for data without errors,
294 ("partial success") for data with errors, and for a request error (no `data`) 400 when
the JSON or the document cannot be parsed, 413 for a body over the limit, 415 for a body
that is not JSON, 422 for a request that is not a well-formed GraphQL request, a document
that does not validate, an operation that cannot be chosen, or variables that do not fit.
An `Accept` that takes neither (nor any JSON) is 406.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from infra import jsoncodec
from infra.http.errors import error_response

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
PARTIAL_SUCCESS = 294
_STRICT = "graphql_response_status_codes"  # request.state: the client asked for GRAPHQL_RESPONSE


class BadRequest(ValueError):
    """A request error; `status` is its code under GRAPHQL_RESPONSE (400 under JSON)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def negotiate(accept: str | None) -> str | None:
    """The media type to answer in, or None when `accept` allows neither."""
    if accept is None or not accept.strip():
        return JSON
    best: tuple[float, int, str] | None = None
    for position, item in enumerate(accept.split(",")):
        kind, *parameters = (part.strip() for part in item.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        kind = kind.lower()
        chosen = {GRAPHQL_RESPONSE: GRAPHQL_RESPONSE, JSON: JSON, "application/*": JSON}.get(
            kind, JSON if kind == "*/*" else None
        )
        # the highest quality wins; between equals, the one listed first
        if chosen is not None and quality > 0 and (best is None or quality > best[0]):
            best = (quality, position, chosen)
    return None if best is None else best[2]


def request_error_status(request: Request, status: int) -> int:
    """`status` for a client that asked for GRAPHQL_RESPONSE; 400, as always, otherwise."""
    return status if getattr(request.state, _STRICT, False) else 400


async def negotiated(
    request: Request, answer: Callable[[Request], Awaitable[Response]]
) -> Response:
    media = negotiate(request.headers.get("accept"))
    if media is None and not _is_page_request(request):
        return error_response(
            406,
            f"Accept {GRAPHQL_RESPONSE} or {JSON}.",
            "NOT_ACCEPTABLE",
            {"Vary": "Accept"},
        )
    setattr(request.state, _STRICT, media == GRAPHQL_RESPONSE)
    response = await answer(request)
    if response.media_type != JSON:  # GraphiQL's page
        return response
    response.headers["Vary"] = "Accept"
    if media == GRAPHQL_RESPONSE:
        response.headers["Content-Type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
        if response.status_code == 200 and _has_errors(bytes(response.body)):
            response.status_code = PARTIAL_SUCCESS
    return response


def _is_page_request(request: Request) -> bool:
    return request.method == "GET" and "query" not in request.query_params


def _has_errors(body: bytes) -> bool:
    # `"errors":` unescaped can only be a key; most answers have none anywhere, and are
    # spared parsing. A key in the data (an alias) is told apart by reading the body.
    if b'"errors":' not in body:
        return False
    payload = jsoncodec.loads(body)
    return isinstance(payload, dict) and bool(payload.get("errors"))
