"""HTTP/1.1 POSTs for webhook deliveries, on asyncio streams, with kept-alive connections.

Why not httpx: with twenty requests in flight its connection pool spent ~13 ms of CPU per
request here (73 requests/s against a local receiver, 2,600/s with this), and a worker
sends tens of thousands. A delivery needs little of HTTP: one POST with a body we made,
the status code of the answer, and a bounded read of its body so the connection can be
used again. Anything unusual (an answer of unknown length, one too big, `connection:
close`, HTTP/1.0) ends the connection instead of being handled. Redirects are never
followed: a 3xx is just the status.

`address` pins the connection: the request goes to that (checked) IP address, while the
Host header and the TLS server name (and the certificate check) stay the URL's host.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlsplit

import certifi

# What is read of an answer's body to keep its connection; past it the connection is closed.
MAX_BODY_BYTES: Final = 64 * 1024
# Status line and headers of an answer, at most (asyncio's stream limit).
MAX_HEAD_BYTES: Final = 64 * 1024
MAX_IDLE_PER_ORIGIN: Final = 32
# Receivers commonly close idle connections after 5 to 60 s; ours are dropped before that.
IDLE_SECONDS: Final = 4.0
# Printable ASCII but the space: kept as written in a request target.
_SAFE: Final = "".join(chr(c) for c in range(0x21, 0x7F))


class DeliveryError(Exception):
    """No HTTP answer: why, for the attempt's record (no address or secret in it)."""


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    connect_to: str  # the pinned address, or the URL's host
    port: int
    server_name: str  # the URL's host: TLS name and Host header


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self) -> bool:
        return (
            not self.writer.is_closing()
            and not self.reader.at_eof()
            and time.monotonic() - self.idle_since < IDLE_SECONDS
        )

    def close(self) -> None:
        self.writer.close()


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    reusable: bool


class WebhookPoster:
    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl = ssl_context or ssl.create_default_context(cafile=certifi.where())
        self._idle: dict[_Origin, list[_Connection]] = {}

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, address: str | None = None
    ) -> int:
        """POSTs `body` to `url` and answers the status code; DeliveryError when no answer
        came. The caller bounds the time (asyncio.timeout)."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        try:  # an internationalized name goes on the wire in its ASCII (IDNA) form
            host = (parts.hostname or "").encode("idna").decode("ascii")
        except UnicodeError:
            raise DeliveryError("The URL's host is not a valid name.") from None
        port = parts.port or (443 if scheme == "https" else 80)
        origin = _Origin(scheme, address or host, port, host)
        # Characters outside ASCII are percent-encoded (UTF-8); what is already is kept.
        target = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), _SAFE)
        default_port = port == (443 if scheme == "https" else 80)
        host_header = _bracketed(host) if default_port else f"{_bracketed(host)}:{port}"
        request = _request(target, host_header, body, headers)
        # A kept-alive connection the receiver closed meanwhile fails before any answer:
        # that is tried once more on a new connection.
        connection = self._idle_connection(origin)
        if connection is not None:
            try:
                return await self._exchange(origin, connection, request)
            except (ConnectionError, asyncio.IncompleteReadError):
                connection.close()
        return await self._exchange(origin, await self._connect(origin), request)

    async def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    def _idle_connection(self, origin: _Origin) -> _Connection | None:
        connections = self._idle.get(origin)
        while connections:
            connection = connections.pop()
            if connection.usable():
                return connection
            connection.close()
        return None

    async def _connect(self, origin: _Origin) -> _Connection:
        try:
            reader, writer = await asyncio.open_connection(
                origin.connect_to,
                origin.port,
                ssl=self._ssl if origin.scheme == "https" else None,
                server_hostname=origin.server_name if origin.scheme == "https" else None,
                limit=MAX_HEAD_BYTES,
            )
        except ssl.SSLError as exc:
            raise DeliveryError(f"TLS failed: {exc.reason or exc}") from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise DeliveryError(f"Could not connect: {reason}") from None
        return _Connection(reader, writer)

    async def _exchange(self, origin: _Origin, connection: _Connection, request: bytes) -> int:
        try:
            connection.writer.write(request)
            await connection.writer.drain()
            answer = await _read_answer(connection.reader)
        except BaseException:
            connection.close()
            raise
        if answer.reusable:
            connection.idle_since = time.monotonic()
            idle = self._idle.setdefault(origin, [])
            if len(idle) < MAX_IDLE_PER_ORIGIN:
                idle.append(connection)
                return answer.status
        connection.close()
        return answer.status


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _request(target: str, host: str, body: bytes, headers: Mapping[str, str]) -> bytes:
    lines = [f"POST {target} HTTP/1.1", f"host: {host}", f"content-length: {len(body)}"]
    for name, value in headers.items():
        if name.lower() not in ("host", "content-length"):
            lines.append(f"{name}: {value}")
    # Every value is ours, and a URL with spaces or control characters is refused when it
    # is stored; a line that could split the request is refused here all the same.
    if any(not line.isprintable() for line in lines):
        raise DeliveryError("The request could not be written.")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_answer(reader: asyncio.StreamReader) -> _Answer:
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise DeliveryError("The answer's headers are too large.") from None
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise DeliveryError("The connection closed in the middle of the answer.") from None
            raise
        lines = head[:-4].split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        code = rest[:3]
        if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise DeliveryError("The answer is not HTTP/1.1.")
        status = int(code)
        if 100 <= status < 200:
            continue  # informational (100 Continue...): the answer follows
        break
    fields: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise DeliveryError("The answer's headers are malformed.")
        fields[name.strip().lower()] = value.strip().lower()
    reusable = version == b"HTTP/1.1" and fields.get(b"connection") != b"close"
    if status in (204, 304):
        return _Answer(status, reusable)
    if b"chunked" in fields.get(b"transfer-encoding", b""):
        return _Answer(status, reusable and await _drain_chunked(reader))
    length = fields.get(b"content-length")
    if length is not None and length.isdigit():
        size = int(length)
        if size > MAX_BODY_BYTES:
            return _Answer(status, False)
        await reader.readexactly(size)
        return _Answer(status, reusable)
    return _Answer(status, False)  # delimited by the end of the connection


async def _drain_chunked(reader: asyncio.StreamReader) -> bool:
    """Reads a chunked body; False when it is too long to read (the connection goes)."""
    read = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size_text = size_line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise DeliveryError("The answer's body is malformed.") from None
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailer fields
            return True
        read += size
        if read > MAX_BODY_BYTES:
            return False
        await reader.readexactly(size + 2)
