"""The webhook poster on the wire (infra/webhooks/wire.py) against a scripted HTTP server
on 127.0.0.1: what it reads of an answer, when it keeps a connection, what it refuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from infra.webhooks.wire import MAX_BODY_BYTES, DeliveryError, WebhookPoster


class Scripted:
    """Answers each request with the next of `answers`; records requests and connections."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = answers
        self.requests: list[bytes] = []
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.requests.append(head + await reader.readexactly(length))
                writer.write(self.answers.pop(0))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def scripted(*answers: bytes) -> AsyncIterator[tuple[Scripted, str]]:
    script = Scripted(list(answers))
    server = await asyncio.start_server(script.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield script, f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def post_all(url: str, count: int) -> list[int]:
    poster = WebhookPoster()
    try:
        return [await poster.post(url, b'{"a":1}', {"webhook-id": "evt_1"}) for _ in range(count)]
    finally:
        await poster.close()


OK_LENGTH = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
OK_CHUNKED = b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n2;x=y\r\nok\r\n0\r\n\r\n"


async def test_answers_of_known_length_keep_their_connection() -> None:
    async with scripted(OK_LENGTH, OK_CHUNKED, b"HTTP/1.1 204 No Content\r\n\r\n") as (script, url):
        statuses = await post_all(url + "/hook", 3)
    assert statuses == [200, 201, 204]
    assert script.connections == 1
    assert script.requests[0].startswith(b"POST /hook HTTP/1.1\r\n")
    assert b"\r\ncontent-length: 7\r\n" in script.requests[0]
    assert script.requests[0].endswith(b'\r\n\r\n{"a":1}')


@pytest.mark.parametrize(
    "first",
    [
        b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 500 Oops\r\ncontent-length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1)
        + b"x" * (MAX_BODY_BYTES + 1),
    ],
    ids=["connection-close", "http-1.0", "too-long-a-body"],
)
async def test_other_answers_end_their_connection(first: bytes) -> None:
    async with scripted(first, OK_LENGTH) as (script, url):
        statuses = await post_all(url, 2)
    assert statuses[1] == 200
    assert script.connections == 2


async def test_an_informational_answer_is_skipped_and_redirects_are_only_a_status() -> None:
    redirect = (
        b"HTTP/1.1 301 Moved\r\nlocation: http://169.254.169.254/\r\ncontent-length: 0\r\n\r\n"
    )
    async with scripted(b"HTTP/1.1 100 Continue\r\n\r\n" + OK_LENGTH, redirect) as (script, url):
        statuses = await post_all(url, 2)
    assert statuses == [200, 301]
    assert len(script.requests) == 2


async def test_what_is_not_http_is_a_delivery_error() -> None:
    async with scripted(b"SSH-2.0-OpenSSH_9.6\r\n\r\n") as (_script, url):
        with pytest.raises(DeliveryError, match="not HTTP/1.1"):
            await post_all(url, 1)


async def test_a_connection_refused_is_a_delivery_error() -> None:
    async with scripted() as (_script, url):
        pass  # closed: nothing listens on the port any more
    with pytest.raises(DeliveryError, match="Could not connect"):
        await post_all(url, 1)


async def test_a_path_outside_ascii_is_percent_encoded() -> None:
    async with scripted(OK_LENGTH) as (script, url):
        await post_all(url + "/hé?q=ü", 1)
    assert script.requests[0].startswith(b"POST /h%C3%A9?q=%C3%BC HTTP/1.1\r\n")
